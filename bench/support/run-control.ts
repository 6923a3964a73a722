// What the orchestrators share: their common options, the settings that keep other work on the
// machine out of the figures, the command line they report, and how they run and clean up.
import { Args } from './args';
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

/** An orchestrator's options: its own, plus --quick, --out and the load-control ones. */
export function benchArgs(
  flags: readonly string[],
  options: readonly string[],
  argv?: readonly string[],
): Args {
  return new Args(
    ['quick', 'no-pin', ...flags],
    ['out', 'node-args', 'quiet-cores', 'max-wait', 'max-foreign-cores', 'retries', ...options],
    argv,
  );
}

export function loadControlFrom(args: Args): LoadControl {
  const quick = args.flag('quick');
  return {
    nodeArgs: (args.string('node-args') ?? '').split(' ').filter(Boolean),
    quietCores: args.number('quiet-cores', 0.2),
    maxWaitS: args.number('max-wait', quick ? 10 : 300),
    maxForeignCores: args.number('max-foreign-cores', 0.3),
    retries: args.number('retries', quick ? 0 : 2),
    pin: !args.flag('no-pin') && pinningAvailable(),
  };
}

/** The npm command that reproduces this run, for the report. */
export function benchCommand(script: string): string {
  const extra = process.argv.slice(2);
  return `npm run ${script}${extra.length > 0 ? ` -- ${extra.join(' ')}` : ''}`;
}

/** Runs `main`, cleans up on exit and on Ctrl-C, and exits non-zero on failure. */
export function runBenchmark(main: () => Promise<void>, cleanup = async () => {}): void {
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
