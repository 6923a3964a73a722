// The namespace index (CACHE_NAMESPACE_INDEX=true) when things go wrong: the built renderer killed
// while it writes, Redis restarted empty under load (with a writer that does not index, as the Go
// service), keys expiring while a flush runs. After each, every cache key in Redis is found by the
// admin count and flush through the index alone (no SCAN), nothing of a flushed device remains,
// and no count goes below zero. Its own redis-server: the suite restarts it and reads its stats.
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisCache } from 'nestjs-redis-app-cache';
import { repoRoot } from '../../../test/support/build';
import { pollUntil } from '../../../test/support/poll';
import { RedisServerProcess } from '../../../test/support/redis-server';
import { sleep, uniqueId } from '../../../test/support/unique';
import { buildRendererInto } from './support/build-renderer';
import { RendererProcess } from './support/reliability/renderer-process';

const ADMIN_TOKEN = 'index-reliability-token-0123';
const COMPLETE_MARKER = 'keys-of:complete';
// About 200 writes a second: enough writes in flight to be cut by a kill, without taking the CPU
// from the timing-bound fault suite that may run beside this one.
const WRITERS = 8;
const PAUSE_MS = 40;

describe('the namespace index under faults (the built renderer, CACHE_NAMESPACE_INDEX=true)', () => {
  let outDir: string;
  let redis: RedisServerProcess;
  let raw: Redis;
  const renderers: RendererProcess[] = [];

  beforeAll(async () => {
    outDir = buildRendererInto('index-reliability');
    redis = await RedisServerProcess.start();
    raw = new Redis(redis.url, { maxRetriesPerRequest: null });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(renderers.map((renderer) => renderer.stop()));
    raw?.disconnect();
    await redis?.dispose();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await Promise.all(renderers.splice(0).map((renderer) => renderer.stop()));
  });

  async function startRenderer(): Promise<RendererProcess> {
    const renderer = await RendererProcess.start(`${outDir}/main.js`, repoRoot, {
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      CACHE_NAMESPACE_INDEX: 'true',
      CACHE_ADMIN_TOKEN: ADMIN_TOKEN,
      CACHE_KEY_COUNT_INTERVAL_MS: '0',
      // What is checked is the index, not timeouts: a busy CI machine must not fail writes open.
      CACHE_OPERATION_TIMEOUT_MS: '2000',
      SHUTDOWN_TIMEOUT_MS: '2000',
    });
    renderers.push(renderer);
    return renderer;
  }

  /** Renders with a new text each time (a new key each), from `WRITERS` loops, until stopped. */
  function writeLoad(renderer: RendererProcess, devices: string[]) {
    let running = true;
    let answered = 0;
    let sent = 0;
    const loops = Array.from({ length: WRITERS }, async (_, loop) => {
      while (running) {
        const device = devices[sent % devices.length];
        const path = `/apps/banner/devices/${device}/render?text=w${loop}-${sent++}`;
        try {
          const response = await fetch(renderer.baseUrl + path, {
            signal: AbortSignal.timeout(5000),
          });
          await response.arrayBuffer();
          if (response.status === 200) answered++;
          await sleep(PAUSE_MS);
        } catch {
          // The renderer was killed or is restarting: what it wrote so far is what is checked.
          await sleep(20);
        }
      }
    });
    return {
      answered: () => answered,
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  async function admin(renderer: RendererProcess, method: string, path: string) {
    const response = await fetch(renderer.baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, prefer: 'wait=30' },
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { keys?: number; deleted?: number };
  }

  /** Every key of the database matching `pattern`, by SCAN. */
  async function scanKeys(pattern: string): Promise<string[]> {
    const keys: string[] = [];
    for (let cursor = '0'; ;) {
      const [next, batch] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
      if (cursor === '0') return keys;
    }
  }

  /**
   * What a device holds in Redis is what the renderer's admin routes count and flush, through the
   * index alone; afterwards nothing with the device's id is left (keys, index keys, directory).
   */
  async function expectIndexFindsEverything(renderer: RendererProcess, devices: string[]) {
    await pollUntil(async () => expect(await raw.exists(COMPLETE_MARKER)).toBe(1), 60_000);
    await raw.config('RESETSTAT');
    let total = 0;
    for (const device of devices) {
      const inRedis = await scanKeys(`/banner/${device}/*`);
      await raw.config('RESETSTAT');
      const { keys } = await admin(renderer, 'GET', `/apps/banner/devices/${device}/cache`);
      expect(keys).toBe(inRedis.length);
      const { deleted } = await admin(renderer, 'DELETE', `/devices/${device}/cache`);
      expect(deleted).toBe(inRedis.length);
      expect(await raw.info('commandstats')).not.toContain('cmdstat_scan:');
      expect(await scanKeys(`*${device}*`)).toEqual([]);
      expect(await admin(renderer, 'GET', `/apps/banner/devices/${device}/cache`)).toEqual({
        keys: 0,
      });
      total += inRedis.length;
    }
    return total;
  }

  it('a renderer killed while it writes leaves no key its index does not know', async () => {
    const devices = Array.from({ length: 6 }, (_, i) => uniqueId(`killed${i}`));
    const victim = await startRenderer();
    const load = writeLoad(victim, devices);
    await pollUntil(() => expect(load.answered()).toBeGreaterThan(300), 20_000);
    await victim.kill();
    await load.stop();

    const survivor = await startRenderer();
    const keys = await expectIndexFindsEverything(survivor, devices);
    expect(keys).toBeGreaterThanOrEqual(200);
  }, 120_000);

  it('Redis restarted empty under load, with a writer that does not index: all found again', async () => {
    const devices = Array.from({ length: 4 }, (_, i) => uniqueId(`restart${i}`));
    const renderer = await startRenderer();
    await pollUntil(async () => expect(await raw.exists(COMPLETE_MARKER)).toBe(1), 20_000);
    const load = writeLoad(renderer, devices);
    await pollUntil(() => expect(load.answered()).toBeGreaterThan(200), 20_000);
    await redis.restart();
    // The Go service writes while the marker is gone: plain SETs, no index entry.
    const legacy = new Redis(redis.url);
    for (const device of devices) {
      for (let i = 0; i < 50; i++) await legacy.set(`/banner/${device}/legacy${i}`, 'v', 'EX', 600);
    }
    legacy.disconnect();
    const answeredAtRestart = load.answered();
    await pollUntil(() => expect(load.answered()).toBeGreaterThan(answeredAtRestart + 200), 20_000);
    // A count finds the marker gone: it SCANs, and one instance indexes what is there.
    const { keys } = await admin(renderer, 'GET', `/apps/banner/devices/${devices[0]}/cache`);
    expect(keys).toBeGreaterThanOrEqual(50);
    await load.stop();

    // The legacy keys and the renderer's own (renders answered while it reconnected were not
    // cached: they failed open), each found exactly.
    const total = await expectIndexFindsEverything(renderer, devices);
    expect(total).toBeGreaterThan(4 * 50);
  }, 120_000);

  it('keys expiring while a flush runs under load: the rest all deleted, nothing left, no count below zero', async () => {
    const renderer = await startRenderer();
    await pollUntil(async () => expect(await raw.exists(COMPLETE_MARKER)).toBe(1), 20_000);
    const device = uniqueId('expiring');
    // Another instance (the library in this process) writes 10,000 keys that live ten minutes,
    // then 10,000 that live one second.
    const client = new Redis(redis.url);
    // Every write must land (failOpen off, a generous timeout): the checks count on all 20,000.
    const cache = await RedisCache.fromClient(client, {
      namespaceIndex: true,
      operationTimeoutMs: 5000,
      failOpen: false,
    });
    const scoped = cache.withContext('banner', device);
    for (const [name, ttl] of [
      ['lasting', 600],
      ['brief', 1],
    ] as const) {
      for (let i = 0; i < 10_000; i += 1000) {
        await Promise.all(
          Array.from({ length: 1000 }, (_, j) => scoped.set(`${name}${i + j}`, 'v', ttl)),
        );
      }
    }
    await cache.close();
    client.disconnect();
    const load = writeLoad(renderer, [uniqueId('busy')]);

    // Counts keep running while the brief keys expire and the flush runs.
    const counts: { keys: number; before: boolean }[] = [];
    let flushing = false;
    let counting = true;
    const counter = (async () => {
      while (counting) {
        const before = !flushing;
        const { keys } = await admin(renderer, 'GET', `/apps/banner/devices/${device}/cache`);
        counts.push({ keys: keys!, before: before && !flushing });
      }
    })();
    await sleep(800);
    flushing = true;
    const { deleted } = await admin(renderer, 'DELETE', `/devices/${device}/cache`);
    await sleep(400);
    counting = false;
    await counter;
    await load.stop();

    // Every lasting key was deleted; of the brief ones, those not yet expired.
    expect(deleted).toBeGreaterThanOrEqual(10_000);
    expect(deleted).toBeLessThanOrEqual(20_000);
    const before = counts.filter((count) => count.before).map(({ keys }) => keys);
    expect(before.length).toBeGreaterThan(0);
    expect(Math.min(...before)).toBeGreaterThanOrEqual(10_000);
    expect(Math.max(...before)).toBeLessThanOrEqual(20_000);
    expect(Math.min(...counts.map(({ keys }) => keys))).toBeGreaterThanOrEqual(0);
    expect(counts.at(-1)?.keys).toBe(0);
    expect(await scanKeys(`*${device}*`)).toEqual([]);
  }, 120_000);
});
