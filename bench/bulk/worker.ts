// One timed bulk operation, in a fresh process (run with --expose-gc): connects, forces a GC,
// resets the kernel's RSS high-water mark, runs the operation while sampling its memory every
// 5 ms, and prints `RESULT {json}` (a BulkWorkerResult).
//   node --expose-gc bench/dist/bench/bulk/worker.js --variant flushDevice \
//     --redis redis://127.0.0.1:PORT --db 0 --app a0-TAG --device target-TAG
import { readFileSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisCache } from '../../src';
import { Args } from '../support/args';
import { sleep } from '../support/stats';
import { BULK_VARIANTS } from './variants';
import type { BulkVariant, BulkWorkerResult } from './variants';

const SCAN_COUNT = 1000;
const SAMPLE_INTERVAL_MS = 5;

const epochNow = () => performance.timeOrigin + performance.now();

/** Resets VmHWM (Linux ≥ 4.0: `echo 5 > /proc/self/clear_refs`); false where it cannot. */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return peakRssBytes() !== undefined;
  } catch {
    return false;
  }
}

function peakRssBytes(): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The hand-written flush: SCAN a batch, UNLINK it, SCAN the next. */
async function scanUnlinkLoop(client: Redis, pattern: string): Promise<[number, number]> {
  let deleted = 0;
  let scans = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    scans++;
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return [deleted, scans];
}

/** The hand-written count: SCAN, add up what each batch returns. */
async function scanCountLoop(client: Redis, pattern: string): Promise<[number, number]> {
  let counted = 0;
  let scans = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    scans++;
    cursor = next;
    counted += keys.length;
  } while (cursor !== '0');
  return [counted, scans];
}

/** The module needs its database confirmed (SELECT, for db ≠ 0) before it sends anything. */
async function untilAnswering(cache: RedisCache): Promise<void> {
  const deadline = performance.now() + 5000;
  for (;;) {
    try {
      await cache.ping();
      return;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await sleep(5);
    }
  }
}

async function main(): Promise<void> {
  const args = new Args([], ['variant', 'redis', 'db', 'app', 'device']);
  const variant = args.required('variant') as BulkVariant;
  if (!BULK_VARIANTS.includes(variant)) throw new Error(`Unknown --variant ${variant}`);
  const db = Number(args.string('db') ?? 0);
  const app = args.required('app');
  const device = args.required('device');

  const client = new Redis(args.required('redis'), { db, lazyConnect: true });
  await client.connect();
  let run: () => Promise<[number, number | undefined]>;
  switch (variant) {
    case 'flushDevice':
    case 'stats': {
      const cache = await RedisCache.fromClient(client);
      await untilAnswering(cache);
      const context = cache.withContext(app, device);
      run =
        variant === 'flushDevice'
          ? async () => [await context.flushDevice(), undefined]
          : async () => [await context.stats(), undefined];
      break;
    }
    case 'scan-unlink-loop':
      run = () => scanUnlinkLoop(client, `/*/${device}/*`);
      break;
    case 'scan-count-loop':
      run = () => scanCountLoop(client, `/${app}/${device}/*`);
      break;
  }
  await client.ping();

  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('Run the worker with --expose-gc');
  gc();
  gc();
  const before = process.memoryUsage();
  const hwmReset = resetPeakRss();
  let rssPeak = before.rss;
  let heapPeak = before.heapUsed;
  let samples = 0;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    rssPeak = Math.max(rssPeak, usage.rss);
    heapPeak = Math.max(heapPeak, usage.heapUsed);
    samples++;
  }, SAMPLE_INTERVAL_MS);

  const cpuBefore = process.cpuUsage();
  const startEpochMs = epochNow();
  const started = performance.now();
  const [count, scans] = await run();
  const ms = performance.now() - started;
  const endEpochMs = epochNow();
  const opCpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  const after = process.memoryUsage();
  rssPeak = Math.max(rssPeak, after.rss);
  heapPeak = Math.max(heapPeak, after.heapUsed);
  const hwm = hwmReset ? peakRssBytes() : undefined;

  client.disconnect();
  const cpu = process.cpuUsage();
  const result: BulkWorkerResult = {
    variant,
    count,
    ms,
    startEpochMs,
    endEpochMs,
    ...(scans !== undefined && { scans }),
    opCpuMs: (opCpu.user + opCpu.system) / 1000,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rssBeforeBytes: before.rss,
    heapUsedBeforeBytes: before.heapUsed,
    rssPeakBytes: hwm !== undefined ? Math.max(hwm, rssPeak) : rssPeak,
    rssPeakSampled: hwm === undefined,
    heapUsedPeakBytes: heapPeak,
    samples,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
