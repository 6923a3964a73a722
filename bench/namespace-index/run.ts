// The namespace index: npm run bench:namespace-index [-- --quick] [--keys 1000000]
//
// On a redis-server it starts (or REDIS_URL's, filled then emptied of what it wrote) holding
// --keys other cache keys, times stats() and flushDevice() of a --namespace-key namespace (one
// device, one app) through the index and through SCAN, --rounds times each (the namespace written
// again before each), while another client GETs at --get-rate per second and records latency.
// Then the write path: set() with and without the index, interleaved slices, --concurrency sets
// in flight, with Redis's CPU per command from INFO commandstats. And a SCAN flush run as a job
// with a 200 ms wait: when it answers, and when another instance sees it done. Prints Markdown.
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RedisCache } from '../../src';
import { Args } from '../support/args';
import { runBenchmark } from '../support/run-control';
import { acquireBenchRedis, unlinkMatching } from '../support/redis';
import { formatInt, markdownTable, median, sleep } from '../support/stats';
import { fillerKey, writeKeys } from '../bulk/dataset';

const APP = 'bench-app';
const DEVICE = 'bench-device';
/** The wait of the flush run as a job: shorter than a SCAN of the database takes. */
const JOB_WAIT_MS = 200;

const clients: Redis[] = [];

async function openCache(url: string, namespaceIndex: boolean): Promise<RedisCache> {
  const client = new Redis(url);
  clients.push(client);
  return RedisCache.fromClient(client, { namespaceIndex, operationTimeoutMs: 1000 });
}

/** GETs at `rate` per second from a client of its own: the latency of those started in a window. */
function getLoad(url: string, rate: number) {
  const client = new Redis(url);
  const samples: { at: number; ms: number }[] = [];
  const timer = setInterval(() => {
    for (let i = 0; i < rate / 100; i++) {
      const at = performance.now();
      void client.get(fillerKey('ni', i)).then(() => {
        samples.push({ at, ms: performance.now() - at });
      });
    }
  }, 10);
  return {
    /** p99 (and count) of the GETs started between `from` and `to`, once they have answered. */
    async p99Ms(from: number, to: number): Promise<number> {
      await sleep(50);
      const within = samples.filter(({ at }) => at >= from && at <= to).map(({ ms }) => ms);
      samples.length = 0;
      within.sort((a, b) => a - b);
      return within.length
        ? within[Math.min(within.length - 1, Math.floor(within.length * 0.99))]
        : NaN;
    },
    stop: () => {
      clearInterval(timer);
      client.disconnect();
    },
  };
}

async function commandUsec(admin: Redis): Promise<Record<string, { calls: number; usec: number }>> {
  const found: Record<string, { calls: number; usec: number }> = {};
  for (const [, name, calls, usec] of (await admin.info('commandstats')).matchAll(
    /cmdstat_([a-z|]+):calls=(\d+),usec=(\d+)/g,
  )) {
    found[name] = { calls: Number(calls), usec: Number(usec) };
  }
  return found;
}

async function main(): Promise<void> {
  const args = new Args(
    ['quick'],
    ['keys', 'namespace-keys', 'rounds', 'get-rate', 'concurrency', 'slice-ms', 'slices'],
  );
  const quick = args.flag('quick');
  const keys = args.number('keys', quick ? 50_000 : 1_000_000);
  const namespaceKeys = args.number('namespace-keys', 1_000);
  const rounds = args.number('rounds', quick ? 2 : 7);
  const getRate = args.number('get-rate', 2_000);
  const concurrency = args.number('concurrency', 64);
  const sliceMs = args.number('slice-ms', quick ? 300 : 1_000);
  const slices = args.number('slices', quick ? 4 : 10);
  Logger.overrideLogger(['error']);

  const redis = await acquireBenchRedis();
  const admin = new Redis(redis.url);
  const caches: RedisCache[] = [];
  try {
    console.log(`Filling ${formatInt(keys)} keys …`);
    await writeKeys(admin, keys, (i) => fillerKey('ni', i));
    // Opening with the index indexes the existing (filler) keys once, in the background.
    const migrationStarted = performance.now();
    const indexed = await openCache(redis.url, true);
    const scanning = await openCache(redis.url, false);
    caches.push(indexed, scanning);
    while (!(await admin.exists('keys-of:complete'))) await sleep(200);
    const migrationS = (performance.now() - migrationStarted) / 1000;

    const load = getLoad(redis.url, getRate);
    const rows: string[][] = [];
    for (const [name, cache] of [
      ['index', indexed],
      ['SCAN', scanning],
    ] as const) {
      const ctx = cache.withContext(APP, DEVICE);
      const statsMs: number[] = [];
      const flushMs: number[] = [];
      const p99s: number[] = [];
      for (let round = 0; round < rounds; round++) {
        // Written through the indexed cache either way, so both find the same keys.
        const writer = indexed.withContext(APP, DEVICE);
        await Promise.all(
          Array.from({ length: namespaceKeys }, (_, i) => writer.set(`k${i}`, 'v', 600)),
        );
        const windowStart = performance.now();
        let started = performance.now();
        const counted = await ctx.stats();
        statsMs.push(performance.now() - started);
        started = performance.now();
        const flushed = await ctx.flushDevice();
        flushMs.push(performance.now() - started);
        // At least 100 ms of GETs: a 3 ms operation would leave a handful.
        const windowEnd = Math.max(performance.now(), windowStart + 100);
        await sleep(Math.max(0, windowEnd - performance.now()));
        p99s.push(await load.p99Ms(windowStart, windowEnd));
        if (counted !== namespaceKeys || flushed !== namespaceKeys) {
          throw new Error(
            `${name}: counted ${counted}, flushed ${flushed}, expected ${namespaceKeys}`,
          );
        }
      }
      rows.push([
        name,
        `${median(statsMs).toFixed(1)} ms`,
        `${median(flushMs).toFixed(1)} ms`,
        `${median(p99s).toFixed(2)} ms (max ${Math.max(...p99s).toFixed(2)})`,
      ]);
    }
    load.stop();

    // A SCAN flush as a job with a short wait: when it answers, and when another instance sees it done.
    const jobRows: string[][] = [];
    for (let round = 0; round < rounds; round++) {
      const writer = indexed.withContext(APP, DEVICE);
      await Promise.all(
        Array.from({ length: namespaceKeys }, (_, i) => writer.set(`k${i}`, 'v', 600)),
      );
      const started = performance.now();
      const job = await scanning.jobs.run(scanning.withContext(APP, DEVICE), 'flushDevice', {
        waitMs: JOB_WAIT_MS,
      });
      const answeredMs = performance.now() - started;
      let status = job;
      while (status.state === 'running') {
        await sleep(20);
        status = (await indexed.jobs.status(job.id)) ?? status;
      }
      if (status.state !== 'done' || status.keys !== namespaceKeys) {
        throw new Error(`job: ${status.state} with ${status.keys} keys, expected ${namespaceKeys}`);
      }
      jobRows.push([
        `${answeredMs.toFixed(0)} ms (${job.state})`,
        `${(performance.now() - started).toFixed(0)} ms`,
      ]);
    }

    // The write path: interleaved slices of sets through each cache.
    const writes = { index: { sets: 0, ms: 0 }, plain: { sets: 0, ms: 0 } };
    const before = await commandUsec(admin);
    for (let slice = 0; slice < slices; slice++) {
      for (const [name, cache] of (slice % 2
        ? [
            ['index', indexed],
            ['plain', scanning],
          ]
        : [
            ['plain', scanning],
            ['index', indexed],
          ]) as [keyof typeof writes, RedisCache][]) {
        const ctx = cache.withContext(APP, `w-${name}`);
        const end = performance.now() + sliceMs;
        const started = performance.now();
        let sets = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async (_, worker) => {
            for (let i = 0; performance.now() < end; i++) {
              await ctx.set(`k${worker}-${i % 50}`, 'v'.repeat(200), 600);
              sets++;
            }
          }),
        );
        writes[name].sets += sets;
        writes[name].ms += performance.now() - started;
      }
    }
    const after = await commandUsec(admin);
    const perCall = (command: string) => {
      const calls = (after[command]?.calls ?? 0) - (before[command]?.calls ?? 0);
      const usec = (after[command]?.usec ?? 0) - (before[command]?.usec ?? 0);
      return calls ? (usec / calls).toFixed(2) : 'n/a';
    };
    const rate = ({ sets, ms }: { sets: number; ms: number }) => (sets * 1000) / ms;

    console.log(
      `\n# Namespace index: ${formatInt(namespaceKeys)}-key namespace, ${formatInt(keys)} other keys\n`,
    );
    console.log(
      `Redis ${await redis.version()}; ${process.version}; ${rounds} rounds, medians; GETs at ${getRate}/s meanwhile.\n`,
    );
    console.log(
      `Indexing the ${formatInt(keys)} keys written before took ${migrationS.toFixed(1)} s.\n`,
    );
    console.log(
      markdownTable(
        ['flush and count through', 'stats()', 'flushDevice()', 'GET p99 meanwhile'],
        rows,
      ),
    );
    console.log('');
    console.log(
      markdownTable(
        [`SCAN flushDevice as a job (wait ${JOB_WAIT_MS} ms)`, 'done, seen by another instance'],
        jobRows,
      ),
    );
    console.log('');
    console.log(
      markdownTable(
        ['set() through', 'sets/s (this client)', 'Redis µs per command'],
        [
          ['plain SET', formatInt(rate(writes.plain)), `${perCall('set')} (SET)`],
          ['the index', formatInt(rate(writes.index)), `${perCall('evalsha')} (EVALSHA)`],
          ['ratio', (rate(writes.index) / rate(writes.plain)).toFixed(2) + 'x', ''],
        ],
      ),
    );
  } finally {
    for (const cache of caches) await cache.close();
    for (const client of clients) client.disconnect();
    // On a shared Redis, what this run wrote: the filler, its namespaces and their index keys.
    const written = [
      '/*-ni/*',
      `/${APP}/*`,
      `keys-of:/${APP}/*`,
      `apps-of:/${DEVICE}`,
      'apps-of:/w-*',
    ];
    for (const pattern of redis.owned ? [] : written) await unlinkMatching(admin, pattern);
    admin.disconnect();
    await redis.release();
  }
}

runBenchmark(main);
