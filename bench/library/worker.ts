// One variant of the library benchmark, in its own process: connects, warms up, prints
// `READY {json}`, then for every `RUN <ms>` line on stdin runs --concurrency operations in flight
// (a closed loop: each completion issues the next) for that long and prints `SLICE {json}`; `KEEP`
// adds that slice to its result, `DROP` forgets it (other work took the CPU meanwhile); on `END`
// it deletes the keys it wrote, closes its client and prints `RESULT {json}`.
//   node bench/dist/bench/library/worker.js --variant cache-get-hit \
//     --redis redis://127.0.0.1:6379 --warmup 2 --concurrency 64
import { createInterface } from 'node:readline';
import { Args } from '../support/args';
import { addTally, ClosedLoop, emptyTally } from '../support/closed-loop';
import type { Tally } from '../support/closed-loop';
import type { Operation } from './clients/operation';
import { LIBRARY_VARIANTS, parseVariant } from './variants';
import type { LibraryVariant, WorkerReady, WorkerResult, WorkerSlice } from './variants';

/**
 * The variant's operation. Each client's module is loaded only by its own workers, so no worker
 * carries another client's code (and heap).
 */
async function operationFor(variant: LibraryVariant, url: string): Promise<Operation> {
  const { client, operation } = parseVariant(variant);
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

function print(tag: string, value: unknown): Promise<void> {
  return new Promise((resolve) =>
    process.stdout.write(`${tag} ${JSON.stringify(value)}\n`, () => resolve()),
  );
}

async function main(): Promise<void> {
  const args = new Args([], ['variant', 'redis', 'warmup', 'concurrency']);
  const [variant] = args.list('variant', [], LIBRARY_VARIANTS);
  if (!variant) throw new Error('Missing --variant');
  const url = args.required('redis');
  const warmupMs = args.number('warmup', 2) * 1000;
  const concurrency = args.number('concurrency', 64);

  const operation = await operationFor(variant, url);
  // Every client's run and isExpected are arrow functions: passed as they are, no wrapper per call.
  const loop = new ClosedLoop(operation.run, operation.isExpected, concurrency, true);
  const kept = emptyTally();
  let last: Tally | undefined;
  // Warm-up: JIT, connection, and a check that the variant does what it should.
  const warmup = await loop.run(warmupMs);
  if (warmup.ops === 0 || warmup.unexpected + warmup.errors > 0) {
    throw new Error(
      `${variant}: warm-up completed ${warmup.ops} operations, ${warmup.unexpected} unexpected results, ${warmup.errors} errors`,
    );
  }
  const ready: WorkerReady = { variant, pid: process.pid, node: process.version };
  await print('READY', ready);

  // Commands come one per line; each RUN is answered by a SLICE line before the next is read.
  const commands = createInterface({ input: process.stdin });
  for await (const line of commands) {
    const [command, argument] = line.trim().split(/\s+/);
    if (command === 'RUN') {
      last = await loop.run(Number(argument));
      const { ops, seconds, cpuUs, unexpected, errors } = last;
      const slice: WorkerSlice = {
        ops,
        seconds,
        opsPerSec: ops / seconds,
        cpuUs,
        unexpected,
        errors,
      };
      await print('SLICE', slice);
    } else if (command === 'KEEP') {
      if (last) addTally(kept, last);
      last = undefined;
    } else if (command === 'DROP') {
      // The slice is simply not added.
    } else if (command === 'END') {
      break;
    } else {
      throw new Error(`Unknown command ${JSON.stringify(line)}`);
    }
  }
  commands.close();

  const metricsCount = await operation.metricsCount?.();
  await operation.close();
  const lifetime = process.cpuUsage();
  const { ops, seconds, cpuUs, unexpected, errors, latency } = kept;
  const result: WorkerResult = {
    variant,
    node: process.version,
    ops,
    seconds,
    opsPerSec: ops / seconds,
    p50Us: latency.count > 0 ? latency.percentile(50) / 1000 : NaN,
    p99Us: latency.count > 0 ? latency.percentile(99) / 1000 : NaN,
    meanUs: latency.count > 0 ? latency.mean / 1000 : NaN,
    cpuUsPerOp: cpuUs / ops,
    cores: cpuUs / 1e6 / seconds,
    unexpected,
    errors: errors + operation.swallowedErrors(),
    ...(metricsCount !== undefined && { metricsCount }),
    lifetimeCpuMs: (lifetime.user + lifetime.system) / 1000,
  };
  await print('RESULT', result);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
