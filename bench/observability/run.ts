// What observability costs the renderer's cached render route:
//   npx tsc -p bench/tsconfig.json && node bench/dist/bench/observability/run.js [--quick]
//
// Builds the library into dist/ and the renderer once into a temp dir. Per round: every
// variant (bench/observability/variants.ts) is its own `node main.js` process, pinned to cpu 0,
// started fresh, checked (200, X-Cache: HIT) and warmed up; then autocannon (in this process,
// pinned to cpu 1 with redis-server and the OTLP sink) loads them in turn in slices, the order
// rotating every cycle, until each has been measured --duration seconds.
// Options: --quick (1 round, 2 s, results to bench/results/), --rounds N (3), --duration S (8),
// --slice S (2), --warmup S (2), --settle S (1.5; pause after each slice), --connections N (50),
// --variants a,b (off is always added), --redis URL (REDIS_URL or redis://127.0.0.1:6379),
// --out DIR, --node-args="--cpu-prof --cpu-prof-dir=DIR" (per app), --keep-build,
// --pin-redis (also pin the redis-server found at --redis to cpu 1, restoring its affinity after;
// off by default: the benchmark did not start that server), --render-only (rewrite the Markdown
// from the JSON in --out), --quiet-cores 0.2, --max-wait S, --max-foreign-cores 0.3,
// --retries N (per slice), --no-pin
import autocannon from 'autocannon';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { Args } from '../support/args';
import { stopChild } from '../support/child';
import { cpuWindow, processCpuMs, waitForQuiet } from '../support/cpu';
import { describeEnvironment, srcCommit } from '../support/environment';
import { resolveNodes } from '../support/nodes';
import type { NodeRuntime } from '../support/nodes';
import { freePort } from '../../test/support/redis-server';
import { repoRoot } from '../support/paths';
import { describePinning, pinnedCommand, pinProcess, SUPPORT_CPU } from '../support/pin';
import { LOAD_CONTROL_OPTIONS, loadControlFrom, runBenchmark } from '../support/run-control';
import type { LoadControl } from '../support/run-control';
import { autocannonFigures, combineSlices, defaultOutDir } from '../support/report';
import { formatInt, formatMs, rotate, sleep } from '../support/stats';
import { OtlpSink } from './otlp-sink';
import { BENCH_COMMAND, rerender, summarise, writeReport } from './report';
import type {
  ObservabilityReport,
  ObservabilityRound,
  ObservabilityRow,
  ObservabilitySlice,
  OtlpRound,
} from './report';
import {
  BASELINE_VARIANT,
  BSP_SCHEDULE_DELAY_MS,
  isMeasurementVariable,
  MEASURED_PATH,
  METRICS_TARGET_RATIO,
  OBSERVABILITY_VARIANTS,
  VARIANT_DESCRIPTIONS,
  VARIANT_SPECS,
  variantEnv,
} from './variants';
import type { ObservabilityVariant } from './variants';

interface Settings extends LoadControl {
  durationS: number;
  sliceS: number;
  warmupS: number;
  settleMs: number;
  connections: number;
  redisUrl: string;
}

interface RunningApp {
  variant: ObservabilityVariant;
  child: ChildProcess;
  exited: Promise<number | null>;
  pid: number;
  url: string;
  sink: OtlpSink | undefined;
  slices: ObservabilitySlice[];
  redone: number;
  /** Every response this app gave (checks, warm-up, slices): OTLP figures are per request. */
  served: number;
  /** The render route's hits and misses over the app's life, from its /metrics (metrics on). */
  outcomes?: { hit: number; miss: number };
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

const running = new Set<RunningApp>();
const openSinks = new Set<OtlpSink>();
let buildDir: string | undefined;
let keepBuild = false;
/** redis-server's affinity mask before this run pinned it, to put back at the end. */
let redisAffinity: { pid: number; mask: string } | undefined;

// ---------------------------------------------------------------------------------------------
// Build, processes, Redis
// ---------------------------------------------------------------------------------------------

/**
 * `npm run build:renderer`'s compilation: the library into dist/ (the renderer imports the built
 * package, as a user's app does), the renderer into a fresh dir under its own node_modules/.cache
 * (so it finds the packages only it depends on).
 */
function buildService(): string {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: repoRoot,
    stdio: 'pipe',
  });
  const cache = join(repoRoot, 'apps', 'renderer', 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const outDir = mkdtempSync(join(cache, 'observability-bench-'));
  execFileSync(
    process.execPath,
    [tsc, '-p', join('apps', 'renderer', 'tsconfig.build.json'), '--outDir', outDir],
    { cwd: repoRoot, stdio: 'pipe' },
  );
  return outDir;
}

function versionOf(name: string): string {
  try {
    const manifest = readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8');
    return (JSON.parse(manifest) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

/** The redis-server process serving `url` on this machine, if it can be seen in /proc. */
function findRedisPid(url: string): number | undefined {
  const { hostname, port } = new URL(url);
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(hostname)) return undefined;
  const pattern = new RegExp(`redis-server\\s+\\S*:${port || '6379'}(\\s|$)`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
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

/** The parent's environment without anything that would change what a variant measures. */
function cleanEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] =>
        entry[1] !== undefined && !isMeasurementVariable(entry[0]),
    ),
  );
}

async function fetchOk(url: string, app: RunningApp): Promise<Response> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  app.served++;
  return response;
}

/** Polls GET /health/live until it answers 200 (the Listening line is not logged at LOG_LEVEL=error). */
async function waitLive(app: RunningApp, port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let exited = false;
  void app.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${app.variant}: the app exited before answering /health/live`);
    try {
      const response = await fetchOk(`http://127.0.0.1:${port}/health/live`, app);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      throw new Error(`${app.variant}: /health/live did not answer within ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One request to the measured route: its status, X-Cache and body. */
async function requestPng(app: RunningApp) {
  const response = await fetchOk(app.url, app);
  const body = Buffer.from(await response.arrayBuffer());
  return {
    status: response.status,
    cache: response.headers.get('x-cache'),
    type: response.headers.get('content-type'),
    body,
  };
}

/**
 * Three requests: each must be a 200 cache hit with a PNG body. Returns the PNG's size. With
 * `missTolerated`, a first answer that is a 200 MISS (the entry expired, its TTL being 5 minutes,
 * or was removed from the shared Redis meanwhile; the request stored it again) is reported and
 * the three checks follow it.
 */
async function verify(app: RunningApp, missTolerated = false): Promise<number> {
  let size = 0;
  for (let i = 0; i < 3; i++) {
    const { status, cache, type, body } = await requestPng(app);
    const png = status === 200 && type === 'image/png' && body.subarray(0, 8).equals(PNG_SIGNATURE);
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
        `${app.variant}: GET ${app.url} answered ${status}, x-cache ${cache}, ${type}, ${body.length} bytes; expected a 200 cache hit with a PNG`,
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
async function renderOutcomes(app: RunningApp): Promise<{ hit: number; miss: number } | undefined> {
  if (!VARIANT_SPECS[app.variant].metrics) return undefined;
  const response = await fetchOk(new URL('/metrics', app.url).href, app);
  const text = await response.text();
  const count = (outcome: string) =>
    text
      .split('\n')
      .filter(
        (line) =>
          line.includes('request_duration_seconds_count{') &&
          line.includes('route="/apps/:appId/devices/:deviceId/render"') &&
          line.includes(`cache="${outcome}"`),
      )
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return { hit: count('hit'), miss: count('miss') };
}

async function startApp(
  node: NodeRuntime,
  variant: ObservabilityVariant,
  settings: Settings,
): Promise<RunningApp> {
  const port = await freePort();
  const sink = VARIANT_SPECS[variant].otlp ? await OtlpSink.start() : undefined;
  if (sink) openSinks.add(sink);
  const env = {
    ...cleanEnv(),
    ...variantEnv(variant, { port, redisUrl: settings.redisUrl, otlpEndpoint: sink?.endpoint }),
  };
  const [binary, args] = pinnedCommand(settings.pin, node.binary, [
    ...settings.nodeArgs,
    join(buildDir!, 'main.js'),
  ]);
  const child = spawn(binary, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) =>
      process.stderr.write(`[${variant} ${child.pid}] ${line}\n`),
    );
  }
  const app: RunningApp = {
    variant,
    child,
    exited,
    pid: child.pid!,
    url: `http://127.0.0.1:${port}${MEASURED_PATH}`,
    sink,
    slices: [],
    redone: 0,
    served: 0,
  };
  running.add(app);
  await waitLive(app, port);
  // The first request may render and store the PNG (MISS); every later one must be a HIT.
  await (await fetchOk(app.url, app)).arrayBuffer();
  await verify(app);
  return app;
}

async function closeSink(sink: OtlpSink): Promise<void> {
  openSinks.delete(sink);
  await sink.close();
}

async function stopApp(app: RunningApp): Promise<void> {
  await stopChild(app, 15_000);
  running.delete(app);
}

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

/** Loads one app for `seconds`, then pauses `settleMs`; its CPU from the start to the end. */
async function slice(
  app: RunningApp,
  settings: Settings,
  ownPids: number[],
): Promise<ObservabilitySlice> {
  const cpu = cpuWindow(ownPids);
  const cpuBefore = processCpuMs(app.pid) ?? NaN;
  const started = performance.now();
  const result = await autocannon({
    url: app.url,
    connections: settings.connections,
    duration: settings.sliceS,
  });
  const cpuUnderLoad = (processCpuMs(app.pid) ?? NaN) - cpuBefore;
  const wallMs = performance.now() - started;
  const foreignCores = cpu.foreignCores();
  await sleep(settings.settleMs);
  const appCpuMs = (processCpuMs(app.pid) ?? NaN) - cpuBefore;
  const responses = result['2xx'] + result.non2xx;
  app.served += responses;
  if (result['2xx'] === 0) throw new Error(`${app.variant}: no 2xx response under load`);
  return {
    ...autocannonFigures(result),
    appCpuMs,
    appCpuMsUnderLoad: cpuUnderLoad,
    appCores: cpuUnderLoad / wallMs,
    appCpuUsPerRequest: responses > 0 ? (appCpuMs * 1000) / responses : NaN,
    foreignCores,
  };
}

/** One measured slice, measured again when other work took too much CPU meanwhile. */
async function quietSlice(app: RunningApp, settings: Settings, ownPids: number[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await waitForQuiet(ownPids, settings.quietCores, settings.maxWaitS * 1000, (cores) =>
      console.log(`  waiting: other work is using ${cores.toFixed(2)} cores`),
    );
    const figures = await slice(app, settings, ownPids);
    if (figures.foreignCores <= settings.maxForeignCores || attempt > settings.retries) {
      app.slices.push(figures);
      return;
    }
    app.redone++;
    console.log(
      `  ${app.variant}: other work took ${figures.foreignCores.toFixed(2)} cores meanwhile; measuring the slice again`,
    );
  }
}

function roundFigures(
  app: RunningApp,
  round: number,
  position: number,
  otlp: OtlpRound | undefined,
): ObservabilityRound {
  const slices = app.slices;
  const sum = (pick: (s: ObservabilitySlice) => number) => slices.reduce((t, s) => t + pick(s), 0);
  const durationS = sum((s) => s.durationS);
  const responses = sum((s) => s.requests2xx + s.non2xx);
  return {
    round,
    position,
    pid: app.pid,
    ...combineSlices(slices),
    appCores: sum((s) => s.appCpuMsUnderLoad) / 1000 / durationS,
    appCpuUsPerRequest: (sum((s) => s.appCpuMs) * 1000) / responses,
    foreignCores: Math.max(...slices.map((s) => s.foreignCores)),
    attempts: 1 + app.redone,
    requestsServed: app.served,
    ...(app.outcomes ? { renderOutcomes: app.outcomes } : {}),
    slices,
    ...(otlp ? { otlp } : {}),
  };
}

function otlpFigures(app: RunningApp): OtlpRound | undefined {
  if (!app.sink) return undefined;
  const counts = app.sink.snapshot();
  const traces = counts.paths['/v1/traces'];
  const tracesBytes = traces?.bytes ?? 0;
  const spans = traces?.items ?? 0;
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
  node: NodeRuntime,
  variants: readonly ObservabilityVariant[],
  round: number,
  settings: Settings,
  redisPid: number | undefined,
): Promise<{ rounds: Map<ObservabilityVariant, ObservabilityRound>; pngBytes: number }> {
  const apps: RunningApp[] = [];
  const rounds = new Map<ObservabilityVariant, ObservabilityRound>();
  let pngBytes = 0;
  try {
    for (const variant of rotate(variants, round - 1)) {
      apps.push(await startApp(node, variant, settings));
    }
    const ownPids = [...apps.map((a) => a.pid), ...(redisPid !== undefined ? [redisPid] : [])];
    for (const app of apps) {
      const warm = await autocannon({
        url: app.url,
        connections: settings.connections,
        duration: settings.warmupS,
      });
      app.served += warm['2xx'] + warm.non2xx;
      if (warm.non2xx + warm.errors > 0) {
        throw new Error(`${app.variant}: ${warm.non2xx} non-2xx, ${warm.errors} errors in warm-up`);
      }
    }
    const cycles = Math.max(1, Math.round(settings.durationS / settings.sliceS));
    for (let cycle = 0; cycle < cycles; cycle++) {
      for (const app of rotate(apps, cycle)) await quietSlice(app, settings, ownPids);
    }
    for (const app of apps) {
      pngBytes = await verify(app, true);
      app.outcomes = await renderOutcomes(app);
    }
  } finally {
    // Stopping flushes the SDK's pending spans (to the sinks, still up).
    for (const app of apps) await stopApp(app);
  }
  for (const [index, app] of apps.entries()) {
    rounds.set(app.variant, roundFigures(app, round, index + 1, otlpFigures(app)));
    if (app.sink) await closeSink(app.sink);
  }
  return { rounds, pngBytes };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = new Args();
  args.assertKnown([
    'quick',
    'rounds',
    'duration',
    'slice',
    'warmup',
    'settle',
    'connections',
    'variants',
    'redis',
    'out',
    'keep-build',
    'pin-redis',
    'render-only',
    ...LOAD_CONTROL_OPTIONS,
  ]);
  const quick = args.flag('quick');
  const outDir = args.string('out') ?? defaultOutDir(quick);
  if (args.flag('render-only')) {
    console.log(`Wrote ${await rerender(outDir)}`);
    return;
  }
  const rounds = args.number('rounds', quick ? 1 : 3);
  const durationS = args.number('duration', quick ? 2 : 8);
  const settings: Settings = {
    durationS,
    sliceS: Math.min(args.number('slice', 2), durationS),
    warmupS: args.number('warmup', 2),
    settleMs: args.number('settle', 1.5) * 1000,
    connections: args.number('connections', 50),
    redisUrl: args.string('redis') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ...loadControlFrom(args, quick),
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
  const info = await admin.info('server');
  admin.disconnect();
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const redisPid = findRedisPid(settings.redisUrl);

  const pinRedis = settings.pin && args.flag('pin-redis') && redisPid !== undefined;
  if (settings.pin) {
    pinProcess(process.pid, SUPPORT_CPU);
    if (pinRedis) {
      const mask = affinityMask(redisPid);
      if (mask) {
        redisAffinity = { pid: redisPid, mask };
        pinProcess(redisPid, SUPPORT_CPU);
      }
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
      `${rounds} round(s) × ${variants.length} variants, ${settings.warmupS} s warm-up + ${settings.durationS} s each in ${settings.sliceS} s slices ` +
      `(+${settings.settleMs / 1000} s pause after each), ${settings.connections} connections; ${pinning}`,
  );

  const rows: ObservabilityRow[] = variants.map((variant) => ({
    variant,
    rounds: [],
    summary: {
      reqPerSecMedian: NaN,
      p50MsMedian: NaN,
      p99MsMedian: NaN,
      cpuUsPerRequestMedian: NaN,
      appCoresMedian: NaN,
      failures: 0,
      cpu: { ratioMedian: NaN, ratioMin: NaN, ratioMax: NaN },
      ratioMedian: NaN,
      ratioMin: NaN,
      ratioMax: NaN,
    },
  }));
  let pngBytes = 0;
  for (let round = 1; round <= rounds; round++) {
    const result = await runRound(node, variants, round, settings, redisPid);
    pngBytes = result.pngBytes;
    const base = result.rounds.get(BASELINE_VARIANT)!;
    for (const row of rows) {
      const figures = result.rounds.get(row.variant as ObservabilityVariant)!;
      row.rounds.push(figures);
      const failures = figures.non2xx + figures.errors + figures.timeouts;
      console.log(
        `round ${round}/${rounds} ${row.variant.padEnd(17)} (pid ${figures.pid}, ${formatInt(figures.requestsServed)} requests served) ` +
          `${formatInt(figures.reqPerSec).padStart(7)} req/s ${(figures.reqPerSec / base.reqPerSec).toFixed(2)}x` +
          `  p99 ${formatMs(figures.latencyP99Ms)} ms  app ${figures.appCores.toFixed(2)} cores, ` +
          `${formatMs(figures.appCpuUsPerRequest)} µs CPU/req ${(figures.appCpuUsPerRequest / base.appCpuUsPerRequest).toFixed(2)}x` +
          `  other load ${figures.foreignCores.toFixed(2)}` +
          (figures.otlp
            ? `  OTLP ${formatInt(figures.otlp.tracesBytes / 1024)} KiB, ${figures.otlp.spansPerRequest.toFixed(2)} spans/req`
            : '') +
          (failures > 0 ? `  (${failures} errors/non-2xx/timeouts)` : ''),
      );
    }
  }
  summarise(rows, BASELINE_VARIANT);

  const environment = describeEnvironment(
    [{ major: node.major, version: node.version }],
    { version: redisVersion, owned: false },
    measuredSrc,
  );
  const extra = process.argv.slice(2);
  const report: ObservabilityReport = {
    about:
      'Raw per-round and per-slice figures of bench/observability; benchmarks-observability.md is rendered from them.',
    settings: {
      mode: quick ? 'quick' : 'default',
      rounds,
      durationS: settings.durationS,
      sliceS: settings.sliceS,
      warmupS: settings.warmupS,
      settleMs: settings.settleMs,
      connections: settings.connections,
      path: MEASURED_PATH,
      pngBytes,
      quietCores: settings.quietCores,
      maxForeignCores: settings.maxForeignCores,
      retries: settings.retries,
      pinning,
      redisUrl: settings.redisUrl,
      nodeArgs: settings.nodeArgs,
      bspScheduleDelayMs: BSP_SCHEDULE_DELAY_MS,
      command: `${BENCH_COMMAND}${extra.length > 0 ? ` ${extra.join(' ')}` : ''}`,
    },
    environment: {
      ...environment,
      observabilityPackages: Object.fromEntries(
        OBSERVABILITY_PACKAGES.map((name) => [name, versionOf(name)]),
      ),
    },
    baseline: BASELINE_VARIANT,
    targetRatio: METRICS_TARGET_RATIO,
    descriptions: Object.fromEntries(variants.map((v) => [v, VARIANT_DESCRIPTIONS[v]])),
    rows,
  };
  const written = await writeReport(outDir, report);
  console.log(`Wrote ${written.markdown} and ${written.json}`);
}

async function cleanup(): Promise<void> {
  for (const app of running) await stopChild(app, 2000);
  running.clear();
  for (const sink of openSinks) await closeSink(sink);
  restoreRedisAffinity();
  if (buildDir && !keepBuild) rmSync(buildDir, { recursive: true, force: true });
  else if (buildDir) console.log(`Build kept in ${buildDir}`);
  buildDir = undefined;
}

runBenchmark(main, cleanup);
