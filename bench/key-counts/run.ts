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
import { acquireBenchRedis } from '../support/redis';
import { runBenchmark } from '../support/run-control';
import { formatInt, markdownTable, sleep } from '../support/stats';
import { FILLER_APPS, removeTagged, writeFiller } from '../bulk/dataset';

/** The refresher's lease and figures, cleared between runs so each starts afresh. */
const LEASE_KEYS = ['key-counts:lease', 'key-counts:figures'];

/** A running way of counting; resolves once it has stopped. */
type Stop = () => Promise<void>;

async function redisCpuMs(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

async function openStore(url: string): Promise<RedisStore> {
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false });
  await client.connect();
  const options = { operationTimeoutMs: 1000, ownsClient: true, logger: new Logger('bench') };
  return RedisStore.open(client, options, 5000);
}

/** Wall time and Redis CPU of one run of `count`, alone. */
async function timeOnce(admin: Redis, count: () => Promise<unknown>) {
  const cpuBefore = await redisCpuMs(admin);
  const started = performance.now();
  await count();
  const wallMs = performance.now() - started;
  return { wallMs, redisCpuMs: (await redisCpuMs(admin)) - cpuBefore };
}

/** Redis CPU (ms) over `ms` while `start`'s counting runs, less what idle Redis used meanwhile. */
async function fleetCpuMs(admin: Redis, ms: number, idlePerMs: number, start: () => Stop) {
  const before = await redisCpuMs(admin);
  const stop = start();
  await sleep(ms);
  await stop();
  return (await redisCpuMs(admin)) - before - idlePerMs * ms;
}

/** Every instance counts the whole database each interval, one count after another. */
function everyInstanceCounts(stores: readonly RedisStore[], intervalMs: number): Stop {
  const counting = stores.map((store) => {
    let running: Promise<unknown> = Promise.resolve();
    const tick = () => {
      running = running.then(async () => {
        await store.countKeysByApp();
        await store.databaseSize();
      });
    };
    tick();
    return { timer: setInterval(tick, intervalMs), done: () => running };
  });
  return async () => {
    for (const { timer } of counting) clearInterval(timer);
    await Promise.all(counting.map(({ done }) => done()));
  };
}

/** A KeyCountRefresher on every instance: the one holding the lease counts (or samples). */
function leaseHolderCounts(stores: readonly RedisStore[], intervalMs: number, samples: number) {
  const refreshers = stores.map((store) => {
    const metrics = { registry: new Registry(), prefix: 'b_', apps: new Set<string>() };
    return new KeyCountRefresher(store, { ...metrics, intervalMs, samples }, new Logger('bench'));
  });
  refreshers.forEach((refresher) => refresher.start());
  return async () => {
    await Promise.all(refreshers.map((refresher) => refresher.stop()));
  };
}

async function main(): Promise<void> {
  const args = new Args(
    ['quick', 'single-only'],
    ['keys', 'instances', 'interval-ms', 'intervals', 'samples'],
  );
  const quick = args.flag('quick');
  const keys = args.number('keys', quick ? 50_000 : 1_000_000);
  const instances = args.number('instances', 4);
  const intervalMs = args.number('interval-ms', quick ? 1000 : 5000);
  const intervals = args.number('intervals', quick ? 2 : 6);
  const samples = args.number('samples', 10_000);
  Logger.overrideLogger(['error']);

  const redis = await acquireBenchRedis();
  const admin = new Redis(redis.url);
  const tag = `kc${Date.now().toString(36)}`;
  const stores: RedisStore[] = [];
  try {
    console.log(`Filling ${formatInt(keys)} keys over ${FILLER_APPS} apps …`);
    await writeFiller(admin, tag, keys);
    for (let i = 0; i < instances; i++) stores.push(await openStore(redis.url));

    const exact = await timeOnce(admin, async () => {
      await stores[0].countKeysByApp();
      await stores[0].databaseSize();
    });
    const sampled = await timeOnce(admin, async () => {
      await stores[0].sampleKeysByApp(samples);
      await stores[0].databaseSize();
    });
    const ms = (value: number) => `${value.toFixed(0)} ms`;
    if (args.flag('single-only')) {
      console.log(`\n# One key count: ${formatInt(keys)} keys\n`);
      console.log(
        `exact: ${ms(exact.wallMs)} wall, ${ms(exact.redisCpuMs)} Redis CPU; sampled (${samples}): ${ms(sampled.wallMs)} wall, ${ms(sampled.redisCpuMs)} Redis CPU`,
      );
      return;
    }

    const windowMs = intervals * intervalMs;
    const idleBefore = await redisCpuMs(admin);
    await sleep(windowMs / 2);
    const idlePerMs = ((await redisCpuMs(admin)) - idleBefore) / (windowMs / 2);
    const fleet = (start: () => Stop) => fleetCpuMs(admin, windowMs, idlePerMs, start);
    const everyInstance = await fleet(() => everyInstanceCounts(stores, intervalMs));
    await admin.del(...LEASE_KEYS);
    const lease = await fleet(() => leaseHolderCounts(stores, intervalMs, 0));
    await admin.del(...LEASE_KEYS);
    const leaseSample = await fleet(() => leaseHolderCounts(stores, intervalMs, samples));

    const perInterval = (cpuMs: number) => ms(cpuMs / intervals);
    const share = (cpuMs: number) => `${((100 * cpuMs) / windowMs).toFixed(1)} %`;
    const fleetRow = (name: string, cpuMs: number) => [name, perInterval(cpuMs), share(cpuMs)];
    console.log(`\n# Key counts: ${formatInt(keys)} keys, ${instances} instances\n`);
    console.log(
      `Redis ${await redis.version()}; ${intervals} intervals of ${intervalMs} ms each way; ${process.version}.\n`,
    );
    console.log(
      markdownTable(
        ['one count', 'wall', 'Redis CPU'],
        [
          ['SCAN + DBSIZE (exact)', ms(exact.wallMs), ms(exact.redisCpuMs)],
          [
            `${formatInt(samples)} RANDOMKEY + DBSIZE (sampled)`,
            ms(sampled.wallMs),
            ms(sampled.redisCpuMs),
          ],
        ],
      ),
    );
    console.log('');
    console.log(
      markdownTable(
        [`fleet of ${instances}`, 'Redis CPU per interval', 'share of Redis’s thread'],
        [
          fleetRow('every instance counts (before)', everyInstance),
          fleetRow('one lease holder counts (SCAN)', lease),
          fleetRow('one lease holder samples', leaseSample),
        ],
      ),
    );
  } finally {
    for (const store of stores) await store.close();
    if (!redis.owned) {
      await removeTagged(admin, tag);
      await admin.del(...LEASE_KEYS);
    }
    admin.disconnect();
    await redis.release();
  }
}

runBenchmark(main);
