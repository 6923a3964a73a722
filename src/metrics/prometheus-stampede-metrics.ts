import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { LockOutcome, StampedeObserver } from '../stampede/stampede-observer';
import { registered } from './prometheus-cache-metrics';

const LOAD_RESULTS = ['ok', 'error'] as const;
const LOCK_OUTCOMES: readonly LockOutcome[] = ['acquired', 'waited', 'timed_out', 'unavailable'];

/**
 * What `getOrSet`'s stampede protection did, for an operator to see it work:
 * `{prefix}getorset_loads_total{result}`, `{prefix}getorset_lock_total{outcome}`,
 * `{prefix}getorset_early_refreshes_total` and `{prefix}getorset_joins_total`. Every series from
 * the start at zero. prom-client counters: these events are per load, not per cache operation.
 */
export class PrometheusStampedeMetrics implements StampedeObserver {
  private readonly loads: Counter<'result'>;
  private readonly locks: Counter<'outcome'>;
  private readonly earlyRefreshes: Counter;
  private readonly joins: Counter;

  constructor(registry: Registry, prefix: string) {
    const counter = <L extends string>(suffix: string, help: string, labelNames: L[] = []) =>
      registered<Counter<L>>(
        registry,
        `${prefix}${suffix}`,
        Counter,
        (name) => new Counter<L>({ name, help, labelNames, registers: [registry] }),
      );
    this.loads = counter('getorset_loads_total', 'getOrSet loader runs by result (ok, error).', [
      'result',
    ]);
    this.locks = counter(
      'getorset_lock_total',
      'getOrSet Redis lock outcomes: acquired, waited (got the holder’s value), timed_out (loaded after lockWaitMs), unavailable (Redis did not answer).',
      ['outcome'],
    );
    this.earlyRefreshes = counter(
      'getorset_early_refreshes_total',
      'getOrSet hits that started a background refresh (XFetch).',
    );
    this.joins = counter(
      'getorset_joins_total',
      'getOrSet callers that joined a load of the same key already running in this process.',
    );
    for (const result of LOAD_RESULTS) this.loads.labels(result).inc(0);
    for (const outcome of LOCK_OUTCOMES) this.locks.labels(outcome).inc(0);
    this.earlyRefreshes.inc(0);
    this.joins.inc(0);
  }

  load(result: 'ok' | 'error'): void {
    this.loads.labels(result).inc();
  }

  lock(outcome: LockOutcome): void {
    this.locks.labels(outcome).inc();
  }

  earlyRefresh(): void {
    this.earlyRefreshes.inc();
  }

  joined(): void {
    this.joins.inc();
  }
}
