// What the library benchmark records (library.json) and renders (library.md, and the section the
// suite's report embeds).
import type { RatioSummary } from '../support/report';
import {
  describeVariants,
  environmentLines,
  formatLoad,
  medianOf,
  NO_RATIO,
  ratioRange,
  ratioSummary,
  sumOf,
  table,
  valueRange,
  writeReport,
} from '../support/report';
import { formatInt, formatRatio } from '../support/stats';
import type { runLibraryBenchmark } from './run';
import { LIBRARY_CLIENTS, LIBRARY_OPERATIONS, LIBRARY_TARGETS, variantOf } from './variants';
import type { LibraryClient, LibraryOperation, LibraryVariant, WorkerResult } from './variants';

/** A variant's figures in one round: its worker's result (the slices it kept, added up). */
export interface LibraryRound extends WorkerResult {
  round: number;
  /** Position of this variant in its round's starting order (the order rotates per round). */
  position: number;
  slicesOpsPerSec: number[];
  /** The most CPU other work took during a kept slice, in cores. */
  foreignCores: number;
  /** 1 + the slices measured again because other work took CPU meanwhile. */
  attempts: number;
}

/** A variant's rounds on one Node version, as measured. */
interface Measured {
  nodeMajor: string;
  nodeVersion: string;
  variant: LibraryVariant;
  client: LibraryClient;
  operation: LibraryOperation;
  rounds: LibraryRound[];
}

export type LibraryRow = ReturnType<typeof summarise>[number];

/** What runLibraryBenchmark records: settings, environment, the rows and the targets. */
export type LibrarySection = Awaited<ReturnType<typeof runLibraryBenchmark>>;

/** Medians over rounds, and per-round ratios to the reference clients (same Node, operation). */
export function summarise(rows: readonly Measured[]) {
  const ratioTo = (row: Measured, client: LibraryClient) => {
    const variant = variantOf(client, row.operation);
    const reference = rows.find((r) => r.nodeMajor === row.nodeMajor && r.variant === variant);
    return reference ? ratioSummary(row.rounds, reference.rounds, (r) => r.opsPerSec) : NO_RATIO;
  };
  return rows.map((row) => ({
    ...row,
    summary: {
      opsPerSecMedian: medianOf(row.rounds, (r) => r.opsPerSec),
      p50UsMedian: medianOf(row.rounds, (r) => r.p50Us),
      p99UsMedian: medianOf(row.rounds, (r) => r.p99Us),
      cpuUsPerOpMedian: medianOf(row.rounds, (r) => r.cpuUsPerOp),
      workerCoresMedian: medianOf(row.rounds, (r) => r.cores),
      vsIoredis: ratioTo(row, 'ioredis'),
      vsAutopipeline: ratioTo(row, 'ioredis-autopipeline'),
      vsCacheManager: ratioTo(row, 'cache-manager'),
    },
  }));
}

/** The issue's targets, for `cache` GETs (hits and misses) against their references. */
export function evaluateTargets(rows: readonly LibraryRow[]) {
  return rows
    .filter((row) => row.client === 'cache' && row.operation !== 'set')
    .flatMap((row) =>
      LIBRARY_TARGETS.flatMap(({ reference, ratio: target }) => {
        const referenceVariant = variantOf(reference, row.operation);
        const referenceRow = rows.find(
          (r) => r.nodeMajor === row.nodeMajor && r.variant === referenceVariant,
        );
        if (!referenceRow) return [];
        const ratio = ratioSummary(row.rounds, referenceRow.rounds, (r) => r.opsPerSec);
        const { nodeVersion, variant } = row;
        return [
          {
            nodeVersion,
            variant,
            reference: referenceVariant,
            target,
            ratio,
            met: ratio.ratioMedian >= target,
          },
        ];
      }),
    );
}

function ratioCell(summary: RatioSummary, self: boolean): string {
  if (self) return '1.00x';
  if (!Number.isFinite(summary.ratioMedian)) return '';
  const spread = summary.ratioMin !== summary.ratioMax ? ` (${ratioRange(summary)})` : '';
  return `${formatRatio(summary.ratioMedian)}${spread}`;
}

const us = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 100 ? 1 : 0) : 'n/a');

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

const majorsOf = (section: LibrarySection) => [
  ...new Set(section.rows.map((row) => row.nodeMajor)),
];

/** The section as Markdown: method, one table per Node version, targets, variants, run. */
export function renderLibrary(section: LibrarySection): string {
  const { settings, rows } = section;
  return [
    '## Library throughput and latency',
    '',
    `Library level, no HTTP: one client per worker process, ${settings.concurrency} operations in flight at all times (a closed loop: each completion issues the next), a ${settings.valueBytes}-byte value; hits read a key that exists, misses one that does not, sets write one key with a TTL. ` +
      `Every variant is its own worker process (pinned to one core), started fresh each round and warmed up for ${settings.warmupS} s; then the workers take turns in ${settings.sliceS} s slices, the order rotating every cycle, until each has run ${settings.durationS} s, so drift in the machine's speed hits all of them alike. ${settings.rounds} round(s); medians over rounds. ` +
      '"vs …" columns are the median of per-round ratios of ops/s to the same operation of that client (lowest–highest round in brackets). p50/p99 are per-operation latencies (issue to settle, with the other operations in flight) over the round, median over rounds. "CPU µs/op" is the worker\'s CPU time (user + system) per operation while measured: the client-side cost of one operation, steadier than ops/s.',
    '',
    ...majorsOf(section).flatMap((major) => {
      const group = rows.filter((r) => r.nodeMajor === major);
      return [
        `### Node ${group[0].nodeVersion}`,
        '',
        table(group, [
          ['Variant', (row) => `\`${row.variant}\``],
          ['ops/s (median)', (row) => formatInt(row.summary.opsPerSecMedian)],
          [
            'ops/s per round',
            (row) => (row.rounds.length > 1 ? valueRange(row.rounds.map((r) => r.opsPerSec)) : ''),
          ],
          ['vs ioredis', (row) => ratioCell(row.summary.vsIoredis, row.client === 'ioredis')],
          [
            'vs ioredis auto-pipelined',
            (row) => ratioCell(row.summary.vsAutopipeline, row.client === 'ioredis-autopipeline'),
          ],
          [
            'vs cache-manager',
            (row) => ratioCell(row.summary.vsCacheManager, row.client === 'cache-manager'),
          ],
          ['p50 µs', (row) => us(row.summary.p50UsMedian)],
          ['p99 µs', (row) => us(row.summary.p99UsMedian)],
          ['CPU µs/op', (row) => row.summary.cpuUsPerOpMedian.toFixed(2)],
          ['worker cores', (row) => row.summary.workerCoresMedian.toFixed(2)],
          ['wrong+errors', (row) => String(sumOf(row.rounds, (r) => r.unexpected + r.errors))],
          // Here "redone" counts slices, not rounds.
          ['other load', (row) => formatLoad(row.rounds, (r) => r.attempts - 1)],
          ['rounds', (row) => String(row.rounds.length)],
        ]),
        '',
      ];
    }),
    ...(section.targets.length === 0
      ? []
      : [
          '### Targets',
          '',
          table(section.targets, [
            ['Node', (t) => t.nodeVersion],
            ['Variant', (t) => `\`${t.variant}\``],
            ['Against', (t) => `\`${t.reference}\``],
            ['Target', (t) => `≥ ${t.target.toFixed(2)}x`],
            ['Measured (median)', (t) => formatRatio(t.ratio.ratioMedian)],
            [
              'Per round',
              (t) => (t.ratio.ratioMin !== t.ratio.ratioMax ? ratioRange(t.ratio) : ''),
            ],
            ['Verdict', (t) => (t.met ? 'met' : 'MISSED')],
          ]),
          '',
        ]),
    '**Clients.**',
    '',
    ...LIBRARY_CLIENTS.filter((c) => rows.some((row) => row.client === c)).map(
      (client) => `- \`${client}-*\`: ${section.clients[client]}.`,
    ),
    '',
    '**Operations.**',
    '',
    ...describeVariants(section.descriptions),
    '',
    '**Run.**',
    '',
    ...environmentLines(section.environment, 'the workers'),
    `- Placement: ${settings.pinning}`,
    `- Command: \`${settings.command}\``,
    '',
  ].join('\n');
}

/** ops/s (median) of the GET-hit variants, one bar per client (and Node, when several). */
export function libraryChartBars(section: LibrarySection): { label: string; value: number }[] {
  const several = majorsOf(section).length > 1;
  return section.rows
    .filter((row) => row.operation === 'get-hit')
    .map((row) => ({
      label: `${CLIENT_LABELS[row.client]}${several ? `, Node ${row.nodeMajor}` : ''}`,
      value: Math.round(row.summary.opsPerSecMedian),
    }));
}

/** One line per operation for the console: ops/s of every client side by side. */
export function consoleSummary(section: LibrarySection): string {
  return majorsOf(section)
    .flatMap((major) =>
      LIBRARY_OPERATIONS.flatMap((operation) => {
        const cells = section.rows
          .filter((r) => r.nodeMajor === major && r.operation === operation)
          .map((r) => `${r.client} ${formatInt(r.summary.opsPerSecMedian)}`);
        return cells.length > 0
          ? [`Node ${major} ${OPERATION_TITLES[operation]}: ${cells.join(', ')}`]
          : [];
      }),
    )
    .join('\n');
}

export const writeLibraryReport = (outDir: string, section: LibrarySection) =>
  writeReport(
    outDir,
    'library',
    section,
    (s) => `# Benchmark: library throughput and latency\n\n${renderLibrary(s)}`,
  );
