// What the library benchmark records (library.json) and how it renders it (library.md, and the
// section a top-level report embeds).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { EnvironmentInfo } from '../support/environment';
import { repoRoot } from '../support/paths';
import { ratioSummary } from '../support/report';
import type { RatioSummary, RunSettings } from '../support/report';
import { formatInt, formatRatio, markdownTable, max, median, min } from '../support/stats';
import { LIBRARY_CLIENTS, LIBRARY_OPERATIONS, LIBRARY_TARGETS, variantOf } from './variants';
import type { LibraryClient, LibraryOperation, LibraryVariant } from './variants';

/** A variant's figures in one round: its kept slices added up. */
export interface LibraryRound {
  round: number;
  /** Position of this variant in its round's starting order (the order rotates per round). */
  position: number;
  opsPerSec: number;
  ops: number;
  seconds: number;
  /** Latency percentiles over every kept operation of the round, in µs. */
  p50Us: number;
  p99Us: number;
  meanUs: number;
  /** The worker's CPU time per operation while measured, in µs. */
  cpuUsPerOp: number;
  /** CPU the worker used while measured, in cores (≈ 1 when it is the bottleneck). */
  workerCores: number;
  unexpected: number;
  errors: number;
  /** `cache` variants: the module's Prometheus counter for the expected result, at the end. */
  metricsCount?: number;
  /** ops/s of each kept slice, in order. */
  slicesOpsPerSec: number[];
  /** The most CPU other work took during a kept slice, in cores. */
  foreignCores: number;
  /** 1 + the slices measured again because other work took CPU meanwhile. */
  attempts: number;
}

export interface LibraryRow {
  nodeMajor: string;
  nodeVersion: string;
  variant: LibraryVariant;
  client: LibraryClient;
  operation: LibraryOperation;
  rounds: LibraryRound[];
  summary: {
    opsPerSecMedian: number;
    p50UsMedian: number;
    p99UsMedian: number;
    cpuUsPerOpMedian: number;
    workerCoresMedian: number;
    /** Per-round ratios of ops/s to the same operation of each reference client. */
    vsIoredis: RatioSummary;
    vsAutopipeline: RatioSummary;
    vsCacheManager: RatioSummary;
  };
}

export interface LibraryTargetResult {
  nodeVersion: string;
  variant: LibraryVariant;
  reference: LibraryVariant;
  target: number;
  ratio: RatioSummary;
  met: boolean;
}

export interface LibrarySection {
  settings: RunSettings & {
    sliceS: number;
    concurrency: number;
    valueBytes: number;
  };
  environment: EnvironmentInfo;
  clients: Record<LibraryClient, string>;
  descriptions: Partial<Record<LibraryVariant, string>>;
  rows: LibraryRow[];
  targets: LibraryTargetResult[];
}

const NO_RATIO: RatioSummary = { ratioMedian: NaN, ratioMin: NaN, ratioMax: NaN };

/** Medians over rounds, and per-round ratios to the reference clients (same Node, operation). */
export function summarise(rows: readonly Omit<LibraryRow, 'summary'>[]): LibraryRow[] {
  const find = (row: Omit<LibraryRow, 'summary'>, client: LibraryClient) =>
    rows.find(
      (r) => r.nodeMajor === row.nodeMajor && r.variant === variantOf(client, row.operation),
    );
  const ratioTo = (row: Omit<LibraryRow, 'summary'>, client: LibraryClient) => {
    const reference = find(row, client);
    return reference ? ratioSummary(row.rounds, reference.rounds, (r) => r.opsPerSec) : NO_RATIO;
  };
  return rows.map((row) => ({
    ...row,
    summary: {
      opsPerSecMedian: median(row.rounds.map((r) => r.opsPerSec)),
      p50UsMedian: median(row.rounds.map((r) => r.p50Us)),
      p99UsMedian: median(row.rounds.map((r) => r.p99Us)),
      cpuUsPerOpMedian: median(row.rounds.map((r) => r.cpuUsPerOp)),
      workerCoresMedian: median(row.rounds.map((r) => r.workerCores)),
      vsIoredis: ratioTo(row, 'ioredis'),
      vsAutopipeline: ratioTo(row, 'ioredis-autopipeline'),
      vsCacheManager: ratioTo(row, 'cache-manager'),
    },
  }));
}

/** The issue's targets, for `cache` GETs (hits and misses) against their references. */
export function evaluateTargets(rows: readonly LibraryRow[]): LibraryTargetResult[] {
  const results: LibraryTargetResult[] = [];
  for (const row of rows) {
    if (row.client !== 'cache' || row.operation === 'set') continue;
    for (const { reference, ratio: target } of LIBRARY_TARGETS) {
      const referenceVariant = variantOf(reference, row.operation);
      const referenceRow = rows.find(
        (r) => r.nodeMajor === row.nodeMajor && r.variant === referenceVariant,
      );
      if (!referenceRow) continue;
      const ratio = ratioSummary(row.rounds, referenceRow.rounds, (r) => r.opsPerSec);
      results.push({
        nodeVersion: row.nodeVersion,
        variant: row.variant,
        reference: referenceVariant,
        target,
        ratio,
        met: ratio.ratioMedian >= target,
      });
    }
  }
  return results;
}

function range(values: readonly number[], formatter: (value: number) => string): string {
  return values.length > 1 ? `${formatter(min(values))}–${formatter(max(values))}` : '';
}

function ratioCell(summary: RatioSummary, self: boolean): string {
  if (self) return '1.00x';
  if (!Number.isFinite(summary.ratioMedian)) return '';
  const spread =
    summary.ratioMin !== summary.ratioMax
      ? ` (${formatRatio(summary.ratioMin)}–${formatRatio(summary.ratioMax)})`
      : '';
  return `${formatRatio(summary.ratioMedian)}${spread}`;
}

const us = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 100 ? 1 : 0) : 'n/a');

/** The most CPU other work took during any round, and how many slices were measured again. */
function formatLoad(rounds: readonly LibraryRound[]): string {
  const worst = max(rounds.map((r) => r.foreignCores));
  const redone = rounds.reduce((sum, r) => sum + r.attempts - 1, 0);
  return `${worst.toFixed(2)}${redone > 0 ? ` (${redone} redone)` : ''}`;
}

const OPERATION_TITLES: Record<LibraryOperation, string> = {
  'get-hit': 'GET, hit',
  'get-miss': 'GET, miss',
  set: 'SET with TTL',
};

const CLIENT_LABELS: Record<LibraryClient, string> = {
  cache: 'ContextualCache (metrics on)',
  ioredis: 'ioredis',
  'ioredis-autopipeline': 'ioredis, auto-pipelining',
  'cache-manager': 'cache-manager on @keyv/redis',
};

function environmentLines(section: LibrarySection): string[] {
  const env = section.environment;
  const packages = Object.entries(env.packages)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return [
    `- Date: ${env.date.slice(0, 16).replace('T', ' ')} UTC`,
    `- Machine: ${env.cpuCount} cores (${env.cpuModel}), ${env.memoryGiB} GiB, ${env.kernel}`,
    `- Node: ${env.nodes.map((n) => n.version).join(' and ')} for the workers (orchestrator on ${env.orchestratorNode})`,
    `- Redis: ${env.redis.version} on loopback${env.redis.owned ? ', started by the benchmark' : ' (REDIS_URL)'}`,
    `- Packages: ${packages}`,
    ...(env.srcCommit ? [`- Measured \`src/\` at commit ${env.srcCommit}`] : []),
    `- Placement: ${section.settings.pinning}`,
    `- Command: \`${section.settings.command}\``,
  ];
}

/** The section as Markdown: method, one table per Node version, targets, variants, run. */
export function renderLibrary(section: LibrarySection): string {
  const { settings, rows } = section;
  const out: string[] = [];
  out.push('## Library throughput and latency', '');
  out.push(
    `Library level, no HTTP: one client per worker process, ${settings.concurrency} operations in flight at all times (a closed loop: each completion issues the next), a ${settings.valueBytes}-byte value; hits read a key that exists, misses one that does not, sets write one key with a TTL. ` +
      `Every variant is its own worker process (pinned to one core), started fresh each round and warmed up for ${settings.warmupS} s; then the workers take turns in ${settings.sliceS} s slices, the order rotating every cycle, until each has run ${settings.durationS} s, so drift in the machine's speed hits all of them alike. ${settings.rounds} round(s); medians over rounds. ` +
      '"vs …" columns are the median of per-round ratios of ops/s to the same operation of that client (lowest–highest round in brackets). p50/p99 are per-operation latencies (issue to settle, with the other operations in flight) over the round, median over rounds. "CPU µs/op" is the worker\'s CPU time (user + system) per operation while measured: the client-side cost of one operation, steadier than ops/s.',
    '',
  );
  for (const major of [...new Set(rows.map((row) => row.nodeMajor))]) {
    const group = rows.filter((r) => r.nodeMajor === major);
    out.push(`### Node ${group[0].nodeVersion}`, '');
    const table = group.map((row) => {
      const { summary } = row;
      return [
        `\`${row.variant}\``,
        formatInt(summary.opsPerSecMedian),
        range(
          row.rounds.map((r) => r.opsPerSec),
          formatInt,
        ),
        ratioCell(summary.vsIoredis, row.client === 'ioredis'),
        ratioCell(summary.vsAutopipeline, row.client === 'ioredis-autopipeline'),
        ratioCell(summary.vsCacheManager, row.client === 'cache-manager'),
        us(summary.p50UsMedian),
        us(summary.p99UsMedian),
        summary.cpuUsPerOpMedian.toFixed(2),
        summary.workerCoresMedian.toFixed(2),
        String(row.rounds.reduce((sum, r) => sum + r.unexpected + r.errors, 0)),
        formatLoad(row.rounds),
        String(row.rounds.length),
      ];
    });
    out.push(
      markdownTable(
        [
          'Variant',
          'ops/s (median)',
          'ops/s per round',
          'vs ioredis',
          'vs ioredis auto-pipelined',
          'vs cache-manager',
          'p50 µs',
          'p99 µs',
          'CPU µs/op',
          'worker cores',
          'wrong+errors',
          'other load',
          'rounds',
        ],
        table,
      ),
      '',
    );
  }

  if (section.targets.length > 0) {
    out.push('### Targets', '');
    out.push(
      markdownTable(
        ['Node', 'Variant', 'Against', 'Target', 'Measured (median)', 'Per round', 'Verdict'],
        section.targets.map((t) => [
          t.nodeVersion,
          `\`${t.variant}\``,
          `\`${t.reference}\``,
          `≥ ${t.target.toFixed(2)}x`,
          formatRatio(t.ratio.ratioMedian),
          t.ratio.ratioMin !== t.ratio.ratioMax
            ? `${formatRatio(t.ratio.ratioMin)}–${formatRatio(t.ratio.ratioMax)}`
            : '',
          t.met ? 'met' : 'MISSED',
        ]),
      ),
      '',
    );
  }

  out.push('**Clients.**', '');
  for (const client of LIBRARY_CLIENTS) {
    if (rows.some((row) => row.client === client)) {
      out.push(`- \`${client}-*\`: ${section.clients[client]}.`);
    }
  }
  out.push('', '**Operations.**', '');
  for (const [variant, description] of Object.entries(section.descriptions)) {
    out.push(`- \`${variant}\`: ${description}`);
  }
  out.push('', '**Run.**', '', ...environmentLines(section), '');
  return out.join('\n');
}

/** ops/s (median) of the GET-hit variants, one bar per client (and Node, when several). */
export function libraryChartBars(section: LibrarySection): { label: string; value: number }[] {
  const majors = new Set(section.rows.map((row) => row.nodeMajor));
  return section.rows
    .filter((row) => row.operation === 'get-hit')
    .map((row) => ({
      label: `${CLIENT_LABELS[row.client]}${majors.size > 1 ? `, Node ${row.nodeMajor}` : ''}`,
      value: Math.round(row.summary.opsPerSecMedian),
    }));
}

/** One line per operation for the console: ops/s of every client side by side. */
export function consoleSummary(section: LibrarySection): string {
  const lines: string[] = [];
  for (const major of [...new Set(section.rows.map((row) => row.nodeMajor))]) {
    for (const operation of LIBRARY_OPERATIONS) {
      const cells = section.rows
        .filter((r) => r.nodeMajor === major && r.operation === operation)
        .map((r) => `${r.client} ${formatInt(r.summary.opsPerSecMedian)}`);
      if (cells.length > 0) {
        lines.push(`Node ${major} ${OPERATION_TITLES[operation]}: ${cells.join(', ')}`);
      }
    }
  }
  return lines.join('\n');
}

/** Writes `library.json` and `library.md` (formatted with the repo's Prettier) into `outDir`. */
export async function writeLibraryReport(
  outDir: string,
  section: LibrarySection,
): Promise<{ json: string; markdown: string }> {
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, 'library.json');
  const markdownPath = join(outDir, 'library.md');
  writeFileSync(jsonPath, `${JSON.stringify(section, null, 2)}\n`);
  const markdown = `# Benchmark: library throughput and latency\n\n${renderLibrary(section)}`;
  const options = (await resolveConfig(markdownPath)) ?? {};
  writeFileSync(markdownPath, await format(markdown, { ...options, filepath: markdownPath }));
  return { json: relative(repoRoot, jsonPath), markdown: relative(repoRoot, markdownPath) };
}
