// The other client, whose GET latency shows what an operation costs Redis's other users. It runs
// as its own process (startGetLoad), so nothing the measuring process does delays its GETs: filler
// keys (always hits) on one connection, from --concurrency loops paced to --rate GETs per second
// in all. Asked `WINDOW start end` (epoch ms) on stdin, it answers `WINDOW {json}` (a GetLatency)
// once every GET sent in the window has completed. It stops on SIGTERM (stop()), or when its stdin
// closes (the orchestrator died).
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { Args } from '../support/args';
import { Child, parseFigures } from '../support/child';
import { benchScript } from '../support/paths';
import { pinnedCommand } from '../support/pin';
import { sleep } from '../support/stats';
import { FILLER_VALUE, fillerKey } from './dataset';

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
  /** The GETs sent from `startEpochMs` to `endEpochMs`; windows are asked for in order. */
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

export async function startGetLoad(options: GetLoadOptions): Promise<GetLoad> {
  const { child } = await Child.ready(
    ...pinnedCommand(options.pin, process.execPath, [
      benchScript('bulk/get-load.js'),
      ...['--redis', options.url, '--tag', options.tag],
      ...(options.db !== undefined ? ['--db', String(options.db)] : []),
      ...['--filler-keys', String(options.fillerKeys)],
      ...['--concurrency', String(options.concurrency), '--rate', String(options.rate)],
    ]),
    { stdin: true },
  );
  return {
    pid: child.pid,
    async window(startEpochMs, endEpochMs) {
      child.send(`WINDOW ${startEpochMs} ${endEpochMs}`);
      return parseFigures<GetLatency>(await child.next('WINDOW', 10_000));
    },
    stop: () => child.stop(),
  };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
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

  // Each loop sends one GET every `intervalMs`, the loops staggered over the interval.
  const intervalMs = (1000 * concurrency) / args.number('rate', 4000);
  const inFlightSince = new Array<number>(concurrency).fill(Number.NaN);
  /** Completed GETs: when each was sent (epoch ms), and its latency (ms; -1: failed or missed). */
  let done: { sent: number; ms: number }[] = [];
  let running = true;

  const loop = async (index: number) => {
    let next = performance.now() + (index * intervalMs) / concurrency;
    while (running) {
      if (next > performance.now()) await sleep(next - performance.now());
      if (!running) break;
      const key = fillerKey(tag, Math.floor(Math.random() * fillerKeys));
      const sent = (inFlightSince[index] = epochNow());
      let ms = -1;
      try {
        const value = await client.getBuffer(key);
        if (value?.length === FILLER_VALUE.length) ms = epochNow() - sent;
      } catch {
        // counted as failed
      }
      inFlightSince[index] = Number.NaN;
      done.push({ sent, ms });
      // A stalled GET delays only its own loop's schedule; the others keep sending meanwhile.
      next = Math.max(next + intervalMs, performance.now());
    }
  };

  /** Once the window's GETs have all completed (one held up by the operation ends after it). */
  const answer = async (start: number, end: number) => {
    while (epochNow() < end || inFlightSince.some((since) => since < end)) await sleep(5);
    const within = done.filter(({ sent }) => sent >= start && sent < end);
    done = done.filter(({ sent }) => sent >= end);
    const latencies = within.flatMap(({ ms }) => (ms >= 0 ? [ms] : [])).sort((a, b) => a - b);
    const latency: GetLatency = {
      gets: within.length,
      failed: within.length - latencies.length,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies.length > 0 ? latencies[latencies.length - 1] : Number.NaN,
    };
    process.stdout.write(`WINDOW ${JSON.stringify(latency)}\n`);
  };

  const loops = Array.from({ length: concurrency }, (_, i) => loop(i));
  // Windows answered in the order asked; stdin closes when the orchestrator dies.
  let answering = Promise.resolve();
  const requests = createInterface({ input: process.stdin })
    .on('line', (line) => {
      const [start, end] = line.split(' ').slice(1).map(Number);
      answering = answering.then(() => answer(start, end));
    })
    .on('close', () => (running = false));
  process.once('SIGTERM', () => (running = false));
  process.stdout.write('READY {}\n');
  await Promise.all(loops);
  await answering;
  // An open stdin would keep the process alive.
  requests.close();
  process.stdin.destroy();
  client.disconnect();
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
