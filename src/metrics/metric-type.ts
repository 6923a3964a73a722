/**
 * Whether a registered metric is of that class. By class name as well as `instanceof`: a metric
 * made by another copy of prom-client (the application's, or another copy of this module's) is the
 * same kind of metric without being an instance of this copy's class.
 */
export function isMetricOfType<T>(
  metric: unknown,
  type: abstract new (...args: never[]) => T,
): metric is T {
  return (
    metric instanceof type ||
    (typeof metric === 'object' && metric !== null && metric.constructor.name === type.name)
  );
}
