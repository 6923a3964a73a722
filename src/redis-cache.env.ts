import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { invalidEnvMessage, redactUrl } from './errors/messages';
import { RedisCacheConfigError } from './errors/redis-cache.errors';
import type { RedisCacheModuleOptions } from './redis-cache.interfaces';
import { assertUrlLeavesRoomFor, parseAddr, withoutUndefined } from './redis-cache.options';

type Env = Record<string, string | undefined>;

const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .refine((n) => n >= min && n <= max);

const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** Each variable this function reads: its schema and what it expects, for the error message. */
const VARIABLES = {
  REDIS_URL: {
    schema: z.string().regex(/^rediss?:\/\/\S*$/),
    expected: 'a redis:// or rediss:// URL',
  },
  REDIS_ADDR: { schema: z.string(), expected: '"host:port" with a port from 1 to 65535' },
  REDIS_USERNAME: { schema: z.string(), expected: 'an ACL user name' },
  REDIS_PASSWORD: { schema: z.string(), expected: 'a password' },
  REDIS_DB: { schema: wholeNumber(0), expected: 'a database number (an integer >= 0)' },
  REDIS_TLS: { schema: flag, expected: '"true" or "false"' },
  REDIS_TLS_CA_FILE: { schema: z.string(), expected: 'the path of a PEM file of CA certificates' },
  REDIS_TLS_CERT_FILE: { schema: z.string(), expected: 'the path of a PEM client certificate' },
  REDIS_TLS_KEY_FILE: { schema: z.string(), expected: 'the path of a PEM client key' },
  REDIS_CLUSTER_NODES: {
    schema: z.string(),
    expected: 'comma-separated "host:port" cluster nodes',
  },
  REDIS_SENTINELS: { schema: z.string(), expected: 'comma-separated "host:port" sentinels' },
  REDIS_SENTINEL_NAME: { schema: z.string(), expected: 'the master group name' },
  REDIS_SENTINEL_PASSWORD: { schema: z.string(), expected: 'a password' },
  CACHE_STORE: { schema: z.enum(['redis', 'memory']), expected: '"redis" or "memory"' },
  CACHE_DEFAULT_TTL_SECONDS: { schema: wholeNumber(1), expected: 'a whole number of seconds >= 1' },
  CACHE_MAX_TTL_SECONDS: { schema: wholeNumber(1), expected: 'a whole number of seconds >= 1' },
  CACHE_OPERATION_TIMEOUT_MS: {
    schema: wholeNumber(1, 60_000),
    expected: 'a whole number of milliseconds from 1 to 60000',
  },
  CACHE_FAIL_OPEN: { schema: flag, expected: '"true" or "false"' },
  CACHE_NAMESPACE_INDEX: { schema: flag, expected: '"true" or "false"' },
  CACHE_MAX_VALUE_BYTES: {
    schema: wholeNumber(1, 512 * 1024 * 1024),
    expected: 'a whole number of bytes from 1 to 536870912',
  },
  CACHE_MAX_KEY_BYTES: {
    schema: wholeNumber(1, 64 * 1024),
    expected: 'a whole number of bytes from 1 to 65536',
  },
  CACHE_STAMPEDE_LOCK: { schema: flag, expected: '"true" or "false"' },
  CACHE_EARLY_REFRESH: { schema: flag, expected: '"true" or "false"' },
  CACHE_METRICS: { schema: flag, expected: '"true" or "false"' },
  CACHE_METRICS_OPENTELEMETRY: { schema: flag, expected: '"true" or "false"' },
  CACHE_KEY_COUNT_INTERVAL_MS: {
    schema: wholeNumber(0, 86_400_000),
    expected: 'a whole number of milliseconds from 0 (off) to 86400000',
  },
  CACHE_KEY_COUNT_SAMPLES: {
    schema: z.union([z.literal('auto'), wholeNumber(0, 1_000_000)]),
    expected: '"auto" or a whole number from 0 (count exactly) to 1000000',
  },
  CACHE_TRACING: { schema: flag, expected: '"true" or "false"' },
} as const;

type Variable = keyof typeof VARIABLES;
type Parsed = { [K in Variable]?: z.output<(typeof VARIABLES)[K]['schema']> };

/** Variables that say where Redis is; at most one may be set. */
const LOCATION_VARIABLES = ['REDIS_URL', 'REDIS_ADDR', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'];

/**
 * Module options from the environment: the Go service's `REDIS_ADDR`, `REDIS_PASSWORD`, `REDIS_DB`,
 * plus `REDIS_URL` (wins over `REDIS_ADDR`), `REDIS_CLUSTER_NODES`, `REDIS_SENTINELS` with
 * `REDIS_SENTINEL_NAME`, `REDIS_USERNAME`, `REDIS_TLS` and `REDIS_TLS_*_FILE`, `CACHE_STORE` and
 * the `CACHE_*` tuning variables. Empty values count as unset.
 *
 * With no Redis address (and no `CACHE_STORE=redis`) it selects the in-memory store. A bad value
 * throws `RedisCacheConfigError` naming the variable and what it expects.
 */
export function redisCacheOptionsFromEnv(env: Env = process.env): RedisCacheModuleOptions {
  const vars = parseVariables(env);
  const options: RedisCacheModuleOptions = {
    defaultTtlSeconds: vars.CACHE_DEFAULT_TTL_SECONDS,
    maxTtlSeconds: vars.CACHE_MAX_TTL_SECONDS,
    operationTimeoutMs: vars.CACHE_OPERATION_TIMEOUT_MS,
    failOpen: vars.CACHE_FAIL_OPEN,
    namespaceIndex: vars.CACHE_NAMESPACE_INDEX,
    maxValueBytes: vars.CACHE_MAX_VALUE_BYTES,
    maxKeyBytes: vars.CACHE_MAX_KEY_BYTES,
    stampede: nonEmpty({ lock: vars.CACHE_STAMPEDE_LOCK, earlyRefresh: vars.CACHE_EARLY_REFRESH }),
    metrics: nonEmpty({
      enabled: vars.CACHE_METRICS,
      keyCountIntervalMs: vars.CACHE_KEY_COUNT_INTERVAL_MS,
      keyCountSamples: vars.CACHE_KEY_COUNT_SAMPLES,
      openTelemetry: vars.CACHE_METRICS_OPENTELEMETRY,
    }),
    tracing: nonEmpty({ enabled: vars.CACHE_TRACING }),
  };
  const given = LOCATION_VARIABLES.filter((name) => vars[name as Variable] !== undefined);
  // REDIS_URL winning over REDIS_ADDR is the Go service's rule; any other pair is a mistake.
  const locations = given.filter((name) => name !== 'REDIS_ADDR' || !given.includes('REDIS_URL'));
  if (locations.length > 1) {
    throw new RedisCacheConfigError(
      `Environment variables ${locations.join(' and ')} both say where Redis is: set only one of them.`,
    );
  }
  if ((vars.REDIS_SENTINELS === undefined) !== (vars.REDIS_SENTINEL_NAME === undefined)) {
    throw new RedisCacheConfigError(
      'Environment variables REDIS_SENTINELS and REDIS_SENTINEL_NAME go together: set both (the sentinels and the master group they monitor) or neither.',
    );
  }
  if (vars.REDIS_URL !== undefined) {
    const beside = {
      username: vars.REDIS_USERNAME,
      password: vars.REDIS_PASSWORD,
      db: vars.REDIS_DB,
    };
    const variables = {
      url: 'REDIS_URL',
      username: 'REDIS_USERNAME',
      password: 'REDIS_PASSWORD',
      db: 'REDIS_DB',
    };
    assertUrlLeavesRoomFor(
      vars.REDIS_URL,
      beside,
      'Environment variables',
      (setting) => variables[setting],
    );
  }
  const store = vars.CACHE_STORE ?? (locations.length > 0 ? 'redis' : 'memory');
  if (store === 'memory') return withoutUndefined({ ...options, store });

  return withoutUndefined({
    ...options,
    store,
    ...addressFromEnv(vars),
    username: vars.REDIS_USERNAME,
    password: vars.REDIS_PASSWORD,
    db: vars.REDIS_DB,
    tls: tlsFromEnv(vars),
  });
}

function addressFromEnv(vars: Parsed): RedisCacheModuleOptions {
  if (vars.REDIS_URL !== undefined) return { url: vars.REDIS_URL };
  if (vars.REDIS_ADDR !== undefined) {
    return parseAddr(vars.REDIS_ADDR, 'REDIS_ADDR', envAddrError);
  }
  if (vars.REDIS_CLUSTER_NODES !== undefined) {
    return { cluster: { nodes: nodeList(vars.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES') } };
  }
  if (vars.REDIS_SENTINELS !== undefined) {
    return {
      sentinels: nodeList(vars.REDIS_SENTINELS, 'REDIS_SENTINELS'),
      name: vars.REDIS_SENTINEL_NAME,
      sentinelPassword: vars.REDIS_SENTINEL_PASSWORD,
    };
  }
  return {};
}

function nodeList(list: string, variable: 'REDIS_CLUSTER_NODES' | 'REDIS_SENTINELS') {
  const nodes = list.split(',').map((node) => node.trim());
  if (nodes.some((node) => node === '')) {
    throw new RedisCacheConfigError(
      invalidEnvMessage(variable, VARIABLES[variable].expected, redactUrl(list)),
    );
  }
  return nodes.map((node) =>
    parseAddr(
      node,
      variable,
      (source, got) =>
        new RedisCacheConfigError(
          invalidEnvMessage(source, VARIABLES[variable].expected, redactUrl(got)),
        ),
    ),
  );
}

/** `REDIS_TLS` and the PEM files; any file turns TLS on. Files are read now, so a bad path stops start-up. */
function tlsFromEnv(vars: Parsed): RedisCacheModuleOptions['tls'] {
  const files = {
    ca: vars.REDIS_TLS_CA_FILE && readPem('REDIS_TLS_CA_FILE', vars.REDIS_TLS_CA_FILE),
    cert: vars.REDIS_TLS_CERT_FILE && readPem('REDIS_TLS_CERT_FILE', vars.REDIS_TLS_CERT_FILE),
    key: vars.REDIS_TLS_KEY_FILE && readPem('REDIS_TLS_KEY_FILE', vars.REDIS_TLS_KEY_FILE),
  };
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new RedisCacheConfigError(
      'Environment variables REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together: a client certificate needs its key.',
    );
  }
  const pem = nonEmpty(files);
  if (pem === undefined) return vars.REDIS_TLS;
  if (vars.REDIS_TLS === false) {
    throw new RedisCacheConfigError(
      'Environment variable REDIS_TLS is "false" but REDIS_TLS_*_FILE variables are set: remove one or the other.',
    );
  }
  return pem;
}

function readPem(variable: Variable, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new RedisCacheConfigError(
      `Environment variable ${variable}: cannot read ${JSON.stringify(path)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
    );
  }
}

function parseVariables(env: Env): Parsed {
  const parsed: Record<string, unknown> = {};
  for (const [name, { schema, expected }] of Object.entries(VARIABLES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const result = (schema as z.ZodType).safeParse(raw);
    if (!result.success) {
      // A variable that may hold a secret, even set to one by mistake, is named, never shown.
      const shown = /PASSWORD|TLS/.test(name) ? '(hidden)' : redactUrl(raw);
      throw new RedisCacheConfigError(invalidEnvMessage(name, expected, shown));
    }
    parsed[name] = result.data;
  }
  if (parsed.REDIS_URL !== undefined && !URL.canParse(parsed.REDIS_URL as string)) {
    throw new RedisCacheConfigError(
      invalidEnvMessage('REDIS_URL', VARIABLES.REDIS_URL.expected, redactUrl(env.REDIS_URL ?? '')),
    );
  }
  return parsed;
}

function envAddrError(variable: string, got: string): RedisCacheConfigError {
  return new RedisCacheConfigError(
    invalidEnvMessage(variable, VARIABLES.REDIS_ADDR.expected, redactUrl(got)),
  );
}

/** The object without its undefined entries, or undefined when nothing is left. */
function nonEmpty<T extends object>(value: T): Partial<T> | undefined {
  const defined = withoutUndefined(value);
  return Object.keys(defined).length > 0 ? defined : undefined;
}
