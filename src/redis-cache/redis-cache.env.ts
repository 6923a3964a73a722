import { z } from 'zod';
import { invalidEnvMessage, redactUrl } from './errors/messages';
import { RedisCacheConfigError } from './errors/redis-cache.errors';
import type { RedisCacheModuleOptions } from './redis-cache.interfaces';
import { parseAddr } from './redis-cache.options';

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
  CACHE_STORE: { schema: z.enum(['redis', 'memory']), expected: '"redis" or "memory"' },
  CACHE_DEFAULT_TTL_SECONDS: { schema: wholeNumber(1), expected: 'a whole number of seconds >= 1' },
  CACHE_MAX_TTL_SECONDS: { schema: wholeNumber(1), expected: 'a whole number of seconds >= 1' },
  CACHE_OPERATION_TIMEOUT_MS: {
    schema: wholeNumber(1, 60_000),
    expected: 'a whole number of milliseconds from 1 to 60000',
  },
  CACHE_FAIL_OPEN: { schema: flag, expected: '"true" or "false"' },
  CACHE_METRICS: { schema: flag, expected: '"true" or "false"' },
  CACHE_KEY_COUNT_INTERVAL_MS: {
    schema: wholeNumber(0, 86_400_000),
    expected: 'a whole number of milliseconds from 0 (off) to 86400000',
  },
  CACHE_TRACING: { schema: flag, expected: '"true" or "false"' },
} as const;

type Variable = keyof typeof VARIABLES;
type Parsed = { [K in Variable]?: z.output<(typeof VARIABLES)[K]['schema']> };

/**
 * Module options from the environment: the Go service's `REDIS_ADDR`, `REDIS_PASSWORD`, `REDIS_DB`,
 * plus `REDIS_URL` (wins over `REDIS_ADDR`), `REDIS_USERNAME`, `REDIS_TLS`, `CACHE_STORE` and the
 * `CACHE_*` tuning variables. Empty values count as unset.
 *
 * With neither `REDIS_URL` nor `REDIS_ADDR` (and no `CACHE_STORE=redis`) it selects the in-memory
 * store. A bad value throws `RedisCacheConfigError` naming the variable and what it expects.
 */
export function redisCacheOptionsFromEnv(env: Env = process.env): RedisCacheModuleOptions {
  const vars = parseVariables(env);
  const options: RedisCacheModuleOptions = {
    defaultTtlSeconds: vars.CACHE_DEFAULT_TTL_SECONDS,
    maxTtlSeconds: vars.CACHE_MAX_TTL_SECONDS,
    operationTimeoutMs: vars.CACHE_OPERATION_TIMEOUT_MS,
    failOpen: vars.CACHE_FAIL_OPEN,
    metrics: nonEmpty({
      enabled: vars.CACHE_METRICS,
      keyCountIntervalMs: vars.CACHE_KEY_COUNT_INTERVAL_MS,
    }),
    tracing: nonEmpty({ enabled: vars.CACHE_TRACING }),
  };
  const hasAddress = vars.REDIS_URL !== undefined || vars.REDIS_ADDR !== undefined;
  const store = vars.CACHE_STORE ?? (hasAddress ? 'redis' : 'memory');
  if (store === 'memory') return withoutUndefined({ ...options, store });

  const address =
    vars.REDIS_URL !== undefined
      ? { url: vars.REDIS_URL }
      : vars.REDIS_ADDR !== undefined
        ? parseAddr(vars.REDIS_ADDR, 'REDIS_ADDR', envAddrError)
        : {};
  return withoutUndefined({
    ...options,
    store,
    ...address,
    username: vars.REDIS_USERNAME,
    password: vars.REDIS_PASSWORD,
    db: vars.REDIS_DB,
    tls: vars.REDIS_TLS,
  });
}

function parseVariables(env: Env): Parsed {
  const parsed: Record<string, unknown> = {};
  for (const [name, { schema, expected }] of Object.entries(VARIABLES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const result = (schema as z.ZodType).safeParse(raw);
    if (!result.success) {
      throw new RedisCacheConfigError(invalidEnvMessage(name, expected, redactUrl(raw)));
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

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The object without its undefined entries, or undefined when nothing is left. */
function nonEmpty<T extends object>(value: T): T | undefined {
  const defined = withoutUndefined(value);
  return Object.keys(defined).length > 0 ? defined : undefined;
}
