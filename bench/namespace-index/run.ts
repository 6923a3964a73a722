// The namespace index: npm run bench:namespace-index [-- --quick] [--keys 1000000]
//
// On a redis-server it starts (or REDIS_URL's, filled then emptied of what it wrote) holding
// --keys other cache keys, times stats() and flushDevice() of a --namespace-keys namespace (one
// device, one app) through the index and through SCAN, --rounds times each (the namespace written
// again before each), while another process GETs at --get-rate per second (the bulk benchmark's
// GET load) and records latency. Then the write path: set() with and without the index,
// interleaved slices, --concurrency sets in flight, with Redis's CPU per command from INFO
// commandstats. And a SCAN flush run as a job with a 200 ms wait: when it answers, and when
// another instance sees it done. Prints Markdown.
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RedisCache } from '../../src';
import { INDEX_COMPLETE_KEY } from '../../src/stores/namespace-index';
import { Args } from '../support/args';
import { acquireBenchRedis, unlinkMatching } from '../support/redis';
import { runBenchmark } from '../support/run-control';
import { formatInt, markdownTable, median, sleep } from '../support/stats';
import { removeTagged, writeFiller } from '../bulk/dataset';
import { epochNow, startGetLoad } from '../bulk/get-load';
import type { GetLoad } from '../bulk/get-load';

const APP = 'bench-app';
const DEVICE = 'bench-device';
/** The filler's tag. */
const TAG = 'ni';
/** The wait of the flush run as a job: shorter than a SCAN of the database takes. */
const JOB_WAIT_MS = 200;
/** The GET load's loops, paced to --get-rate in all. */
const GET_LOOPS = 16;

interface Caches {
  indexed: RedisCache;
  scanning: RedisCache;
}

interface Settings {
  namespaceKeys: number;
  rounds: number;
  concurrency: number;
  sliceMs: number;
  slices: number;
}

/** Writes the namespace again, through the indexed cache, so both caches find the same keys. */
async function writeNamespace({ indexed }: Caches, keys: number): Promise<void> {
  const writer = indexed.withContext(APP, DEVICE);
  await Promise.all(Array.from({ length: keys }, (_, i) => writer.set(`k${i}`, 'v', 600)));
}

/** stats() then flushDevice() through `through`, each round, and the GETs' p99 meanwhile. */
async function flushAndCount(
  name: string,
  through: RedisCache,
  caches: Caches,
  gets: GetLoad,
  { namespaceKeys, rounds }: Settings,
): Promise<string[]> {
  const context = through.withContext(APP, DEVICE);
  const [statsMs, flushMs, p99s] = [[], [], []] as number[][];
  for (let round = 0; round < rounds; round++) {
    await writeNamespace(caches, namespaceKeys);
    const windowStart = epochNow();
    let started = performance.now();
    const counted = await context.stats();
    statsMs.push(performance.now() - started);
    started = performance.now();
    const flushed = await context.flushDevice();
    flushMs.push(performance.now() - started);
    // At least 100 ms of GETs: a 3 ms operation would leave a handful.
    const windowEnd = Math.max(epochNow(), windowStart + 100);
    await sleep(windowEnd - epochNow());
    const window = await gets.window(windowStart, windowEnd);
    if (window.failed > 0) throw new Error(`${name}: ${window.failed} GETs meanwhile failed`);
    p99s.push(window.p99Ms);
    if (counted !== namespaceKeys || flushed !== namespaceKeys) {
      throw new Error(`${name}: counted ${counted}, flushed ${flushed}, expected ${namespaceKeys}`);
    }
  }
  return [
    name,
    `${median(statsMs).toFixed(1)} ms`,
    `${median(flushMs).toFixed(1)} ms`,
    `${median(p99s).toFixed(2)} ms (max ${Math.max(...p99s).toFixed(2)})`,
  ];
}

/** A SCAN flush as a job with a short wait: when it answers, when another instance sees it done. */
async function flushAsJob(caches: Caches, { namespaceKeys }: Settings): Promise<string[]> {
  const { indexed, scanning } = caches;
  await writeNamespace(caches, namespaceKeys);
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
  return [
    `${answeredMs.toFixed(0)} ms (${job.state})`,
    `${(performance.now() - started).toFixed(0)} ms`,
  ];
}

async function commandStats(admin: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const info = await admin.info('commandstats');
  return new Map(
    [...info.matchAll(/cmdstat_([a-z|]+):calls=(\d+),usec=(\d+)/g)].map(([, name, calls, usec]) => [
      name,
      { calls: Number(calls), usec: Number(usec) },
    ]),
  );
}

/** set() through each cache in interleaved slices: sets per second, Redis µs per command. */
async function writePath(admin: Redis, { indexed, scanning }: Caches, settings: Settings) {
  const writes = { index: { sets: 0, ms: 0 }, plain: { sets: 0, ms: 0 } };
  const before = await commandStats(admin);
  for (let slice = 0; slice < settings.slices; slice++) {
    const plainFirst = slice % 2 === 0;
    for (const name of plainFirst ? (['plain', 'index'] as const) : (['index', 'plain'] as const)) {
      const context = (name === 'index' ? indexed : scanning).withContext(APP, `w-${name}`);
      const started = performance.now();
      const end = started + settings.sliceMs;
      let sets = 0;
      await Promise.all(
        Array.from({ length: settings.concurrency }, async (_, worker) => {
          for (let i = 0; performance.now() < end; i++) {
            await context.set(`k${worker}-${i % 50}`, 'v'.repeat(200), 600);
            sets++;
          }
        }),
      );
      writes[name].sets += sets;
      writes[name].ms += performance.now() - started;
    }
  }
  const after = await commandStats(admin);
  const perCall = (command: string) => {
    const calls = (after.get(command)?.calls ?? 0) - (before.get(command)?.calls ?? 0);
    const usec = (after.get(command)?.usec ?? 0) - (before.get(command)?.usec ?? 0);
    return calls ? (usec / calls).toFixed(2) : 'n/a';
  };
  const rate = ({ sets, ms }: { sets: number; ms: number }) => (sets * 1000) / ms;
  return [
    ['plain SET', formatInt(rate(writes.plain)), `${perCall('set')} (SET)`],
    ['the index', formatInt(rate(writes.index)), `${perCall('evalsha')} (EVALSHA)`],
    ['ratio', (rate(writes.index) / rate(writes.plain)).toFixed(2) + 'x', ''],
  ];
}

/** Removes the filler's index keys from the device directories (`apps-of:/d0`…, shared names). */
async function forgetFillerIndexKeys(admin: Redis): Promise<void> {
  let cursor = '0';
  do {
    const [next, directories] = await admin.scan(cursor, 'MATCH', 'apps-of:/d*', 'COUNT', 1_000);
    cursor = next;
    for (const directory of directories) {
      const ours = (await admin.smembers(directory)).filter((key) => key.includes(`-${TAG}/`));
      if (ours.length > 0) await admin.srem(directory, ...ours);
    }
  } while (cursor !== '0');
}

async function main(): Promise<void> {
  const args = new Args(
    ['quick'],
    ['keys', 'namespace-keys', 'rounds', 'get-rate', 'concurrency', 'slice-ms', 'slices'],
  );
  const quick = args.flag('quick');
  const keys = args.number('keys', quick ? 50_000 : 1_000_000);
  const getRate = args.number('get-rate', 2_000);
  const settings: Settings = {
    namespaceKeys: args.number('namespace-keys', 1_000),
    rounds: args.number('rounds', quick ? 2 : 7),
    concurrency: args.number('concurrency', 64),
    sliceMs: args.number('slice-ms', quick ? 300 : 1_000),
    slices: args.number('slices', quick ? 4 : 10),
  };
  Logger.overrideLogger(['error']);

  const redis = await acquireBenchRedis();
  const admin = new Redis(redis.url);
  const opened: { client: Redis; cache: RedisCache }[] = [];
  const open = async (namespaceIndex: boolean) => {
    const client = new Redis(redis.url);
    const cache = await RedisCache.fromClient(client, { namespaceIndex, operationTimeoutMs: 1000 });
    opened.push({ client, cache });
    return cache;
  };
  let gets: GetLoad | undefined;
  let markerOurs = false;
  try {
    // Left by an earlier run on a shared Redis, the marker would end the migration at once.
    if (await admin.exists(INDEX_COMPLETE_KEY)) {
      throw new Error(`${INDEX_COMPLETE_KEY} is set: the migration cannot be timed`);
    }
    markerOurs = true;
    console.log(`Filling ${formatInt(keys)} keys …`);
    await writeFiller(admin, TAG, keys);
    // Opening with the index indexes the existing (filler) keys once, in the background.
    const migrationStarted = performance.now();
    const caches: Caches = { indexed: await open(true), scanning: await open(false) };
    while (!(await admin.exists(INDEX_COMPLETE_KEY))) await sleep(200);
    const migrationS = (performance.now() - migrationStarted) / 1000;

    const getLoad = { tag: TAG, fillerKeys: keys, concurrency: GET_LOOPS, rate: getRate };
    gets = await startGetLoad({ url: redis.url, ...getLoad, pin: false });
    const throughIndex = await flushAndCount('index', caches.indexed, caches, gets, settings);
    const throughScan = await flushAndCount('SCAN', caches.scanning, caches, gets, settings);
    await gets.stop();
    const jobRows: string[][] = [];
    for (let round = 0; round < settings.rounds; round++) {
      jobRows.push(await flushAsJob(caches, settings));
    }
    const writeRows = await writePath(admin, caches, settings);

    const { namespaceKeys, rounds } = settings;
    console.log(
      `\n# Namespace index: ${formatInt(namespaceKeys)}-key namespace, ${formatInt(keys)} other keys\n`,
    );
    console.log(
      `Redis ${await redis.version()}; ${process.version}; ${rounds} rounds, medians; GETs at ${getRate}/s meanwhile.\n`,
    );
    console.log(
      `Indexing the ${formatInt(keys)} keys written before took ${migrationS.toFixed(1)} s.\n`,
    );
    const tables = [
      [
        ['flush and count through', 'stats()', 'flushDevice()', 'GET p99 meanwhile'],
        [throughIndex, throughScan],
      ],
      [
        [`SCAN flushDevice as a job (wait ${JOB_WAIT_MS} ms)`, 'done, seen by another instance'],
        jobRows,
      ],
      [['set() through', 'sets/s (this client)', 'Redis µs per command'], writeRows],
    ] as const;
    console.log(tables.map(([header, rows]) => markdownTable(header, rows)).join('\n\n'));
  } finally {
    await gets?.stop();
    for (const { cache } of opened) await cache.close();
    for (const { client } of opened) client.disconnect();
    // On a shared Redis, what this run wrote: the filler, its namespaces and their index keys.
    if (!redis.owned) {
      await removeTagged(admin, TAG);
      const written = [
        `keys-of:/*-${TAG}/*`,
        `/${APP}/*`,
        `keys-of:/${APP}/*`,
        `apps-of:/${DEVICE}`,
        'apps-of:/w-*',
      ];
      for (const pattern of written) await unlinkMatching(admin, pattern);
      await forgetFillerIndexKeys(admin);
      if (markerOurs) await admin.del(INDEX_COMPLETE_KEY);
    }
    admin.disconnect();
    await redis.release();
  }
}

runBenchmark(main);
