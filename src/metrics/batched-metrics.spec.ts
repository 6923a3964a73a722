import { Counter, Histogram, Registry } from 'prom-client';
import { BatchedCounter, BatchedHistogram, registeredBatched } from './batched-metrics';

const BOUNDS = [0.001, 0.01, 0.1, 1];
const OPERATIONS = ['get', 'set'];

/** The same observations into prom-client's own metrics and into the batched ones. */
async function bothExpositions(observations: [string, number][]) {
  const reference = new Registry();
  const counter = new Counter({
    name: 'ops_total',
    help: 'Operations.',
    labelNames: ['operation', 'result'],
    registers: [reference],
  });
  const histogram = new Histogram({
    name: 'op_seconds',
    help: 'Durations.',
    labelNames: ['operation'],
    buckets: BOUNDS,
    registers: [reference],
  });
  for (const operation of OPERATIONS) {
    counter.labels(operation, 'ok').inc(0);
    histogram.zero({ operation });
  }

  const batched = new Registry();
  const batchedCounter = registeredBatched(
    batched,
    'ops_total',
    BatchedCounter,
    () =>
      new BatchedCounter(
        'ops_total',
        'Operations.',
        OPERATIONS.map((operation) => ({ operation, result: 'ok' })),
      ),
  );
  const batchedHistogram = registeredBatched(
    batched,
    'op_seconds',
    BatchedHistogram,
    () =>
      new BatchedHistogram(
        'op_seconds',
        'Durations.',
        OPERATIONS.map((operation) => ({ operation })),
        BOUNDS,
      ),
  );

  for (const [operation, seconds] of observations) {
    counter.labels(operation, 'ok').inc();
    histogram.labels(operation).observe(seconds);
    batchedCounter.inc(batchedCounter.slotOf({ operation, result: 'ok' }));
    batchedHistogram.observe(batchedHistogram.slotOf({ operation }), seconds);
  }
  return {
    reference,
    batched,
    expected: await reference.metrics(),
    actual: await batched.metrics(),
  };
}

describe('batched metrics', () => {
  it('print exactly what prom-client prints for the same observations, zeros included', async () => {
    const { expected, actual } = await bothExpositions([
      ['get', 0.0004],
      ['get', 0.001], // on a bound: counted in that bucket (le is "less or equal")
      ['get', 0.05],
      ['get', 7], // beyond the last bound: only +Inf
      ['set', 0.002],
    ]);
    expect(actual).toBe(expected);
    expect(actual).toContain('op_seconds_bucket{le="0.001",operation="get"} 2');
    expect(actual).toContain('op_seconds_bucket{le="+Inf",operation="get"} 4');
    expect(actual).toContain('ops_total{operation="set",result="ok"} 1');
  });

  it('agree with prom-client over many random durations, as JSON too', async () => {
    let seed = 3;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const observations = Array.from({ length: 5000 }, (): [string, number] => [
      OPERATIONS[Math.floor(random() * 2)],
      random() ** 4 * 2,
    ]);
    const { reference, batched, expected, actual } = await bothExpositions(observations);
    expect(actual).toBe(expected);
    // prom-client adds `exemplar: null` to its bucket values; exemplars are not used here.
    const withoutExemplars = JSON.parse(
      JSON.stringify(await reference.getMetricsAsJSON(), (key, value: unknown) =>
        key === 'exemplar' ? undefined : value,
      ),
    ) as unknown;
    expect(await batched.getMetricsAsJSON()).toEqual(withoutExemplars);
  });

  it('reset with the registry, and are shared by a second module on the same registry', async () => {
    const registry = new Registry();
    const create = () => new BatchedCounter('n_total', 'N.', [{ operation: 'get' }]);
    const first = registeredBatched(registry, 'n_total', BatchedCounter, create);
    const second = registeredBatched(registry, 'n_total', BatchedCounter, create);
    expect(second).toBe(first);
    first.inc(0);
    second.inc(0);
    expect(await registry.metrics()).toContain('n_total{operation="get"} 2');
    registry.resetMetrics();
    expect(await registry.metrics()).toContain('n_total{operation="get"} 0');
    expect(() => first.slotOf({ operation: 'nope' })).toThrow('n_total has no series');
    new Counter({ name: 'clash_total', help: 'A prom-client counter.', registers: [registry] });
    expect(() => registeredBatched(registry, 'clash_total', BatchedCounter, create)).toThrow(
      'another type',
    );
  });

  it('add series on first use, keeping earlier observations, as prom-client prints them', async () => {
    const reference = new Registry();
    const histogram = new Histogram({
      name: 'route_seconds',
      help: 'By route.',
      labelNames: ['route', 'cache'],
      buckets: BOUNDS,
      registers: [reference],
    });
    const batched = new Registry();
    const create = () => new BatchedHistogram('route_seconds', 'By route.', [], BOUNDS);
    const first = registeredBatched(batched, 'route_seconds', BatchedHistogram, create);
    // A second module on the same registry finds the same series, not a copy of it.
    const second = registeredBatched(batched, 'route_seconds', BatchedHistogram, create);
    const observations: [string, string, number][] = [
      ['/a', 'hit', 0.0005],
      ['/b/:id', 'miss', 0.3],
      ['/a', 'hit', 0.02],
      ['/a', 'miss', 2],
    ];
    const slots = new Map<string, number>();
    for (const [route, cache, seconds] of observations) {
      histogram.labels(route, cache).observe(seconds);
      const slot = first.slotAdding({ route, cache });
      expect(second.slotAdding({ route, cache })).toBe(slot);
      slots.set(`${route} ${cache}`, slot);
      first.observe(slot, seconds);
    }
    expect(new Set(slots.values()).size).toBe(3);
    const expected = await reference.metrics();
    expect(await batched.metrics()).toBe(expected);
    expect(expected).toContain('route_seconds_count{route="/a",cache="hit"} 2');
  });
});
