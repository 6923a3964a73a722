// What every report shares: per-round ratios, a Markdown table from column definitions, the run's
// environment lines, and how a report is written: raw figures as JSON (git-ignored: docs/*.json,
// bench/results/), the Markdown rendered from them, keeping its hand-written analysis block.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { Args } from './args';
import type { EnvironmentInfo } from './environment';
import { repoRoot } from './paths';
import { formatInt, formatRatio, markdownTable, max, median, min } from './stats';

export interface RunSettings {
  mode: 'default' | 'quick';
  rounds: number;
  durationS: number;
  warmupS: number;
  command: string;
  /** A measurement starts once other work uses less than this many cores… */
  quietCores: number;
  /** …and is measured again (up to `retries` times) if other work used more than this. */
  maxForeignCores: number;
  retries: number;
  /** How the processes were placed on the 2 cores. */
  pinning: string;
}

export interface RatioSummary {
  /** Median of the per-round ratios to the reference measured in the same round. */
  ratioMedian: number;
  ratioMin: number;
  ratioMax: number;
}

export const NO_RATIO: RatioSummary = { ratioMedian: NaN, ratioMin: NaN, ratioMax: NaN };

/** Per-round ratios of `rounds` to the reference's rounds with the same round number. */
export function ratioSummary<R extends { round: number }>(
  rounds: readonly R[],
  reference: readonly R[],
  value: (round: R) => number,
): RatioSummary {
  const ratios = rounds.flatMap((round) => {
    const base = reference.find((b) => b.round === round.round);
    return base && value(base) > 0 ? [value(round) / value(base)] : [];
  });
  return { ratioMedian: median(ratios), ratioMin: min(ratios), ratioMax: max(ratios) };
}

export const medianOf = <R>(rounds: readonly R[], pick: (round: R) => number) =>
  median(rounds.map(pick));

export const sumOf = <R>(items: readonly R[], pick: (item: R) => number) =>
  items.reduce((total, item) => total + pick(item), 0);

/** `lo–hi` of a ratio summary ('' when there is none). */
export function ratioRange(summary: RatioSummary | undefined): string {
  return summary && Number.isFinite(summary.ratioMin)
    ? `${formatRatio(summary.ratioMin)}–${formatRatio(summary.ratioMax)}`
    : '';
}

/** `lo–hi` over rounds. */
export function valueRange(values: readonly number[], formatter = formatInt): string {
  return `${formatter(min(values))}–${formatter(max(values))}`;
}

/**
 * The most CPU other work took during a kept measurement, in cores, and "(n redone)": how many
 * measurements (slices, or bulk's rounds) were taken again because other work took the CPU.
 */
export function formatLoad(rounds: readonly { foreignCores: number; attempts: number }[]): string {
  const worst = max(rounds.map((r) => r.foreignCores));
  const count = sumOf(rounds, (round) => round.attempts - 1);
  return `${Number.isFinite(worst) ? worst.toFixed(2) : 'n/a'}${count > 0 ? ` (${count} redone)` : ''}`;
}

/** A column: its header, and its cell for a row. */
export type Column<R> = readonly [header: string, cell: (row: R) => string];

export function table<R>(rows: readonly R[], columns: readonly Column<R>[]): string {
  return markdownTable(
    columns.map(([header]) => header),
    rows.map((row) => columns.map(([, cell]) => cell(row))),
  );
}

/** `- name: description` for each variant. */
export const describeVariants = (
  descriptions: Record<string, string>,
  label = (v: string) => `\`${v}\``,
) => Object.entries(descriptions).map(([variant, text]) => `- ${label(variant)}: ${text}`);

/** The **Run.** bullets: date, machine, Node, Redis, packages, the measured commit. */
export function environmentLines(env: EnvironmentInfo, measured: string, redisNote?: string) {
  const packages = Object.entries(env.packages)
    .filter(([, version]) => version !== 'not installed')
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const redis = env.redis.owned
    ? 'on loopback, started by the benchmark'
    : 'on loopback (REDIS_URL)';
  return [
    `- Date: ${env.date.slice(0, 16).replace('T', ' ')} UTC`,
    `- Machine: ${env.cpuCount} cores (${env.cpuModel}), ${env.memoryGiB} GiB, ${env.kernel}`,
    `- Node: ${env.nodes.map((n) => n.version).join(' and ')} for ${measured} (orchestrator on ${env.orchestratorNode})`,
    `- Redis: ${env.redis.version} ${redisNote ?? redis}`,
    `- Packages: ${packages}`,
    ...(env.srcCommit ? [`- Measured \`src/\` at commit ${env.srcCommit}`] : []),
  ];
}

/** The **Run.** block: the environment, where the processes ran (`placement`) and the command. */
export function runBlock(
  env: EnvironmentInfo,
  measured: string,
  settings: { pinning: string; command: string },
  { placement = settings.pinning, redisNote }: { placement?: string; redisNote?: string } = {},
): string[] {
  return [
    '**Run.**',
    '',
    ...environmentLines(env, measured, redisNote),
    `- Placement: ${placement}`,
    `- Command: \`${settings.command}\``,
  ];
}

const ANALYSIS_START = '<!-- analysis:start (kept when the benchmarks rewrite this file) -->';
const ANALYSIS_END = '<!-- analysis:end -->';
// Older reports carry other wording in the start marker.
const ANALYSIS_BLOCK = /<!-- analysis:start[^>]*-->([\s\S]*?)<!-- analysis:end -->/;

/** The hand-written analysis block of `markdownPath`, to be written back into its new version. */
function analysisBlock(markdownPath: string): string {
  const kept = existsSync(markdownPath)
    ? (ANALYSIS_BLOCK.exec(readFileSync(markdownPath, 'utf8'))?.[1] ?? '').trim()
    : '';
  return [ANALYSIS_START, kept === '' ? '' : `\n${kept}\n`, ANALYSIS_END, ''].join('\n');
}

export const defaultOutDir = (quick: boolean) => join(repoRoot, quick ? 'bench/results' : 'docs');

/** --out, else docs/ (bench/results/ for a quick run). */
export const outDirOf = (args: Args) => args.string('out') ?? defaultOutDir(args.flag('quick'));

export function readReport<T>(outDir: string, name: string): T | undefined {
  const path = join(outDir, `${name}.json`);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}

/** `render` gets the analysis block to place; the Markdown is formatted with the repo's Prettier. */
type Renderer<T> = (report: T, analysis: string) => string;

/** Writes `name`.json and `name`.md (rendered from it) into `outDir`. */
export async function writeReport<T>(outDir: string, name: string, report: T, render: Renderer<T>) {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, `${name}.json`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  const markdown = await rerender(outDir, name, render, report);
  console.log(`Wrote ${relative(repoRoot, json)} and ${markdown}`);
}

/** Rewrites `name`.md from its JSON (after editing the analysis block, or the renderer). */
export async function rerender<T>(outDir: string, name: string, render: Renderer<T>, report?: T) {
  const markdownPath = join(outDir, `${name}.md`);
  const data = report ?? readReport<T>(outDir, name);
  if (data === undefined) throw new Error(`No ${name}.json in ${outDir}`);
  const options = (await resolveConfig(markdownPath)) ?? {};
  const markdown = render(data, analysisBlock(markdownPath));
  writeFileSync(markdownPath, await format(markdown, { ...options, filepath: markdownPath }));
  return relative(repoRoot, markdownPath);
}
