// Timeout-bounding microbenchmark: npm run bench:timeouts [-- --quick]
//
// Each round is one worker process (pinned to cpu 0) with one ioredis connection per variant;
// the variants take turns in short slices until each has run --duration seconds.
// Options: --quick (1 s per variant, results to bench/results/), --rounds N (3), --duration S (5),
// --slice S (0.5), --warmup S (1), --concurrency N (64), --nodes 20,24, --variants a,b (the
// baseline is always added), --out DIR, --node-args="--cpu-prof ...", --quiet-cores 0.2,
// --max-wait S, --max-foreign-cores 0.3, --retries N, --no-pin
import { Args } from '../support/args';
import {
  LOAD_CONTROL_OPTIONS,
  benchCommand,
  loadControlFrom,
  runBenchmark,
} from '../support/run-control';
import type { LoadControl } from '../support/run-control';
import { runToCompletion } from '../support/child';
import { cpuWindow, waitForQuiet } from '../support/cpu';
import type { CpuWindow } from '../support/cpu';
import { describeEnvironment, srcCommit } from '../support/environment';
import { NODE_MAJORS, resolveNodes } from '../support/nodes';
import type { NodeRuntime } from '../support/nodes';
import { benchScript } from '../support/paths';
import { describePinning, pinnedCommand, pinProcess, SUPPORT_CPU } from '../support/pin';
import { acquireBenchRedis, BENCH_VALUE } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { defaultOutDir, ratioSummary, renderTimeouts, writeReport } from '../support/report';
import type { TimeoutRow, TimeoutsSection } from '../support/report';
import { formatInt, median } from '../support/stats';
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

interface RoundResult {
  results: WorkerResult[];
  foreignCores: number;
  attempts: number;
}

let redis: BenchRedis | undefined;

/** One round, run again when other work on the machine took too much CPU meanwhile. */
async function roundQuietly(
  node: NodeRuntime,
  variants: readonly TimeoutVariant[],
  offset: number,
  settings: Settings,
): Promise<RoundResult> {
  for (let attempt = 1; ; attempt++) {
    await waitForQuiet([redis!.pid], settings.quietCores, settings.maxWaitS * 1000, (cores) =>
      console.log(`  waiting: other work is using ${cores.toFixed(2)} cores`),
    );
    const round = await runRound(node, variants, offset, settings);
    if (round.foreignCores <= settings.maxForeignCores || attempt > settings.retries) {
      return { ...round, attempts: attempt };
    }
    console.log(
      `  other work took ${round.foreignCores.toFixed(2)} cores during the round; running it again`,
    );
  }
}

async function runRound(
  node: NodeRuntime,
  variants: readonly TimeoutVariant[],
  offset: number,
  settings: Settings,
): Promise<Omit<RoundResult, 'attempts'>> {
  await redis!.seed();
  let cpu: CpuWindow | undefined;
  const perVariantS = settings.durationS + settings.warmupS;
  const lines = await runToCompletion(
    ...pinnedCommand(settings.pin, node.binary, [
      ...settings.nodeArgs,
      benchScript('timeouts/worker.js'),
      '--variants',
      variants.join(','),
      '--redis',
      redis!.url,
      '--duration',
      String(settings.durationS),
      '--slice',
      String(settings.sliceS),
      '--warmup',
      String(settings.warmupS),
      '--concurrency',
      String(settings.concurrency),
      '--offset',
      String(offset),
    ]),
    perVariantS * variants.length * 1000 + 60_000,
    // The window covers the worker's whole life (start-up too): close enough.
    () => (cpu = cpuWindow([redis!.pid])),
  );
  const results = lines
    .filter((line) => line.startsWith('RESULT '))
    .map((line) => JSON.parse(line.slice(7)) as WorkerResult);
  for (const variant of variants) {
    const result = results.find((r) => r.variant === variant);
    if (!result || result.ops === 0) throw new Error(`${variant}: no operation completed`);
  }
  // The worker has exited, so its CPU time comes from its own report.
  return { results, foreignCores: cpu!.foreignCores(results[0].cpuMs) };
}

async function main(): Promise<void> {
  const args = new Args();
  args.assertKnown([
    'quick',
    'rounds',
    'duration',
    'slice',
    'warmup',
    'concurrency',
    'nodes',
    'variants',
    'out',
    ...LOAD_CONTROL_OPTIONS,
  ]);
  const quick = args.flag('quick');
  const rounds = args.number('rounds', 3);
  const settings: Settings = {
    durationS: args.number('duration', quick ? 1 : 5),
    sliceS: args.number('slice', quick ? 0.25 : 0.5),
    warmupS: args.number('warmup', quick ? 0.5 : 1),
    concurrency: args.number('concurrency', 64),
    ...loadControlFrom(args, quick),
  };
  const nodes = resolveNodes(args.list('nodes', NODE_MAJORS, NODE_MAJORS));
  const chosen = args.list('variants', TIMEOUT_VARIANTS, TIMEOUT_VARIANTS);
  const variants = TIMEOUT_VARIANTS.filter((v) => v === TIMEOUT_BASELINE || chosen.includes(v));
  const outDir = args.string('out') ?? defaultOutDir(quick);

  // The src/ this run measures: bench/dist was compiled from it just before (npm run bench:*).
  const measuredSrc = srcCommit();
  redis = await acquireBenchRedis();
  const redisVersion = await redis.version();
  if (settings.pin) {
    pinProcess(process.pid, SUPPORT_CPU);
    if (redis.pid !== undefined) pinProcess(redis.pid, SUPPORT_CPU);
  }
  console.log(
    `Redis ${redisVersion} at ${redis.url}; ${nodes.map((n) => n.version).join(', ')}; ` +
      `${rounds} round(s) × ${variants.length} variants, ${settings.warmupS} s warm-up + ${settings.durationS} s each in ${settings.sliceS} s slices, ` +
      `${settings.concurrency} in flight; ${describePinning(settings.pin, 'worker')}`,
  );

  const rows: TimeoutRow[] = nodes.flatMap((node) =>
    variants.map((variant) => ({
      nodeMajor: node.major,
      nodeVersion: node.version,
      variant,
      rounds: [],
      summary: {
        opsPerSecMedian: NaN,
        cpuUsPerOpMedian: NaN,
        cpuUsPerOpOverBaseline: NaN,
        ratioMedian: NaN,
        ratioMin: NaN,
        ratioMax: NaN,
      },
    })),
  );
  const rowFor = (node: NodeRuntime, variant: string) =>
    rows.find((r) => r.nodeMajor === node.major && r.variant === variant)!;

  for (let round = 1; round <= rounds; round++) {
    for (const node of nodes) {
      const offset = round - 1;
      const { results, foreignCores, attempts } = await roundQuietly(
        node,
        variants,
        offset,
        settings,
      );
      for (const [index, variant] of variants.entries()) {
        const result = results.find((r) => r.variant === variant)!;
        rowFor(node, variant).rounds.push({
          round,
          position:
            ((((index - offset) % variants.length) + variants.length) % variants.length) + 1,
          opsPerSec: result.opsPerSec,
          ops: result.ops,
          seconds: result.seconds,
          misses: result.misses,
          errors: result.errors,
          cpuUsPerOp: result.cpuUsPerOp,
          workerCores: result.cores,
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

  for (const row of rows) {
    const baseline = rows.find(
      (r) => r.nodeMajor === row.nodeMajor && r.variant === TIMEOUT_BASELINE,
    )!;
    // Paired by round: the variants of a round ran interleaved in one process.
    const overBaseline = row.rounds.flatMap((r) => {
      const base = baseline.rounds.find((b) => b.round === r.round);
      return base ? [r.cpuUsPerOp - base.cpuUsPerOp] : [];
    });
    row.summary = {
      opsPerSecMedian: median(row.rounds.map((r) => r.opsPerSec)),
      cpuUsPerOpMedian: median(row.rounds.map((r) => r.cpuUsPerOp)),
      cpuUsPerOpOverBaseline: median(overBaseline),
      ...ratioSummary(row.rounds, baseline.rounds, (r) => r.opsPerSec),
    };
  }

  const section: TimeoutsSection = {
    settings: {
      mode: quick ? 'quick' : 'default',
      rounds,
      durationS: settings.durationS,
      sliceS: settings.sliceS,
      warmupS: settings.warmupS,
      concurrency: settings.concurrency,
      timeoutMs: TIMEOUT_MS,
      valueBytes: Buffer.byteLength(BENCH_VALUE),
      quietCores: settings.quietCores,
      maxForeignCores: settings.maxForeignCores,
      retries: settings.retries,
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
    rows,
  };
  console.log(`\n${renderTimeouts(section)}`);
  const written = await writeReport(outDir, { timeouts: section });
  console.log(`Wrote ${written.markdown} and ${written.json}`);
}

async function cleanup(): Promise<void> {
  await redis?.release();
  redis = undefined;
}

runBenchmark(main, cleanup);
