// The closed-loop harness of the library and timeouts benchmarks. Per round and Node version every
// variant's worker (worker.ts) is started fresh, pinned to cpu 0 and warmed up; then the workers
// take turns in slices, the order rotating every cycle, until each has been measured --duration:
// drift in the machine's speed hits all variants alike, so ratios within a round are fair.
import type { Args } from '../support/args';
import { Child, parseFigures } from '../support/child';
import { cpuWindow, measureQuietly } from '../support/cpu';
import { describeEnvironment, srcCommit } from '../support/environment';
import type { NodeRuntime } from '../support/nodes';
import { benchScript } from '../support/paths';
import { describePinning, pinnedCommand, pinSupport } from '../support/pin';
import { BENCH_VALUE } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { medianOf, sumOf } from '../support/report';
import { loadControlFrom } from '../support/run-control';
import { formatInt, max, rotate } from '../support/stats';
import type { WorkerResult, WorkerSlice } from './worker';

/** The options of both runners, beside benchArgs' own. */
export const HARNESS_OPTIONS = [
  'rounds',
  'duration',
  'slice',
  'warmup',
  'concurrency',
  'nodes',
  'variants',
];

interface Defaults {
  rounds: number;
  durationS: number;
  sliceS: number;
  warmupS: number;
}

/** `latency`: record each operation's latency (two clock reads per operation, so CPU). */
export function harnessSettings(args: Args, defaults: Defaults, command: string, latency: boolean) {
  const load = loadControlFrom(args);
  if (args.number('slice', defaults.sliceS) === 0) throw new Error('--slice must be above 0');
  return {
    mode: args.flag('quick') ? ('quick' as const) : ('default' as const),
    rounds: args.number('rounds', defaults.rounds),
    durationS: args.number('duration', defaults.durationS),
    sliceS: Math.min(
      args.number('slice', defaults.sliceS),
      args.number('duration', defaults.durationS),
    ),
    warmupS: args.number('warmup', defaults.warmupS),
    concurrency: args.number('concurrency', 64),
    latency,
    ...load,
    valueBytes: Buffer.byteLength(BENCH_VALUE),
    pinning: describePinning(load.pin, 'each worker'),
    command,
  };
}
export type HarnessSettings = ReturnType<typeof harnessSettings>;

/** A started worker and the slices it kept. */
interface Worker {
  variant: string;
  child: Child;
  position: number;
  slices: (WorkerSlice & { foreignCores: number; attempts: number })[];
}

/** Workers still running, for Ctrl-C. */
const live = new Set<Child>();

/** Kills the workers of a run in progress (on failure or Ctrl-C). */
export async function abortWorkers(): Promise<void> {
  await Promise.all([...live].map((child) => child.kill()));
  live.clear();
}

/** Every round on every Node version: each variant's rounds, and the run's environment. */
export async function measureVariants<V extends string>(
  redis: BenchRedis,
  nodes: NodeRuntime[],
  variants: readonly V[],
  settings: HarnessSettings,
) {
  // The src/ this run measures: bench/dist was compiled from it just before.
  const measuredSrc = srcCommit();
  const redisVersion = await redis.version();
  pinSupport(settings.pin, redis);
  console.log(
    `Redis ${redisVersion} at ${redis.url}; ${nodes.map((n) => n.version).join(', ')}; ` +
      `${settings.rounds} round(s) × ${variants.length} variants, ${settings.warmupS} s warm-up + ${settings.durationS} s each in ${settings.sliceS} s slices, ` +
      `${settings.concurrency} in flight; ${describePinning(settings.pin, 'worker')}`,
  );
  const rows = nodes.flatMap((node) =>
    variants.map((variant) => ({
      nodeMajor: node.major,
      nodeVersion: node.version,
      variant,
      rounds: [] as Round[],
    })),
  );
  try {
    for (let round = 1; round <= settings.rounds; round++) {
      for (const node of nodes) {
        for (const figures of await runRound(node, variants, round, settings, redis)) {
          rows
            .find((r) => r.nodeMajor === node.major && r.variant === figures.variant)!
            .rounds.push(figures);
          console.log(
            `round ${round}/${settings.rounds} node ${node.major} ${describeRound(figures)}`,
          );
        }
      }
    }
  } finally {
    await abortWorkers();
  }
  const environment = describeEnvironment(
    nodes,
    { version: redisVersion, owned: redis.owned },
    measuredSrc,
  );
  return { settings, environment, rows };
}

function describeRound(figures: Round): string {
  const wrong = figures.unexpected + figures.errors;
  const latency = Number.isFinite(figures.p50Us)
    ? `  p50 ${figures.p50Us.toFixed(0)} µs p99 ${figures.p99Us.toFixed(0)} µs`
    : '';
  return (
    `${figures.variant.padEnd(32)} ${formatInt(figures.opsPerSec).padStart(8)} ops/s${latency}` +
    `  ${figures.cpuUsPerOp.toFixed(2)} µs CPU/op, worker ${figures.cores.toFixed(2)} cores` +
    `  other load ${figures.foreignCores.toFixed(2)}` +
    (wrong > 0 ? `  (${figures.unexpected} unexpected, ${figures.errors} errors)` : '')
  );
}

/** One round on one Node: all workers up and warm, then interleaved slices, then their results. */
async function runRound(
  node: NodeRuntime,
  variants: readonly string[],
  round: number,
  settings: HarnessSettings,
  redis: BenchRedis,
): Promise<Round[]> {
  await redis.seed();
  const workers: Worker[] = [];
  for (const [index, variant] of rotate(variants, round - 1).entries()) {
    const { child } = await Child.ready(
      ...pinnedCommand(settings.pin, node.binary, [
        ...settings.nodeArgs,
        benchScript('library/worker.js'),
        ...['--variant', variant, '--redis', redis.url],
        ...['--warmup', String(settings.warmupS), '--concurrency', String(settings.concurrency)],
        ...(settings.latency ? ['--latency'] : []),
      ]),
      { label: variant, stdin: true, echo: true },
    );
    live.add(child);
    workers.push({ variant, child, position: index + 1, slices: [] });
  }
  const ownPids = [redis.pid, ...workers.map((w) => w.child.pid)];
  const cycles = Math.max(1, Math.round(settings.durationS / settings.sliceS));
  for (let cycle = 0; cycle < cycles; cycle++) {
    for (const worker of rotate(workers, cycle)) {
      worker.slices.push(await measureSlice(worker, settings, ownPids));
    }
  }
  const results: Round[] = [];
  for (const worker of workers) {
    worker.child.send('END');
    const result = parseFigures<WorkerResult>(await worker.child.next('RESULT', 30_000));
    await worker.child.finished();
    live.delete(worker.child);
    results.push(roundFigures(worker, result, round));
  }
  // Report order: the variants' own order, not the round's starting order.
  return variants.map((variant) => results.find((r) => r.variant === variant)!);
}

/** One slice of one worker, measured again when other work took the CPU meanwhile. */
async function measureSlice(
  worker: Worker,
  settings: HarnessSettings,
  ownPids: (number | undefined)[],
) {
  const slice = await measureQuietly(settings, ownPids, worker.variant, async () => {
    const cpu = cpuWindow(ownPids);
    worker.child.send(`RUN ${Math.round(settings.sliceS * 1000)}`);
    const figures = parseFigures<WorkerSlice>(
      await worker.child.next('SLICE', settings.sliceS * 1000 + 30_000),
    );
    return { ...figures, foreignCores: cpu.foreignCores() };
  });
  // The worker adds a slice to its result only when told KEEP.
  worker.child.send('KEEP');
  return slice;
}

/** A worker's result must agree with the slices kept. */
function roundFigures(worker: Worker, result: WorkerResult, round: number) {
  const keptOps = sumOf(worker.slices, (s) => s.ops);
  if (result.ops === 0) throw new Error(`${worker.variant}: no operation completed`);
  if (result.ops !== keptOps) {
    throw new Error(
      `${worker.variant}: worker kept ${result.ops} operations, slices say ${keptOps}`,
    );
  }
  return {
    round,
    /** Position of this variant in its round's starting order (the order rotates per round). */
    position: worker.position,
    ...result,
    slicesOpsPerSec: worker.slices.map((s) => Math.round(s.ops / s.seconds)),
    /** The most CPU other work took during a kept slice, in cores. */
    foreignCores: max(worker.slices.map((s) => s.foreignCores)),
    /** 1 + the slices measured again because other work took CPU meanwhile. */
    attempts: 1 + sumOf(worker.slices, (s) => s.attempts - 1),
  };
}
export type Round = ReturnType<typeof roundFigures>;

/** Medians over a variant's rounds. */
export const summaryOf = (rounds: readonly Round[]) => ({
  opsPerSecMedian: medianOf(rounds, (r) => r.opsPerSec),
  p50UsMedian: medianOf(rounds, (r) => r.p50Us),
  p99UsMedian: medianOf(rounds, (r) => r.p99Us),
  cpuUsPerOpMedian: medianOf(rounds, (r) => r.cpuUsPerOp),
  workerCoresMedian: medianOf(rounds, (r) => r.cores),
});
