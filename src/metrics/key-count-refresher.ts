import type { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { RateLimitedLogger } from '../logging/rate-limited-logger';
import type { CacheStore } from '../stores/cache-store.interface';
import { keepLease } from '../stores/lease';
import { registered } from './prometheus-cache-metrics';

/** The `app` label of ids outside the allowlist. */
export const OTHER_APP = 'other';

export interface KeyCountSettings {
  registry: Registry;
  prefix: string;
  /** App ids with their own label value; the rest are summed under `other`. */
  apps: ReadonlySet<string>;
  intervalMs: number;
  /** 0: count exactly (SCAN); N: estimate from N random keys; 'auto': by the database's size. */
  samples: number | 'auto';
  /** With `samples: 'auto'`: exact counts up to this many keys. @default EXACT_COUNT_UP_TO */
  exactUpTo?: number;
}

/**
 * Shared by every instance on one Redis database: whoever holds the lease counts, once per
 * interval, and leaves the figures for the others to show. Outside the `/{app}/{device}/{key}` shape,
 * so no count or flush sees them.
 */
export const KEY_COUNT_LEASE_KEY = 'key-counts:lease';
export const KEY_COUNT_FIGURES_KEY = 'key-counts:figures';

/** With `samples: 'auto'`: exact counts up to this many keys in the database, then samples. */
export const EXACT_COUNT_UP_TO = 1_000_000;
export const AUTO_SAMPLES = 10_000;

const figuresSchema = z.object({
  countedAt: z.number(),
  durationMs: z.number(),
  samples: z.number().int().min(0),
  byApp: z.record(z.string(), z.number()),
  databaseKeys: z.number(),
});
export type KeyCountFigures = z.infer<typeof figuresSchema>;

/**
 * Keeps `{prefix}keys{app}` and `{prefix}database_keys` current in the background, never when
 * Prometheus scrapes. Every `intervalMs` each instance tries to hold a lease in Redis: the holder
 * counts (SCAN in steps, or samples random keys) and stores the figures; the others read them. So
 * the database is counted once per interval however many instances run, and each of them exports
 * the same figures. A failed count or read keeps the last figures.
 */
export class KeyCountRefresher {
  private readonly keys: Gauge;
  private readonly databaseKeys: Gauge;
  private readonly duration: Gauge;
  private readonly samples: Gauge;
  private readonly failures: Counter;
  private readonly counts: Counter;
  private readonly warnings: RateLimitedLogger;
  /** This instance's name on the lease. */
  private readonly owner = randomUUID();
  private shown: KeyCountFigures | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: CacheStore,
    private readonly settings: KeyCountSettings,
    logger: Logger,
  ) {
    const { registry, prefix } = settings;
    this.keys = registered(registry, `${prefix}keys`, Gauge, (name) =>
      gauge(registry, name, 'Cache keys by app (apps outside the allowlist as "other").', ['app']),
    );
    this.databaseKeys = registered(registry, `${prefix}database_keys`, Gauge, (name) =>
      gauge(registry, name, 'Every key of the Redis database (DBSIZE), cache or not.'),
    );
    this.duration = registered(registry, `${prefix}key_count_duration_seconds`, Gauge, (name) =>
      gauge(
        registry,
        name,
        'How long the count behind the key figures took (on whichever instance ran it).',
      ),
    );
    this.samples = registered(registry, `${prefix}key_count_samples`, Gauge, (name) =>
      gauge(registry, name, 'Random keys the key figures are estimated from (0: counted exactly).'),
    );
    const countedAt = () => this.shown?.countedAt;
    registered(registry, `${prefix}key_count_age_seconds`, Gauge, (name) => {
      return new Gauge({
        name,
        help: 'How old the key figures are (NaN before the first).',
        registers: [registry],
        collect() {
          const at = countedAt();
          this.set(at === undefined ? NaN : Math.max(0, Date.now() - at) / 1000);
        },
      });
    });
    this.failures = registered(registry, `${prefix}key_count_failures_total`, Counter, (name) =>
      counter(
        registry,
        name,
        'Background key counts (or reads of the shared figures) that failed.',
      ),
    );
    this.counts = registered(registry, `${prefix}key_counts_total`, Counter, (name) =>
      counter(registry, name, 'Key counts this instance ran (one instance per interval runs one).'),
    );
    this.warnings = new RateLimitedLogger(logger);
  }

  start(): void {
    if (this.timer || this.settings.intervalMs <= 0) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.settings.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Counts or reads now (unless that is under way, which it waits for instead). */
  refresh(): Promise<void> {
    this.running ??= this.update().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async update(): Promise<void> {
    const { intervalMs } = this.settings;
    try {
      const counting = await this.store.holdLease(KEY_COUNT_LEASE_KEY, this.owner, intervalMs);
      const figures = counting ? await this.count() : await this.readShared();
      if (figures) this.show(figures);
      if (counting) this.counts.inc();
    } catch (error) {
      this.failures.inc();
      const detail = error instanceof Error ? error.message : String(error);
      this.warnings.warn('key-count', `Background key count failed: ${detail}`);
    }
  }

  /** Counts while holding the lease (kept while a long count runs), then shares the figures. */
  private async count(): Promise<KeyCountFigures> {
    const { intervalMs } = this.settings;
    const stopRenewing = keepLease(this.store, KEY_COUNT_LEASE_KEY, this.owner, intervalMs);
    const started = performance.now();
    let figures: KeyCountFigures;
    try {
      const databaseKeys = await this.store.databaseSize();
      const samples = this.samplesFor(databaseKeys);
      const byApp =
        samples > 0 ? await this.store.sampleKeysByApp(samples) : await this.store.countKeysByApp();
      figures = {
        countedAt: Date.now(),
        durationMs: performance.now() - started,
        samples,
        byApp: Object.fromEntries(byApp),
        databaseKeys,
      };
    } finally {
      stopRenewing();
    }
    // Kept for a few intervals: long enough for every instance, gone if the fleet stops counting.
    const ttlSeconds = Math.ceil((3 * intervalMs) / 1000);
    await this.store.set(KEY_COUNT_FIGURES_KEY, JSON.stringify(figures), ttlSeconds);
    // The one fleet-wide periodic pass: it also checks that every writer keeps the index.
    await this.store.auditIndex?.().catch((error: unknown) => {
      const detail = error instanceof Error ? error.message : String(error);
      this.warnings.warn('index-audit', `Checking the namespace index failed: ${detail}`);
    });
    return figures;
  }

  private samplesFor(databaseKeys: number): number {
    const { samples } = this.settings;
    if (samples !== 'auto') return samples;
    return databaseKeys > (this.settings.exactUpTo ?? EXACT_COUNT_UP_TO) ? AUTO_SAMPLES : 0;
  }

  /** The figures the lease holder left, if any (none yet, or written by something else: none). */
  private async readShared(): Promise<KeyCountFigures | undefined> {
    const raw = await this.store.get(KEY_COUNT_FIGURES_KEY);
    if (!raw) return undefined;
    try {
      const parsed = figuresSchema.safeParse(JSON.parse(raw.toString('utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  private show(figures: KeyCountFigures): void {
    const byLabel = new Map<string, number>([[OTHER_APP, 0]]);
    for (const app of this.settings.apps) byLabel.set(app, 0);
    for (const [app, count] of Object.entries(figures.byApp)) {
      const label = this.settings.apps.has(app) ? app : OTHER_APP;
      byLabel.set(label, (byLabel.get(label) ?? 0) + count);
    }
    for (const [app, count] of byLabel) this.keys.labels(app).set(count);
    this.databaseKeys.set(figures.databaseKeys);
    this.duration.set(figures.durationMs / 1000);
    this.samples.set(figures.samples);
    this.shown = figures;
  }
}

function gauge(registry: Registry, name: string, help: string, labelNames: string[] = []): Gauge {
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

function counter(registry: Registry, name: string, help: string): Counter {
  return new Counter({ name, help, registers: [registry] });
}
