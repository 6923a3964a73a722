// One timed bulk operation in a fresh process (run with --expose-gc), so its memory is its own:
// connects, forces a GC, resets the kernel's RSS high-water mark, runs the operation while
// sampling memory every 5 ms, and prints `RESULT {json}` (a BulkWorkerResult).
//   node --expose-gc bench/dist/bench/bulk/worker.js --variant flushDevice \
//     --redis redis://127.0.0.1:PORT --db 0 --app a0-TAG --device target-TAG
import { readFileSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisCache } from '../../src';
import { Args } from '../support/args';
import { sleep } from '../support/stats';
import { scanAll, scanCount } from './dataset';
import { epochNow } from './get-load';

/** Each module operation and the hand-written loop it is held against. */
export const BULK_PAIRS = [
  { module: 'flushDevice', baseline: 'scan-unlink-loop' },
  { module: 'stats', baseline: 'scan-count-loop' },
] as const;
export const BULK_VARIANTS = BULK_PAIRS.flatMap(({ module, baseline }) => [module, baseline]);
export type BulkVariant = (typeof BULK_VARIANTS)[number];

export const isFlush = (variant: BulkVariant) =>
  variant === 'flushDevice' || variant === 'scan-unlink-loop';

/** What a worker prints after `RESULT `. */
export type BulkWorkerResult = Awaited<ReturnType<typeof timeOperation>> & {
  variant: BulkVariant;
  /** The worker's CPU time over its whole life, in ms. */
  cpuMs: number;
};

function peakRssBytes(): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resets VmHWM (Linux ≥ 4.0: `echo 5 > /proc/self/clear_refs`); false where it cannot. */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return peakRssBytes() !== undefined;
  } catch {
    return false;
  }
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

/** The operation, ready to run: resolves the keys it deleted or counted, and SCANs it made. */
async function prepare(
  variant: BulkVariant,
  client: Redis,
  app: string,
  device: string,
): Promise<() => Promise<{ count: number; scans?: number }>> {
  switch (variant) {
    case 'scan-unlink-loop': // SCAN a batch, UNLINK it, SCAN the next
      return async () => {
        let count = 0;
        const scans = await scanAll(client, `/*/${device}/*`, async (keys) => {
          if (keys.length > 0) count += await client.unlink(...keys);
        });
        return { count, scans };
      };
    case 'scan-count-loop':
      return () => scanCount(client, `/${app}/${device}/*`);
    default: {
      const cache = await RedisCache.fromClient(client);
      await untilAnswering(cache);
      const context = cache.withContext(app, device);
      return async () => ({
        count: await (variant === 'flushDevice' ? context.flushDevice() : context.stats()),
      });
    }
  }
}

/**
 * Runs the operation after a forced GC, with the kernel's RSS high-water mark reset and memory
 * sampled every 5 ms meanwhile.
 */
async function timeOperation(run: () => Promise<{ count: number; scans?: number }>) {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('Run the worker with --expose-gc');
  gc();
  gc();
  const before = process.memoryUsage();
  const hwmReset = resetPeakRss();
  let [rssPeak, heapPeak, samples] = [before.rss, before.heapUsed, 0];
  const sample = () => {
    const usage = process.memoryUsage();
    rssPeak = Math.max(rssPeak, usage.rss);
    heapPeak = Math.max(heapPeak, usage.heapUsed);
  };
  const sampler = setInterval(() => (sample(), samples++), 5);

  const cpuBefore = process.cpuUsage();
  const startEpochMs = epochNow();
  const started = performance.now();
  const { count, scans } = await run();
  const ms = performance.now() - started;
  const endEpochMs = epochNow();
  const opCpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  sample();
  const hwm = hwmReset ? peakRssBytes() : undefined;
  return {
    /** Keys deleted (flushes) or counted (counts), as the operation reported. */
    count,
    ms,
    /** Wall-clock bounds of the operation, to pick the GETs sent meanwhile. */
    startEpochMs,
    endEpochMs,
    /** SCAN calls made (hand-written loops only; the module does not say). */
    ...(scans !== undefined && { scans }),
    opCpuMs: (opCpu.user + opCpu.system) / 1000,
    rssBeforeBytes: before.rss,
    heapUsedBeforeBytes: before.heapUsed,
    rssPeakBytes: Math.max(hwm ?? 0, rssPeak),
    /** True when the high-water mark could not be reset and the peak is from the samples. */
    rssPeakSampled: hwm === undefined,
    heapUsedPeakBytes: heapPeak,
    samples,
  };
}

async function main(): Promise<void> {
  const args = new Args([], ['variant', 'redis', 'db', 'app', 'device']);
  const variant = args.required('variant') as BulkVariant;
  if (!BULK_VARIANTS.includes(variant)) throw new Error(`Unknown --variant ${variant}`);
  const client = new Redis(args.required('redis'), { db: args.number('db', 0), lazyConnect: true });
  await client.connect();
  const run = await prepare(variant, client, args.required('app'), args.required('device'));
  await client.ping();
  const timed = await timeOperation(run);
  client.disconnect();
  const { user, system } = process.cpuUsage();
  const result: BulkWorkerResult = { variant, ...timed, cpuMs: (user + system) / 1000 };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
