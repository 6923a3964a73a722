// What both benchmark orchestrators share: how they wait for a quiet machine and pin processes,
// the command line they report, and how they run and clean up.
import type { Args } from './args';
import { pinningAvailable } from './pin';

/** Settings that keep other work on the machine out of the figures. */
export interface LoadControl {
  nodeArgs: string[];
  quietCores: number;
  maxWaitS: number;
  maxForeignCores: number;
  retries: number;
  pin: boolean;
}

export const LOAD_CONTROL_OPTIONS = [
  'node-args',
  'quiet-cores',
  'max-wait',
  'max-foreign-cores',
  'retries',
  'no-pin',
] as const;

export function loadControlFrom(args: Args, quick: boolean): LoadControl {
  return {
    nodeArgs: (args.string('node-args') ?? '').split(' ').filter(Boolean),
    quietCores: args.number('quiet-cores', 0.2),
    maxWaitS: args.number('max-wait', quick ? 10 : 300),
    maxForeignCores: args.number('max-foreign-cores', 0.3),
    retries: Number(args.string('retries') ?? (quick ? 0 : 2)),
    pin: !args.flag('no-pin') && pinningAvailable(),
  };
}

/** The npm command that reproduces this run, for the report. */
export function benchCommand(script: string): string {
  const extra = process.argv.slice(2);
  return `npm run ${script}${extra.length > 0 ? ` -- ${extra.join(' ')}` : ''}`;
}

/** Runs `main`, cleans up on exit and on Ctrl-C, and exits non-zero on failure. */
export function runBenchmark(main: () => Promise<void>, cleanup: () => Promise<void>): void {
  process.once('SIGINT', () => {
    void cleanup().finally(() => process.exit(130));
  });
  main()
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    })
    .finally(() => cleanup());
}
