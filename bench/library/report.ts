// What the library benchmark records (library.json) and renders (library.md, and the section the
// suite's report embeds).
import {
  describeVariants,
  runBlock,
  formatLoad,
  NO_RATIO,
  ratioRange,
  ratioSummary,
  sumOf,
  table,
  valueRange,
  writeReport,
} from '../support/report';
import { formatInt, formatRatio } from '../support/stats';
import { summaryOf } from './harness';
import type { Round } from './harness';
import type { runLibraryBenchmark } from './run';
import { LIBRARY_CLIENTS, LIBRARY_TARGETS, parseVariant, variantOf } from './variants';
import type { LibraryClient, LibraryVariant } from './variants';

export type LibraryRow = ReturnType<typeof summarise>[number];

/** What runLibraryBenchmark records: settings, environment, the rows and the targets. */
export type LibrarySection = Awaited<ReturnType<typeof runLibraryBenchmark>>;

/** The clients each row is compared with, and their columns' headers. */
const REFERENCES = [
  ['ioredis', 'vs ioredis'],
  ['ioredis-autopipeline', 'vs ioredis auto-pipelined'],
  ['cache-manager', 'vs cache-manager'],
] as const;

/** A variant's rounds on one Node version, as measured. */
interface Measured {
  nodeMajor: string;
  nodeVersion: string;
  variant: LibraryVariant;
  rounds: Round[];
}

/** Medians over rounds, and per-round ratios to the reference clients (same Node, operation). */
export function summarise(rows: readonly Measured[]) {
  return rows.map((row) => {
    const { client, operation } = parseVariant(row.variant);
    const ratioTo = (reference: LibraryClient) => {
      const other = rows.find(
        (r) => r.nodeMajor === row.nodeMajor && r.variant === variantOf(reference, operation),
      );
      return other ? ratioSummary(row.rounds, other.rounds, (r) => r.opsPerSec) : NO_RATIO;
    };
    const vs = Object.fromEntries(REFERENCES.map(([reference]) => [reference, ratioTo(reference)]));
    return { ...row, client, operation, summary: { ...summaryOf(row.rounds), vs } };
  });
}

/** The issue's targets, for `cache` GETs (hits and misses) against their references. */
export function evaluateTargets(rows: readonly LibraryRow[]) {
  return rows
    .filter((row) => row.client === 'cache' && row.operation !== 'set')
    .flatMap((row) =>
      LIBRARY_TARGETS.map(({ reference, ratio: target }) => {
        const ratio = row.summary.vs[reference];
        const { nodeVersion, variant } = row;
        const against = variantOf(reference, row.operation);
        return {
          nodeVersion,
          variant,
          reference: against,
          target,
          ratio,
          met: ratio.ratioMedian >= target,
        };
      }),
    )
    .filter((target) => Number.isFinite(target.ratio.ratioMedian));
}

function ratioCell(row: LibraryRow, reference: LibraryClient): string {
  if (row.client === reference) return '1.00x';
  const summary = row.summary.vs[reference];
  if (!Number.isFinite(summary.ratioMedian)) return '';
  const spread = summary.ratioMin !== summary.ratioMax ? ` (${ratioRange(summary)})` : '';
  return `${formatRatio(summary.ratioMedian)}${spread}`;
}

const us = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 100 ? 1 : 0) : 'n/a');

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
          ...REFERENCES.map(
            ([reference, header]) =>
              [header, (row: LibraryRow) => ratioCell(row, reference)] as const,
          ),
          ['p50 µs', (row) => us(row.summary.p50UsMedian)],
          ['p99 µs', (row) => us(row.summary.p99UsMedian)],
          ['CPU µs/op', (row) => row.summary.cpuUsPerOpMedian.toFixed(2)],
          ['worker cores', (row) => row.summary.workerCoresMedian.toFixed(2)],
          ['wrong+errors', (row) => String(sumOf(row.rounds, (r) => r.unexpected + r.errors))],
          ['other load', (row) => formatLoad(row.rounds)],
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
    ...runBlock(section.environment, 'the workers', settings),
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

export const writeLibraryReport = (outDir: string, section: LibrarySection) =>
  writeReport(
    outDir,
    'library',
    section,
    (s) => `# Benchmark: library throughput and latency\n\n${renderLibrary(s)}`,
  );
