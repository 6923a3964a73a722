// Passwords and ACL users, against a redis-server this test starts with requirepass and --user
// rules: the cache connects through every way an app configures it, fails open with the wrong
// credentials, and never shows a password in an error or a log line.
import { TestingModule } from '@nestjs/testing';
import { Registry } from 'prom-client';
import {
  CacheUnavailableError,
  RedisCache,
  RedisCacheConfigError,
  redisCacheOptionsFromEnv,
} from '../src';
import type { RedisCacheModuleOptions } from '../src';
import { LOCK_KEY_PREFIX } from '../src/stampede/stampede-guard';
import {
  SecureRedisServer,
  everything,
  expectFailsOpen,
  expectRoundTrip,
  makeSecret,
  rejectionOf,
  secretsIn,
  startCacheModule,
  watchOutput,
  withCache,
} from './support/redis-secure-server';
import { sleep, uniqueId } from './support/unique';

const PASSWORD = makeSecret('requirepass');
const WRONG_PASSWORD = makeSecret('wrong');
const ADMIN_PASSWORD = makeSecret('admin');
const USER_PASSWORD = makeSecret('renderer');
const VALUE = makeSecret('cached-value');
const SECRETS = [PASSWORD, WRONG_PASSWORD, ADMIN_PASSWORD, USER_PASSWORD, VALUE];

/**
 * What the cache needs of an ACL user, found by the tests below (ACL LOG stays empty with exactly
 * these, and each one's removal shows up in it):
 * - commands: GET, SET, UNLINK (get/set/delete, flushes), SCAN (flushes, stats, exact key
 *   counts), RANDOMKEY (sampled key counts), DBSIZE (key counts), EVAL (the key counts' lease;
 *   getOrSet's lock release, which runs GET and UNLINK inside), PING (ping, health), INFO
 *   (ioredis's ready check at each connect), SELECT (only with a db other than 0), and for
 *   getOrSet's stampede lock and early refresh EXISTS and PTTL. AUTH and QUIT need no
 *   permission. Redis 7.2+ also gets CLIENT SETINFO at each connect (ioredis ignores its failure,
 *   but ACL LOG records it): add CLIENT|SETINFO there. (The server here is 7.0, which has no SETINFO.)
 * - keys: `/*` (every cache key is /{app}/{device}/{key}), `key-counts:*` (the key counts' lease
 *   and shared figures), `cache-jobs:*` (the status of jobs that outlast their wait), and for the stampede lock and the early refresh `lock:/*` and
 *   `recompute-ms:/*`.
 */
const CACHE_COMMANDS = [
  'get',
  'set',
  'unlink',
  'scan',
  'randomkey',
  'dbsize',
  'ping',
  'info',
  'select',
  'eval',
  'exists',
  'pttl',
];
const CACHE_KEY_PATTERNS = [
  '~/*',
  '~key-counts:*',
  '~cache-jobs:*',
  '~lock:/*',
  '~recompute-ms:/*',
];
/**
 * With namespaceIndex, also the index's scripts and what they call (ACL checks each call inside a
 * script too; ZSCORE for the key count's audit of the index), SMEMBERS for flushDevice, and its keys.
 */
const INDEX_COMMANDS = [
  'evalsha',
  'smembers',
  'time',
  'zadd',
  'zremrangebyscore',
  'zrange',
  'zrem',
  'zcard',
  'zscore',
  'pexpire',
  'sadd',
  'srem',
];
const INDEX_KEY_PATTERNS = ['~keys-of:*', '~apps-of:*'];
/** Background key counts every 50 ms, sampled (RANDOMKEY) on even a small database. */
const KEY_COUNTS = { keyCountIntervalMs: 50, keyCountSamples: 20 };
const aclUser = (name: string, password: string, commands: string[], keys = CACHE_KEY_PATTERNS) => [
  name,
  'on',
  `>${password}`,
  ...keys,
  'resetchannels',
  '-@all',
  ...commands.map((command) => `+${command}`),
];

/** ACL LOG entries as objects (`reason`, `object`, `username`, ...). */
async function aclLog(server: SecureRedisServer): Promise<Record<string, unknown>[]> {
  const entries = (await server.command(['ACL', 'LOG'])) as unknown[][];
  return entries.map((entry) => {
    const fields: Record<string, unknown> = {};
    for (let i = 0; i < entry.length; i += 2) fields[String(entry[i])] = entry[i + 1];
    return fields;
  });
}

/** Polls `check` until it holds, for at most `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await sleep(25);
  }
}

describe('a password (redis-server --requirepass)', () => {
  let server: SecureRedisServer;

  beforeAll(async () => {
    server = await SecureRedisServer.start({ requirePass: PASSWORD });
  }, 30_000);
  afterAll(async () => {
    await server?.dispose();
  });

  it.each<[string, () => RedisCacheModuleOptions]>([
    [
      'the host, port and password options',
      () => ({ host: server.host, port: server.port, password: PASSWORD }),
    ],
    ['a url with the password', () => ({ url: server.url({ password: PASSWORD }) })],
    [
      'REDIS_ADDR and REDIS_PASSWORD',
      () => redisCacheOptionsFromEnv({ REDIS_ADDR: server.addr, REDIS_PASSWORD: PASSWORD }),
    ],
    [
      'REDIS_URL with the password',
      () => redisCacheOptionsFromEnv({ REDIS_URL: server.url({ password: PASSWORD }) }),
    ],
    [
      'REDIS_URL without credentials and REDIS_PASSWORD',
      () => redisCacheOptionsFromEnv({ REDIS_URL: server.url(), REDIS_PASSWORD: PASSWORD }),
    ],
  ])('connects with %s: values round-trip through Redis', async (_, options) => {
    const text = await withCache(options(), async (cache, output) => {
      await expectRoundTrip(cache, server, VALUE);
      expect(output.text()).toContain(`Using Redis at redis://127.0.0.1:${server.port}/0.`);
    });
    expect(secretsIn(text, SECRETS)).toEqual([]);
  });

  it.each<[string, string, () => RedisCacheModuleOptions]>([
    [
      'a wrong password option',
      'WRONGPASS',
      () => ({ host: server.host, port: server.port, password: WRONG_PASSWORD }),
    ],
    [
      'a wrong password in the url',
      'WRONGPASS',
      () => ({ url: server.url({ password: WRONG_PASSWORD }) }),
    ],
    [
      'a wrong REDIS_PASSWORD',
      'WRONGPASS',
      () => redisCacheOptionsFromEnv({ REDIS_ADDR: server.addr, REDIS_PASSWORD: WRONG_PASSWORD }),
    ],
    ['no password', 'NOAUTH', () => ({ url: server.url() })],
  ])(
    'with %s fails open, rejects ping and flushes, and says why without a password',
    async (_, reply, options) => {
      const text = await withCache({ ...options(), startupWaitMs: 300 }, async (cache, output) => {
        await expectFailsOpen(cache, server, VALUE, SECRETS);
        const unreachable = output
          .text()
          .match(/Redis at redis:\/\/127\.0\.0\.1:\d+\/0 is unreachable.*/g);
        expect(unreachable).toHaveLength(1);
        expect(unreachable?.[0]).toContain(reply);
      });
      expect(secretsIn(text, SECRETS)).toEqual([]);
    },
  );

  // Regression: ioredis lets a URL's credentials win over the password option beside it, so a
  // rotated REDIS_PASSWORD beside an old password in REDIS_URL was ignored without a word. The
  // module now refuses the pair; either outcome below (override or refusal) is sound.
  it('uses the password option over a password in the url, or refuses the pair', async () => {
    const output = watchOutput();
    try {
      const options = {
        url: server.url({ password: WRONG_PASSWORD }),
        password: PASSWORD,
        startupWaitMs: 1000,
      };
      const started = await startCacheModule(options, output).catch((error: unknown) => error);
      if (started instanceof TestingModule) {
        try {
          await expectRoundTrip(started.get(RedisCache), server, VALUE);
        } finally {
          await started.close();
        }
      } else {
        expect(started).toBeInstanceOf(RedisCacheConfigError);
        expect(secretsIn(everything(started), SECRETS)).toEqual([]);
      }
      expect(secretsIn(output.text(), SECRETS)).toEqual([]);
    } finally {
      output.restore();
    }
  });
});

describe('an ACL user (redis-server --user)', () => {
  let server: SecureRedisServer;
  const users = {
    renderer: aclUser('renderer', USER_PASSWORD, CACHE_COMMANDS),
    indexer: aclUser(
      'indexer',
      USER_PASSWORD,
      [...CACHE_COMMANDS, ...INDEX_COMMANDS],
      [...CACHE_KEY_PATTERNS, ...INDEX_KEY_PATTERNS],
    ),
    // May read and ping, nothing else.
    reader: aclUser('reader', USER_PASSWORD, ['get', 'ping', 'info']),
    // The cache's commands, but only keys under /other/.
    elsewhere: aclUser('elsewhere', USER_PASSWORD, CACHE_COMMANDS, ['~/other/*']),
  };

  beforeAll(async () => {
    server = await SecureRedisServer.start({
      requirePass: ADMIN_PASSWORD,
      users: Object.values(users),
    });
  }, 30_000);
  afterAll(async () => {
    await server?.dispose();
  });
  beforeEach(async () => {
    await server.command(['ACL', 'LOG', 'RESET']);
  });

  it.each<[string, () => RedisCacheModuleOptions]>([
    [
      'the username and password options',
      () => ({
        host: server.host,
        port: server.port,
        username: 'renderer',
        password: USER_PASSWORD,
      }),
    ],
    [
      'a url with user and password',
      () => ({ url: server.url({ username: 'renderer', password: USER_PASSWORD }) }),
    ],
    [
      'REDIS_ADDR, REDIS_USERNAME and REDIS_PASSWORD',
      () =>
        redisCacheOptionsFromEnv({
          REDIS_ADDR: server.addr,
          REDIS_USERNAME: 'renderer',
          REDIS_PASSWORD: USER_PASSWORD,
        }),
    ],
    [
      'REDIS_URL with user and password',
      () =>
        redisCacheOptionsFromEnv({
          REDIS_URL: server.url({ username: 'renderer', password: USER_PASSWORD }),
        }),
    ],
  ])('connects as the user with %s: values round-trip, nothing denied', async (_, options) => {
    const text = await withCache(options(), async (cache) => {
      await expectRoundTrip(cache, server, VALUE);
      const clients = (await server.command(['CLIENT', 'LIST'])) as string;
      expect(clients).toMatch(/ user=renderer /);
    });
    expect(await aclLog(server)).toEqual([]);
    expect(secretsIn(text, SECRETS)).toEqual([]);
  });

  it('with the user name but the password of another fails open, without either password', async () => {
    const text = await withCache(
      { url: server.url({ username: 'renderer', password: ADMIN_PASSWORD }), startupWaitMs: 300 },
      async (cache, output) => {
        await expectFailsOpen(cache, server, VALUE, SECRETS);
        expect(output.text()).toMatch(/unreachable.*WRONGPASS/);
      },
    );
    expect(secretsIn(text, SECRETS)).toEqual([]);
  });

  /** What getOrSet with every stampede option uses: the lock, its wait and the early refresh. */
  const STAMPEDE = { lock: true, lockWaitMs: 1500, earlyRefresh: true } as const;

  /**
   * Every operation of the cache, including getOrSet under a lock another instance holds (so it
   * polls GET and EXISTS until that lock expires, then takes and releases its own), and a hit that
   * asks PTTL for the early refresh. Failures are the point of some callers: they are ignored.
   */
  async function exerciseEverything(cache: RedisCache): Promise<void> {
    const ctx = cache.withContext(uniqueId('app'), uniqueId('device'));
    const settled = (promise: Promise<unknown>) => promise.catch(() => undefined);
    await settled(ctx.set('a', VALUE, 60));
    await settled(ctx.get('a'));
    await server.command(['SET', `${LOCK_KEY_PREFIX}${ctx.keyFor('loaded')}`, 'other', 'PX', 200]);
    await settled(ctx.getOrSet('loaded', () => VALUE, 60));
    await settled(ctx.getOrSet('loaded', () => VALUE, 60));
    await settled(ctx.delete('a'));
    await settled(ctx.stats());
    await settled(ctx.flushApp());
    await settled(ctx.flushDevice());
    // A job answered before it ends: its status record is written and read back.
    const job = await cache.jobs.run(ctx, 'stats', { waitMs: 0 });
    await settled(
      eventually(async () => (await cache.jobs.status(job.id))?.state === 'done', 2000),
    );
    await settled(cache.ping());
  }

  it(`runs every operation with only the commands and keys it needs (+${CACHE_COMMANDS.join(' +')})`, async () => {
    const registry = new Registry();
    const text = await withCache(
      {
        // db 2: SELECT at connect time.
        url: `${server.url({ username: 'renderer', password: USER_PASSWORD })}/2`,
        stampede: STAMPEDE,
        metrics: { registry, ...KEY_COUNTS },
      },
      async (cache) => {
        const ctx = await expectRoundTrip(cache, server, VALUE, 2);
        await exerciseEverything(cache);
        // The background key counts (the lease, RANDOMKEY, DBSIZE) ran.
        await eventually(async () => {
          const { values } = await registry.getSingleMetric('matrx_cache_database_keys')!.get();
          return values.length > 0 && values[0].value > 0;
        });
        expect(await server.command(['EXISTS', ctx.keyFor('greeting')], { db: 2 })).toBe(1);
        expect(cache.errorCounts()).toEqual({});
      },
    );
    expect(await aclLog(server)).toEqual([]);
    expect(secretsIn(text, SECRETS)).toEqual([]);
  });

  it(`with namespaceIndex, runs every operation with those and +${INDEX_COMMANDS.join(' +')}`, async () => {
    const text = await withCache(
      {
        url: server.url({ username: 'indexer', password: USER_PASSWORD }),
        stampede: STAMPEDE,
        namespaceIndex: true,
        metrics: { registry: new Registry(), ...KEY_COUNTS },
      },
      async (cache) => {
        // Written before the index: the migration indexes it, then the flush finds it there.
        const legacy = cache.withContext(uniqueId('app'), uniqueId('device'));
        await server.command(['SET', legacy.keyFor('old'), 'v', 'EX', '60']);
        await eventually(async () => (await server.command(['EXISTS', 'keys-of:complete'])) === 1);
        await exerciseEverything(cache);
        expect(await legacy.stats()).toBe(1);
        expect(await legacy.flushDevice()).toBe(1);
        expect(cache.errorCounts()).toEqual({});
      },
    );
    expect(await aclLog(server)).toEqual([]);
    expect(secretsIn(text, SECRETS)).toEqual([]);
  });

  it.each(CACHE_COMMANDS.filter((command) => !['info', 'select'].includes(command)))(
    'needs %s: without it ACL LOG records a denial',
    async (command) => {
      await server.command(['ACL', 'SETUSER', 'renderer', `-${command}`]);
      try {
        await withCache(
          {
            url: server.url({ username: 'renderer', password: USER_PASSWORD }),
            stampede: STAMPEDE,
            metrics: { registry: new Registry(), ...KEY_COUNTS },
          },
          async (cache) => {
            await exerciseEverything(cache);
            await eventually(async () =>
              (await aclLog(server)).some((entry) => entry.object === command),
            );
          },
        );
      } finally {
        await server.command(['ACL', 'SETUSER', 'renderer', `+${command}`]);
      }
    },
  );

  it('needs the key-counts:, lock: and recompute-ms: key patterns for key counts and getOrSet', async () => {
    await server.command(['ACL', 'SETUSER', 'renderer', 'resetkeys', '~/*']);
    try {
      await withCache(
        {
          url: server.url({ username: 'renderer', password: USER_PASSWORD }),
          stampede: STAMPEDE,
          metrics: { registry: new Registry(), ...KEY_COUNTS },
        },
        async (cache) => {
          await exerciseEverything(cache);
          await eventually(async () =>
            (await aclLog(server)).some((entry) => String(entry.object).startsWith('key-counts:')),
          );
        },
      );
      const denied = (await aclLog(server)).filter((entry) => entry.reason === 'key');
      const keys = denied.map((entry) => String(entry.object));
      expect(keys).toContain('key-counts:lease');
      expect(keys.some((key) => key.startsWith('lock:/'))).toBe(true);
      expect(keys.some((key) => key.startsWith('recompute-ms:/'))).toBe(true);
    } finally {
      await server.command(['ACL', 'SETUSER', 'renderer', 'resetkeys', ...CACHE_KEY_PATTERNS]);
    }
  });

  it('without info still caches, with a warning from ioredis at each connect', async () => {
    await server.command(['ACL', 'SETUSER', 'renderer', '-info']);
    try {
      const text = await withCache(
        { url: server.url({ username: 'renderer', password: USER_PASSWORD }) },
        async (cache) => {
          await expectRoundTrip(cache, server, VALUE);
        },
      );
      expect((await aclLog(server)).map((entry) => entry.object)).toEqual(['info']);
      expect(text).toMatch(/Skipping the ready check because INFO command fails: "NOPERM/);
      expect(secretsIn(text, SECRETS)).toEqual([]);
    } finally {
      await server.command(['ACL', 'SETUSER', 'renderer', '+info']);
    }
  });

  // Regression: when SELECT is refused, ioredis only emits an error and carries on in database 0,
  // so the cache read and wrote another tenant's database. The store now confirms the database
  // itself after each connect and fails open until Redis does.
  it('with select refused (db 2), writes nothing into database 0', async () => {
    await server.command(['ACL', 'SETUSER', 'renderer', '-select']);
    try {
      const text = await withCache(
        {
          url: `${server.url({ username: 'renderer', password: USER_PASSWORD })}/2`,
          startupWaitMs: 500,
        },
        async (cache, output) => {
          const ctx = cache.withContext(uniqueId('app'), 'device-1');
          await ctx.set('greeting', VALUE);
          expect(output.text()).toMatch(/NOPERM .*'select'/);
          expect(await server.command(['EXISTS', ctx.keyFor('greeting')], { db: 0 })).toBe(0);
        },
      );
      expect((await aclLog(server)).map((entry) => entry.object)).toContain('select');
      expect(secretsIn(text, SECRETS)).toEqual([]);
    } finally {
      await server.command(['ACL', 'SETUSER', 'renderer', '+select']);
    }
  });

  // Found while writing these tests and fixed since: setIfAbsent compared the Buffer reply of a raw
  // Command with 'OK', so the lock was never taken and EVAL never ran ("needs eval" failed).
  it('takes and releases the stampede lock as the ACL user', async () => {
    const text = await withCache(
      {
        url: server.url({ username: 'renderer', password: USER_PASSWORD }),
        stampede: { lock: true, lockWaitMs: 3000 },
      },
      async (cache) => {
        const ctx = cache.withContext(uniqueId('app'), 'device-1');
        let loads = 0;
        const started = performance.now();
        const value = await ctx.getOrSet('loaded', () => {
          loads += 1;
          return VALUE;
        });
        expect(value.toString()).toBe(VALUE);
        expect(loads).toBe(1);
        expect(performance.now() - started).toBeLessThan(1000);
        expect(await server.command(['EXISTS', `${LOCK_KEY_PREFIX}${ctx.keyFor('loaded')}`])).toBe(
          0,
        );
      },
    );
    expect(await aclLog(server)).toEqual([]);
    expect(secretsIn(text, SECRETS)).toEqual([]);
  });

  it('a user without set, unlink or scan: get works, set and delete fail open, flushes and stats reject, loudly', async () => {
    const text = await withCache(
      { url: server.url({ username: 'reader', password: USER_PASSWORD }) },
      async (cache, output) => {
        const ctx = cache.withContext(uniqueId('app'), 'device-1');
        await server.command(['SET', ctx.keyFor('greeting'), 'stored by the admin']);
        expect((await ctx.get('greeting')).value?.toString()).toBe('stored by the admin');
        await expect(ctx.set('other', VALUE)).resolves.toBeUndefined();
        await expect(ctx.delete('greeting')).resolves.toBe(false);
        for (const operation of [ctx.flushApp(), ctx.flushDevice(), ctx.stats()]) {
          const error = await rejectionOf(operation);
          expect(error).toBeInstanceOf(CacheUnavailableError);
          expect(error).toMatchObject({ kind: 'other' });
          expect((error as Error).message).toMatch(/NOPERM .*'scan'/);
          expect(secretsIn(everything(error), SECRETS)).toEqual([]);
        }
        expect(await server.command(['EXISTS', ctx.keyFor('other')])).toBe(0);
        expect(cache.errorCounts()).toMatchObject({ set: { other: 1 }, delete: { other: 1 } });
        expect(output.text()).toMatch(/Cache set failing open \(other\): NOPERM .*'set'/);
        expect(output.text()).toMatch(/Cache delete failing open \(other\): NOPERM .*'unlink'/);
      },
    );
    expect(secretsIn(text, SECRETS)).toEqual([]);
  });

  it('a user without access to the keys: get misses, set fails open, loudly', async () => {
    const text = await withCache(
      { url: server.url({ username: 'elsewhere', password: USER_PASSWORD }) },
      async (cache, output) => {
        const ctx = cache.withContext(uniqueId('app'), 'device-1');
        await expect(ctx.get('greeting')).resolves.toEqual({ found: false, value: null });
        await expect(ctx.set('greeting', VALUE)).resolves.toBeUndefined();
        expect(cache.errorCounts()).toMatchObject({ get: { other: 1 }, set: { other: 1 } });
        expect(output.text()).toMatch(/Cache get failing open \(other\): NOPERM/);
      },
    );
    expect(secretsIn(text, SECRETS)).toEqual([]);
  });

  // Regression: ioredis puts a command's arguments on its errors (`command.args`: for SET, the
  // cached value), and CacheUnavailableError carried that error as its cause, so any logger that
  // prints causes wrote the value (NOPERM here; READONLY after a failover or OOM alike).
  it('never carries the value on an error, even with failOpen: false', async () => {
    const text = await withCache(
      { url: server.url({ username: 'reader', password: USER_PASSWORD }), failOpen: false },
      async (cache) => {
        const ctx = cache.withContext(uniqueId('app'), 'device-1');
        const error = await rejectionOf(ctx.set('greeting', VALUE));
        expect(error).toBeInstanceOf(CacheUnavailableError);
        expect((error as Error).message).toMatch(/NOPERM/);
        expect(secretsIn(everything(error), SECRETS)).toEqual([]);
      },
    );
    expect(secretsIn(text, SECRETS)).toEqual([]);
  });
});
