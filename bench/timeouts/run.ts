// Timeout-bounding microbenchmark: npm run bench:timeouts [-- --quick]
//
// Each round is one worker process (pinned to cpu 0) with one ioredis connection per variant;
// the variants take turns in short slices until each has run --duration seconds.
// Options: --quick (1 s per variant, results to bench/results/), --rounds N (3), --duration S (5),
// --slice S (0.5), --warmup S (1), --concurrency N (64), --nodes 20,24, --variants a,b (the
// baseline is always added), --out DIR, --node-args="--cpu-prof ...", --quiet-cores 0.2,
// --max-wait S, --max-foreign-cores 0.3, --retries N, --no-pin
import type { Args } from '../support/args';
import { resultsOf, runChild } from '../support/child';
import { cpuWindow, measureQuietly } from '../support/cpu';
import type { CpuWindow } from '../support/cpu';
import { describeEnvironment, srcCommit } from '../support/environment';
import { NODE_MAJORS, resolveNodes } from '../support/nodes';
import type { NodeRuntime } from '../support/nodes';
import { benchScript } from '../support/paths';
import { describePinning, pinnedCommand, pinSupport } from '../support/pin';
import { acquireBenchRedis, BENCH_VALUE } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { medianOf, outDirOf, ratioSummary } from '../support/report';
import { benchArgs, benchCommand, loadControlFrom, runBenchmark } from '../support/run-control';
import type { LoadControl } from '../support/run-control';
import { formatInt, median } from '../support/stats';
import { writeCoreReport } from '../injection/report';
import type { TimeoutRound } from '../injection/report';
import {
  TIMEOUT_BASELINE,
  TIMEOUT_MS,
  TIMEOUT_VARIANT_DESCRIPTIONS,
  TIMEOUT_VARIANTS,
} from './variants';
import type { TimeoutVariant, WorkerResult } from './variants';

interface Settings extends LoadControl {
  durationS: number;
  sliceS: number;
  warmupS: number;
  concurrency: number;
}

let redis: BenchRedis | undefined;

/** One round: a worker runs every variant, interleaved; other work is measured over its life. */
async function runRound(
  node: NodeRuntime,
  variants: readonly TimeoutVariant[],
  offset: number,
  settings: Settings,
) {
  await redis!.seed();
  let cpu: CpuWindow | undefined;
  const lines = await runChild(
    ...pinnedCommand(settings.pin, node.binary, [
      ...settings.nodeArgs,
      benchScript('timeouts/worker.js'),
      ...['--variants', variants.join(','), '--redis', redis!.url],
      ...['--duration', String(settings.durationS), '--slice', String(settings.sliceS)],
      ...['--warmup', String(settings.warmupS), '--concurrency', String(settings.concurrency)],
      ...['--offset', String(offset)],
    ]),
    (settings.durationS + settings.warmupS) * variants.length * 1000 + 60_000,
    () => (cpu = cpuWindow([redis!.pid])),
  );
  const results = resultsOf<WorkerResult>(lines);
  for (const variant of variants) {
    const result = results.find((r) => r.variant === variant);
    if (!result || result.ops === 0) throw new Error(`${variant}: no operation completed`);
  }
  // The worker has exited, so its CPU time comes from its own report.
  return { results, foreignCores: cpu!.foreignCores(results[0].cpuMs) };
}

/** Every round, on every Node version: the section benchmarks-core.md renders. */
export async function measureTimeouts(args: Args) {
  const quick = args.flag('quick');
  const rounds = args.number('rounds', 3);
  const settings: Settings = {
    durationS: args.number('duration', quick ? 1 : 5),
    sliceS: args.number('slice', quick ? 0.25 : 0.5),
    warmupS: args.number('warmup', quick ? 0.5 : 1),
    concurrency: args.number('concurrency', 64),
    ...loadControlFrom(args),
  };
  const nodes = resolveNodes(args.list('nodes', NODE_MAJORS, NODE_MAJORS));
  const chosen = args.list('variants', TIMEOUT_VARIANTS, TIMEOUT_VARIANTS);
  const variants = TIMEOUT_VARIANTS.filter((v) => v === TIMEOUT_BASELINE || chosen.includes(v));

  // The src/ this run measures: bench/dist was compiled from it just before (npm run bench:*).
  const measuredSrc = srcCommit();
  redis = await acquireBenchRedis();
  const redisVersion = await redis.version();
  pinSupport(settings.pin, redis.pid);
  console.log(
    `Redis ${redisVersion} at ${redis.url}; ${nodes.map((n) => n.version).join(', ')}; ` +
      `${rounds} round(s) × ${variants.length} variants, ${settings.warmupS} s warm-up + ${settings.durationS} s each in ${settings.sliceS} s slices, ` +
      `${settings.concurrency} in flight; ${describePinning(settings.pin, 'worker')}`,
  );

  const rows = nodes.flatMap((node) =>
    variants.map((variant) => ({
      nodeMajor: node.major,
      nodeVersion: node.version,
      variant,
      rounds: [] as TimeoutRound[],
    })),
  );
  const rowFor = (major: string, variant: string) =>
    rows.find((r) => r.nodeMajor === major && r.variant === variant)!;

  for (let round = 1; round <= rounds; round++) {
    for (const node of nodes) {
      const offset = round - 1;
      const { results, foreignCores, attempts } = await measureQuietly(
        settings,
        [redis.pid],
        'the round',
        () => runRound(node, variants, offset, settings),
      );
      for (const [index, variant] of variants.entries()) {
        const result = results.find((r) => r.variant === variant)!;
        rowFor(node.major, variant).rounds.push({
          ...result,
          round,
          position:
            ((((index - offset) % variants.length) + variants.length) % variants.length) + 1,
          slicesOpsPerSec: result.slicesOpsPerSec.map(Math.round),
          foreignCores,
          attempts,
        });
        const failures = result.misses + result.errors;
        console.log(
          `round ${round}/${rounds} node ${node.major} ${variant.padEnd(24)} ${formatInt(result.opsPerSec).padStart(8)} ops/s` +
            `  ${result.cpuUsPerOp.toFixed(2)} µs CPU/op, worker ${result.cores.toFixed(2)} cores` +
            `  other load ${foreignCores.toFixed(2)}` +
            (failures > 0 ? `  (${result.misses} misses, ${result.errors} errors)` : ''),
        );
      }
    }
  }

  const summarised = rows.map((row) => {
    const base = rowFor(row.nodeMajor, TIMEOUT_BASELINE).rounds;
    // Paired by round: the variants of a round ran interleaved in one process.
    const overBaseline = row.rounds.flatMap((r) => {
      const b = base.find((x) => x.round === r.round);
      return b ? [r.cpuUsPerOp - b.cpuUsPerOp] : [];
    });
    return {
      ...row,
      summary: {
        opsPerSecMedian: medianOf(row.rounds, (r) => r.opsPerSec),
        cpuUsPerOpMedian: medianOf(row.rounds, (r) => r.cpuUsPerOp),
        cpuUsPerOpOverBaseline: median(overBaseline),
        ...ratioSummary(row.rounds, base, (r) => r.opsPerSec),
      },
    };
  });

  return {
    settings: {
      ...settings,
      mode: quick ? ('quick' as const) : ('default' as const),
      rounds,
      timeoutMs: TIMEOUT_MS,
      valueBytes: Buffer.byteLength(BENCH_VALUE),
      pinning: describePinning(settings.pin, 'worker'),
      command: benchCommand('bench:timeouts'),
    },
    environment: describeEnvironment(
      nodes,
      { version: redisVersion, owned: redis.owned },
      measuredSrc,
    ),
    baseline: TIMEOUT_BASELINE,
    descriptions: Object.fromEntries(variants.map((v) => [v, TIMEOUT_VARIANT_DESCRIPTIONS[v]])),
    rows: summarised,
  };
}

runBenchmark(
  async () => {
    const args = benchArgs(
      [],
      ['rounds', 'duration', 'slice', 'warmup', 'concurrency', 'nodes', 'variants'],
    );
    await writeCoreReport(outDirOf(args), { timeouts: await measureTimeouts(args) });
  },
  async () => {
    await redis?.release();
    redis = undefined;
  },
);
