// Library throughput and latency, 64 operations in flight, 200-byte values, hits, misses and sets:
// this module's ContextualCache (metrics on), raw ioredis (auto-pipelining off and on) and
// @nestjs/cache-manager on @keyv/redis.
//   npx tsc -p bench/tsconfig.json && node bench/dist/bench/library/run.js [--quick]
//
// Writes library.json and library.md into --out (default bench/results/, git-ignored).
// Options: --quick (1 round, 1 s per variant in 0.5 s slices), --rounds N (3), --duration S (5),
// --slice S (1), --warmup S (2), --concurrency N (64), --nodes 20,24 (20), --variants a,b,
// --out DIR, --node-args="--cpu-prof --cpu-prof-dir=DIR" (per worker), --quiet-cores 0.2,
// --max-wait S, --max-foreign-cores 0.3, --retries N (per slice), --no-pin
// Also exports what a top-level report needs: runLibraryBenchmark, renderLibrary, libraryChartBars.
import { join } from 'node:path';
import { Args } from '../support/args';
import { NODE_MAJORS } from '../support/nodes';
import { repoRoot } from '../support/paths';
import {
  LOAD_CONTROL_OPTIONS,
  benchCommand,
  loadControlFrom,
  runBenchmark,
} from '../support/run-control';
import { abortLibraryBenchmark, runLibraryBenchmark } from './benchmark';
import { consoleSummary, renderLibrary, writeLibraryReport } from './report';
import { LIBRARY_VARIANTS } from './variants';
import type { LibraryVariant } from './variants';

export { abortLibraryBenchmark, runLibraryBenchmark } from './benchmark';
export type { LibraryOptions } from './benchmark';
export { libraryChartBars, renderLibrary, writeLibraryReport } from './report';
export type { LibraryRow, LibrarySection } from './report';

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
  const section = await runLibraryBenchmark({
    quick,
    rounds: args.number('rounds', quick ? 1 : 3),
    durationS: args.number('duration', quick ? 1 : 5),
    sliceS: args.number('slice', quick ? 0.5 : 1),
    warmupS: args.number('warmup', quick ? 0.5 : 2),
    concurrency: args.number('concurrency', 64),
    nodes: args.list('nodes', ['20'], NODE_MAJORS),
    variants: args.list('variants', LIBRARY_VARIANTS, LIBRARY_VARIANTS) as LibraryVariant[],
    load: loadControlFrom(args, quick),
    command: benchCommand('bench:library'),
  });
  console.log(`\n${renderLibrary(section)}\n${consoleSummary(section)}`);
  const written = await writeLibraryReport(
    args.string('out') ?? join(repoRoot, 'bench/results'),
    section,
  );
  console.log(`Wrote ${written.markdown} and ${written.json}`);
}

// Run only as the entry point: a top-level report imports this module for its exports.
if (require.main === module) {
  // runLibraryBenchmark stops its workers and Redis itself when it ends; this is for Ctrl-C.
  runBenchmark(main, abortLibraryBenchmark);
}
