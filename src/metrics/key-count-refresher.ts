import type { Logger } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { RateLimitedLogger } from '../logging/rate-limited-logger';
import type { CacheStore } from '../stores/cache-store.interface';
import { registered } from './prometheus-cache-metrics';

/** The `app` label of ids outside the allowlist. */
export const OTHER_APP = 'other';

export interface KeyCountSettings {
  registry: Registry;
  prefix: string;
  /** App ids with their own label value; the rest are summed under `other`. */
  apps: ReadonlySet<string>;
  intervalMs: number;
}

/**
 * Keeps `{prefix}keys{app}` and `{prefix}database_keys` current by counting in the background every
 * `intervalMs` (SCAN in steps, then DBSIZE), never when Prometheus scrapes, and records how long a
 * count took and how many failed. One count at a time; a failed count keeps the last figures.
 */
export class KeyCountRefresher {
  private readonly keys: Gauge;
  private readonly databaseKeys: Gauge;
  private readonly duration: Gauge;
  private readonly failures: Counter;
  private readonly warnings: RateLimitedLogger;
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
      gauge(registry, name, 'How long the last background key count took.'),
    );
    this.failures = registered(
      registry,
      `${prefix}key_count_failures_total`,
      Counter,
      (name) =>
        new Counter({ name, help: 'Background key counts that failed.', registers: [registry] }),
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

  /** Counts now (unless a count is running, which it waits for instead). */
  refresh(): Promise<void> {
    this.running ??= this.count().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async count(): Promise<void> {
    const started = performance.now();
    try {
      const byApp = await this.store.countKeysByApp();
      const databaseKeys = await this.store.databaseSize();
      const byLabel = new Map<string, number>([[OTHER_APP, 0]]);
      for (const app of this.settings.apps) byLabel.set(app, 0);
      for (const [app, count] of byApp) {
        const label = this.settings.apps.has(app) ? app : OTHER_APP;
        byLabel.set(label, (byLabel.get(label) ?? 0) + count);
      }
      for (const [app, count] of byLabel) this.keys.labels(app).set(count);
      this.databaseKeys.set(databaseKeys);
    } catch (error) {
      this.failures.inc();
      const detail = error instanceof Error ? error.message : String(error);
      this.warnings.warn('key-count', `Background key count failed: ${detail}`);
    } finally {
      this.duration.set((performance.now() - started) / 1000);
    }
  }
}

function gauge(registry: Registry, name: string, help: string, labelNames: string[] = []): Gauge {
  return new Gauge({ name, help, labelNames, registers: [registry] });
}
