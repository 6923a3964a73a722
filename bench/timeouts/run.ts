// Timeout-bounding microbenchmark: npm run bench:timeouts [-- --quick]
//
// The library benchmark's harness (bench/library/harness.ts): every variant is a worker process
// of its own (pinned to cpu 0) with one ioredis connection; the variants take turns in short
// slices until each has run --duration seconds. Writes the timeouts section of benchmarks-core.
// Options: --quick (1 round, 1 s per variant, results to bench/results/), --rounds N (3), --duration S (5),
// --slice S (0.5), --warmup S (1), --concurrency N (64), --nodes 20,24, --variants a,b (the
// baseline is always added), --out DIR, --node-args="--cpu-prof ...", --quiet-cores 0.2,
// --max-wait S, --max-foreign-cores 0.3, --retries N (per slice), --no-pin
import { writeCoreReport } from '../injection/report';
import {
  abortWorkers,
  harnessSettings,
  HARNESS_OPTIONS,
  measureVariants,
  summaryOf,
} from '../library/harness';
import type { Args } from '../support/args';
import { NODE_MAJORS, resolveNodes } from '../support/nodes';
import { acquireBenchRedis } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { outDirOf, ratioSummary } from '../support/report';
import { benchArgs, benchCommand, runBenchmark } from '../support/run-control';
import { median } from '../support/stats';
import {
  TIMEOUT_BASELINE,
  TIMEOUT_MS,
  TIMEOUT_VARIANT_DESCRIPTIONS,
  TIMEOUT_VARIANTS,
} from './variants';

/** Every round, on every Node version: the section benchmarks-core.md renders. */
export async function measureTimeouts(args: Args, redis: BenchRedis) {
  const quick = args.flag('quick');
  const defaults = quick
    ? { rounds: 1, durationS: 1, sliceS: 0.25, warmupS: 0.5 }
    : { rounds: 3, durationS: 5, sliceS: 0.5, warmupS: 1 };
  // No latency: the clock reads would add to the CPU per GET this benchmark compares.
  const settings = harnessSettings(args, defaults, benchCommand('bench:timeouts'), false);
  const nodes = resolveNodes(args.list('nodes', NODE_MAJORS, NODE_MAJORS));
  const chosen = args.list('variants', TIMEOUT_VARIANTS, TIMEOUT_VARIANTS);
  const variants = TIMEOUT_VARIANTS.filter((v) => v === TIMEOUT_BASELINE || chosen.includes(v));
  const measured = await measureVariants(redis, nodes, variants, settings);

  const rows = measured.rows.map((row) => {
    const base = measured.rows.find(
      (r) => r.nodeMajor === row.nodeMajor && r.variant === TIMEOUT_BASELINE,
    )!.rounds;
    // Paired by round: the variants of a round ran interleaved.
    const overBaseline = row.rounds.flatMap((r) => {
      const b = base.find((x) => x.round === r.round);
      return b ? [r.cpuUsPerOp - b.cpuUsPerOp] : [];
    });
    return {
      ...row,
      summary: {
        ...summaryOf(row.rounds),
        cpuUsPerOpOverBaseline: median(overBaseline),
        ...ratioSummary(row.rounds, base, (r) => r.opsPerSec),
      },
    };
  });
  return {
    ...measured,
    settings: { ...settings, timeoutMs: TIMEOUT_MS },
    baseline: TIMEOUT_BASELINE,
    descriptions: Object.fromEntries(variants.map((v) => [v, TIMEOUT_VARIANT_DESCRIPTIONS[v]])),
    rows,
  };
}

let redis: BenchRedis | undefined;

runBenchmark(
  async () => {
    const args = benchArgs([], HARNESS_OPTIONS);
    redis = await acquireBenchRedis();
    await writeCoreReport(outDirOf(args), { timeouts: await measureTimeouts(args, redis) });
  },
  async () => {
    await abortWorkers();
    await redis?.release();
    redis = undefined;
  },
);
