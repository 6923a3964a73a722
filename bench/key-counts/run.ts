// Key counts across a fleet: npm run bench:key-counts [-- --quick] [--keys 1000000]
//
// What the background key counts (keys{app}) cost Redis when several service instances run. On a
// redis-server it starts (or REDIS_URL's database, which it fills and then empties of what it
// wrote), with --keys cache-shaped keys, --instances instances (each its own ioredis client, in
// this process) run for --intervals intervals of --interval-ms each way:
//   every-instance: each instance counts the whole database every interval (SCAN, then DBSIZE):
//                   what every version before the lease did;
//   lease:          KeyCountRefresher: one instance per interval holds the lease and counts;
//   lease+sample:   the same, estimating from --samples random keys (keyCountSamples).
// Redis CPU is read from INFO (used_cpu_user + used_cpu_sys) before and after each, less what an
// idle Redis used over the same time. Also times one count of each kind alone (--single-only: only
// that, for a large --keys). Prints Markdown.
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { KeyCountRefresher } from '../../src/metrics/key-count-refresher';
import { RedisStore } from '../../src/stores/redis.store';
import { Args } from '../support/args';
import { runBenchmark } from '../support/run-control';
import { acquireBenchRedis, unlinkMatching } from '../support/redis';
import { formatInt, markdownTable, sleep } from '../support/stats';
import { FILLER_APPS, fillerKey, writeKeys } from '../bulk/dataset';

interface Instance {
  client: Redis;
  store: RedisStore;
}

async function redisCpuSeconds(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function openInstance(url: string): Promise<Instance> {
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false });
  await client.connect();
  const logger = new Logger('bench');
  const store = await RedisStore.open(
    client,
    { operationTimeoutMs: 1000, ownsClient: true, logger },
    5000,
  );
  return { client, store };
}

/** Redis CPU (s) over `ms` while `during` runs, less what idle Redis used over `idlePerMs`. */
async function measure(
  admin: Redis,
  ms: number,
  idlePerMs: number,
  during: () => () => Promise<void>,
): Promise<number> {
  const before = await redisCpuSeconds(admin);
  const stop = during();
  await sleep(ms);
  await stop();
  return (await redisCpuSeconds(admin)) - before - idlePerMs * ms;
}

async function main(): Promise<void> {
  const args = new Args(
    ['quick', 'single-only'],
    ['keys', 'instances', 'interval-ms', 'intervals', 'samples'],
  );
  const quick = args.flag('quick');
  const keys = args.number('keys', quick ? 50_000 : 1_000_000);
  const instancesWanted = args.number('instances', 4);
  const intervalMs = args.number('interval-ms', quick ? 1000 : 5000);
  const intervals = args.number('intervals', quick ? 2 : 6);
  const samples = args.number('samples', 10_000);
  Logger.overrideLogger(['error']);

  const redis = await acquireBenchRedis();
  const admin = new Redis(redis.url);
  const instances: Instance[] = [];
  try {
    const tag = `kc${Date.now().toString(36)}`;
    console.log(`Filling ${formatInt(keys)} keys over ${FILLER_APPS} apps …`);
    await writeKeys(admin, keys, (i) => fillerKey(tag, i));
    for (let i = 0; i < instancesWanted; i++) instances.push(await openInstance(redis.url));
    const windowMs = intervals * intervalMs;

    // One count of each kind, alone.
    const single = async (run: () => Promise<unknown>) => {
      const cpuBefore = await redisCpuSeconds(admin);
      const started = performance.now();
      await run();
      const wallMs = performance.now() - started;
      return { wallMs, redisCpuMs: ((await redisCpuSeconds(admin)) - cpuBefore) * 1000 };
    };
    const { store } = instances[0];
    const scanOnce = await single(async () => {
      await store.countKeysByApp();
      await store.databaseSize();
    });
    const sampleOnce = await single(async () => {
      await store.sampleKeysByApp(samples);
      await store.databaseSize();
    });

    if (args.flag('single-only')) {
      console.log(`\n# One key count: ${formatInt(keys)} keys\n`);
      console.log(
        `exact: ${scanOnce.wallMs.toFixed(0)} ms wall, ${scanOnce.redisCpuMs.toFixed(0)} ms Redis CPU; sampled (${samples}): ${sampleOnce.wallMs.toFixed(0)} ms wall, ${sampleOnce.redisCpuMs.toFixed(0)} ms Redis CPU`,
      );
      return;
    }
    const idleBefore = await redisCpuSeconds(admin);
    await sleep(windowMs / 2);
    const idlePerMs = ((await redisCpuSeconds(admin)) - idleBefore) / (windowMs / 2);

    const everyInstance = await measure(admin, windowMs, idlePerMs, () => {
      const timers = instances.map(({ store: own }) => {
        let running: Promise<unknown> = Promise.resolve();
        const tick = () => {
          running = running.then(async () => {
            await own.countKeysByApp();
            await own.databaseSize();
          });
        };
        tick();
        return { timer: setInterval(tick, intervalMs), done: () => running };
      });
      return async () => {
        for (const { timer } of timers) clearInterval(timer);
        await Promise.all(timers.map(({ done }) => done()));
      };
    });

    const withLease = (sampleCount: number) => () => {
      const refreshers = instances.map(
        ({ store: own }) =>
          new KeyCountRefresher(
            own,
            {
              registry: new Registry(),
              prefix: 'b_',
              apps: new Set(),
              intervalMs,
              samples: sampleCount,
            },
            new Logger('bench'),
          ),
      );
      refreshers.forEach((refresher) => refresher.start());
      return async () => {
        await Promise.all(refreshers.map((refresher) => refresher.stop()));
      };
    };
    await admin.del('key-counts:lease', 'key-counts:figures');
    const lease = await measure(admin, windowMs, idlePerMs, withLease(0));
    await admin.del('key-counts:lease', 'key-counts:figures');
    const leaseSample = await measure(admin, windowMs, idlePerMs, withLease(samples));

    const perInterval = (cpuSeconds: number) =>
      `${((cpuSeconds * 1000) / intervals).toFixed(0)} ms`;
    const share = (cpuSeconds: number) => `${((100 * cpuSeconds * 1000) / windowMs).toFixed(1)} %`;
    console.log(`\n# Key counts: ${formatInt(keys)} keys, ${instancesWanted} instances\n`);
    console.log(
      `Redis ${await redis.version()}; ${intervals} intervals of ${intervalMs} ms each way; ${process.version}.\n`,
    );
    console.log(
      markdownTable(
        ['one count', 'wall', 'Redis CPU'],
        [
          [
            'SCAN + DBSIZE (exact)',
            `${scanOnce.wallMs.toFixed(0)} ms`,
            `${scanOnce.redisCpuMs.toFixed(0)} ms`,
          ],
          [
            `${formatInt(samples)} RANDOMKEY + DBSIZE (sampled)`,
            `${sampleOnce.wallMs.toFixed(0)} ms`,
            `${sampleOnce.redisCpuMs.toFixed(0)} ms`,
          ],
        ],
      ),
    );
    console.log('');
    console.log(
      markdownTable(
        ['fleet of ' + instancesWanted, 'Redis CPU per interval', 'share of Redis’s thread'],
        [
          ['every instance counts (before)', perInterval(everyInstance), share(everyInstance)],
          ['one lease holder counts (SCAN)', perInterval(lease), share(lease)],
          ['one lease holder samples', perInterval(leaseSample), share(leaseSample)],
        ],
      ),
    );
  } finally {
    for (const { store } of instances) await store.close();
    if (!redis.owned) {
      await unlinkMatching(admin, '/*-kc*/*');
      await admin.del('key-counts:lease', 'key-counts:figures');
    }
    admin.disconnect();
    await redis.release();
  }
}

runBenchmark(main);
