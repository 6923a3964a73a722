import { createNoopMeter, metrics } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { Registry, register } from 'prom-client';
import { RedisCacheConfigError } from './errors/redis-cache.errors';
import type { RedisCacheModuleOptions } from './redis-cache.interfaces';
import { DEFAULT_REDIS_HOST, DEFAULT_REDIS_PORT, parseAddr } from './options/redis-connection';
import { REDIS_CACHE_DEFAULTS, resolveRedisCacheOptions } from './redis-cache.options';

/** The error resolving `options` throws; fails the test when it does not throw one. */
function configErrorOf(options: unknown): RedisCacheConfigError {
  try {
    resolveRedisCacheOptions(options as RedisCacheModuleOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(RedisCacheConfigError);
    return error as RedisCacheConfigError;
  }
  throw new Error(`expected the options to be rejected`);
}

/** The documented stampede defaults (off unless asked for). */
const STAMPEDE_DEFAULTS = {
  lock: false,
  lockTtlMs: 5_000,
  lockWaitMs: 2_000,
  earlyRefresh: false,
  earlyRefreshBeta: 1,
};

describe('resolveRedisCacheOptions', () => {
  describe('defaults', () => {
    it('fills in every default when no options are given', () => {
      const expected = {
        store: 'redis',
        defaultTtlSeconds: 60,
        maxTtlSeconds: 86_400,
        operationTimeoutMs: 200,
        startupWaitMs: 1_500,
        failOpen: true,
        namespaceIndex: false,
        maxValueBytes: 32 * 1024 * 1024,
        maxKeyBytes: 1024,
        stampede: STAMPEDE_DEFAULTS,
        routeParams: { app: 'appId', device: 'deviceId' },
        connection: {
          kind: 'create',
          url: undefined,
          host: 'localhost',
          port: 6379,
          username: undefined,
          password: undefined,
          db: undefined,
          tls: undefined,
          redisOptions: {},
        },
        metrics: {
          enabled: true,
          prefix: 'matrx_cache_',
          registry: register,
          apps: new Set(),
          keyCountIntervalMs: 30_000,
          keyCountSamples: 'auto',
          meterProvider: undefined,
        },
        tracing: { enabled: true, recordDeviceId: false, recordKey: false },
      };
      expect(resolveRedisCacheOptions()).toEqual(expected);
      expect(resolveRedisCacheOptions({})).toEqual(expected);
    });

    it('takes a metrics registry, prefix and app allowlist', () => {
      const registry = new Registry();
      const { metrics } = resolveRedisCacheOptions({
        metrics: {
          enabled: false,
          prefix: 'x_',
          registry,
          apps: ['clock', 'clock'],
          keyCountIntervalMs: 0,
        },
      });
      expect(metrics).toEqual({
        enabled: false,
        prefix: 'x_',
        registry,
        apps: new Set(['clock']),
        keyCountIntervalMs: 0,
        keyCountSamples: 'auto',
        meterProvider: undefined,
      });
    });

    it('records through OpenTelemetry only when asked: the given MeterProvider, or the global one', () => {
      const meterProvider = { getMeter: () => createNoopMeter() };
      const given = resolveRedisCacheOptions({ metrics: { openTelemetry: { meterProvider } } });
      expect(given.metrics.meterProvider).toBe(meterProvider);
      const global = resolveRedisCacheOptions({ metrics: { openTelemetry: true } });
      expect(global.metrics.meterProvider).toBe(metrics.getMeterProvider());
      const off = resolveRedisCacheOptions({ metrics: { openTelemetry: false } });
      expect(off.metrics.meterProvider).toBeUndefined();
    });

    it('exports the same defaults it applies', () => {
      expect(REDIS_CACHE_DEFAULTS).toEqual({
        store: 'redis',
        defaultTtlSeconds: 60,
        maxTtlSeconds: 86_400,
        operationTimeoutMs: 200,
        startupWaitMs: 1_500,
        failOpen: true,
        namespaceIndex: false,
        routeParams: { app: 'appId', device: 'deviceId' },
        metricsPrefix: 'matrx_cache_',
        keyCountIntervalMs: 30_000,
        keyCountSamples: 'auto',
        maxValueBytes: 32 * 1024 * 1024,
        maxKeyBytes: 1024,
        stampede: STAMPEDE_DEFAULTS,
      });
      expect(DEFAULT_REDIS_HOST).toBe('localhost');
      expect(DEFAULT_REDIS_PORT).toBe(6379);
    });

    it('keeps given values over the defaults', () => {
      expect(
        resolveRedisCacheOptions({
          store: 'memory',
          defaultTtlSeconds: 5,
          maxTtlSeconds: 10,
          operationTimeoutMs: 60_000,
          startupWaitMs: 0,
          failOpen: false,
          routeParams: { app: 'app', device: 'dev' },
        }),
      ).toMatchObject({
        store: 'memory',
        defaultTtlSeconds: 5,
        maxTtlSeconds: 10,
        operationTimeoutMs: 60_000,
        startupWaitMs: 0,
        failOpen: false,
        routeParams: { app: 'app', device: 'dev' },
      });
    });

    it('raises the default maximum TTL to a larger default TTL', () => {
      expect(resolveRedisCacheOptions({ defaultTtlSeconds: 100_000 })).toMatchObject({
        defaultTtlSeconds: 100_000,
        maxTtlSeconds: 100_000,
      });
    });

    it('fills in the route param that is not given', () => {
      expect(resolveRedisCacheOptions({ routeParams: { app: 'app' } }).routeParams).toEqual({
        app: 'app',
        device: 'deviceId',
      });
      expect(
        resolveRedisCacheOptions({ routeParams: { app: undefined, device: 'dev' } }).routeParams,
      ).toEqual({ app: 'appId', device: 'dev' });
    });
  });

  describe('connection', () => {
    it('uses host and port', () => {
      expect(resolveRedisCacheOptions({ host: 'cache', port: 6380 }).connection).toMatchObject({
        kind: 'create',
        host: 'cache',
        port: 6380,
      });
    });

    it('parses addr into host and port', () => {
      expect(resolveRedisCacheOptions({ addr: 'cache:6381' }).connection).toMatchObject({
        kind: 'create',
        host: 'cache',
        port: 6381,
      });
    });

    it('keeps the url and the credentials', () => {
      expect(
        resolveRedisCacheOptions({
          url: 'rediss://cache:6390',
          username: 'app',
          password: 'pw',
          db: 3,
          redisOptions: { connectTimeout: 100 },
        }).connection,
      ).toEqual({
        kind: 'create',
        url: 'rediss://cache:6390',
        host: 'localhost',
        port: 6379,
        username: 'app',
        password: 'pw',
        db: 3,
        tls: undefined,
        redisOptions: { connectTimeout: 100 },
      });
    });

    it('turns tls: true into Node TLS defaults ({}), false into none, and keeps an object', () => {
      const tlsOf = (tls: RedisCacheModuleOptions['tls']) => {
        const connection = resolveRedisCacheOptions({ tls }).connection;
        if (connection.kind !== 'create') throw new Error('expected a create connection');
        return connection.tls;
      };
      expect(tlsOf(true)).toEqual({});
      expect(tlsOf(false)).toBeUndefined();
      expect(tlsOf({ servername: 'cache.example' })).toEqual({ servername: 'cache.example' });
    });

    it('uses a given client', () => {
      const client = new Redis({ lazyConnect: true });
      try {
        expect(resolveRedisCacheOptions({ client }).connection).toEqual({
          kind: 'client',
          client,
        });
      } finally {
        client.disconnect();
      }
    });

    it('rejects a client with a keyPrefix, naming the option and why', () => {
      const client = new Redis({ lazyConnect: true, keyPrefix: 'x:' });
      try {
        expect(configErrorOf({ client }).message).toBe(
          'RedisCacheModule option "client": keyPrefix is not supported. Every cache key is /{appId}/{deviceId}/{key} (the Go service\'s format, which flushes, counts and other clients rely on), and ioredis would not apply the prefix to it. Keep services apart with their own db or Redis instead.',
        );
      } finally {
        client.disconnect();
      }
    });

    it.each<[string, RedisCacheModuleOptions]>([
      ['redisOptions', { redisOptions: { keyPrefix: 'svc:' } as object }],
      [
        'cluster.clusterOptions',
        { cluster: { nodes: ['a:1'], clusterOptions: { keyPrefix: 'svc:' } as object } },
      ],
      [
        'cluster.clusterOptions.redisOptions',
        {
          cluster: {
            nodes: ['a:1'],
            clusterOptions: { redisOptions: { keyPrefix: 'svc:' } } as object,
          },
        },
      ],
    ])('refuses a keyPrefix in %s rather than ignore it', (where, options) => {
      const message = configErrorOf(options).message;
      expect(message).toContain(`option "${where}": keyPrefix is not supported`);
      expect(message).not.toContain('svc:');
    });

    it('rejects something that is not an ioredis client', () => {
      expect(configErrorOf({ client: { host: 'x' } }).message).toBe(
        'RedisCacheModule option "client": expected an ioredis Redis or Cluster instance, got "(hidden)".',
      );
    });

    it.each<[string, RedisCacheModuleOptions, string]>([
      ['url and host', { url: 'redis://a:6379', host: 'b' }, '"url" and "host"'],
      ['url and addr', { url: 'redis://a:6379', addr: 'b:6379' }, '"url" and "addr"'],
      ['addr and host', { addr: 'a:6379', host: 'b' }, '"addr" and "host"'],
    ])('rejects %s together', (_, options, named) => {
      const error = configErrorOf(options);
      expect(error.message).toContain(named);
      expect(error.message).toContain(
        'set only one of client, url, addr, host/port, cluster or sentinels',
      );
    });

    it('rejects a client together with a url', () => {
      const client = new Redis({ lazyConnect: true });
      try {
        expect(configErrorOf({ client, url: 'redis://a:6379' }).message).toContain(
          '"client" and "url"',
        );
      } finally {
        client.disconnect();
      }
    });
  });

  describe('bad values', () => {
    it('rejects an unknown option, naming it and listing the known ones', () => {
      const error = configErrorOf({ ttl: 5 });
      expect(error.message).toBe(
        'RedisCacheModule has no option "ttl". Known options: url, addr, host, port, username, ' +
          'password, db, tls, cluster, sentinels, name, sentinelPassword, client, redisOptions, ' +
          'store, defaultTtlSeconds, maxTtlSeconds, operationTimeoutMs, startupWaitMs, failOpen, namespaceIndex, ' +
          'maxValueBytes, maxKeyBytes, stampede, routeParams, metrics, tracing.',
      );
    });

    it.each<[string, Record<string, unknown>, string]>([
      [
        'metrics.prefix',
        { metrics: { prefix: '9cache' } },
        'RedisCacheModule option "metrics.prefix": expected a Prometheus metric name prefix (letters, digits, _ and :, not starting with a digit), got "9cache".',
      ],
      [
        'metrics.registry',
        { metrics: { registry: {} } },
        'RedisCacheModule option "metrics.registry": expected a prom-client Registry, got object.',
      ],
      [
        'metrics.openTelemetry.meterProvider',
        { metrics: { openTelemetry: { meterProvider: {} } } },
        'RedisCacheModule option "metrics.openTelemetry": expected true, false or { meterProvider } with an OpenTelemetry MeterProvider, got object.',
      ],
      [
        'metrics.openTelemetry',
        { metrics: { openTelemetry: 'yes' } },
        'RedisCacheModule option "metrics.openTelemetry": expected true, false or { meterProvider } with an OpenTelemetry MeterProvider, got "yes".',
      ],
      [
        'metrics.keyCountSamples',
        { metrics: { keyCountSamples: -1 } },
        'RedisCacheModule option "metrics.keyCountSamples": expected "auto" or a whole number from 0 (count exactly) to 1000000 (random keys to sample), got -1.',
      ],
      [
        'metrics.apps',
        { metrics: { apps: 'clock' } },
        'RedisCacheModule option "metrics.apps": expected an array of app ids, got "clock".',
      ],
      [
        'defaultTtlSeconds',
        { defaultTtlSeconds: 0 },
        'RedisCacheModule option "defaultTtlSeconds": expected a whole number of seconds >= 1, got 0.',
      ],
      [
        'defaultTtlSeconds',
        { defaultTtlSeconds: 1.5 },
        'RedisCacheModule option "defaultTtlSeconds": expected a whole number of seconds >= 1, got 1.5.',
      ],
      [
        'maxTtlSeconds',
        { maxTtlSeconds: '60' },
        'RedisCacheModule option "maxTtlSeconds": expected a whole number of seconds >= 1, got "60".',
      ],
      [
        'operationTimeoutMs',
        { operationTimeoutMs: -1 },
        'RedisCacheModule option "operationTimeoutMs": expected a whole number of milliseconds from 1 to 60000, got -1.',
      ],
      [
        'operationTimeoutMs',
        { operationTimeoutMs: 60_001 },
        'RedisCacheModule option "operationTimeoutMs": expected a whole number of milliseconds from 1 to 60000, got 60001.',
      ],
      [
        'startupWaitMs',
        { startupWaitMs: -1 },
        'RedisCacheModule option "startupWaitMs": expected a whole number of milliseconds from 0 to 60000, got -1.',
      ],
      [
        'port',
        { port: 70_000 },
        'RedisCacheModule option "port": expected an integer port from 1 to 65535, got 70000.',
      ],
      ['db', { db: -1 }, 'RedisCacheModule option "db": expected a database number >= 0, got -1.'],
      [
        'host',
        { host: '' },
        'RedisCacheModule option "host": expected a non-empty host name, got "".',
      ],
      [
        'store',
        { store: 'disk' },
        'RedisCacheModule option "store": expected "redis" or "memory", got "disk".',
      ],
      [
        'failOpen',
        { failOpen: 'yes' },
        'RedisCacheModule option "failOpen": expected a boolean, got "yes".',
      ],
      [
        'tls',
        { tls: 'yes' },
        'RedisCacheModule option "tls": expected true, false or Node TLS connection options, got "(hidden)".',
      ],
      [
        'tls given a PEM file where { ca } was meant',
        { tls: Buffer.from('-----BEGIN CERTIFICATE-----') },
        'RedisCacheModule option "tls": expected true, false or Node TLS connection options, got "(hidden)".',
      ],
      [
        'url with whitespace (a mounted secret’s trailing newline)',
        { url: 'redis://cache:6379\n' },
        'RedisCacheModule option "url": expected a redis:// or rediss:// URL, got "redis://cache:6379\\n".',
      ],
      [
        'routeParams.app',
        { routeParams: { app: 'app-id' } },
        'RedisCacheModule option "routeParams.app": expected a route parameter name (letters, digits, _ or $), got "app-id".',
      ],
      [
        'url',
        { url: 'http://cache:6379' },
        'RedisCacheModule option "url": expected a redis:// or rediss:// URL, got "http://cache:6379".',
      ],
    ])('rejects a bad %s with a message naming it', (_, options, message) => {
      expect(configErrorOf(options).message).toBe(message);
    });

    it.each(['nohost', 'host:notaport', 'host:70000'])('rejects addr %j', (addr) => {
      expect(configErrorOf({ addr }).message).toBe(
        `RedisCacheModule option "addr": expected "host:port" with a port from 1 to 65535, got ${JSON.stringify(addr)}.`,
      );
    });

    it('rejects a defaultTtlSeconds above maxTtlSeconds', () => {
      expect(configErrorOf({ defaultTtlSeconds: 120, maxTtlSeconds: 60 }).message).toBe(
        'RedisCacheModule option "defaultTtlSeconds" (120) must not exceed "maxTtlSeconds" (60).',
      );
    });

    it('accepts a defaultTtlSeconds equal to maxTtlSeconds', () => {
      expect(resolveRedisCacheOptions({ defaultTtlSeconds: 60, maxTtlSeconds: 60 })).toMatchObject({
        defaultTtlSeconds: 60,
        maxTtlSeconds: 60,
      });
    });

    it('rejects the same route param for app and device', () => {
      expect(configErrorOf({ routeParams: { app: 'id', device: 'id' } }).message).toBe(
        'RedisCacheModule option "routeParams": app and device must be different params, both are "id".',
      );
      // Also when one of them is the other's default.
      expect(configErrorOf({ routeParams: { device: 'appId' } }).message).toContain(
        'both are "appId"',
      );
    });
  });

  describe('secrets in error messages', () => {
    it('never shows the password of an invalid url', () => {
      const error = configErrorOf({ url: 'http://user:s3cret@cache:6379' });
      expect(error.message).toContain('"url"');
      expect(error.message).not.toContain('s3cret');
      expect(error.message).toContain('http://***@cache:6379');
    });

    it('never shows the password of a malformed url', () => {
      for (const url of ['redis:/user:s3cret@cache', ' redis://:s3cret@cache']) {
        const error = configErrorOf({ url });
        expect(error.message).toContain('"url"');
        expect(error.message).not.toContain('s3cret');
      }
    });

    it('rejects a redis:// url that is not a URL (as REDIS_URL does), without its password', () => {
      const error = configErrorOf({ url: 'redis://user:s3cret@cache:notaport' });
      expect(error.message).toContain('"url"');
      expect(error.message).not.toContain('s3cret');
    });

    it('never shows a password that is not a string', () => {
      const error = configErrorOf({ password: 123 });
      expect(error.message).toBe(
        'RedisCacheModule option "password": expected a string, got "(hidden)".',
      );
      expect(error.message).not.toContain('123');
    });

    it.each<[string, RedisCacheModuleOptions]>([
      ['tls', { tls: '-----BEGIN PRIVATE KEY-----s3cret' as unknown as boolean }],
      ['redisOptions', { redisOptions: 's3cret' as unknown as object }],
      [
        'cluster.clusterOptions',
        { cluster: { nodes: ['a:1'], clusterOptions: 's3cret' as unknown as object } },
      ],
      [
        'sentinelPassword',
        { sentinels: ['a:1'], name: 'm', sentinelPassword: ['s3cret'] as unknown as string },
      ],
    ])('names %s given in the wrong shape without showing its value', (option, options) => {
      const message = configErrorOf(options).message;
      expect(message).toContain(`option "${option}"`);
      expect(message).not.toContain('s3cret');
    });

    it('never shows the password of a url given by mistake as addr', () => {
      const error = configErrorOf({ addr: 'redis://:s3cret@cache:6379' });
      expect(error.message).toContain('"addr"');
      expect(error.message).not.toContain('s3cret');
    });
  });
});

describe('parseAddr', () => {
  it.each([
    ['cache:6379', 'cache', 6379],
    ['10.0.0.5:1', '10.0.0.5', 1],
    ['cache.internal:65535', 'cache.internal', 65_535],
    ['[::1]:6379', '::1', 6379],
    ['[2001:db8::7]:6380', '2001:db8::7', 6380],
    ['  cache:6379 ', 'cache', 6379],
  ])('parses %j', (addr, host, port) => {
    expect(parseAddr(addr, 'addr')).toEqual({ host, port });
  });

  it.each([
    'nohost',
    'host:',
    ':6379',
    'host:0',
    'host:65536',
    'host:notaport',
    '::1:6379',
    'a/b:1',
  ])('rejects %j through the given failure, with the source and the input', (addr) => {
    const fail = jest.fn((source: string, got: string) => new Error(`${source}=${got}`));
    expect(() => parseAddr(addr, 'MY_ADDR', fail)).toThrow(`MY_ADDR=${addr}`);
    expect(fail).toHaveBeenCalledTimes(1);
    expect(fail).toHaveBeenCalledWith('MY_ADDR', addr);
  });

  it('throws a RedisCacheConfigError naming the source by default', () => {
    expect(() => parseAddr('nohost', 'addr')).toThrow(RedisCacheConfigError);
    expect(() => parseAddr('nohost', 'addr')).toThrow('option "addr"');
  });
});
