import { randomBytes } from 'node:crypto';
import {
  InvalidCacheContextError,
  InvalidCacheKeyError,
  InvalidCacheValueError,
  InvalidTtlError,
} from '../../src';
import type { RedisCache } from '../../src';
import { sleep, uniqueId } from '../support/unique';

export interface ContractSubject {
  cache: RedisCache;
  /** Seconds left before `redisKey` expires, or undefined where the store cannot tell. */
  ttlOf?: (redisKey: string) => Promise<number>;
}

/**
 * The behaviour every store must have. Runs against Redis and the memory store alike; each test
 * uses fresh app and device ids, so it can share a Redis with other suites.
 */
export function describeCacheContract(
  storeName: string,
  setup: (settings: {
    defaultTtlSeconds: number;
    maxTtlSeconds: number;
  }) => Promise<ContractSubject>,
  teardown: () => Promise<void>,
): void {
  describe(`cache contract on the ${storeName} store`, () => {
    let subject: ContractSubject;
    let cache: RedisCache;

    beforeAll(async () => {
      subject = await setup({ defaultTtlSeconds: 60, maxTtlSeconds: 3600 });
      cache = subject.cache;
    });
    afterAll(teardown);

    describe("the seed's examples", () => {
      it('scopes keys as /{app}/{device}/{key} with / in the key replaced by _', () => {
        expect(cache.withContext('clock', 'device123').keyFor('weather_data')).toBe(
          '/clock/device123/weather_data',
        );
        expect(cache.withContext('stocks', 'device456').keyFor('portfolio/AAPL')).toBe(
          '/stocks/device456/portfolio_AAPL',
        );
      });

      it('gets back what it set, and misses what it never set', async () => {
        const ctx = cache.withContext(uniqueId('clock'), 'device123');
        await ctx.set('weather_data', 'sunny, 21C', 300);
        const hit = await ctx.get('weather_data');
        expect(hit.found).toBe(true);
        expect(hit.value?.toString('utf8')).toBe('sunny, 21C');
        expect(await ctx.get('never_set')).toEqual({ found: false, value: null });
      });

      it('reads a key with / under its normalized name', async () => {
        const ctx = cache.withContext(uniqueId('stocks'), 'device456');
        await ctx.set('portfolio/AAPL', '187.20');
        expect((await ctx.get('portfolio_AAPL')).value?.toString()).toBe('187.20');
      });
    });

    describe('values', () => {
      it('stores bytes exactly, including NUL and invalid UTF-8', async () => {
        const ctx = cache.withContext(uniqueId('bin'), uniqueId('dev'));
        const bytes = Buffer.concat([Buffer.from([0, 0xff, 0xfe, 0x80, 0x00]), randomBytes(4096)]);
        await ctx.set('blob', bytes);
        const hit = await ctx.get('blob');
        expect(hit.found && Buffer.compare(hit.value, bytes)).toBe(0);
      });

      it('stores strings as UTF-8', async () => {
        const ctx = cache.withContext(uniqueId('utf8'), uniqueId('dev'));
        await ctx.set('greeting', 'grüße 👋');
        const hit = await ctx.get('greeting');
        expect(hit.value).toEqual(Buffer.from('grüße 👋', 'utf8'));
      });

      it('stores an empty value as a hit, not a miss', async () => {
        const ctx = cache.withContext(uniqueId('empty'), uniqueId('dev'));
        await ctx.set('nothing', '');
        expect(await ctx.get('nothing')).toEqual({ found: true, value: Buffer.alloc(0) });
      });

      it('rejects a value that is neither a string nor a Buffer', async () => {
        const ctx = cache.withContext(uniqueId('bad'), uniqueId('dev'));
        await expect(ctx.set('k', 42 as unknown as string)).rejects.toThrow(InvalidCacheValueError);
        expect(await ctx.stats()).toBe(0);
      });

      it('round-trips JSON and rejects what JSON cannot hold', async () => {
        const ctx = cache.withContext(uniqueId('json'), uniqueId('dev'));
        const data = { temp: 21.5, tags: ['a', 'b'], nested: { ok: true }, none: null };
        await ctx.setJson('data', data);
        expect(await ctx.getJson('data')).toEqual({ found: true, value: data });
        expect((await ctx.get('data')).value?.toString()).toBe(JSON.stringify(data));
        expect(await ctx.getJson('missing')).toEqual({ found: false, value: null });
        await expect(ctx.setJson('u', undefined)).rejects.toThrow(InvalidCacheValueError);
        await expect(ctx.setJson('b', { n: 1n })).rejects.toThrow(InvalidCacheValueError);
        await ctx.set('text', 'not json');
        await expect(ctx.getJson('text')).rejects.toThrow(/"text" is not valid JSON/);
      });

      it('deletes a key and says whether it existed', async () => {
        const ctx = cache.withContext(uniqueId('del'), uniqueId('dev'));
        await ctx.set('k', 'v');
        expect(await ctx.delete('k')).toBe(true);
        expect(await ctx.delete('k')).toBe(false);
        expect((await ctx.get('k')).found).toBe(false);
      });
    });

    describe('keys', () => {
      it('refuses an empty key, naming the rule', async () => {
        const ctx = cache.withContext(uniqueId('key'), uniqueId('dev'));
        await expect(ctx.set('', 'v')).rejects.toThrow(InvalidCacheKeyError);
        await expect(ctx.get('')).rejects.toThrow(/Invalid cache key: it is empty/);
        expect(() => ctx.keyFor('')).toThrow(InvalidCacheKeyError);
      });

      it('refuses a key with a lone surrogate (it would collide with another key)', async () => {
        const ctx = cache.withContext(uniqueId('key'), uniqueId('dev'));
        await expect(ctx.set('a\ud800', 'v')).rejects.toThrow(/not well-formed Unicode/);
      });

      it('accepts glob characters, spaces and non-ASCII in keys', async () => {
        const ctx = cache.withContext(uniqueId('key'), uniqueId('dev'));
        const keys = ['*', '?', '[a]', 'back\\slash', 'with space', 'schlüssel', '键'];
        for (const key of keys) await ctx.set(key, key);
        for (const key of keys) expect((await ctx.get(key)).value?.toString()).toBe(key);
        expect(await ctx.stats()).toBe(keys.length);
      });
    });

    describe('app and device ids', () => {
      const bad: Array<[string, string, RegExp]> = [
        ['', 'empty', /it is empty/],
        ['a/b', 'slash', /contains "\/"/],
        ['a\nb', 'newline', /control character/],
        ['a\u0000', 'NUL', /control character/],
        ['a\u0085', 'C1 control', /control character/],
        ['x'.repeat(257), '257 bytes', /257 bytes long, over 256/],
        ['é'.repeat(129), '258 bytes of 2-byte chars', /258 bytes long/],
        ['\udc00', 'lone surrogate', /not well-formed Unicode/],
      ];
      it.each(bad)('rejects the appId %j (%s), naming the field and rule', (id, _label, rule) => {
        const attempt = () => cache.withContext(id, 'dev');
        expect(attempt).toThrow(InvalidCacheContextError);
        expect(attempt).toThrow(rule);
        expect(attempt).toThrow(/^Invalid appId/);
      });

      it('names deviceId when the device id is the bad one', () => {
        try {
          cache.withContext('app', 'd/1');
          throw new Error('no error');
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidCacheContextError);
          expect((error as InvalidCacheContextError).field).toBe('deviceId');
          expect((error as Error).message).toMatch(/^Invalid deviceId: it contains "\/"/);
        }
      });

      it('accepts 256 bytes, glob characters, spaces and non-ASCII', async () => {
        const suffix = uniqueId('');
        const ids = ['x'.repeat(256 - suffix.length), '*', '?', '[x]', '\\', 'a b', 'ü', '🙂'];
        for (const id of ids) {
          const asApp = cache.withContext(id + suffix, 'dev');
          const asDevice = cache.withContext(uniqueId('app'), id + suffix);
          for (const ctx of [asApp, asDevice]) {
            await ctx.set('k', id);
            expect((await ctx.get('k')).value?.toString()).toBe(id);
            expect(await ctx.flushApp()).toBe(1);
          }
        }
        expect(() => cache.withContext('x'.repeat(256), 'y'.repeat(256))).not.toThrow();
        expect(() => cache.withContext('é'.repeat(128), '🙂'.repeat(64))).not.toThrow();
      });
    });

    describe('isolation, flush and stats', () => {
      it('keeps dev1, dev10 and another app apart', async () => {
        const app = uniqueId('clock');
        const app2 = `${app}2`;
        const dev = uniqueId('dev');
        const a = cache.withContext(app, `${dev}1`);
        const b = cache.withContext(app, `${dev}10`);
        const c = cache.withContext(app2, `${dev}1`);
        await a.set('k', 'a');
        await b.set('k', 'b');
        await c.set('k', 'c');
        expect((await a.get('k')).value?.toString()).toBe('a');
        expect((await b.get('k')).value?.toString()).toBe('b');
        expect((await c.get('k')).value?.toString()).toBe('c');

        expect(await a.flushApp()).toBe(1);
        expect((await a.get('k')).found).toBe(false);
        expect((await b.get('k')).value?.toString()).toBe('b');
        expect((await c.get('k')).value?.toString()).toBe('c');
      });

      it('flushDevice clears one device across apps and no other device', async () => {
        const dev = uniqueId('dev');
        const apps = [uniqueId('clock'), uniqueId('stocks'), uniqueId('weather')];
        for (const app of apps) {
          await cache.withContext(app, dev).set('k1', 'v');
          await cache.withContext(app, dev).set('k2', 'v');
          await cache.withContext(app, `${dev}0`).set('k1', 'other device');
          await cache.withContext(app, `x${dev}`).set('k1', 'other device');
        }
        expect(await cache.withContext(apps[0], dev).flushDevice()).toBe(6);
        for (const app of apps) {
          expect(await cache.withContext(app, dev).stats()).toBe(0);
          expect(await cache.withContext(app, `${dev}0`).stats()).toBe(1);
          expect(await cache.withContext(app, `x${dev}`).stats()).toBe(1);
        }
      });

      it.each([
        ['*', 'star'],
        ['?', 'question'],
        ['[abc]', 'bracket class'],
        ['\\', 'backslash'],
        ['[', 'lone bracket'],
      ])('an app id of %j (%s) never widens a flush or a count', async (glob) => {
        const dev = uniqueId('dev');
        const victims = ['a', 'b', 'c', 'abc', 'x'];
        for (const app of victims) await cache.withContext(app + dev, dev).set('k', 'keep');
        const globApp = cache.withContext(glob, dev);
        const globApp2 = cache.withContext(`${glob}${dev}`, dev);
        await globApp.set('k', 'mine');
        await globApp2.set('k', 'mine');
        expect(await globApp.stats()).toBe(1);
        expect(await globApp.flushApp()).toBe(1);
        expect(await globApp2.flushApp()).toBe(1);
        for (const app of victims) {
          expect((await cache.withContext(app + dev, dev).get('k')).value?.toString()).toBe('keep');
        }
        await cache.withContext('a', dev).flushDevice();
      });

      it.each([['*'], ['?'], ['[0-9]'], ['\\']])(
        'a device id of %j never flushes another device',
        async (glob) => {
          const app = uniqueId('app');
          const others = ['1', '2', 'dd', 'd'];
          for (const device of others) await cache.withContext(app, device).set('k', 'keep');
          await cache.withContext(app, glob).set('k', 'mine');
          expect(await cache.withContext(app, glob).flushDevice()).toBe(1);
          for (const device of others) {
            expect(await cache.withContext(app, device).stats()).toBe(1);
            await cache.withContext(app, device).flushApp();
          }
        },
      );

      it("flushDevice('d') never deletes a key of device 'dd'", async () => {
        const app = uniqueId('app');
        await cache.withContext(app, 'dd').set('k', 'v');
        await cache.withContext(app, 'd').set('k', 'v');
        expect(await cache.withContext(app, 'd').flushDevice()).toBe(1);
        expect(await cache.withContext(app, 'dd').stats()).toBe(1);
        await cache.withContext(app, 'dd').flushApp();
      });

      it('counts and flushes many keys exactly', async () => {
        const ctx = cache.withContext(uniqueId('many'), uniqueId('dev'));
        const neighbour = cache.withContext(ctx.appId, `${ctx.deviceId}-n`);
        const count = 2500;
        await Promise.all(Array.from({ length: count }, (_, i) => ctx.set(`k${i}`, 'v')));
        await Promise.all(Array.from({ length: 10 }, (_, i) => neighbour.set(`k${i}`, 'v')));
        expect(await ctx.stats()).toBe(count);
        expect(await ctx.flushApp()).toBe(count);
        expect(await ctx.stats()).toBe(0);
        expect(await ctx.flushApp()).toBe(0);
        expect(await neighbour.stats()).toBe(10);
      });
    });

    describe('TTL', () => {
      it('expires a key after its TTL', async () => {
        const ctx = cache.withContext(uniqueId('ttl'), uniqueId('dev'));
        await ctx.set('short', 'v', 1);
        expect((await ctx.get('short')).found).toBe(true);
        await sleep(1100);
        expect((await ctx.get('short')).found).toBe(false);
        expect(await ctx.stats()).toBe(0);
      });

      it.each([[-1], [1.5], [NaN], [Infinity], [-Infinity], ['60' as unknown as number]])(
        'rejects a TTL of %p with InvalidTtlError and stores nothing',
        async (ttl) => {
          const ctx = cache.withContext(uniqueId('ttl'), uniqueId('dev'));
          await expect(ctx.set('k', 'v', ttl)).rejects.toThrow(InvalidTtlError);
          expect((await ctx.get('k')).found).toBe(false);
        },
      );

      it('uses the default for 0 or no TTL and clamps to the maximum', async () => {
        const ctx = cache.withContext(uniqueId('ttl'), uniqueId('dev'));
        await ctx.set('zero', 'v', 0);
        await ctx.set('none', 'v');
        await ctx.set('huge', 'v', 10 * 365 * 86400);
        if (!subject.ttlOf) return;
        const ttl = (key: string) => subject.ttlOf!(ctx.keyFor(key));
        expect(await ttl('zero')).toBeGreaterThan(55);
        expect(await ttl('zero')).toBeLessThanOrEqual(60);
        expect(await ttl('none')).toBeLessThanOrEqual(60);
        expect(await ttl('huge')).toBeLessThanOrEqual(3600);
        expect(await ttl('huge')).toBeGreaterThan(3590);
      });
    });
  });
}
