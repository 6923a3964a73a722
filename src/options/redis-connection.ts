import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { RedisCacheConfigError } from '../errors/redis-cache.errors';
import type { RedisCacheModuleOptions, RedisNodeAddress } from '../redis-cache.interfaces';
import { invalidOptionError, valueAt } from './option-schema';

/** Where the module connects when no address is given, as the Go service did. */
export const DEFAULT_REDIS_HOST = 'localhost';
export const DEFAULT_REDIS_PORT = 6379;

export interface RedisNode {
  host: string;
  port: number;
}

/** What every client the module creates is given, whatever the topology. */
export interface RedisClientSettings {
  username?: string;
  password?: string;
  db?: number;
  tls?: ConnectionOptions;
  redisOptions: RedisOptions;
}

/** How the Redis store reaches its server(s). */
export type RedisConnection =
  | { kind: 'client'; client: Redis | Cluster }
  | ({
      kind: 'create';
      /** A URL, or host and port; the rest completes or overrides it. */
      url?: string;
      host: string;
      port: number;
    } & RedisClientSettings)
  | ({ kind: 'cluster'; nodes: RedisNode[]; clusterOptions: ClusterOptions } & RedisClientSettings)
  | ({
      kind: 'sentinel';
      sentinels: RedisNode[];
      name: string;
      sentinelPassword?: string;
    } & RedisClientSettings);

/** The connections for which the module creates (and so owns) the client. */
export type CreatedRedisConnection = Exclude<RedisConnection, { kind: 'client' }>;

const LOCATION_OPTIONS = ['client', 'url', 'addr', 'host', 'cluster', 'sentinels'] as const;

/** The connection that schema-checked options describe; refuses options that contradict. */
export function resolveConnection(options: RedisCacheModuleOptions): RedisConnection {
  const given: string[] = LOCATION_OPTIONS.filter((k) => options[k] !== undefined);
  // A port belongs with host; beside another location it would be silently ignored.
  if (options.port !== undefined && given.some((k) => k !== 'host')) given.push('port');
  if (given.length > 1) {
    throw new RedisCacheConfigError(
      `RedisCacheModule options ${given.map((k) => `"${k}"`).join(' and ')} both say where Redis is: set only one of client, url, addr, host/port, cluster or sentinels.`,
    );
  }
  if ((options.sentinels === undefined) !== (options.name === undefined)) {
    throw new RedisCacheConfigError(
      options.name === undefined
        ? 'RedisCacheModule option "sentinels" needs "name": the master group the sentinels monitor.'
        : 'RedisCacheModule option "name" is the master group of Sentinel: set "sentinels" too.',
    );
  }
  const clusterOptions = options.cluster?.clusterOptions;
  refuseKeyPrefix('client', options.client?.options);
  refuseKeyPrefix('redisOptions', options.redisOptions);
  refuseKeyPrefix('cluster.clusterOptions', clusterOptions);
  refuseKeyPrefix('cluster.clusterOptions.redisOptions', valueAt(clusterOptions, ['redisOptions']));
  if (options.client) return { kind: 'client', client: options.client };
  const tls = options.tls === true ? {} : options.tls === false ? undefined : options.tls;
  const settings: RedisClientSettings = {
    username: options.username,
    password: options.password,
    db: options.db,
    tls,
    redisOptions: options.redisOptions ?? {},
  };
  if (options.cluster) {
    // A cluster has one database; a db option would be refused by every node at connect time.
    if (options.db !== undefined && options.db !== 0) {
      throw new RedisCacheConfigError(
        `RedisCacheModule option "db" (${options.db}) cannot be used with "cluster": a Redis Cluster has only database 0.`,
      );
    }
    return {
      kind: 'cluster',
      ...settings,
      db: undefined,
      nodes: options.cluster.nodes.map((node, i) => parseNode(node, `cluster.nodes.${i}`)),
      clusterOptions: options.cluster.clusterOptions ?? {},
    };
  }
  if (options.sentinels && options.name) {
    return {
      kind: 'sentinel',
      ...settings,
      sentinels: options.sentinels.map((node, i) => parseNode(node, `sentinels.${i}`)),
      name: options.name,
      sentinelPassword: options.sentinelPassword,
    };
  }
  if (options.url !== undefined) {
    assertUrlLeavesRoomFor(
      options.url,
      options,
      'RedisCacheModule options',
      (option) => `"${option}"`,
    );
  }
  const address = options.addr !== undefined ? parseAddr(options.addr, 'addr') : undefined;
  return {
    kind: 'create',
    url: options.url,
    host: address?.host ?? options.host ?? DEFAULT_REDIS_HOST,
    port: address?.port ?? options.port ?? DEFAULT_REDIS_PORT,
    ...settings,
  };
}

/**
 * ioredis's `keyPrefix` applies to its command methods, not to the commands the store builds, nor
 * to SCAN patterns: keys would be written without it and flushes would count other services' keys.
 */
function refuseKeyPrefix(where: string, options: unknown): void {
  const keyPrefix = valueAt(options, ['keyPrefix']);
  if (keyPrefix === undefined || keyPrefix === '') return;
  throw new RedisCacheConfigError(
    `RedisCacheModule option "${where}": keyPrefix is not supported. Every cache key is /{appId}/{deviceId}/{key} (the Go service's format, which flushes, counts and other clients rely on), and ioredis would not apply the prefix to it. Keep services apart with their own db or Redis instead.`,
  );
}

/** Settings a Redis URL may hold itself, in its user info, path or query (ioredis reads all three). */
const URL_SETTINGS = ['username', 'password', 'db'] as const;

/**
 * ioredis lets a URL's own user, password and database win over the settings beside it, so a
 * rotated password would be ignored without a word: refuses the pair instead. `group` and
 * `nameOf` name the settings as the user wrote them (options, or environment variables).
 */
export function assertUrlLeavesRoomFor(
  url: string,
  beside: Partial<Record<(typeof URL_SETTINGS)[number], unknown>>,
  group: string,
  nameOf: (setting: 'url' | (typeof URL_SETTINGS)[number]) => string,
): void {
  const parsed = new URL(url);
  const inUrl = {
    username: parsed.username !== '' || parsed.searchParams.has('username'),
    password: parsed.password !== '' || parsed.searchParams.has('password'),
    db: /^\/\d+/.test(parsed.pathname) || parsed.searchParams.has('db'),
  };
  for (const setting of URL_SETTINGS) {
    if (inUrl[setting] && beside[setting] !== undefined) {
      const what = setting === 'db' ? 'database' : setting;
      throw RedisCacheConfigError.urlClash(group, nameOf('url'), nameOf(setting), what);
    }
  }
}

function parseNode(node: RedisNodeAddress, source: string): RedisNode {
  return typeof node === 'string' ? parseAddr(node, source) : { host: node.host, port: node.port };
}

/** Parses `"host:port"` (`"[::1]:6379"` for IPv6); `source` names the option or variable. */
export function parseAddr(
  addr: string,
  source: string,
  fail: (source: string, got: string) => Error = invalidOptionError,
): RedisNode {
  const match = /^(?:\[([^\]]+)\]|([^:/\s]+)):(\d{1,5})$/.exec(addr.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65_535) throw fail(source, addr);
  return { host: match[1] ?? match[2], port };
}
