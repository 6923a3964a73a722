import { RedisCacheConfigError } from './errors/redis-cache.errors';
import { redisCacheOptionsFromEnv } from './redis-cache.env';
import { resolveRedisCacheOptions } from './redis-cache.options';

/** The error `redisCacheOptionsFromEnv(env)` throws; fails the test when it does not throw one. */
function configErrorOf(env: Record<string, string | undefined>): RedisCacheConfigError {
  try {
    redisCacheOptionsFromEnv(env);
  } catch (error) {
    expect(error).toBeInstanceOf(RedisCacheConfigError);
    return error as RedisCacheConfigError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be rejected`);
}

describe('redisCacheOptionsFromEnv', () => {
  describe('which store and where Redis is', () => {
    it('selects the memory store when neither REDIS_URL nor REDIS_ADDR is set', () => {
      expect(redisCacheOptionsFromEnv({})).toEqual({ store: 'memory' });
    });

    it('reads process.env when no env is given', () => {
      const saved = { ...process.env };
      try {
        process.env.REDIS_ADDR = 'from-process-env:6390';
        delete process.env.REDIS_URL;
        delete process.env.CACHE_STORE;
        expect(redisCacheOptionsFromEnv()).toMatchObject({
          store: 'redis',
          host: 'from-process-env',
          port: 6390,
        });
      } finally {
        process.env = saved;
      }
    });

    it('turns REDIS_ADDR host:port into host and port on the redis store', () => {
      expect(redisCacheOptionsFromEnv({ REDIS_ADDR: 'cache.internal:6380' })).toEqual({
        store: 'redis',
        host: 'cache.internal',
        port: 6380,
      });
    });

    it('reads an IPv6 REDIS_ADDR in brackets', () => {
      expect(redisCacheOptionsFromEnv({ REDIS_ADDR: '[::1]:6379' })).toEqual({
        store: 'redis',
        host: '::1',
        port: 6379,
      });
    });

    it('passes REDIS_URL through as url', () => {
      expect(redisCacheOptionsFromEnv({ REDIS_URL: 'rediss://user:pw@cache:6390/2' })).toEqual({
        store: 'redis',
        url: 'rediss://user:pw@cache:6390/2',
      });
    });

    it('lets REDIS_URL win over REDIS_ADDR', () => {
      const options = redisCacheOptionsFromEnv({
        REDIS_URL: 'redis://from-url:6390',
        REDIS_ADDR: 'from-addr:6380',
      });
      expect(options).toEqual({ store: 'redis', url: 'redis://from-url:6390' });
      expect(options).not.toHaveProperty('host');
      expect(options).not.toHaveProperty('port');
      // ...and the result is valid module options (url alone says where Redis is).
      expect(resolveRedisCacheOptions(options).connection).toMatchObject({
        kind: 'create',
        url: 'redis://from-url:6390',
      });
    });

    it('with CACHE_STORE=redis and no address, selects redis and lets the module default to localhost:6379', () => {
      const options = redisCacheOptionsFromEnv({ CACHE_STORE: 'redis' });
      expect(options).toEqual({ store: 'redis' });
      expect(options).not.toHaveProperty('url');
      expect(options).not.toHaveProperty('host');
      const resolved = resolveRedisCacheOptions(options);
      expect(resolved.store).toBe('redis');
      expect(resolved.connection).toEqual({
        kind: 'create',
        url: undefined,
        host: 'localhost',
        port: 6379,
        username: undefined,
        password: undefined,
        db: undefined,
        tls: undefined,
        redisOptions: {},
      });
    });

    it('with CACHE_STORE=memory ignores REDIS_URL and the connection variables', () => {
      expect(
        redisCacheOptionsFromEnv({
          CACHE_STORE: 'memory',
          REDIS_URL: 'redis://cache:6379',
          REDIS_PASSWORD: 'pw',
          REDIS_DB: '3',
        }),
      ).toEqual({ store: 'memory' });
    });

    it('leaves REDIS_SENTINEL_PASSWORD out without sentinels (it is theirs alone)', () => {
      expect(
        redisCacheOptionsFromEnv({ REDIS_ADDR: 'cache:6380', REDIS_SENTINEL_PASSWORD: 'pw' }),
      ).toEqual({ store: 'redis', host: 'cache', port: 6380 });
    });

    it('keeps the tuning variables on the memory store', () => {
      expect(
        redisCacheOptionsFromEnv({ CACHE_DEFAULT_TTL_SECONDS: '30', CACHE_FAIL_OPEN: 'false' }),
      ).toEqual({ store: 'memory', defaultTtlSeconds: 30, failOpen: false });
    });
  });

  describe('empty values', () => {
    it('counts empty strings as unset', () => {
      expect(
        redisCacheOptionsFromEnv({
          REDIS_URL: '',
          REDIS_ADDR: '',
          REDIS_PASSWORD: '',
          REDIS_USERNAME: '',
          REDIS_DB: '',
          REDIS_TLS: '',
          CACHE_STORE: '',
          CACHE_DEFAULT_TTL_SECONDS: '',
          CACHE_MAX_TTL_SECONDS: '',
          CACHE_OPERATION_TIMEOUT_MS: '',
          CACHE_FAIL_OPEN: '',
        }),
      ).toEqual({ store: 'memory' });
    });

    it('leaves out an empty REDIS_PASSWORD instead of sending an empty AUTH', () => {
      const options = redisCacheOptionsFromEnv({ REDIS_ADDR: 'cache:6379', REDIS_PASSWORD: '' });
      expect(options).toEqual({ store: 'redis', host: 'cache', port: 6379 });
      expect(options).not.toHaveProperty('password');
    });

    it('falls back to REDIS_ADDR when REDIS_URL is empty', () => {
      expect(redisCacheOptionsFromEnv({ REDIS_URL: '', REDIS_ADDR: 'cache:6380' })).toEqual({
        store: 'redis',
        host: 'cache',
        port: 6380,
      });
    });
  });

  describe('connection and tuning variables', () => {
    it('maps every variable to its option', () => {
      expect(
        redisCacheOptionsFromEnv({
          REDIS_ADDR: 'cache:6380',
          REDIS_USERNAME: 'app',
          REDIS_PASSWORD: 'secret',
          REDIS_DB: '2',
          REDIS_TLS: 'true',
          CACHE_DEFAULT_TTL_SECONDS: '120',
          CACHE_MAX_TTL_SECONDS: '3600',
          CACHE_OPERATION_TIMEOUT_MS: '150',
          CACHE_FAIL_OPEN: 'false',
        }),
      ).toEqual({
        store: 'redis',
        host: 'cache',
        port: 6380,
        username: 'app',
        password: 'secret',
        db: 2,
        tls: true,
        defaultTtlSeconds: 120,
        maxTtlSeconds: 3600,
        operationTimeoutMs: 150,
        failOpen: false,
      });
    });

    it.each([
      ['true', true],
      ['1', true],
      ['false', false],
      ['0', false],
    ])('reads the flag value %j as %s', (raw, expected) => {
      expect(redisCacheOptionsFromEnv({ CACHE_FAIL_OPEN: raw }).failOpen).toBe(expected);
      expect(redisCacheOptionsFromEnv({ REDIS_ADDR: 'h:1', REDIS_TLS: raw }).tls).toBe(expected);
    });

    it('reads the metrics and tracing switches, and leaves them out when unset', () => {
      expect(
        redisCacheOptionsFromEnv({
          CACHE_METRICS: 'false',
          CACHE_KEY_COUNT_INTERVAL_MS: '0',
          CACHE_METRICS_OPENTELEMETRY: 'true',
          CACHE_KEY_COUNT_SAMPLES: '5000',
          CACHE_TRACING: '0',
        }),
      ).toMatchObject({
        metrics: {
          enabled: false,
          keyCountIntervalMs: 0,
          openTelemetry: true,
          keyCountSamples: 5000,
        },
        tracing: { enabled: false },
      });
      const defaults = redisCacheOptionsFromEnv({});
      expect(defaults).not.toHaveProperty('metrics');
      expect(defaults).not.toHaveProperty('tracing');
      expect(redisCacheOptionsFromEnv({ CACHE_KEY_COUNT_SAMPLES: 'auto' }).metrics).toEqual({
        keyCountSamples: 'auto',
      });
      expect(() => redisCacheOptionsFromEnv({ CACHE_KEY_COUNT_SAMPLES: 'some' })).toThrow(
        'Environment variable CACHE_KEY_COUNT_SAMPLES: expected "auto" or a whole number from 0 (count exactly) to 1000000 (random keys to sample), got "some".',
      );
      expect(() => redisCacheOptionsFromEnv({ CACHE_METRICS: 'yes' })).toThrow(
        'Environment variable CACHE_METRICS: expected "true" or "false", got "yes".',
      );
    });

    it('accepts REDIS_DB=0 and the bounds of CACHE_OPERATION_TIMEOUT_MS', () => {
      expect(redisCacheOptionsFromEnv({ REDIS_ADDR: 'h:1', REDIS_DB: '0' }).db).toBe(0);
      expect(redisCacheOptionsFromEnv({ CACHE_OPERATION_TIMEOUT_MS: '1' }).operationTimeoutMs).toBe(
        1,
      );
      expect(
        redisCacheOptionsFromEnv({ CACHE_OPERATION_TIMEOUT_MS: '60000' }).operationTimeoutMs,
      ).toBe(60_000);
    });

    it('produces options the module accepts, with the values applied', () => {
      const resolved = resolveRedisCacheOptions(
        redisCacheOptionsFromEnv({
          REDIS_ADDR: 'cache:6380',
          REDIS_PASSWORD: 'secret',
          REDIS_DB: '4',
          REDIS_TLS: 'true',
          CACHE_DEFAULT_TTL_SECONDS: '30',
          CACHE_MAX_TTL_SECONDS: '600',
          CACHE_OPERATION_TIMEOUT_MS: '75',
          CACHE_FAIL_OPEN: '0',
        }),
      );
      expect(resolved).toMatchObject({
        store: 'redis',
        defaultTtlSeconds: 30,
        maxTtlSeconds: 600,
        operationTimeoutMs: 75,
        failOpen: false,
        connection: {
          kind: 'create',
          host: 'cache',
          port: 6380,
          password: 'secret',
          db: 4,
          tls: {},
        },
      });
    });
  });

  describe('bad values', () => {
    it.each([
      ['REDIS_DB', 'abc', 'a database number >= 0'],
      ['REDIS_DB', '-1', 'a database number >= 0'],
      ['REDIS_DB', '1.5', 'a database number >= 0'],
      ['CACHE_STORE', 'disk', '"redis" or "memory"'],
      ['CACHE_OPERATION_TIMEOUT_MS', '0', 'a whole number of milliseconds from 1 to 60000'],
      ['CACHE_OPERATION_TIMEOUT_MS', '60001', 'a whole number of milliseconds from 1 to 60000'],
      ['CACHE_DEFAULT_TTL_SECONDS', '0', 'a whole number of seconds >= 1'],
      ['CACHE_MAX_TTL_SECONDS', 'ten', 'a whole number of seconds >= 1'],
      ['CACHE_FAIL_OPEN', 'maybe', '"true" or "false"'],
      ['REDIS_URL', 'http://x', 'a redis:// or rediss:// URL'],
      ['REDIS_URL', 'cache:6379', 'a redis:// or rediss:// URL'],
      ['REDIS_URL', 'redis://cache:6379\n', 'a redis:// or rediss:// URL'],
      ['CACHE_FAIL_OPEN', '__proto__', '"true" or "false"'],
    ])('rejects %s=%j, naming the variable and what it expects', (variable, value, expected) => {
      const error = configErrorOf({ [variable]: value });
      expect(error.message).toBe(
        `Environment variable ${variable}: expected ${expected}, got ${JSON.stringify(value)}.`,
      );
    });

    it('rejects REDIS_TLS=yes without showing the value (it may be key material set by mistake)', () => {
      expect(configErrorOf({ REDIS_TLS: 'yes' }).message).toBe(
        'Environment variable REDIS_TLS: expected "true" or "false", got "(hidden)".',
      );
      expect(configErrorOf({ REDIS_TLS: '__proto__' }).message).toBe(
        'Environment variable REDIS_TLS: expected "true" or "false", got "(hidden)".',
      );
      expect(
        configErrorOf({ REDIS_TLS: '-----BEGIN PRIVATE KEY-----s3cret' }).message,
      ).not.toContain('s3cret');
    });

    it.each(['host:notaport', 'host:70000', 'host:0', 'nohost', ':6379', '::1:6379', 'a b:6379'])(
      'rejects REDIS_ADDR=%j, naming the variable and what it expects',
      (value) => {
        const error = configErrorOf({ REDIS_ADDR: value });
        expect(error.message).toBe(
          `Environment variable REDIS_ADDR: expected "host:port" with a port from 1 to 65535, got ${JSON.stringify(value)}.`,
        );
      },
    );

    it('rejects a REDIS_URL with the right scheme that is not a URL', () => {
      const error = configErrorOf({ REDIS_URL: 'redis://host:notaport' });
      expect(error.message).toBe(
        'Environment variable REDIS_URL: expected a redis:// or rediss:// URL, got "redis://host:notaport".',
      );
    });

    it('validates REDIS_URL even when CACHE_STORE=memory ignores it', () => {
      expect(configErrorOf({ CACHE_STORE: 'memory', REDIS_URL: 'http://x' }).message).toContain(
        'REDIS_URL',
      );
    });
  });

  describe('secrets in error messages', () => {
    it.each([
      // Passes the scheme check, fails URL parsing.
      'redis://user:s3cret@host:notaport',
      // Fails the scheme check (whitespace).
      'redis://:s3cret@ho st',
      'rediss://user:s3cret@host name:6379',
      // Wrong scheme.
      'http://user:s3cret@host',
    ])('never shows the password of the bad REDIS_URL %j', (url) => {
      const error = configErrorOf({ REDIS_URL: url });
      expect(error.message).toContain('REDIS_URL');
      expect(error.message).not.toContain('s3cret');
      expect(error.message).toContain('***');
    });

    it('never shows a password containing "@" of a bad REDIS_URL', () => {
      // URL parsers take the last "@" as the end of the credentials: the password is "p@ss".
      const error = configErrorOf({ REDIS_URL: 'redis://user:p@ssw0rd@host:notaport' });
      expect(error.message).not.toContain('ssw0rd');
    });

    it.each(['redis:/user:s3cret@host', ' redis://:s3cret@host', 'redis//:s3cret@host'])(
      'never shows the password of the malformed REDIS_URL %j',
      (url) => {
        const error = configErrorOf({ REDIS_URL: url });
        expect(error.message).toContain('REDIS_URL');
        expect(error.message).not.toContain('s3cret');
      },
    );

    it('never shows the password of a URL given by mistake as REDIS_ADDR', () => {
      const error = configErrorOf({ REDIS_ADDR: 'redis://:s3cret@cache:6379' });
      expect(error.message).toContain('REDIS_ADDR');
      expect(error.message).not.toContain('s3cret');
    });
  });
});
