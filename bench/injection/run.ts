// HTTP injection benchmark: npm run bench:injection [-- --quick]
//
// Per round, per Node version and adapter: every variant's app is its own process, started fresh,
// checked and warmed up, then loaded in interleaved slices (bench/support/http.ts).
// Options: --quick (1 round, 2 s per variant, results to bench/results/), --rounds N (3),
// --duration S (8), --slice S (2), --warmup S (2), --connections N (50), --nodes 20,24,
// --adapters fastify,express, --variants a,b (the baseline is always added; diag-* variants only
// when named), --nest 12 (the apps on NestJS 12, from the test/nestjs-12 workspace), --out DIR,
// --node-args="--cpu-prof ...", --quiet-cores 0.2, --max-wait S, --max-foreign-cores 0.3,
// --retries N (per slice), --no-pin
import type { Args } from '../support/args';
import { Child } from '../support/child';
import { describeEnvironment, srcCommit } from '../support/environment';
import { describeRound, roundOf, runHttpRound, summarise } from '../support/http';
import type { HttpApp, HttpLoad, HttpRound } from '../support/http';
import { NODE_MAJORS, resolveNodes } from '../support/nodes';
import type { NodeRuntime } from '../support/nodes';
import { NESTJS_12_WORKSPACE, benchScript } from '../support/paths';
import { describePinning, pinnedCommand, pinSupport } from '../support/pin';
import { acquireBenchRedis, BENCH_VALUE } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { outDirOf } from '../support/report';
import { benchArgs, benchCommand, loadControlFrom, runBenchmark } from '../support/run-control';
import type { AppReadyInfo } from './app';
import { writeCoreReport } from './report';
import {
  ALL_INJECTION_VARIANTS,
  BASELINE_VARIANT,
  HTTP_ADAPTERS,
  INJECTION_VARIANTS,
  MEASURED_PATH,
  variantSpec,
} from './variants';
import type { HttpAdapter, InjectionVariant } from './variants';

const running = new Set<Child>();
let redis: BenchRedis | undefined;

/** A few plain requests: the route must answer 200 with exactly the cached value. */
async function verify(url: string, variant: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const response = await fetch(url);
    const body = await response.text();
    if (response.status !== 200 || body !== BENCH_VALUE) {
      throw new Error(
        `${variant}: GET ${url} answered ${response.status} ${JSON.stringify(body.slice(0, 120))}, not the cached value`,
      );
    }
  }
}

async function startApp(
  binary: string,
  adapter: HttpAdapter,
  variant: InjectionVariant,
  settings: HttpLoad & { nestArgs: string[] },
): Promise<HttpApp & { child: Child }> {
  const { child, info } = await Child.ready<AppReadyInfo>(
    ...pinnedCommand(settings.pin, binary, [
      // Nest's FastifyAdapter reads the deprecated maxParamLength accessor: one warning per app.
      '--disable-warning=FSTDEP022',
      ...settings.nestArgs,
      ...settings.nodeArgs,
      benchScript('injection/app.js'),
      ...['--variant', variant, '--adapter', adapter, '--redis', redis!.url],
    ]),
    { label: variant, echo: true },
    30_000,
  );
  running.add(child);
  const nest = settings.nestArgs.length > 0 ? '12' : '11';
  if (!info.nest.startsWith(`${nest}.`)) {
    throw new Error(`${variant}: the app runs NestJS ${info.nest}, not ${nest}`);
  }
  const url = `http://127.0.0.1:${info.port}${MEASURED_PATH}`;
  await verify(url, variant);
  return { variant, child, pid: info.pid, url, slices: [], served: 0 };
}

/** Every round, on every Node version and adapter: the section benchmarks-core.md renders. */
export async function measureInjection(args: Args) {
  const quick = args.flag('quick');
  const roundCount = args.number('rounds', quick ? 1 : 3);
  const durationS = args.number('duration', quick ? 2 : 8);
  const [nest] = args.list('nest', ['11'], ['11', '12']);
  const settings = {
    nestArgs: nest === '12' ? ['--require', benchScript('support/nestjs-12.js')] : [],
    durationS,
    sliceS: Math.min(args.number('slice', 2), durationS),
    warmupS: args.number('warmup', quick ? 1 : 2),
    connections: args.number('connections', 50),
    settleMs: 0,
    ...loadControlFrom(args),
  };
  const nodes = resolveNodes(args.list('nodes', NODE_MAJORS, NODE_MAJORS));
  const adapters = args.list('adapters', HTTP_ADAPTERS, HTTP_ADAPTERS);
  const chosen = args.list('variants', INJECTION_VARIANTS, ALL_INJECTION_VARIANTS);
  const variants = ALL_INJECTION_VARIANTS.filter(
    (v) => v === BASELINE_VARIANT || chosen.includes(v),
  );

  // The src/ this run measures: bench/dist was compiled from it just before (npm run bench:*).
  const measuredSrc = srcCommit();
  redis = await acquireBenchRedis();
  const redisVersion = await redis.version();
  pinSupport(settings.pin, redis);
  console.log(
    `Redis ${redisVersion} at ${redis.url}; ${nodes.map((n) => n.version).join(', ')}; ${adapters.join(', ')}; ` +
      `${roundCount} round(s) × ${variants.length} variants, ${settings.warmupS} s warm-up + ${durationS} s each in ${settings.sliceS} s slices, ` +
      `${settings.connections} connections; ${describePinning(settings.pin, 'app')}`,
  );

  const rounds: Record<string, HttpRound[]> = {};
  const roundsOf = (node: NodeRuntime, adapter: string, variant: string) =>
    (rounds[`${node.major}/${adapter}/${variant}`] ??= []);
  for (let round = 1; round <= roundCount; round++) {
    for (const node of nodes) {
      for (const adapter of adapters) {
        await redis.seed();
        const apps = await runHttpRound(variants, round, settings, redis.pid, {
          start: (variant) => startApp(node.binary, adapter, variant as InjectionVariant, settings),
          after: (app) => verify(app.url, app.variant),
          stop: async ({ child }) => {
            await child.stop();
            running.delete(child);
          },
        });
        for (const [index, app] of apps.entries()) {
          const figures = roundOf(app, round, index + 1);
          roundsOf(node, adapter, app.variant).push(figures);
          console.log(
            `round ${round}/${roundCount} node ${node.major} ${adapter.padEnd(7)} ${describeRound(app.variant, figures)}`,
          );
        }
      }
    }
  }

  return {
    settings: {
      ...settings,
      mode: quick ? ('quick' as const) : ('default' as const),
      rounds: roundCount,
      valueBytes: Buffer.byteLength(BENCH_VALUE),
      path: MEASURED_PATH,
      pinning: describePinning(settings.pin, 'app'),
      command: benchCommand('bench:injection'),
    },
    environment: describeEnvironment(
      nodes,
      { version: redisVersion, owned: redis.owned },
      measuredSrc,
      nest === '12' ? NESTJS_12_WORKSPACE : undefined,
    ),
    baseline: BASELINE_VARIANT,
    descriptions: Object.fromEntries(variants.map((v) => [v, variantSpec(v).description])),
    rows: nodes.flatMap((node) =>
      adapters.flatMap((adapter) =>
        variants.map((variant) => ({
          nodeMajor: node.major,
          nodeVersion: node.version,
          adapter,
          variant,
          rounds: roundsOf(node, adapter, variant),
          summary: summarise(
            roundsOf(node, adapter, variant),
            roundsOf(node, adapter, BASELINE_VARIANT),
          ),
        })),
      ),
    ),
  };
}

async function cleanup(): Promise<void> {
  for (const child of running) await child.stop(2000);
  running.clear();
  await redis?.release();
  redis = undefined;
}

runBenchmark(async () => {
  const args = benchArgs(
    [],
    [
      'rounds',
      'duration',
      'slice',
      'warmup',
      'connections',
      'nodes',
      'adapters',
      'variants',
      'nest',
    ],
  );
  await writeCoreReport(outDirOf(args), { injection: await measureInjection(args) });
}, cleanup);
