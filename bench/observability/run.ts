// What observability costs the renderer's cached render route:
//   npx tsc -p bench/tsconfig.json && node bench/dist/bench/observability/run.js [--quick]
//
// Builds the library into dist/ and the renderer once into a temp dir. Per round: every
// variant (bench/observability/variants.ts) is its own `node main.js` process, started fresh,
// checked (200, X-Cache: HIT), warmed up and loaded in interleaved slices (bench/support/http.ts),
// each followed by a --settle pause for the span exports it caused.
// Options: --quick (1 round, 2 s, results to bench/results/), --rounds N (3), --duration S (8),
// --slice S (2), --warmup S (2), --settle S (1.5), --connections N (50), --variants a,b (off is
// always added), --redis URL (else REDIS_URL, else a redis-server of its own), --out DIR,
// --node-args="--cpu-prof --cpu-prof-dir=DIR" (per app), --keep-build, --render-only (rewrite
// the Markdown from the JSON in --out), --quiet-cores 0.2, --max-wait S,
// --max-foreign-cores 0.3, --retries N (per slice), --no-pin
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Args } from '../support/args';
import type { Child } from '../support/child';
import { describeEnvironment, installedVersion, srcCommit } from '../support/environment';
import { describeRound, roundOf, runHttpRound, summarise } from '../support/http';
import type { HttpApp, HttpLoad } from '../support/http';
import { resolveNodes } from '../support/nodes';
import { repoRoot } from '../support/paths';
import { describePinning, pinSupport } from '../support/pin';
import { acquireBenchRedis } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { metricTotals, startRenderer } from '../support/renderer';
import { medianOf, outDirOf } from '../support/report';
import { benchArgs, loadControlFrom, runBenchmark } from '../support/run-control';
import { formatInt } from '../support/stats';
import { spansIn, startOtlpSink, TRACES_PATH } from './otlp-sink';
import type { OtlpSink } from './otlp-sink';
import { BENCH_COMMAND, rerenderObservability, writeObservabilityReport } from './report';
import type { ObservabilityRound } from './report';
import {
  BASELINE_VARIANT,
  BSP_SCHEDULE_DELAY_MS,
  MEASURED_PATH,
  METRICS_TARGET_RATIO,
  OBSERVABILITY_VARIANTS,
  VARIANTS,
  variantEnv,
} from './variants';
import type { ObservabilityVariant } from './variants';

interface RenderApp extends HttpApp {
  variant: ObservabilityVariant;
  child: Child;
  sink: OtlpSink | undefined;
  /** Set by the final check. */
  pngBytes?: number;
  renderOutcomes?: ObservabilityRound['renderOutcomes'];
}

type Settings = HttpLoad & { redisUrl: string };

/** Packages whose versions matter here, beyond those describeEnvironment() lists. */
const OBSERVABILITY_PACKAGES = [
  'prom-client',
  'rxjs',
  '@opentelemetry/api',
  '@opentelemetry/sdk-node',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/instrumentation-http',
  '@opentelemetry/instrumentation-nestjs-core',
  '@opentelemetry/instrumentation-ioredis',
];

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const running = new Set<RenderApp>();
let redis: BenchRedis | undefined;
let buildDir: string | undefined;
let keepBuild = false;

/**
 * `npm run build:renderer`'s compilation: the library into dist/ (the renderer imports the built
 * package, as a user's app does), the renderer into a fresh dir under its own node_modules/.cache
 * (so it finds the packages only it depends on).
 */
function buildService(): string {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const compile = (...args: string[]) =>
    execFileSync(process.execPath, [tsc, ...args], { cwd: repoRoot, stdio: 'pipe' });
  compile('-p', 'tsconfig.build.json');
  const cache = join(repoRoot, 'apps', 'renderer', 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const outDir = mkdtempSync(join(cache, 'observability-bench-'));
  compile('-p', join('apps', 'renderer', 'tsconfig.build.json'), '--outDir', outDir);
  return outDir;
}

/** Every request an app answers counts: OTLP figures are per request served. */
async function fetchCounted(app: RenderApp, url = app.url): Promise<Response> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  app.served++;
  return response;
}

/**
 * Three requests: each must be a 200 cache hit with a PNG body. Returns the PNG's size. With
 * `missTolerated`, a first answer that is a 200 MISS (the entry expired, its TTL being 5 minutes,
 * or was removed meanwhile; the request stored it again) is reported and the three checks follow.
 */
async function verify(app: RenderApp, missTolerated = false): Promise<number> {
  let size = 0;
  for (let i = 0; i < 3; i++) {
    const response = await fetchCounted(app);
    const body = Buffer.from(await response.arrayBuffer());
    const [cache, type] = [response.headers.get('x-cache'), response.headers.get('content-type')];
    const png =
      response.status === 200 && type === 'image/png' && body.subarray(0, 8).equals(PNG_SIGNATURE);
    if (png && cache === 'MISS' && missTolerated && i === 0) {
      console.log(
        `  ${app.variant}: the cached PNG was gone (MISS) at the final check; stored again`,
      );
      missTolerated = false;
      i--;
      continue;
    }
    if (!png || cache !== 'HIT') {
      throw new Error(
        `${app.variant}: GET ${app.url} answered ${response.status}, x-cache ${cache}, ${type}, ${body.length} bytes; expected a 200 cache hit with a PNG`,
      );
    }
    size = body.length;
  }
  return size;
}

/** The render route's requests by cache outcome, from the app's own /metrics (metrics variants). */
async function renderOutcomes(app: RenderApp): Promise<RenderApp['renderOutcomes']> {
  if (!VARIANTS[app.variant].metrics) return undefined;
  const text = await (await fetchCounted(app, new URL('/metrics', app.url).href)).text();
  const route = 'route="/apps/:appId/devices/:deviceId/render"';
  const byCache = metricTotals(text, 'request_duration_seconds_count', [route], 'cache');
  return { hit: byCache.hit ?? 0, miss: byCache.miss ?? 0 };
}

async function startApp(
  binary: string,
  variant: ObservabilityVariant,
  settings: Settings,
): Promise<RenderApp> {
  const sink = VARIANTS[variant].otlp ? await startOtlpSink() : undefined;
  const { child, port, probes } = await startRenderer(
    binary,
    [...settings.nodeArgs, join(buildDir!, 'main.js')],
    settings.pin,
    () => variantEnv(variant, settings.redisUrl, sink?.endpoint),
    { label: variant, cwd: repoRoot, echo: true },
  ).catch(async (error: unknown) => {
    // Its server would keep the process alive after the failure.
    await sink?.close();
    throw error;
  });
  const url = `http://127.0.0.1:${port}${MEASURED_PATH}`;
  const app: RenderApp = { variant, child, pid: child.pid!, url, sink, slices: [], served: probes };
  running.add(app);
  // The first request may render and store the PNG (MISS); every later one must be a HIT.
  await (await fetchCounted(app)).arrayBuffer();
  await verify(app);
  return app;
}

async function stopApp(app: RenderApp, graceMs = 15_000): Promise<void> {
  await app.child.stop(graceMs);
  await app.sink?.close();
  running.delete(app);
}

/** One round: all variants' apps up, checked, warmed up; then interleaved slices. */
async function runRound(
  binary: string,
  variants: readonly ObservabilityVariant[],
  round: number,
  settings: Settings,
): Promise<{ rounds: Map<string, ObservabilityRound>; pngBytes: number }> {
  const apps = await runHttpRound(variants, round, settings, redis!.pid, {
    start: (variant) => startApp(binary, variant as ObservabilityVariant, settings),
    after: async (app) => {
      app.pngBytes = await verify(app, true);
      app.renderOutcomes = await renderOutcomes(app);
    },
    // Stopping flushes the SDK's pending spans (to the sink, closed after the app).
    stop: (app) => stopApp(app),
  });
  const rounds = apps.map((app, index): [string, ObservabilityRound] => {
    const { renderOutcomes, sink } = app;
    return [
      app.variant,
      {
        ...roundOf(app, round, index + 1),
        pid: app.pid,
        requestsServed: app.served,
        ...(renderOutcomes && { renderOutcomes }),
        ...(sink && { otlp: sink.counts }),
      },
    ];
  });
  return { rounds: new Map(rounds), pngBytes: apps.at(-1)?.pngBytes ?? 0 };
}

/** Medians over rounds of what the OTLP sink received, per request served. */
function otlpSummary(rounds: readonly ObservabilityRound[]) {
  const traced = rounds.flatMap(({ otlp, requestsServed }) =>
    otlp ? [{ otlp, requestsServed }] : [],
  );
  if (traced.length === 0) return undefined;
  const paths = [...new Set(traced.flatMap((r) => Object.keys(r.otlp)))];
  const scopes = [
    ...new Set(traced.flatMap((r) => Object.keys(r.otlp[TRACES_PATH]?.byScope ?? {}))),
  ];
  const perPath = (path: string, pick: 'requests' | 'bytes') =>
    medianOf(traced, (r) => r.otlp[path]?.[pick] ?? 0);
  return {
    bytesPerRequestMedian: medianOf(
      traced,
      (r) => (r.otlp[TRACES_PATH]?.bytes ?? 0) / r.requestsServed,
    ),
    spansPerRequestMedian: medianOf(traced, (r) => spansIn(r.otlp) / r.requestsServed),
    tracesBytesMedian: perPath(TRACES_PATH, 'bytes'),
    postsMedian: perPath(TRACES_PATH, 'requests'),
    spansPerRequestByScope: Object.fromEntries(
      scopes.map((scope) => [
        scope,
        medianOf(traced, (r) => (r.otlp[TRACES_PATH]?.byScope[scope] ?? 0) / r.requestsServed),
      ]),
    ),
    otherPaths: Object.fromEntries(
      paths
        .filter((path) => path !== TRACES_PATH)
        .map((path) => [
          path,
          { requests: perPath(path, 'requests'), bytes: perPath(path, 'bytes') },
        ]),
    ),
  };
}

/** The console line of a variant's round, with its ratios to the baseline's. */
function describeObservabilityRound(
  variant: string,
  r: ObservabilityRound,
  base: ObservabilityRound,
) {
  return (
    `${describeRound(variant, r)}` +
    `  ${(r.reqPerSec / base.reqPerSec).toFixed(2)}x req/s, ${(r.appCpuUsPerRequest / base.appCpuUsPerRequest).toFixed(2)}x CPU/req` +
    `  (pid ${r.pid}, ${formatInt(r.requestsServed)} requests served)` +
    (r.otlp
      ? `  OTLP ${formatInt((r.otlp[TRACES_PATH]?.bytes ?? 0) / 1024)} KiB, ${(spansIn(r.otlp) / r.requestsServed).toFixed(2)} spans/req`
      : '')
  );
}

/** Builds the service, runs every round and returns the report's figures. */
export async function measureObservability(args: Args) {
  const quick = args.flag('quick');
  const rounds = args.number('rounds', quick ? 1 : 3);
  const durationS = args.number('duration', quick ? 2 : 8);
  keepBuild = args.flag('keep-build');
  const chosen = args.list('variants', OBSERVABILITY_VARIANTS, OBSERVABILITY_VARIANTS);
  const variants = OBSERVABILITY_VARIANTS.filter(
    (v) => v === BASELINE_VARIANT || chosen.includes(v),
  );
  // The renderer's OpenTelemetry packages need Node 22.15+; production runs Node 24.
  const [node] = resolveNodes(['24']);

  const measuredSrc = srcCommit();
  console.log(`Building the library (${measuredSrc}) and the renderer …`);
  buildDir = buildService();
  // --redis names a server to use, as REDIS_URL does: it is left alone (not pinned, not stopped).
  const redisUrl = args.string('redis');
  if (redisUrl !== undefined) process.env.REDIS_URL = redisUrl;
  redis = await acquireBenchRedis();
  const redisVersion = await redis.version();
  const settings: Settings = {
    durationS,
    sliceS: Math.min(args.number('slice', 2), durationS),
    warmupS: args.number('warmup', 2),
    settleMs: args.number('settle', 1.5) * 1000,
    connections: args.number('connections', 50),
    redisUrl: redis.url,
    ...loadControlFrom(args),
  };
  if (settings.settleMs <= BSP_SCHEDULE_DELAY_MS) {
    console.log(
      `Note: --settle ${settings.settleMs / 1000} s is not longer than the span export delay (${BSP_SCHEDULE_DELAY_MS} ms); exports may run into the next slice`,
    );
  }
  pinSupport(settings.pin, redis);
  const pinning =
    describePinning(settings.pin, 'apps') +
    (settings.pin && !redis.owned ? ', except the one --redis or REDIS_URL named' : '');
  console.log(
    `Redis ${redisVersion} at ${redis.url}; ${node.version}; ` +
      `${rounds} round(s) × ${variants.length} variants, ${settings.warmupS} s warm-up + ${durationS} s each in ${settings.sliceS} s slices ` +
      `(+${settings.settleMs / 1000} s pause after each), ${settings.connections} connections; ${pinning}`,
  );

  const measured = variants.map((variant) => ({ variant, rounds: [] as ObservabilityRound[] }));
  let pngBytes = 0;
  for (let round = 1; round <= rounds; round++) {
    const result = await runRound(node.binary, variants, round, settings);
    pngBytes = result.pngBytes;
    const base = result.rounds.get(BASELINE_VARIANT)!;
    for (const row of measured) {
      const figures = result.rounds.get(row.variant)!;
      row.rounds.push(figures);
      console.log(
        `round ${round}/${rounds} ${describeObservabilityRound(row.variant, figures, base)}`,
      );
    }
  }
  const baseRounds = measured.find((row) => row.variant === BASELINE_VARIANT)!.rounds;
  const rows = measured.map((row) => ({
    ...row,
    summary: { ...summarise(row.rounds, baseRounds), otlp: otlpSummary(row.rounds) },
  }));

  const environment = describeEnvironment(
    [{ major: node.major, version: node.version }],
    { version: redisVersion, owned: redis.owned },
    measuredSrc,
  );
  for (const name of OBSERVABILITY_PACKAGES) environment.packages[name] = installedVersion(name);
  const extra = process.argv.slice(2);
  return {
    about:
      'Raw per-round and per-slice figures of bench/observability; benchmarks-observability.md is rendered from them.',
    settings: {
      ...settings,
      mode: quick ? ('quick' as const) : ('default' as const),
      rounds,
      path: MEASURED_PATH,
      pngBytes,
      pinning,
      bspScheduleDelayMs: BSP_SCHEDULE_DELAY_MS,
      command: `${BENCH_COMMAND}${extra.length > 0 ? ` ${extra.join(' ')}` : ''}`,
    },
    environment,
    baseline: BASELINE_VARIANT,
    targetRatio: METRICS_TARGET_RATIO,
    descriptions: Object.fromEntries(variants.map((v) => [v, VARIANTS[v].description])),
    rows,
  };
}

async function main(): Promise<void> {
  const args = benchArgs(
    ['keep-build', 'render-only'],
    ['rounds', 'duration', 'slice', 'warmup', 'settle', 'connections', 'variants', 'redis'],
  );
  if (args.flag('render-only')) {
    console.log(`Wrote ${await rerenderObservability(outDirOf(args))}`);
  } else {
    await writeObservabilityReport(outDirOf(args), await measureObservability(args));
  }
}

runBenchmark(main, async () => {
  for (const app of running) await stopApp(app, 2000);
  await redis?.release();
  redis = undefined;
  if (buildDir && !keepBuild) rmSync(buildDir, { recursive: true, force: true });
  else if (buildDir) console.log(`Build kept in ${buildDir}`);
  buildDir = undefined;
});
