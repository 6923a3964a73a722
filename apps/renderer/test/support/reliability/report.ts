// The fault suite's report: written only when RELIABILITY_REPORT=<path> is set, as JSON at that
// path and as the Markdown tables docs/reliability.md shows, beside it (`<name>.tables.md`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FaultFigures } from './figures';

export interface ReliabilityReport {
  /** ISO time the suite ran. */
  readonly date: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly node: string;
    readonly platform: string;
    readonly redis: string;
  };
  readonly settings: {
    readonly operationTimeoutMs: number;
    readonly ratePerSecond: number;
    readonly connections: number;
    readonly distinctRenders: number;
    readonly faultHoldMs: number;
    readonly p99BoundMs: number;
    readonly timeToHitsBoundMs: number;
    readonly rssGrowthBoundMiB: number;
  };
  readonly faults: FaultFigures[];
  /** Wall time of the whole suite, build included. */
  wallTimeMs?: number;
}

/** Writes the JSON report to `path` and the Markdown tables beside it; returns both paths. */
export function writeReliabilityReport(
  path: string,
  report: ReliabilityReport,
): { json: string; markdown: string } {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  const markdown = path.replace(/(\.json)?$/, '.tables.md');
  writeFileSync(markdown, formatReliabilityTables(report));
  return { json: path, markdown };
}

const ms = (value: number | null) => (value === null ? '–' : `${Math.round(value)}`);
const mib = (value: number) => value.toFixed(0);

/** The report's figures as Markdown tables. */
export function formatReliabilityTables(report: ReliabilityReport): string {
  const { machine, settings } = report;
  const lines = [
    `Run ${report.date.slice(0, 10)} on ${machine.cpus} cores (${machine.cpuModel}), Node ${machine.node}, ` +
      `${machine.redis}; operationTimeoutMs ${settings.operationTimeoutMs}, ` +
      `${settings.ratePerSecond} req/s over ${settings.connections} connections, ` +
      `${settings.distinctRenders} distinct renders` +
      (report.wallTimeMs === undefined
        ? '.'
        : `; suite wall time ${(report.wallTimeMs / 1000).toFixed(1)} s.`),
    '',
    '| fault | requests | failed | fault lasted (ms) | misses during | p50 / p99 / max during (ms) | p99 recovery (ms) | first hit after (ms) | steady hits after (ms) | cache errors (timeout / connection / other) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const fault of report.faults) {
    const { during } = fault;
    lines.push(
      `| ${fault.title} | ${fault.requests} | ${fault.failed} | ${ms(fault.faultDurationMs)} | ` +
        `${during.misses} of ${during.requests} | ${ms(during.p50Ms)} / ${ms(during.p99Ms)} / ${ms(during.maxMs)} | ` +
        `${ms(fault.recovery.p99Ms)} | ${ms(fault.timeToFirstHitMs)} | ${ms(fault.timeToSteadyHitsMs)} | ` +
        `${fault.cacheErrors.timeout} / ${fault.cacheErrors.connection} / ${fault.cacheErrors.other} |`,
    );
  }
  lines.push(
    '',
    '| fault | p50 / p99 before (ms) | RSS before / peak / after (MiB) | heap used before / peak / after (MiB) | proxy cuts (mid-reply, mid-command) |',
    '| --- | ---: | ---: | ---: | ---: |',
  );
  for (const fault of report.faults) {
    const { memory, proxy } = fault;
    lines.push(
      `| ${fault.title} | ${ms(fault.before.p50Ms)} / ${ms(fault.before.p99Ms)} | ` +
        `${mib(memory.rssBeforeMiB)} / ${mib(memory.rssPeakMiB)} / ${mib(memory.rssAfterMiB)} | ` +
        `${mib(memory.heapUsedBeforeMiB)} / ${mib(memory.heapUsedPeakMiB)} / ${mib(memory.heapUsedAfterMiB)} | ` +
        `${proxy ? `${proxy.cuts} (${proxy.midReplyCuts}, ${proxy.midCommandCuts})` : '–'} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
