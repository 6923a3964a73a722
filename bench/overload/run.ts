// Overload versus outage: npm run bench:overload [-- --quick]
//
// Does a busy process read as a Redis outage? Against a healthy Redis:
// 1. Burst: this process starts --burst reads at once through RedisCache (every key cached) and
//    counts hits, misses and failures by kind, what the cache logged, and whether a stats() call
//    straight after answers.
// 2. HTTP past capacity: the renderer (apps/renderer/dist: npm run build:renderer), pinned to one
//    core, under autocannon with --calm connections, then --busy connections (far past what one
//    core serves), then --calm again. Per phase, from the renderer's /metrics and its log: render
//    hit ratio, cache errors by kind, log lines about Redis, latency.
// Prints Markdown (docs/failing-open.md quotes a run); writes no file. Options: --quick,
// --burst 10000,50000, --rounds N (3), --calm N (8), --busy N (1000), --phase S (10),
// --devices N (50), --node 24 (the renderer's Node), --no-pin.
import autocannon from 'autocannon';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { LoggerService } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RedisCache } from '../../src';
import { Args } from '../support/args';
import { resolveNodes } from '../support/nodes';
import { repoRoot } from '../support/paths';
import { pinningAvailable, pinProcess, SUPPORT_CPU } from '../support/pin';
import { acquireBenchRedis, BENCH_VALUE } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { metricTotals, startRenderer } from '../support/renderer';
import type { RunningRenderer } from '../support/renderer';
import { table } from '../support/report';
import { runBenchmark } from '../support/run-control';
import { formatInt, sleep } from '../support/stats';

/** The banner app: its images live 300 s, so every miss in a phase is one the cache caused. */
const APP = 'banner';
const RENDER_ROUTE = '/apps/:appId/devices/:deviceId/render';

/** The cache's log lines, kept (they are what an operator would read) and counted. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(): void {}
  warn(message: unknown): void {
    this.lines.push(String(message));
  }
  error(message: unknown): void {
    this.lines.push(String(message));
  }
}

/** `kind count, …`, or `none`. */
const formatKinds = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ') || 'none';

/** Up to four distinct log lines, quoted under `title`. */
function quotedLogs(title: string, lines: readonly string[]): string {
  const distinct = [...new Set(lines)].slice(0, 4);
  return distinct.length ? `${title}:\n\n${distinct.map((line) => `> ${line}`).join('\n')}` : '';
}

// 1. Burst

interface BurstRound {
  reads: number;
  round: number;
  hits: number;
  errors: Record<string, number>;
  stats: string;
  wallMs: number;
  /** From the end of the burst to the first read that hits again. */
  backAfterMs: number;
  logs: string[];
}

/** The cache's failure counts, summed over operations, by kind. */
function errorsByKind(cache: RedisCache): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const kinds of Object.values(cache.errorCounts())) {
    for (const [kind, count] of Object.entries(kinds ?? {})) {
      errors[kind] = (errors[kind] ?? 0) + (count ?? 0);
    }
  }
  return errors;
}

async function burstRound(url: string, reads: number, round: number): Promise<BurstRound> {
  const logger = new CapturingLogger();
  Logger.overrideLogger(logger);
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false });
  await client.connect();
  const cache = await RedisCache.fromClient(client);
  const views = Array.from({ length: 1000 }, (_, i) => cache.withContext(APP, `dev${i}`));
  try {
    await Promise.all(views.map((view) => view.set('k', BENCH_VALUE, 600)));
    await sleep(100);
    const started = performance.now();
    const values = await Promise.all(
      Array.from({ length: reads }, (_, i) => views[i % views.length].get('k')),
    );
    const wallMs = performance.now() - started;
    const stats = await views[0].stats().then(
      (keys) => `ok (${keys} key)`,
      (error: Error & { kind?: string }) => `rejected (${error.kind ?? error.name})`,
    );
    let backAfterMs = 0;
    while (!(await views[1].get('k')).found && backAfterMs <= 10_000) {
      backAfterMs = performance.now() - started - wallMs;
      await sleep(5);
    }
    const hits = values.filter((lookup) => lookup.found).length;
    const errors = errorsByKind(cache);
    return { reads, round, hits, errors, stats, wallMs, backAfterMs, logs: logger.lines };
  } finally {
    await Promise.all(views.map((view) => view.delete('k')));
    await cache.close();
    client.disconnect();
  }
}

function renderBurst(rounds: readonly BurstRound[]): string {
  const burstTable = table(rounds, [
    ['reads at once', (r) => formatInt(r.reads)],
    ['round', (r) => String(r.round)],
    ['hits', (r) => formatInt(r.hits)],
    ['misses', (r) => formatInt(r.reads - r.hits)],
    ['failures by kind', (r) => formatKinds(r.errors)],
    ['ms', (r) => r.wallMs.toFixed(0)],
    ['stats() after', (r) => r.stats],
    ['hits again after ms', (r) => r.backAfterMs.toFixed(0)],
    ['log lines', (r) => String(r.logs.length)],
  ]);
  const logs = quotedLogs(
    'What the cache logged',
    rounds.flatMap((r) => r.logs),
  );
  return `${burstTable}\n\n${logs}`;
}

// 2. HTTP past capacity

interface Phase {
  name: string;
  connections: number;
  reqPerS: number;
  p50: number;
  p99: number;
  timeouts: number;
  renders: Record<string, number>;
  errors: Record<string, number>;
  logs: string[];
}

/** The render route's requests by cache outcome, and the cache's errors by kind, so far. */
async function scrape(renderer: RunningRenderer) {
  const text = await (await fetch(`${renderer.base}/metrics`)).text();
  return {
    renders: metricTotals(
      text,
      'request_duration_seconds_count',
      [`route="${RENDER_ROUTE}"`],
      'cache',
    ),
    errors: metricTotals(text, 'errors_total', [], 'kind'),
  };
}

/** What changed from `before` to `after` (entries that did not, left out). */
function delta(after: Record<string, number>, before: Record<string, number>) {
  return Object.fromEntries(
    Object.entries(after)
      .map(([key, value]) => [key, value - (before[key] ?? 0)] as const)
      .filter(([, value]) => value !== 0),
  );
}

async function phase(
  renderer: RunningRenderer,
  name: string,
  connections: number,
  seconds: number,
  paths: string[],
): Promise<Phase> {
  const before = await scrape(renderer);
  const logsBefore = renderer.child.lines.length;
  const result = await autocannon({
    url: renderer.base,
    connections,
    duration: seconds,
    timeout: 30,
    requests: paths.map((path) => ({ method: 'GET' as const, path })),
  });
  await sleep(500);
  const after = await scrape(renderer);
  return {
    name,
    connections,
    reqPerS: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    timeouts: result.timeouts + result.errors,
    renders: delta(after.renders, before.renders),
    errors: delta(after.errors, before.errors),
    logs: renderer.child.lines.slice(logsBefore).filter((line) => /redis|cache/i.test(line)),
  };
}

function renderHitRatio({ renders }: Phase): string {
  const hits = renders.hit ?? 0;
  const total = hits + (renders.miss ?? 0);
  if (!total) return 'n/a';
  return `${((100 * hits) / total).toFixed(2)} % (${formatInt(total - hits)} misses)`;
}

function renderHttp(phases: readonly Phase[]): string {
  const phaseTable = table(phases, [
    ['phase', (p) => p.name],
    ['connections', (p) => String(p.connections)],
    ['req/s', (p) => formatInt(p.reqPerS)],
    ['p50 / p99 ms', (p) => `${p.p50} / ${p.p99}`],
    ['client errors', (p) => String(p.timeouts)],
    ['render hits', renderHitRatio],
    ['cache errors by kind', (p) => formatKinds(p.errors)],
    ['log lines', (p) => String(p.logs.length)],
  ]);
  const logs = quotedLogs(
    'What the renderer logged',
    phases.flatMap((p) => p.logs),
  );
  return `${phaseTable}\n\n${logs}`;
}

let redis: BenchRedis | undefined;
let renderer: RunningRenderer | undefined;

async function main(): Promise<void> {
  const args = new Args(
    ['quick', 'no-pin'],
    ['burst', 'rounds', 'calm', 'busy', 'phase', 'devices', 'node'],
  );
  const quick = args.flag('quick');
  const bursts = (args.string('burst') ?? (quick ? '10000' : '10000,50000')).split(',').map(Number);
  const rounds = args.number('rounds', quick ? 1 : 3);
  const calm = args.number('calm', 8);
  const busy = args.number('busy', 1000);
  const seconds = args.number('phase', quick ? 3 : 10);
  const devices = args.number('devices', 50);
  const pin = !args.flag('no-pin') && pinningAvailable();
  const [node] = resolveNodes([args.string('node') ?? '24']);

  redis = await acquireBenchRedis();
  const placement = pin ? 'renderer pinned to cpu 0, load and Redis on cpu 1' : 'not pinned';
  console.log(
    `# Overload versus outage\n\nRedis ${await redis.version()}, ${redis.url}; ${process.version} (burst), ${node.version} (renderer); ${placement}.\n`,
  );
  const burstRounds: BurstRound[] = [];
  for (const reads of bursts) {
    for (let round = 1; round <= rounds; round++) {
      burstRounds.push(await burstRound(redis.url, reads, round));
    }
  }
  console.log(`## Burst: reads started at once by one process\n\n${renderBurst(burstRounds)}\n`);

  if (pin) pinProcess(process.pid, SUPPORT_CPU);
  const redisUrl = redis.url;
  renderer = await startRenderer(
    node.binary,
    [join(repoRoot, 'apps', 'renderer', 'dist', 'main.js')],
    pin,
    () => ({ REDIS_URL: redisUrl, LOG_LEVEL: 'warn' }),
  );
  const paths = Array.from({ length: devices }, (_, i) => `/apps/${APP}/devices/bench-${i}/render`);
  for (const path of paths) await (await fetch(renderer.base + path)).arrayBuffer();
  await phase(renderer, 'warm-up', calm, seconds, paths);
  const phases: Phase[] = [];
  for (const [name, connections] of [
    ['calm', calm],
    ['past capacity', busy],
    ['calm again', calm],
  ] as const) {
    phases.push(await phase(renderer, name, connections, seconds, paths));
  }
  console.log(
    `## HTTP past capacity: the renderer's cached render route, ${devices} devices, ${seconds} s per phase\n\n${renderHttp(phases)}`,
  );
}

runBenchmark(main, async () => {
  await renderer?.child.stop();
  await redis?.release();
});
