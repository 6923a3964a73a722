import { readFileSync } from 'node:fs';
import { RedisCacheConfigError, redactUrl } from './errors/redis-cache.errors';
import { DESCRIBED_OPTIONS, describedAt } from './options/option-schema';
import type { DescribedOption } from './options/option-schema';
import { assertUrlLeavesRoomFor, parseAddr } from './options/redis-connection';
import type { RedisNode } from './options/redis-connection';
import type { RedisCacheModuleOptions } from './redis-cache.interfaces';
import { withoutUndefined } from './redis-cache.options';

type Env = Record<string, string | undefined>;

/** The variables that set an option, read off the options' own descriptions. */
const OPTION_VARIABLES = DESCRIBED_OPTIONS.filter((option) => option.info.env !== undefined);

/** The variables with no option of their own: PEM files, read into `tls`. */
const TLS_FILES = {
  REDIS_TLS_CA_FILE: 'ca',
  REDIS_TLS_CERT_FILE: 'cert',
  REDIS_TLS_KEY_FILE: 'key',
} as const;

/** Every variable `redisCacheOptionsFromEnv` reads (the docs test checks each is documented). */
export const REDIS_CACHE_ENV_VARIABLES: readonly string[] = [
  ...OPTION_VARIABLES.map((option) => option.info.env!),
  ...Object.keys(TLS_FILES),
];

const connectionOf = (option: DescribedOption) => describedAt(option.path[0])?.info.connection;

/** The options that say where and how to reach Redis: the memory store leaves them out. */
const CONNECTION_OPTIONS = new Set(
  DESCRIBED_OPTIONS.filter((option) => connectionOf(option)).map((option) => option.path[0]),
);

/** Variables that say where Redis is; at most one may be set (REDIS_URL beside REDIS_ADDR wins). */
const LOCATION_VARIABLES = OPTION_VARIABLES.filter(
  (option) => connectionOf(option) === 'location',
).map((option) => option.info.env!);

/** The variable of the option at `path`. */
const variableOf = (path: string): string => describedAt(path)!.info.env!;

/**
 * Module options from the environment: the Go service's `REDIS_ADDR`, `REDIS_PASSWORD`, `REDIS_DB`,
 * plus `REDIS_URL` (wins over `REDIS_ADDR`), `REDIS_CLUSTER_NODES`, `REDIS_SENTINELS` with
 * `REDIS_SENTINEL_NAME`, `REDIS_USERNAME`, `REDIS_TLS` and `REDIS_TLS_*_FILE`, `CACHE_STORE` and
 * the `CACHE_*` tuning variables (docs/configuration.md lists them). Empty values count as unset.
 *
 * With no Redis address (and no `CACHE_STORE=redis`) it selects the in-memory store. A bad value
 * throws `RedisCacheConfigError` naming the variable and what it expects.
 */
export function redisCacheOptionsFromEnv(env: Env = process.env): RedisCacheModuleOptions {
  const set = OPTION_VARIABLES.filter((option) => !isUnset(env[option.info.env!]));
  const options: Record<string, unknown> = {};
  for (const option of set) {
    const value = valueOf(option, env[option.info.env!]!);
    const [group, key] = option.path;
    if (key === undefined) options[group] = value;
    else options[group] = { ...(options[group] as object), [key]: value };
  }
  const given = LOCATION_VARIABLES.filter((name) => !isUnset(env[name]));
  // REDIS_URL winning over REDIS_ADDR is the Go service's rule; any other pair is a mistake.
  const locations = given.filter((name) => name !== 'REDIS_ADDR' || !given.includes('REDIS_URL'));
  if (locations.length > 1) {
    throw new RedisCacheConfigError(
      `Environment variables ${locations.join(' and ')} both say where Redis is: set only one of them.`,
    );
  }
  if (isUnset(env.REDIS_SENTINELS) !== isUnset(env.REDIS_SENTINEL_NAME)) {
    throw new RedisCacheConfigError(
      'Environment variables REDIS_SENTINELS and REDIS_SENTINEL_NAME go together: set both (the sentinels and the master group they monitor) or neither.',
    );
  }
  if (typeof options.url === 'string') {
    assertUrlLeavesRoomFor(options.url, options, 'Environment variables', variableOf);
  }
  const store = options.store ?? (locations.length > 0 ? 'redis' : 'memory');
  if (store === 'memory') {
    return withoutUndefined({ ...withoutConnection(options), store });
  }
  if (typeof options.url === 'string') delete options.addr;
  if (typeof options.addr === 'string') {
    Object.assign(options, parseAddr(options.addr, 'REDIS_ADDR', invalidAddress(env)));
    delete options.addr;
  }
  const cluster = options.cluster as { nodes: string[] } | undefined;
  if (cluster) cluster.nodes = nodesOf(cluster.nodes, 'REDIS_CLUSTER_NODES', env) as never;
  if (options.sentinels) {
    options.sentinels = nodesOf(options.sentinels as string[], 'REDIS_SENTINELS', env);
  } else {
    delete options.sentinelPassword; // only the sentinels use it
  }
  return withoutUndefined({
    ...options,
    store,
    tls: tlsFromEnv(env, options.tls as boolean | undefined),
  }) as RedisCacheModuleOptions;
}

const isUnset = (raw: string | undefined): boolean => raw === undefined || raw === '';

/** The variable's value, checked by its option's own schema. */
function valueOf(option: DescribedOption, raw: string): unknown {
  const result = option.schema.safeParse(option.info.fromText?.(raw) ?? raw);
  if (!result.success) throw invalidVariable(option, raw);
  return result.data;
}

function invalidVariable({ info }: DescribedOption, raw: string): RedisCacheConfigError {
  const shown = info.secret ? '(hidden)' : redactUrl(raw);
  return RedisCacheConfigError.invalidVariable(info.env!, info.envExpected ?? info.expected, shown);
}

function withoutConnection(options: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).filter(([k]) => !CONNECTION_OPTIONS.has(k)));
}

const invalidAddress = (env: Env) => (variable: string) =>
  invalidVariable(
    OPTION_VARIABLES.find((option) => option.info.env === variable)!,
    env[variable]!,
  );

/** Each "host:port" of a comma-separated list; an empty or bad one names the whole variable. */
function nodesOf(nodes: string[], variable: string, env: Env): RedisNode[] {
  const invalid = invalidAddress(env);
  if (nodes.some((node) => node === '')) throw invalid(variable);
  return nodes.map((node) => parseAddr(node, variable, invalid));
}

/** `REDIS_TLS` and the PEM files; any file turns TLS on. Files are read now, so a bad path stops start-up. */
function tlsFromEnv(env: Env, tls: boolean | undefined): RedisCacheModuleOptions['tls'] {
  const pem: Record<string, string> = {};
  for (const [variable, field] of Object.entries(TLS_FILES)) {
    const path = env[variable];
    if (!isUnset(path)) pem[field] = readPem(variable, path!);
  }
  if ((pem.cert === undefined) !== (pem.key === undefined)) {
    throw new RedisCacheConfigError(
      'Environment variables REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together: a client certificate needs its key.',
    );
  }
  if (Object.keys(pem).length === 0) return tls;
  if (tls === false) {
    throw new RedisCacheConfigError(
      'Environment variable REDIS_TLS is "false" but REDIS_TLS_*_FILE variables are set: remove one or the other.',
    );
  }
  return pem;
}

function readPem(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new RedisCacheConfigError(
      `Environment variable ${variable}: cannot read ${JSON.stringify(path)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
    );
  }
}
