import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import { RedisCacheConfigError } from './errors/redis-cache.errors';
import { redisCacheOptionsFromEnv } from './redis-cache.env';
import type { RedisCacheModuleOptions } from './redis-cache.interfaces';
import { resolveRedisCacheOptions } from './redis-cache.options';
import { createRedisClient } from './stores/redis-client.factory';
import { describeRedisTarget } from './stores/redis.store';

function errorOf(run: () => unknown): RedisCacheConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RedisCacheConfigError);
    return error as RedisCacheConfigError;
  }
  throw new Error('expected a RedisCacheConfigError');
}

const resolve = (options: RedisCacheModuleOptions) => resolveRedisCacheOptions(options);

describe('Cluster and Sentinel options', () => {
  it('takes cluster nodes as { host, port } objects and "host:port" strings', () => {
    const { connection } = resolve({
      cluster: { nodes: [{ host: 'a', port: 7000 }, 'b:7001', '[::1]:7002'] },
      password: 'pw',
    });
    expect(connection).toMatchObject({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      password: 'pw',
      clusterOptions: {},
    });
  });

  it('takes sentinels with the master group name and the sentinels own password', () => {
    const { connection } = resolve({
      sentinels: ['s1:26379', { host: 's2', port: 26380 }],
      name: 'cache',
      sentinelPassword: 'sentinel-secret',
      db: 2,
    });
    expect(connection).toMatchObject({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      name: 'cache',
      sentinelPassword: 'sentinel-secret',
      db: 2,
    });
  });

  it.each([
    [{ cluster: { nodes: [] } }, 'cluster.nodes', 'a non-empty array'],
    [{ cluster: { nodes: ['no-port'] } }, 'cluster.nodes.0', '"host:port" strings'],
    [{ cluster: { nodes: [{ host: 'a', port: 70000 }] } }, 'cluster.nodes', '{ host, port }'],
    [{ sentinels: ['s:1', 's:x'], name: 'm' }, 'sentinels.1', '"host:port" strings'],
    [{ sentinels: ['s:1'], name: '' }, 'name', 'master group'],
  ])('rejects %j, naming %s', (options, path, expected) => {
    const error = errorOf(() => resolve(options));
    expect(error.message).toContain(`"${path}`);
    expect(error.message).toContain(expected);
  });

  it('needs name with sentinels and sentinels with name', () => {
    expect(errorOf(() => resolve({ sentinels: ['s:26379'] })).message).toContain('needs "name"');
    expect(errorOf(() => resolve({ name: 'cache' })).message).toContain('set "sentinels" too');
  });

  it('refuses two places at once, and a database other than 0 on a cluster', () => {
    expect(errorOf(() => resolve({ cluster: { nodes: ['a:1'] }, url: 'redis://x' })).message).toBe(
      'RedisCacheModule options "url" and "cluster" both say where Redis is: set only one of client, url, addr, host/port, cluster or sentinels.',
    );
    expect(errorOf(() => resolve({ sentinels: ['s:1'], name: 'm', host: 'h' })).message).toContain(
      '"host" and "sentinels"',
    );
    expect(errorOf(() => resolve({ cluster: { nodes: ['a:1'] }, db: 3 })).message).toContain(
      'a Redis Cluster has only database 0',
    );
  });

  it('never shows the sentinel password in an error', () => {
    const error = errorOf(() =>
      resolve({ sentinels: ['s:1'], name: 'm', sentinelPassword: 42 as unknown as string }),
    );
    expect(error.message).toContain('(hidden)');
  });

  it('builds an ioredis Cluster with fail-fast settings, credentials on every node', () => {
    const { connection } = resolve({
      cluster: { nodes: ['127.0.0.1:1'], clusterOptions: { scaleReads: 'master' } },
      username: 'renderer',
      password: 'pw',
      redisOptions: { connectTimeout: 1234, enableOfflineQueue: true },
    });
    if (connection.kind === 'client') throw new Error('expected a created client');
    const client = createRedisClient(connection);
    try {
      expect(client).toBeInstanceOf(Cluster);
      const cluster = client as Cluster;
      expect(cluster.status).toBe('wait');
      expect(cluster.options).toMatchObject({ enableOfflineQueue: false, scaleReads: 'master' });
      expect(cluster.options.redisOptions).toMatchObject({
        username: 'renderer',
        password: 'pw',
        connectTimeout: 1234,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
      });
      expect(describeRedisTarget(cluster)).toBe('cluster://(not connected yet)');
    } finally {
      client.disconnect();
    }
  });

  it('builds a Sentinel client that keeps the fail-fast settings', () => {
    const { connection } = resolve({
      sentinels: ['127.0.0.1:1'],
      name: 'cache',
      sentinelPassword: 'sp',
      db: 1,
    });
    if (connection.kind === 'client') throw new Error('expected a created client');
    const client = createRedisClient(connection) as Redis;
    try {
      expect(client.options).toMatchObject({
        sentinels: [{ host: '127.0.0.1', port: 1 }],
        name: 'cache',
        sentinelPassword: 'sp',
        db: 1,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
      });
      expect(describeRedisTarget(client)).toBe('sentinel://127.0.0.1:1/cache/1');
    } finally {
      client.disconnect();
    }
  });
});

describe('Cluster, Sentinel and TLS variables', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'redis-cache-env-'));
    for (const name of ['ca', 'cert', 'key'])
      writeFileSync(join(dir, `${name}.pem`), `${name} pem`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads REDIS_CLUSTER_NODES as a comma-separated node list', () => {
    expect(redisCacheOptionsFromEnv({ REDIS_CLUSTER_NODES: 'a:7000, b:7001' })).toEqual({
      store: 'redis',
      cluster: {
        nodes: [
          { host: 'a', port: 7000 },
          { host: 'b', port: 7001 },
        ],
      },
    });
  });

  it('reads REDIS_SENTINELS with REDIS_SENTINEL_NAME and REDIS_SENTINEL_PASSWORD', () => {
    expect(
      redisCacheOptionsFromEnv({
        REDIS_SENTINELS: 's1:26379,s2:26379',
        REDIS_SENTINEL_NAME: 'cache',
        REDIS_SENTINEL_PASSWORD: 'sp',
        REDIS_PASSWORD: 'mp',
      }),
    ).toEqual({
      store: 'redis',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      name: 'cache',
      sentinelPassword: 'sp',
      password: 'mp',
    });
  });

  it.each([
    [{ REDIS_CLUSTER_NODES: 'a:1,,b:2' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'a:1,b' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'm', REDIS_ADDR: 'a:1' }, 'REDIS_ADDR and'],
    [{ REDIS_SENTINELS: 's:1' }, 'REDIS_SENTINEL_NAME go together'],
    [{ REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINEL_NAME go together'],
    [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://x' }, 'REDIS_URL and REDIS_CLUSTER_NODES'],
  ])('rejects %j, naming %s', (env, named) => {
    expect(errorOf(() => redisCacheOptionsFromEnv(env)).message).toContain(named);
  });

  it('keeps REDIS_URL winning over REDIS_ADDR, as the Go service did', () => {
    expect(redisCacheOptionsFromEnv({ REDIS_URL: 'redis://u:6379', REDIS_ADDR: 'a:1' })).toEqual({
      store: 'redis',
      url: 'redis://u:6379',
    });
  });

  it('reads the TLS PEM files, which turn TLS on', () => {
    expect(
      redisCacheOptionsFromEnv({
        REDIS_ADDR: 'r:6380',
        REDIS_TLS_CA_FILE: join(dir, 'ca.pem'),
        REDIS_TLS_CERT_FILE: join(dir, 'cert.pem'),
        REDIS_TLS_KEY_FILE: join(dir, 'key.pem'),
      }).tls,
    ).toEqual({ ca: 'ca pem', cert: 'cert pem', key: 'key pem' });
    expect(
      redisCacheOptionsFromEnv({ REDIS_ADDR: 'r:6380', REDIS_TLS_CA_FILE: join(dir, 'ca.pem') })
        .tls,
    ).toEqual({ ca: 'ca pem' });
  });

  it('names a TLS file it cannot read, a certificate without its key, and REDIS_TLS=false beside files', () => {
    const missing = join(dir, 'missing.pem');
    expect(
      errorOf(() => redisCacheOptionsFromEnv({ REDIS_ADDR: 'r:1', REDIS_TLS_CA_FILE: missing }))
        .message,
    ).toBe(
      `Environment variable REDIS_TLS_CA_FILE: cannot read ${JSON.stringify(missing)} (ENOENT).`,
    );
    expect(
      errorOf(() =>
        redisCacheOptionsFromEnv({ REDIS_ADDR: 'r:1', REDIS_TLS_CERT_FILE: join(dir, 'cert.pem') }),
      ).message,
    ).toContain('REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together');
    expect(
      errorOf(() =>
        redisCacheOptionsFromEnv({
          REDIS_ADDR: 'r:1',
          REDIS_TLS: 'false',
          REDIS_TLS_CA_FILE: join(dir, 'ca.pem'),
        }),
      ).message,
    ).toContain('REDIS_TLS is "false"');
  });

  it('reads the size limits and the stampede switches', () => {
    expect(
      redisCacheOptionsFromEnv({
        CACHE_MAX_VALUE_BYTES: '2048',
        CACHE_MAX_KEY_BYTES: '64',
        CACHE_STAMPEDE_LOCK: 'true',
        CACHE_EARLY_REFRESH: '1',
      }),
    ).toEqual({
      store: 'memory',
      maxValueBytes: 2048,
      maxKeyBytes: 64,
      stampede: { lock: true, earlyRefresh: true },
    });
    expect(errorOf(() => redisCacheOptionsFromEnv({ CACHE_MAX_VALUE_BYTES: '0' })).message).toBe(
      'Environment variable CACHE_MAX_VALUE_BYTES: expected a whole number of bytes from 1 to 536870912 (512 MiB, the most Redis stores), got "0".',
    );
  });
});

describe('a URL beside credential options', () => {
  it.each([
    [{ url: 'redis://:old@cache:6379', password: 'new' }, '"url" and "password"'],
    [{ url: 'redis://cache:6379/?password=old', password: 'new' }, '"url" and "password"'],
    [{ url: 'redis://u@cache:6379', username: 'v' }, '"url" and "username"'],
    [{ url: 'redis://cache:6379/2', db: 3 }, '"url" and "db"'],
  ])('refuses %j: the URL would silently win', (options, named) => {
    const error = errorOf(() => resolve(options));
    expect(error.message).toContain(named);
    expect(error.message).not.toMatch(/old|new/);
  });

  it('takes credentials and a database the URL leaves out', () => {
    expect(
      resolve({ url: 'redis://cache:6379', username: 'u', password: 'p', db: 2 }).connection,
    ).toMatchObject({
      kind: 'create',
      url: 'redis://cache:6379',
      username: 'u',
      password: 'p',
      db: 2,
    });
  });

  it('refuses the same pairs from the environment, naming the variables', () => {
    expect(
      errorOf(() =>
        redisCacheOptionsFromEnv({ REDIS_URL: 'redis://:old@cache:6379', REDIS_PASSWORD: 'new' }),
      ).message,
    ).toBe(
      "Environment variables REDIS_URL and REDIS_PASSWORD both set the password, and the URL's would win: set it in one place only.",
    );
    expect(
      errorOf(() => redisCacheOptionsFromEnv({ REDIS_URL: 'redis://cache/1', REDIS_DB: '2' }))
        .message,
    ).toContain('REDIS_URL and REDIS_DB both set the database');
    expect(
      redisCacheOptionsFromEnv({ REDIS_URL: 'redis://cache:6379', REDIS_PASSWORD: 'p' }),
    ).toMatchObject({ url: 'redis://cache:6379', password: 'p' });
  });
});
