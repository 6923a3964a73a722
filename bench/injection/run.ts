// HTTP injection benchmark: npm run bench:injection [-- --quick]
//
// Per round, per Node version and adapter: every variant's app is started as its own process
// (pinned to cpu 0), checked and warmed up; then autocannon (in this process, pinned to cpu 1 with
// redis-server) loads them in turn, in slices with the order rotating every cycle, until each has
// been measured --duration seconds. Fresh processes every round.
// Options: --quick (1 round, 2 s per variant, results to bench/results/), --rounds N (3),
// --duration S (8), --slice S (2), --warmup S (2), --connections N (50), --nodes 20,24,
// --adapters fastify,express, --variants a,b (the baseline is always added; diag-* variants only
// when named), --nest 12 (the apps on NestJS 12, from the test/nestjs-12 workspace), --out DIR, --node-args="--cpu-prof ...", --quiet-cores 0.2, --max-wait S,
// --max-foreign-cores 0.3, --retries N (per slice), --no-pin
import autocannon from 'autocannon';
import { Args } from '../support/args';
import {
  LOAD_CONTROL_OPTIONS,
  benchCommand,
  loadControlFrom,
  runBenchmark,
} from '../support/run-control';
import type { LoadControl } from '../support/run-control';
import { spawnReady, stopChild } from '../support/child';
import type { ReadyChild } from '../support/child';
import { cpuWindow, processCpuMs, waitForQuiet } from '../support/cpu';
import { describeEnvironment, srcCommit } from '../support/environment';
import { NODE_MAJORS, resolveNodes } from '../support/nodes';
import type { NodeRuntime } from '../support/nodes';
import { NESTJS_12_WORKSPACE, benchScript } from '../support/paths';
import { describePinning, pinnedCommand, pinProcess, SUPPORT_CPU } from '../support/pin';
import { acquireBenchRedis, BENCH_VALUE } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import {
  autocannonFigures,
  combineSlices,
  defaultOutDir,
  ratioSummary,
  renderInjection,
  writeReport,
} from '../support/report';
import type {
  InjectionRound,
  InjectionRow,
  InjectionSection,
  InjectionSlice,
} from '../support/report';
import { formatInt, formatMs, median, rotate } from '../support/stats';
import type { AppReadyInfo } from './app';
import {
  ALL_INJECTION_VARIANTS,
  BASELINE_VARIANT,
  HTTP_ADAPTERS,
  INJECTION_VARIANT_DESCRIPTIONS,
  INJECTION_VARIANTS,
  MEASURED_PATH,
} from './variants';
import type { HttpAdapter, InjectionVariant } from './variants';

interface Settings extends LoadControl {
  /** Node arguments that put the app processes on NestJS 12 (empty: the root's NestJS 11). */
  nestArgs: string[];
  durationS: number;
  sliceS: number;
  warmupS: number;
  connections: number;
}

interface RunningApp {
  variant: InjectionVariant;
  app: ReadyChild<AppReadyInfo>;
  url: string;
  slices: InjectionSlice[];
  redone: number;
}

const running = new Set<ReadyChild<AppReadyInfo>>();
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
  node: NodeRuntime,
  adapter: HttpAdapter,
  variant: InjectionVariant,
  settings: Settings,
): Promise<RunningApp> {
  const app = await spawnReady<AppReadyInfo>(
    ...pinnedCommand(settings.pin, node.binary, [
      // Nest's FastifyAdapter reads the deprecated maxParamLength accessor: one warning per app.
      '--disable-warning=FSTDEP022',
      ...settings.nestArgs,
      ...settings.nodeArgs,
      benchScript('injection/app.js'),
      '--variant',
      variant,
      '--adapter',
      adapter,
      '--redis',
      redis!.url,
    ]),
  );
  running.add(app);
  const nest = settings.nestArgs.length > 0 ? '12' : '11';
  if (!app.info.nest.startsWith(`${nest}.`)) {
    throw new Error(`${variant}: the app runs NestJS ${app.info.nest}, not ${nest}`);
  }
  const url = `http://127.0.0.1:${app.info.port}${MEASURED_PATH}`;
  await verify(url, variant);
  return { variant, app, url, slices: [], redone: 0 };
}

/** Loads one app for `seconds`; measures its CPU and everyone else's meanwhile. */
async function slice(target: RunningApp, seconds: number, settings: Settings, others: number[]) {
  const pid = target.app.info.pid;
  const cpu = cpuWindow([pid, redis!.pid, ...others]);
  const cpuBefore = processCpuMs(pid) ?? NaN;
  const started = performance.now();
  const result = await autocannon({
    url: target.url,
    connections: settings.connections,
    duration: seconds,
  });
  const appCpuMs = (processCpuMs(pid) ?? NaN) - cpuBefore;
  const wallMs = performance.now() - started;
  const responses = result['2xx'] + result.non2xx;
  const figures: InjectionSlice = {
    ...autocannonFigures(result),
    appCpuMs,
    appCores: appCpuMs / wallMs,
    appCpuUsPerRequest: responses > 0 ? (appCpuMs * 1000) / responses : NaN,
    foreignCores: cpu.foreignCores(),
  };
  if (figures.requests2xx === 0) throw new Error(`${target.variant}: no 2xx response under load`);
  return figures;
}

/** One measured slice, measured again when other work took too much CPU meanwhile. */
async function quietSlice(target: RunningApp, settings: Settings, others: number[]) {
  for (let attempt = 1; ; attempt++) {
    await waitForQuiet(
      [redis!.pid, ...others],
      settings.quietCores,
      settings.maxWaitS * 1000,
      (cores) => console.log(`  waiting: other work is using ${cores.toFixed(2)} cores`),
    );
    const figures = await slice(target, settings.sliceS, settings, others);
    if (figures.foreignCores <= settings.maxForeignCores || attempt > settings.retries) {
      target.slices.push(figures);
      return;
    }
    target.redone++;
    console.log(
      `  ${target.variant}: other work took ${figures.foreignCores.toFixed(2)} cores meanwhile; measuring the slice again`,
    );
  }
}

function roundFigures(target: RunningApp): Omit<InjectionRound, 'round' | 'position'> {
  const slices = target.slices;
  const sum = (pick: (s: InjectionSlice) => number) => slices.reduce((t, s) => t + pick(s), 0);
  const durationS = sum((s) => s.durationS);
  const responses = sum((s) => s.requests2xx + s.non2xx);
  const appCpuMs = sum((s) => s.appCpuMs);
  return {
    ...combineSlices(slices),
    appCores: appCpuMs / 1000 / durationS,
    appCpuUsPerRequest: (appCpuMs * 1000) / responses,
    foreignCores: Math.max(...slices.map((s) => s.foreignCores)),
    attempts: 1 + target.redone,
    slices,
  };
}

/** One round for one Node version and adapter: all variants' apps up, then interleaved slices. */
async function runGroup(
  node: NodeRuntime,
  adapter: HttpAdapter,
  variants: readonly InjectionVariant[],
  offset: number,
  settings: Settings,
): Promise<RunningApp[]> {
  await redis!.seed();
  const apps: RunningApp[] = [];
  try {
    for (const variant of rotate(variants, offset)) {
      apps.push(await startApp(node, adapter, variant, settings));
    }
    const pids = apps.map((a) => a.app.info.pid);
    for (const target of apps) {
      await autocannon({
        url: target.url,
        connections: settings.connections,
        duration: settings.warmupS,
      });
    }
    const cycles = Math.max(1, Math.round(settings.durationS / settings.sliceS));
    for (let cycle = 0; cycle < cycles; cycle++) {
      for (const target of rotate(apps, cycle)) {
        await quietSlice(target, settings, pids);
      }
    }
    for (const target of apps) await verify(target.url, target.variant);
    return apps;
  } finally {
    for (const { app } of apps) {
      await stopChild(app);
      running.delete(app);
    }
  }
}

async function main(): Promise<void> {
  const args = new Args();
  args.assertKnown([
    'quick',
    'rounds',
    'duration',
    'slice',
    'warmup',
    'connections',
    'nodes',
    'adapters',
    'variants',
    'nest',
    'out',
    ...LOAD_CONTROL_OPTIONS,
  ]);
  const quick = args.flag('quick');
  const rounds = args.number('rounds', quick ? 1 : 3);
  const durationS = args.number('duration', quick ? 2 : 8);
  const [nest] = args.list('nest', ['11'], ['11', '12']);
  const settings: Settings = {
    nestArgs: nest === '12' ? ['--require', benchScript('support/nestjs-12.js')] : [],
    durationS,
    sliceS: Math.min(args.number('slice', quick ? 2 : 2), durationS),
    warmupS: args.number('warmup', quick ? 1 : 2),
    connections: args.number('connections', 50),
    ...loadControlFrom(args, quick),
  };
  const nodes = resolveNodes(args.list('nodes', NODE_MAJORS, NODE_MAJORS));
  const adapters = args.list('adapters', HTTP_ADAPTERS, HTTP_ADAPTERS) as HttpAdapter[];
  const chosen = args.list('variants', INJECTION_VARIANTS, ALL_INJECTION_VARIANTS);
  const variants = ALL_INJECTION_VARIANTS.filter(
    (v) => v === BASELINE_VARIANT || chosen.includes(v),
  );
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
    `Redis ${redisVersion} at ${redis.url}; ${nodes.map((n) => n.version).join(', ')}; ${adapters.join(', ')}; ` +
      `${rounds} round(s) × ${variants.length} variants, ${settings.warmupS} s warm-up + ${settings.durationS} s each in ${settings.sliceS} s slices, ` +
      `${settings.connections} connections; ${describePinning(settings.pin, 'app')}`,
  );

  const rows: InjectionRow[] = [];
  for (const node of nodes) {
    for (const adapter of adapters) {
      for (const variant of variants) {
        rows.push({
          nodeMajor: node.major,
          nodeVersion: node.version,
          adapter,
          variant,
          rounds: [],
          summary: {
            reqPerSecMedian: NaN,
            p99MsMedian: NaN,
            cpuUsPerRequestMedian: NaN,
            cpuRatioMedian: NaN,
            ratioMedian: NaN,
            ratioMin: NaN,
            ratioMax: NaN,
          },
        });
      }
    }
  }
  const rowFor = (node: NodeRuntime, adapter: string, variant: string) =>
    rows.find((r) => r.nodeMajor === node.major && r.adapter === adapter && r.variant === variant)!;

  for (let round = 1; round <= rounds; round++) {
    for (const node of nodes) {
      for (const adapter of adapters) {
        const apps = await runGroup(node, adapter, variants, round - 1, settings);
        for (const [index, target] of apps.entries()) {
          const figures = roundFigures(target);
          rowFor(node, adapter, target.variant).rounds.push({
            round,
            position: index + 1,
            ...figures,
          });
          const failures = figures.non2xx + figures.errors;
          console.log(
            `round ${round}/${rounds} node ${node.major} ${adapter.padEnd(7)} ${target.variant.padEnd(24)} ` +
              `${formatInt(figures.reqPerSec).padStart(7)} req/s  p99 ${formatMs(figures.latencyP99Ms)} ms` +
              `  app ${figures.appCores.toFixed(2)} cores, ${formatMs(figures.appCpuUsPerRequest)} µs CPU/req` +
              `  other load ${figures.foreignCores.toFixed(2)}` +
              (failures > 0 ? `  (${failures} errors/non-2xx)` : ''),
          );
        }
      }
    }
  }

  for (const row of rows) {
    const baseline = rowFor(
      { major: row.nodeMajor, binary: '', version: '' },
      row.adapter,
      BASELINE_VARIANT,
    );
    row.summary = {
      reqPerSecMedian: median(row.rounds.map((r) => r.reqPerSec)),
      p99MsMedian: median(row.rounds.map((r) => r.latencyP99Ms)),
      cpuUsPerRequestMedian: median(row.rounds.map((r) => r.appCpuUsPerRequest)),
      cpuRatioMedian: ratioSummary(row.rounds, baseline.rounds, (r) => r.appCpuUsPerRequest)
        .ratioMedian,
      ...ratioSummary(row.rounds, baseline.rounds, (r) => r.reqPerSec),
    };
  }

  const section: InjectionSection = {
    settings: {
      mode: quick ? 'quick' : 'default',
      rounds,
      durationS: settings.durationS,
      sliceS: settings.sliceS,
      warmupS: settings.warmupS,
      connections: settings.connections,
      valueBytes: Buffer.byteLength(BENCH_VALUE),
      path: MEASURED_PATH,
      quietCores: settings.quietCores,
      maxForeignCores: settings.maxForeignCores,
      retries: settings.retries,
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
    descriptions: Object.fromEntries(variants.map((v) => [v, INJECTION_VARIANT_DESCRIPTIONS[v]])),
    rows,
  };
  console.log(`\n${renderInjection(section)}`);
  const written = await writeReport(outDir, { injection: section });
  console.log(`Wrote ${written.markdown} and ${written.json}`);
}

async function cleanup(): Promise<void> {
  for (const app of running) await stopChild(app, 2000);
  running.clear();
  await redis?.release();
  redis = undefined;
}

runBenchmark(main, cleanup);
