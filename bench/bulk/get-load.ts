// The other client: GETs of filler keys (always hits) on its own connection, from --concurrency
// loops paced to --rate GETs per second in all, for as long as it runs. Prints
// `READY {"pid","baseEpochMs"}`, then every 100 ms `BATCH {json}` (a GetBatch): each GET's send
// time and latency, and a watermark before which every GET sent has been reported. Stops on
// SIGTERM.
//   node bench/dist/bench/bulk/get-load.js --redis redis://127.0.0.1:PORT --db 0 --tag TAG \
//     --filler-keys 980000 --concurrency 16 --rate 4000
import { Redis } from 'ioredis';
import { Args } from '../support/args';
import { sleep } from '../support/stats';
import { FILLER_VALUE, fillerKey } from './dataset';

/** What the load process reports every 100 ms. */
export interface GetBatch {
  /** Every GET sent before this (ms after baseEpochMs) has completed and been reported. */
  watermark: number;
  /** Send times, in ms after baseEpochMs. */
  sent: number[];
  /** Latencies in µs, or -1 for a GET that failed or did not return the value. */
  latencyUs: number[];
}

const REPORT_INTERVAL_MS = 100;

async function main(): Promise<void> {
  const args = new Args([], ['redis', 'db', 'tag', 'filler-keys', 'concurrency', 'rate']);
  const tag = args.required('tag');
  const fillerKeys = args.number('filler-keys', 1);
  const concurrency = args.number('concurrency', 16);
  const rate = args.number('rate', 4000);
  const client = new Redis(args.required('redis'), {
    db: Number(args.string('db') ?? 0),
    lazyConnect: true,
  });
  await client.connect();

  const baseEpochMs = performance.timeOrigin + performance.now();
  const base = performance.now();
  const now = () => performance.now() - base;
  // Each loop sends one GET every `intervalMs`, the loops staggered over the interval.
  const intervalMs = (1000 * concurrency) / rate;
  const inFlightSince = new Array<number>(concurrency).fill(Number.NaN);
  let sent: number[] = [];
  let latencyUs: number[] = [];
  let running = true;

  const loop = async (index: number) => {
    let next = now() + (index * intervalMs) / concurrency;
    while (running) {
      const wait = next - now();
      if (wait > 0) await sleep(wait);
      if (!running) break;
      const key = fillerKey(tag, Math.floor(Math.random() * fillerKeys));
      const start = now();
      inFlightSince[index] = start;
      let latency: number;
      try {
        const value = await client.getBuffer(key);
        latency = value?.length === FILLER_VALUE.length ? (now() - start) * 1000 : -1;
      } catch {
        latency = -1;
      }
      inFlightSince[index] = Number.NaN;
      sent.push(Math.round(start * 1000) / 1000);
      latencyUs.push(Math.round(latency));
      // A stalled GET delays only its own loop's schedule; the others keep sending meanwhile.
      next = Math.max(next + intervalMs, now());
    }
  };

  const parent = process.ppid;
  const report = () => {
    // Never outlive the orchestrator (killed without the chance to stop us).
    if (process.ppid !== parent) running = false;
    const pending = inFlightSince.filter((since) => !Number.isNaN(since));
    const batch: GetBatch = {
      watermark: pending.length > 0 ? Math.min(...pending) : now(),
      sent,
      latencyUs,
    };
    sent = [];
    latencyUs = [];
    process.stdout.write(`BATCH ${JSON.stringify(batch)}\n`);
  };

  const loops = Array.from({ length: concurrency }, (_, i) => loop(i));
  const reporter = setInterval(report, REPORT_INTERVAL_MS);
  process.once('SIGTERM', () => {
    running = false;
  });
  process.stdout.write(`READY ${JSON.stringify({ pid: process.pid, baseEpochMs })}\n`);
  await Promise.all(loops);
  clearInterval(reporter);
  report();
  client.disconnect();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
