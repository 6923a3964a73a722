// What observability costs the renderer's cached render route:
//   npx tsc -p bench/tsconfig.json && node bench/dist/bench/observability/run.js [--quick]
//
// Builds the library into dist/ and the renderer once into a temp dir. Per round: every
// variant (bench/observability/variants.ts) is its own `node main.js` process, started fresh,
// checked (200, X-Cache: HIT), warmed up and loaded in interleaved slices (bench/support/http.ts),
// each followed by a --settle pause for the span exports it caused.
// Options: --quick (1 round, 2 s, results to bench/results/), --rounds N (3), --duration S (8),
// --slice S (2), --warmup S (2), --settle S (1.5), --connections N (50), --variants a,b (off is
// always added), --redis URL (REDIS_URL or redis://127.0.0.1:6379), --out DIR,
// --node-args="--cpu-prof --cpu-prof-dir=DIR" (per app), --keep-build,
// --pin-redis (also pin the redis-server found at --redis to cpu 1, restoring its affinity after;
// off by default: the benchmark did not start that server), --render-only (rewrite the Markdown
// from the JSON in --out), --quiet-cores 0.2, --max-wait S, --max-foreign-cores 0.3,
// --retries N (per slice), --no-pin
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Args } from '../support/args';
import type { Child } from '../support/child';
import { metricTotals, startRenderer } from '../support/renderer';
import { describeEnvironment, installedVersion, srcCommit } from '../support/environment';
import { describeRound, roundOf, runHttpRound, summarise } from '../support/http';
import type { HttpApp, HttpLoad } from '../support/http';
import { resolveNodes } from '../support/nodes';
import { repoRoot } from '../support/paths';
import { describePinning, pinProcess, SUPPORT_CPU } from '../support/pin';
import { medianOf, outDirOf } from '../support/report';
import { benchArgs, loadControlFrom, runBenchmark } from '../support/run-control';
import { formatInt } from '../support/stats';
import { OtlpSink } from './otlp-sink';
import { BENCH_COMMAND, rerenderObservability, writeObservabilityReport } from './report';
import type { ObservabilityRound, ObservabilityRow, OtlpRound } from './report';
import {
  BASELINE_VARIANT,
  BSP_SCHEDULE_DELAY_MS,
  MEASURED_PATH,
  METRICS_TARGET_RATIO,
  OBSERVABILITY_VARIANTS,
  VARIANT_DESCRIPTIONS,
  VARIANT_SPECS,
  variantEnv,
} from './variants';
import type { ObservabilityVariant } from './variants';

interface RenderApp extends HttpApp {
  variant: ObservabilityVariant;
  child: Child;
  sink: OtlpSink | undefined;
}

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
let buildDir: string | undefined;
let keepBuild = false;
/** redis-server's affinity mask before this run pinned it, to put back at the end. */
let redisAffinity: { pid: number; mask: string } | undefined;

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

/** The redis-server process serving `url` on this machine, if it can be seen in /proc. */
function findRedisPid(url: string): number | undefined {
  const { hostname, port } = new URL(url);
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(hostname)) return undefined;
  const pattern = new RegExp(`redis-server\\s+\\S*:${port || '6379'}(\\s|$)`);
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (pattern.test(cmdline)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function affinityMask(pid: number): string | undefined {
  const result = spawnSync('taskset', ['-p', String(pid)], { encoding: 'utf8' });
  return result.status === 0 ? /mask:\s*([0-9a-f]+)/i.exec(result.stdout)?.[1] : undefined;
}

function restoreRedisAffinity(): void {
  if (!redisAffinity) return;
  const { pid, mask } = redisAffinity;
  redisAffinity = undefined;
  const result = spawnSync('taskset', ['-a', '-p', mask, String(pid)], { stdio: 'ignore' });
  if (result.status !== 0)
    console.error(`Could not restore redis-server ${pid}'s affinity ${mask}`);
}

/** Every request an app answers counts: OTLP figures are per request served. */
async function fetchCounted(url: string, app: RenderApp): Promise<Response> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  app.served++;
  return response;
}

/**
 * Three requests: each must be a 200 cache hit with a PNG body. Returns the PNG's size. With
 * `missTolerated`, a first answer that is a 200 MISS (the entry expired, its TTL being 5 minutes,
 * or was removed from the shared Redis meanwhile; the request stored it again) is reported and
 * the three checks follow it.
 */
async function verify(app: RenderApp, missTolerated = false): Promise<number> {
  let size = 0;
  for (let i = 0; i < 3; i++) {
    const response = await fetchCounted(app.url, app);
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

/**
 * The render route's requests by cache outcome, from the app's own /metrics (metrics variants):
 * `request_duration_seconds_count{route="/apps/:appId/devices/:deviceId/render",cache=…}`.
 */
async function renderOutcomes(app: RenderApp): Promise<{ hit: number; miss: number } | undefined> {
  if (!VARIANT_SPECS[app.variant].metrics) return undefined;
  const text = await (await fetchCounted(new URL('/metrics', app.url).href, app)).text();
  const byCache = metricTotals(
    text,
    'request_duration_seconds_count',
    ['route="/apps/:appId/devices/:deviceId/render"'],
    'cache',
  );
  return { hit: byCache.hit ?? 0, miss: byCache.miss ?? 0 };
}

async function startApp(
  binary: string,
  variant: ObservabilityVariant,
  settings: HttpLoad & { redisUrl: string },
): Promise<RenderApp> {
  const sink = VARIANT_SPECS[variant].otlp ? await OtlpSink.start() : undefined;
  const { redisUrl } = settings;
  const { child, port, probes } = await startRenderer(
    binary,
    [...settings.nodeArgs, join(buildDir!, 'main.js')],
    settings.pin,
    (port) => variantEnv(variant, { port, redisUrl, otlpEndpoint: sink?.endpoint }),
    { label: variant, cwd: repoRoot, echo: true },
  );
  const app: RenderApp = {
    variant,
    child,
    pid: child.pid!,
    url: `http://127.0.0.1:${port}${MEASURED_PATH}`,
    sink,
    slices: [],
    served: probes,
  };
  running.add(app);
  // The first request may render and store the PNG (MISS); every later one must be a HIT.
  await (await fetchCounted(app.url, app)).arrayBuffer();
  await verify(app);
  return app;
}

async function stopApp(app: RenderApp, graceMs = 15_000): Promise<void> {
  await app.child.stop(graceMs);
  running.delete(app);
}

function otlpFigures(app: RenderApp): OtlpRound | undefined {
  if (!app.sink) return undefined;
  const counts = app.sink.snapshot();
  const tracesBytes = counts.paths['/v1/traces']?.bytes ?? 0;
  const spans = counts.paths['/v1/traces']?.items ?? 0;
  return {
    counts,
    requestsServed: app.served,
    tracesBytes,
    spans,
    bytesPerRequest: tracesBytes / app.served,
    spansPerRequest: spans / app.served,
  };
}

/** One round: all variants' apps up, checked, warmed up; then interleaved slices. */
async function runRound(
  binary: string,
  variants: readonly ObservabilityVariant[],
  round: number,
  settings: HttpLoad & { redisUrl: string },
  redisPid: number | undefined,
): Promise<{ rounds: Map<string, ObservabilityRound>; pngBytes: number }> {
  const outcomes = new Map<RenderApp, { hit: number; miss: number } | undefined>();
  let pngBytes = 0;
  const apps = await runHttpRound(variants, round, settings, redisPid, {
    start: (variant) => startApp(binary, variant as ObservabilityVariant, settings),
    after: async (app) => {
      pngBytes = await verify(app, true);
      outcomes.set(app, await renderOutcomes(app));
    },
    // Stopping flushes the SDK's pending spans (to the sinks, still up).
    stop: (app) => stopApp(app),
  });
  const rounds = new Map<string, ObservabilityRound>();
  for (const [index, app] of apps.entries()) {
    const otlp = otlpFigures(app);
    const renderOutcomes = outcomes.get(app);
    rounds.set(app.variant, {
      ...roundOf(app, round, index + 1),
      pid: app.pid,
      requestsServed: app.served,
      ...(renderOutcomes && { renderOutcomes }),
      ...(otlp && { otlp }),
    });
    await app.sink?.close();
  }
  return { rounds, pngBytes };
}

/** Builds the service, runs every round and returns the report's figures. */
export async function measureObservability(args: Args) {
  const quick = args.flag('quick');
  const rounds = args.number('rounds', quick ? 1 : 3);
  const durationS = args.number('duration', quick ? 2 : 8);
  const settings = {
    durationS,
    sliceS: Math.min(args.number('slice', 2), durationS),
    warmupS: args.number('warmup', 2),
    settleMs: args.number('settle', 1.5) * 1000,
    connections: args.number('connections', 50),
    redisUrl: args.string('redis') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ...loadControlFrom(args),
  };
  if (settings.settleMs <= BSP_SCHEDULE_DELAY_MS) {
    console.log(
      `Note: --settle ${settings.settleMs / 1000} s is not longer than the span export delay (${BSP_SCHEDULE_DELAY_MS} ms); exports may run into the next slice`,
    );
  }
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

  const admin = new Redis(settings.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
  admin.disconnect();
  const redisPid = findRedisPid(settings.redisUrl);

  if (settings.pin) {
    pinProcess(process.pid, SUPPORT_CPU);
    const mask =
      redisPid !== undefined && args.flag('pin-redis') ? affinityMask(redisPid) : undefined;
    if (mask) {
      redisAffinity = { pid: redisPid!, mask };
      pinProcess(redisPid!, SUPPORT_CPU);
    }
  }
  const pinning =
    describePinning(settings.pin, 'apps') +
    (settings.pin
      ? redisAffinity
        ? `; redis-server's own affinity (mask ${redisAffinity.mask}) put back at the end`
        : '; redis-server not pinned (not found, or no --pin-redis)'
      : '');
  console.log(
    `Redis ${redisVersion} at ${settings.redisUrl}${redisPid ? ` (pid ${redisPid})` : ''}; ${node.version}; ` +
      `${rounds} round(s) × ${variants.length} variants, ${settings.warmupS} s warm-up + ${durationS} s each in ${settings.sliceS} s slices ` +
      `(+${settings.settleMs / 1000} s pause after each), ${settings.connections} connections; ${pinning}`,
  );

  const measured = variants.map((variant) => ({ variant, rounds: [] as ObservabilityRound[] }));
  let pngBytes = 0;
  for (let round = 1; round <= rounds; round++) {
    const result = await runRound(node.binary, variants, round, settings, redisPid);
    pngBytes = result.pngBytes;
    const base = result.rounds.get(BASELINE_VARIANT)!;
    for (const row of measured) {
      const figures = result.rounds.get(row.variant)!;
      row.rounds.push(figures);
      console.log(
        `round ${round}/${rounds} ${describeRound(row.variant, figures)}` +
          `  ${(figures.reqPerSec / base.reqPerSec).toFixed(2)}x req/s, ${(figures.appCpuUsPerRequest / base.appCpuUsPerRequest).toFixed(2)}x CPU/req` +
          `  (pid ${figures.pid}, ${formatInt(figures.requestsServed)} requests served)` +
          (figures.otlp
            ? `  OTLP ${formatInt(figures.otlp.tracesBytes / 1024)} KiB, ${figures.otlp.spansPerRequest.toFixed(2)} spans/req`
            : ''),
      );
    }
  }
  const baseRounds = measured.find((row) => row.variant === BASELINE_VARIANT)!.rounds;
  const rows: ObservabilityRow[] = measured.map((row) => ({
    ...row,
    summary: { ...summarise(row.rounds, baseRounds), ...otlpSummary(row.rounds) },
  }));

  const environment = describeEnvironment(
    [{ major: node.major, version: node.version }],
    { version: redisVersion, owned: false },
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
    descriptions: Object.fromEntries(variants.map((v) => [v, VARIANT_DESCRIPTIONS[v]])),
    rows,
  };
}

async function main(): Promise<void> {
  const args = benchArgs(
    ['keep-build', 'pin-redis', 'render-only'],
    ['rounds', 'duration', 'slice', 'warmup', 'settle', 'connections', 'variants', 'redis'],
  );
  if (args.flag('render-only')) {
    console.log(`Wrote ${await rerenderObservability(outDirOf(args))}`);
  } else {
    await writeObservabilityReport(outDirOf(args), await measureObservability(args));
  }
}

/** Medians over rounds of what the OTLP sink received, per request served. */
function otlpSummary(
  rounds: readonly ObservabilityRound[],
): Pick<ObservabilityRow['summary'], 'otlp'> {
  const otlp = rounds.flatMap((r) => (r.otlp ? [r.otlp] : []));
  if (otlp.length === 0) return {};
  const traces = (o: OtlpRound) => o.counts.paths['/v1/traces'];
  const scopes = [...new Set(otlp.flatMap((o) => Object.keys(traces(o)?.byScope ?? {})))];
  const otherPaths = [...new Set(otlp.flatMap((o) => Object.keys(o.counts.paths)))].filter(
    (path) => path !== '/v1/traces',
  );
  return {
    otlp: {
      bytesPerRequestMedian: medianOf(otlp, (o) => o.bytesPerRequest),
      spansPerRequestMedian: medianOf(otlp, (o) => o.spansPerRequest),
      tracesBytesMedian: medianOf(otlp, (o) => o.tracesBytes),
      postsMedian: medianOf(otlp, (o) => traces(o)?.requests ?? 0),
      spansPerRequestByScope: Object.fromEntries(
        scopes.map((scope) => [
          scope,
          medianOf(otlp, (o) => (traces(o)?.byScope[scope] ?? 0) / o.requestsServed),
        ]),
      ),
      otherPaths: Object.fromEntries(
        otherPaths.map((path) => [
          path,
          {
            requests: medianOf(otlp, (o) => o.counts.paths[path]?.requests ?? 0),
            bytes: medianOf(otlp, (o) => o.counts.paths[path]?.bytes ?? 0),
          },
        ]),
      ),
    },
  };
}

runBenchmark(main, async () => {
  for (const app of running) {
    await stopApp(app, 2000);
    await app.sink?.close();
  }
  restoreRedisAffinity();
  if (buildDir && !keepBuild) rmSync(buildDir, { recursive: true, force: true });
  else if (buildDir) console.log(`Build kept in ${buildDir}`);
  buildDir = undefined;
});
