// One variant of the library or timeouts benchmark, in its own process: connects, warms up, prints
// `READY`, then for every `RUN <ms>` line on stdin runs --concurrency operations in flight (a
// closed loop: each completion issues the next) for that long and prints `SLICE {json}`; `KEEP`
// adds that slice to its result (a slice not kept, as other work took the CPU meanwhile, is
// forgotten); on `END` it deletes the keys it wrote, closes its client and prints `RESULT {json}`.
//   node bench/dist/bench/library/worker.js --variant cache-get-hit \
//     --redis redis://127.0.0.1:6379 --warmup 2 --concurrency 64 [--latency]
import { createInterface } from 'node:readline';
import { Args } from '../support/args';
import { addTally, ClosedLoop, emptyTally } from '../support/closed-loop';
import type { Tally } from '../support/closed-loop';
import { LIBRARY_VARIANTS, parseVariant } from './variants';
import type { LibraryVariant, Operation } from './variants';

/**
 * The variant's operation. Each client's module is loaded only by its own workers, so no worker
 * carries another client's code (and heap).
 */
async function operationFor(variant: string, url: string): Promise<Operation> {
  // The timeouts benchmark's variants (checked there) are not library variants.
  if (!LIBRARY_VARIANTS.includes(variant as LibraryVariant)) {
    return (await import('../timeouts/variants')).timeoutOperation(variant, url);
  }
  const { client, operation } = parseVariant(variant as LibraryVariant);
  switch (client) {
    case 'cache':
      return (await import('./clients/cache.client')).cacheOperation(url, operation);
    case 'ioredis':
      return (await import('./clients/ioredis.client')).ioredisOperation(url, operation, false);
    case 'ioredis-autopipeline':
      return (await import('./clients/ioredis.client')).ioredisOperation(url, operation, true);
    case 'cache-manager':
      return (await import('./clients/cache-manager.client')).cacheManagerOperation(url, operation);
  }
}

/** What a worker prints after `SLICE `, for each `RUN <ms>`. */
export type WorkerSlice = Omit<Tally, 'latency'>;

/** What a worker prints after `RESULT `: the slices it was told to KEEP, added up. */
export type WorkerResult = ReturnType<typeof resultOf>;

function resultOf(variant: string, kept: Tally, swallowedErrors: number, metricsCount?: number) {
  const { ops, seconds, cpuUs, unexpected, errors, latency } = kept;
  // NaN unless --latency: the loop read no clock.
  const latencyUs = (ns: number) => (latency.count > 0 ? ns / 1000 : NaN);
  return {
    variant,
    node: process.version,
    ops,
    seconds,
    opsPerSec: ops / seconds,
    /** Latency of every measured operation (issue to settle, with the others in flight), in µs. */
    p50Us: latencyUs(latency.percentile(50)),
    p99Us: latencyUs(latency.percentile(99)),
    meanUs: latencyUs(latency.mean),
    /** CPU time per operation while measured, in µs: the client-side cost of one operation. */
    cpuUsPerOp: cpuUs / ops,
    /** CPU the worker used while measured, in cores (≈ 1 when it is the bottleneck). */
    cores: cpuUs / 1e6 / seconds,
    /** Results that were not what the variant expects (a miss on a hit key, say). */
    unexpected,
    /** Operations that rejected, plus failures the client swallowed (the cache fails open). */
    errors: errors + swallowedErrors,
    /** `cache` variants: the module's own counter for the expected result (warm-up included). */
    ...(metricsCount !== undefined && { metricsCount }),
  };
}

function print(tag: string, value: unknown): Promise<void> {
  return new Promise((resolve) =>
    process.stdout.write(`${tag} ${JSON.stringify(value)}\n`, () => resolve()),
  );
}

async function main(): Promise<void> {
  const args = new Args(['latency'], ['variant', 'redis', 'warmup', 'concurrency']);
  const variant = args.required('variant');
  const operation = await operationFor(variant, args.required('redis'));
  // Every client's run and isExpected are arrow functions: passed as they are, no wrapper per call.
  const loop = new ClosedLoop(
    operation.run,
    operation.isExpected,
    args.number('concurrency', 64),
    args.flag('latency'),
  );
  // Warm-up: JIT, connection, and a check that the variant does what it should.
  const warmup = await loop.run(args.number('warmup', 2) * 1000);
  if (warmup.ops === 0 || warmup.unexpected + warmup.errors > 0) {
    throw new Error(
      `${variant}: warm-up completed ${warmup.ops} operations, ${warmup.unexpected} unexpected results, ${warmup.errors} errors`,
    );
  }
  await print('READY', { variant, pid: process.pid });

  const kept = emptyTally();
  let last: Tally | undefined;
  // Commands come one per line; each RUN is answered by a SLICE line before the next is read.
  const commands = createInterface({ input: process.stdin });
  for await (const line of commands) {
    const [command, argument] = line.trim().split(/\s+/);
    if (command === 'RUN') {
      last = await loop.run(Number(argument));
      const { ops, seconds, cpuUs, unexpected, errors } = last;
      await print('SLICE', { ops, seconds, cpuUs, unexpected, errors } satisfies WorkerSlice);
    } else if (command === 'KEEP') {
      if (last) addTally(kept, last);
      last = undefined;
    } else if (command === 'END') {
      break;
    } else {
      throw new Error(`Unexpected command ${JSON.stringify(line)}`);
    }
  }
  commands.close();

  const metricsCount = await operation.metricsCount?.();
  // Closed first: closing deletes the keys the variant wrote.
  await operation.close();
  if (metricsCount !== undefined && !(metricsCount >= kept.ops)) {
    throw new Error(
      `${variant}: the module's metrics counted ${metricsCount} operations, fewer than the ${kept.ops} measured`,
    );
  }
  await print('RESULT', resultOf(variant, kept, operation.swallowedErrors(), metricsCount));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
