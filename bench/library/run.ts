// Library throughput and latency, 64 operations in flight, 200-byte values, hits, misses and sets:
// this module's ContextualCache (metrics on), raw ioredis (auto-pipelining off and on) and
// @nestjs/cache-manager on @keyv/redis, measured by the closed-loop harness (./harness.ts).
//   npx tsc -p bench/tsconfig.json && node bench/dist/bench/library/run.js [--quick]
//
// Writes library.json and library.md into --out (default bench/results/, git-ignored); the suite
// (bench/run.ts) calls runLibraryBenchmark.
// Options: --quick (1 round, 1 s per variant in 0.5 s slices), --rounds N (3), --duration S (5),
// --slice S (1), --warmup S (2), --concurrency N (64), --nodes 20,24 (20), --variants a,b,
// --out DIR, --node-args="--cpu-prof --cpu-prof-dir=DIR" (per worker), --quiet-cores 0.2,
// --max-wait S, --max-foreign-cores 0.3, --retries N (per slice), --no-pin
import { join } from 'node:path';
import type { Args } from '../support/args';
import { installedVersion } from '../support/environment';
import { NODE_MAJORS, resolveNodes } from '../support/nodes';
import { repoRoot } from '../support/paths';
import { acquireBenchRedis } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { benchArgs, benchCommand, runBenchmark } from '../support/run-control';
import { abortWorkers, harnessSettings, HARNESS_OPTIONS, measureVariants } from './harness';
import { evaluateTargets, renderLibrary, summarise, writeLibraryReport } from './report';
import {
  CLIENT_DESCRIPTIONS,
  describeVariant,
  LIBRARY_CLIENTS,
  LIBRARY_VARIANTS,
} from './variants';

export const libraryArgs = (argv?: readonly string[]) => benchArgs([], HARNESS_OPTIONS, argv);

/** Versions of the packages measured here, beside those `describeEnvironment` lists. */
const LIBRARY_PACKAGES = [
  'prom-client',
  '@nestjs/cache-manager',
  'cache-manager',
  'keyv',
  '@keyv/redis',
  '@redis/client',
];

/** Runs the benchmark (against `redis` if given, left running) and returns its section. */
export async function runLibraryBenchmark(
  args: Args,
  given?: BenchRedis,
  command = benchCommand('bench:library'),
) {
  const defaults = args.flag('quick')
    ? { rounds: 1, durationS: 1, sliceS: 0.5, warmupS: 0.5 }
    : { rounds: 3, durationS: 5, sliceS: 1, warmupS: 2 };
  const settings = harnessSettings(args, defaults, command, true);
  const variants = args.list('variants', LIBRARY_VARIANTS, LIBRARY_VARIANTS);
  const nodes = resolveNodes(args.list('nodes', ['20'], NODE_MAJORS));
  const redis = given ?? (await acquireBenchRedis());
  try {
    const measured = await measureVariants(redis, nodes, variants, settings);
    const rows = summarise(measured.rows);
    for (const name of LIBRARY_PACKAGES) {
      measured.environment.packages[name] = installedVersion(name);
    }
    const clients = LIBRARY_CLIENTS.filter((c) => rows.some((r) => r.client === c));
    return {
      ...measured,
      clients: Object.fromEntries(clients.map((c) => [c, CLIENT_DESCRIPTIONS[c]])),
      descriptions: Object.fromEntries(variants.map((v) => [v, describeVariant(v)])),
      rows,
      targets: evaluateTargets(rows),
    };
  } finally {
    if (!given) await redis.release();
  }
}

async function main(): Promise<void> {
  const args = libraryArgs();
  const section = await runLibraryBenchmark(args);
  console.log(`\n${renderLibrary(section)}`);
  await writeLibraryReport(args.string('out') ?? join(repoRoot, 'bench/results'), section);
}

// Run only as the entry point: the suite imports this module for runLibraryBenchmark.
if (require.main === module) runBenchmark(main, abortWorkers);
