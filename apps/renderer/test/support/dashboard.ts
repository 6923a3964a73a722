import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../../test/support/build';

export const DASHBOARD = join(repoRoot, 'grafana', 'dashboards', 'matrx-cache.json');
export const ALERT_RULES = join(repoRoot, 'grafana', 'alerts', 'matrx-cache.rules.yml');
export const ALERT_RULE_TESTS = join(repoRoot, 'grafana', 'alerts', 'matrx-cache.rules.test.yml');

/** The dashboard as Grafana reads it. */
export function dashboardJson(): Record<string, unknown> {
  return JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Record<string, unknown>;
}

/** Every value of `key` anywhere in `node`. */
export function valuesOf(node: unknown, key: string): unknown[] {
  const found: unknown[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      for (const [name, child] of Object.entries(value)) {
        if (name === key) found.push(child);
        else visit(child);
      }
    }
  };
  visit(node);
  return found;
}

/** Every panel query (`expr`), as written in the dashboard. */
export function dashboardExpressions(): string[] {
  return valuesOf(dashboardJson().panels, 'expr').filter(
    (expr): expr is string => typeof expr === 'string',
  );
}

/**
 * An expression as Grafana sends it: `$__rate_interval` made concrete, `$job` and `$instance` as
 * given (their "All" value is `.*`).
 */
export function withVariables(expr: string, variables: { job: string; instance: string }): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$job', variables.job)
    .replaceAll('$instance', variables.instance);
}
