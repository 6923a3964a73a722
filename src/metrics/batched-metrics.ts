import type { Metric, MetricValue, Registry } from 'prom-client';
import { isMetricOfType } from './metric-type';

/** What prom-client's registry reads from a metric when it is scraped. */
export interface ScrapedMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: MetricValue<string>[];
}

/**
 * Metric families updated with plain arithmetic on label slots chosen once (prom-client's own
 * `inc()`/`observe()` cost about a fifth of a GET: docs/performance.md), turned into prom-client
 * values when scraped; they print what a `Counter` or `Histogram` with the same labels would.
 */
abstract class BatchedMetric<Labels extends string> {
  readonly aggregator = 'sum' as const;
  abstract readonly type: 'counter' | 'histogram';
  protected readonly series: Readonly<Record<Labels, string>>[];

  constructor(
    readonly name: string,
    readonly help: string,
    /** The label combinations known up front: each is exported from the start at zero. */
    series: readonly Readonly<Record<Labels, string>>[],
  ) {
    this.series = [...series];
  }

  /**
   * The slot of a label combination that need not be known up front (a route pattern, say): a new
   * one is exported at zero from now on. Look it up once and keep the slot: this searches.
   */
  slotAdding(labels: Readonly<Record<Labels, string>>): number {
    const slot = this.findSlot(labels);
    if (slot !== -1) return slot;
    this.series.push({ ...labels });
    this.grow();
    return this.series.length - 1;
  }

  /** Makes room for the series just added. */
  protected abstract grow(): void;

  /** The slot of a label combination, to pass to the fast recording methods. */
  slotOf(labels: Readonly<Record<Labels, string>>): number {
    const slot = this.findSlot(labels);
    if (slot === -1) throw new Error(`${this.name} has no series ${JSON.stringify(labels)}`);
    return slot;
  }

  private findSlot(labels: Readonly<Record<Labels, string>>): number {
    return this.series.findIndex((series) =>
      Object.entries(labels).every(([key, value]) => series[key as Labels] === value),
    );
  }

  protected abstract values(): MetricValue<string>[];

  abstract reset(): void;

  get(): Promise<ScrapedMetric> {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.values(),
    });
  }
}

/** A counter over a fixed set of label combinations. */
export class BatchedCounter<Labels extends string> extends BatchedMetric<Labels> {
  readonly type = 'counter' as const;
  private counts: Float64Array;

  constructor(name: string, help: string, series: readonly Readonly<Record<Labels, string>>[]) {
    super(name, help, series);
    this.counts = new Float64Array(series.length);
  }

  inc(slot: number): void {
    this.counts[slot]++;
  }

  reset(): void {
    this.counts = new Float64Array(this.series.length);
  }

  protected grow(): void {
    this.counts = grown(this.counts, this.series.length);
  }

  protected values(): MetricValue<string>[] {
    return this.series.map((labels, slot) => ({ labels: { ...labels }, value: this.counts[slot] }));
  }
}

/** A histogram over a fixed set of label combinations, with fixed buckets. */
export class BatchedHistogram<Labels extends string> extends BatchedMetric<Labels> {
  readonly type = 'histogram' as const;
  /** Per series: a count per bucket (not cumulative), then the +Inf overflow. */
  private buckets: Float64Array;
  private sums: Float64Array;
  private counts: Float64Array;

  constructor(
    name: string,
    help: string,
    series: readonly Readonly<Record<Labels, string>>[],
    readonly upperBounds: readonly number[],
  ) {
    super(name, help, series);
    this.buckets = new Float64Array(series.length * (upperBounds.length + 1));
    this.sums = new Float64Array(series.length);
    this.counts = new Float64Array(series.length);
  }

  observe(slot: number, value: number): void {
    const bounds = this.upperBounds;
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]) bucket++;
    this.buckets[slot * (bounds.length + 1) + bucket]++;
    this.sums[slot] += value;
    this.counts[slot]++;
  }

  reset(): void {
    this.buckets = new Float64Array(this.buckets.length);
    this.sums = new Float64Array(this.series.length);
    this.counts = new Float64Array(this.series.length);
  }

  protected grow(): void {
    this.buckets = grown(this.buckets, this.series.length * (this.upperBounds.length + 1));
    this.sums = grown(this.sums, this.series.length);
    this.counts = grown(this.counts, this.series.length);
  }

  protected values(): MetricValue<string>[] {
    const values: MetricValue<string>[] = [];
    const width = this.upperBounds.length + 1;
    this.series.forEach((labels, slot) => {
      let cumulative = 0;
      this.upperBounds.forEach((bound, bucket) => {
        cumulative += this.buckets[slot * width + bucket];
        values.push(this.value('_bucket', { le: bound, ...labels }, cumulative));
      });
      values.push(this.value('_bucket', { le: '+Inf', ...labels }, this.counts[slot]));
      values.push(this.value('_sum', { ...labels }, this.sums[slot]));
      values.push(this.value('_count', { ...labels }, this.counts[slot]));
    });
    return values;
  }

  private value(
    suffix: string,
    labels: Record<string, string | number>,
    value: number,
  ): MetricValue<string> {
    return { metricName: this.name + suffix, labels, value } as MetricValue<string>;
  }
}

/** `values` copied into a zeroed array of `length`. */
function grown(values: Float64Array, length: number): Float64Array {
  const larger = new Float64Array(length);
  larger.set(values);
  return larger;
}

/**
 * The batched metric of that name in the registry, created and registered on first use: two
 * modules on one registry share it (as `registered` does for prom-client's own metrics).
 */
export function registeredBatched<T extends BatchedCounter<string> | BatchedHistogram<string>>(
  registry: Registry,
  name: string,
  type: abstract new (...args: never[]) => T,
  create: () => T,
): T {
  const existing = registry.getSingleMetric(name) as unknown;
  if (existing === undefined) {
    const metric = create();
    registry.registerMetric(metric as unknown as Metric);
    return metric;
  }
  if (isMetricOfType(existing, type)) return existing;
  throw new Error(
    `The registry already has a metric named ${name} of another type; choose another metrics prefix.`,
  );
}
