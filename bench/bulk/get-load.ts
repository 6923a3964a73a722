// The other client, whose GET latency shows what an operation costs Redis's other users. Run as
// its own process (startGetLoad), so nothing the measuring process does delays its GETs: filler
// keys (always hits) on one connection, from --concurrency loops paced to --rate GETs per second
// in all. It prints `READY {"baseEpochMs"}`, then every 100 ms `BATCH {json}` (a GetBatch), and
// stops on SIGTERM.
import { Redis } from 'ioredis';
import { Args } from '../support/args';
import { Child } from '../support/child';
import { benchScript } from '../support/paths';
import { pinnedCommand } from '../support/pin';
import { sleep } from '../support/stats';
import { FILLER_VALUE, fillerKey } from './dataset';

interface GetBatch {
  /** Every GET sent before this (ms after baseEpochMs) has completed and is reported. */
  watermark: number;
  /** Send times, in ms after baseEpochMs. */
  sent: number[];
  /** Latencies in µs, or -1 for a GET that failed or did not return the value. */
  latencyUs: number[];
}

/** The GETs sent during one window. */
export interface GetLatency {
  gets: number;
  /** GETs that failed or did not return the value. */
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface GetLoad {
  pid: number | undefined;
  /**
   * Latency of the GETs sent from `startEpochMs` to `endEpochMs`, once all have been reported (one
   * held up by the operation completes after it). Windows are asked for in order: what precedes
   * the window's end is forgotten.
   */
  window(startEpochMs: number, endEpochMs: number): Promise<GetLatency>;
  stop(): Promise<void>;
}

export interface GetLoadOptions {
  url: string;
  /** Else the URL's. */
  db?: number;
  /** The filler's tag and size: the GETs read filler keys 0 … fillerKeys - 1. */
  tag: string;
  fillerKeys: number;
  concurrency: number;
  rate: number;
  pin: boolean;
}

export const epochNow = () => performance.timeOrigin + performance.now();

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export async function startGetLoad(options: GetLoadOptions): Promise<GetLoad> {
  const { child, info } = await Child.ready<{ baseEpochMs: number }>(
    ...pinnedCommand(options.pin, process.execPath, [
      benchScript('bulk/get-load.js'),
      ...['--redis', options.url, '--tag', options.tag],
      ...(options.db !== undefined ? ['--db', String(options.db)] : []),
      ...['--filler-keys', String(options.fillerKeys)],
      ...['--concurrency', String(options.concurrency), '--rate', String(options.rate)],
    ]),
  );
  let pending: { sent: number; latencyUs: number }[] = [];
  let watermark = Number.NEGATIVE_INFINITY;
  const drain = () => {
    for (const line of child.lines.splice(0)) {
      if (!line.startsWith('BATCH ')) continue;
      const batch = JSON.parse(line.slice(6)) as GetBatch;
      batch.sent.forEach((sent, i) => pending.push({ sent, latencyUs: batch.latencyUs[i] }));
      watermark = batch.watermark;
    }
  };
  return {
    pid: child.pid,
    async window(startEpochMs, endEpochMs) {
      const [start, end] = [startEpochMs - info.baseEpochMs, endEpochMs - info.baseEpochMs];
      const deadline = performance.now() + 10_000;
      for (drain(); watermark < end; drain()) {
        if (!child.running) throw new Error('The GET load process exited');
        if (performance.now() > deadline) {
          throw new Error('The GET load reported nothing past the window for 10 s');
        }
        await sleep(20);
      }
      const within = pending.filter(({ sent }) => sent >= start && sent < end);
      pending = pending.filter(({ sent }) => sent >= end);
      const latencies = within
        .filter(({ latencyUs }) => latencyUs >= 0)
        .map(({ latencyUs }) => latencyUs / 1000)
        .sort((a, b) => a - b);
      return {
        gets: within.length,
        failed: within.length - latencies.length,
        p50Ms: percentile(latencies, 0.5),
        p99Ms: percentile(latencies, 0.99),
        maxMs: latencies.length > 0 ? latencies[latencies.length - 1] : Number.NaN,
      };
    },
    stop: () => child.stop(),
  };
}

/** The load process itself. */
async function main(): Promise<void> {
  const args = new Args([], ['redis', 'db', 'tag', 'filler-keys', 'concurrency', 'rate']);
  const tag = args.required('tag');
  const fillerKeys = args.number('filler-keys', 1);
  const concurrency = args.number('concurrency', 16);
  const db = args.string('db');
  const client = new Redis(args.required('redis'), {
    lazyConnect: true,
    ...(db !== undefined && { db: Number(db) }),
  });
  await client.connect();

  const baseEpochMs = epochNow();
  const base = performance.now();
  const now = () => performance.now() - base;
  // Each loop sends one GET every `intervalMs`, the loops staggered over the interval.
  const intervalMs = (1000 * concurrency) / args.number('rate', 4000);
  const inFlightSince = new Array<number>(concurrency).fill(Number.NaN);
  let batch: GetBatch = { watermark: 0, sent: [], latencyUs: [] };
  let running = true;

  const loop = async (index: number) => {
    let next = now() + (index * intervalMs) / concurrency;
    while (running) {
      if (next > now()) await sleep(next - now());
      if (!running) break;
      const key = fillerKey(tag, Math.floor(Math.random() * fillerKeys));
      const start = (inFlightSince[index] = now());
      let latencyUs = -1;
      try {
        const value = await client.getBuffer(key);
        if (value?.length === FILLER_VALUE.length) latencyUs = Math.round((now() - start) * 1000);
      } catch {
        // counted as failed
      }
      inFlightSince[index] = Number.NaN;
      batch.sent.push(Math.round(start * 1000) / 1000);
      batch.latencyUs.push(latencyUs);
      // A stalled GET delays only its own loop's schedule; the others keep sending meanwhile.
      next = Math.max(next + intervalMs, now());
    }
  };

  const parent = process.ppid;
  const report = () => {
    // Never outlive the orchestrator (killed without the chance to stop us).
    if (process.ppid !== parent) running = false;
    const inFlight = inFlightSince.filter((since) => !Number.isNaN(since));
    batch.watermark = inFlight.length > 0 ? Math.min(...inFlight) : now();
    process.stdout.write(`BATCH ${JSON.stringify(batch)}\n`);
    batch = { watermark: 0, sent: [], latencyUs: [] };
  };

  const loops = Array.from({ length: concurrency }, (_, i) => loop(i));
  const reporter = setInterval(report, 100);
  process.once('SIGTERM', () => (running = false));
  process.stdout.write(`READY ${JSON.stringify({ baseEpochMs })}\n`);
  await Promise.all(loops);
  clearInterval(reporter);
  report();
  client.disconnect();
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
