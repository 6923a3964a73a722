// One round of the timeout-bounding microbenchmark, in its own process: every variant gets its own
// ioredis connection, and the variants take turns in short slices (order rotating every cycle)
// until each has run for --duration seconds, so drift in the machine's speed hits all of them
// alike. Prints `RESULT {json}` (a WorkerResult) per variant.
//   node bench/dist/bench/timeouts/worker.js --variants unbounded,one-timer-deadlines \
//     --redis redis://127.0.0.1:6379 --duration 5 --slice 0.5
import { Command, Redis } from 'ioredis';
import { RedisCache } from '../../src';
import { CommandDeadlines } from '../../src/stores/command-deadlines';
import { Args } from '../support/args';
import { BENCH_APP, BENCH_DEVICE, BENCH_KEY, BENCH_VALUE } from '../support/redis';
import { addTally, ClosedLoop, emptyTally } from '../support/closed-loop';
import { rotate } from '../support/stats';
import { TIMEOUT_MS, TIMEOUT_VARIANTS } from './variants';
import type { TimeoutVariant, WorkerResult } from './variants';

/** An operation and how to tell a hit from its result. */
interface Operation {
  run(): Promise<unknown>;
  isHit(result: unknown): boolean;
  /** Commands the variant's own deadline mechanism timed out (none expected). */
  timedOut(): number;
}

const bufferHit = (result: unknown) =>
  Buffer.isBuffer(result) && result.length === BENCH_VALUE.length;
const none = () => 0;

async function operationFor(variant: TimeoutVariant, client: Redis): Promise<Operation> {
  switch (variant) {
    case 'unbounded':
    case 'ioredis-commandTimeout':
      return { run: () => client.getBuffer(BENCH_KEY), isHit: bufferHit, timedOut: none };
    case 'one-timer-deadlines': {
      const cache = (
        await RedisCache.fromClient(client, { operationTimeoutMs: TIMEOUT_MS })
      ).withContext(BENCH_APP, BENCH_DEVICE);
      return {
        run: () => cache.get('k'),
        isHit: (result) => (result as { found: boolean }).found,
        // A timed-out GET fails open: it shows up as a miss.
        timedOut: none,
      };
    }
    case 'one-timer-deadlines-raw': {
      let timedOut = 0;
      const deadlines = new CommandDeadlines(TIMEOUT_MS, () => timedOut++);
      // The same shape as RedisStore.track: the entry settles with the command, whose own promise
      // is handed back (no async frame).
      const run = () => {
        const command = new Command('get', [BENCH_KEY], { replyEncoding: null });
        deadlines.track(command);
        return client.sendCommand(command) as Promise<unknown>;
      };
      return { run, isHit: bufferHit, timedOut: () => timedOut };
    }
    case 'sendCommand-no-deadline': {
      const run = () => {
        const command = new Command('get', [BENCH_KEY], { replyEncoding: null });
        return client.sendCommand(command) as Promise<unknown>;
      };
      return { run, isHit: bufferHit, timedOut: none };
    }
  }
}

/** One variant: its connection, its loop and the slices it counted. */
class Runner {
  readonly counted = emptyTally();
  readonly slices: number[] = [];
  private readonly loop: ClosedLoop;

  constructor(
    readonly variant: TimeoutVariant,
    readonly client: Redis,
    private readonly operation: Operation,
    concurrency: number,
  ) {
    this.loop = new ClosedLoop(operation.run, operation.isHit, concurrency, false);
  }

  /** Runs the loop for `ms`; adds what completed to the result when `count`. */
  async slice(ms: number, count: boolean): Promise<void> {
    const slice = await this.loop.run(ms);
    if (!count) return;
    addTally(this.counted, slice);
    this.slices.push(slice.ops / slice.seconds);
  }

  result(): WorkerResult {
    const { ops, unexpected, errors, cpuUs, seconds } = this.counted;
    return {
      variant: this.variant,
      node: process.version,
      ops,
      seconds,
      opsPerSec: ops / seconds,
      misses: unexpected,
      errors,
      timedOut: this.operation.timedOut(),
      cpuUsPerOp: cpuUs / ops,
      cores: cpuUs / 1e6 / seconds,
      slicesOpsPerSec: this.slices,
      cpuMs: 0,
    };
  }
}

async function main(): Promise<void> {
  const args = new Args(
    [],
    ['variants', 'redis', 'duration', 'slice', 'warmup', 'concurrency', 'offset'],
  );
  const variants = args.list('variants', [], TIMEOUT_VARIANTS);
  if (variants.length === 0) throw new Error('Missing --variants');
  const durationMs = args.number('duration', 5) * 1000;
  const sliceMs = Math.min(args.number('slice', 0.5) * 1000, durationMs);
  const warmupMs = args.number('warmup', 1) * 1000;
  const concurrency = args.number('concurrency', 64);
  const offset = Number(args.string('offset') ?? 0);
  const url = args.required('redis');

  const runners: Runner[] = [];
  for (const variant of variants) {
    const client = new Redis(url, {
      lazyConnect: true,
      ...(variant === 'ioredis-commandTimeout' && { commandTimeout: TIMEOUT_MS }),
    });
    await client.connect();
    runners.push(new Runner(variant, client, await operationFor(variant, client), concurrency));
  }

  for (const runner of rotate(runners, offset)) await runner.slice(warmupMs, false);
  const cycles = Math.max(1, Math.round(durationMs / sliceMs));
  for (let cycle = 0; cycle < cycles; cycle++) {
    for (const runner of rotate(runners, offset + cycle)) await runner.slice(sliceMs, true);
  }

  const cpu = process.cpuUsage();
  for (const runner of runners) {
    runner.client.disconnect();
    const result = runner.result();
    result.cpuMs = (cpu.user + cpu.system) / 1000;
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
