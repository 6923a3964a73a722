// The Grafana dashboard as a file an operator imports into a Grafana of their own: no datasource
// uid of ours, and every query filtered by the job and instance variables. (What each query
// returns is checked against a real Prometheus in dashboard.integration-spec.ts.)
import { dashboardExpressions, dashboardJson, valuesOf } from './support/dashboard';

interface Variable {
  name: string;
  type: string;
  datasource?: { uid?: string };
  query?: unknown;
  includeAll?: boolean;
  allValue?: string;
}

const DATASOURCE = '${datasource}';

describe('the Grafana dashboard file', () => {
  const dashboard = dashboardJson();
  const variables = (dashboard.templating as { list: Variable[] }).list;

  it('has datasource, job and instance variables; job and instance read the chosen datasource', () => {
    expect(variables.map(({ name, type }) => [name, type])).toEqual([
      ['datasource', 'datasource'],
      ['job', 'query'],
      ['instance', 'query'],
    ]);
    expect(variables[0].query).toBe('prometheus');
    for (const variable of variables.slice(1)) {
      expect(variable.datasource?.uid).toBe(DATASOURCE);
      expect(variable).toMatchObject({ includeAll: true, allValue: '.*' });
    }
    expect(JSON.stringify(variables[2].query)).toContain('job=~\\"$job\\"');
  });

  it('points every panel and query at the datasource variable', () => {
    const uids = valuesOf(dashboard.panels, 'datasource').map(
      (datasource) => (datasource as { uid?: string }).uid,
    );
    expect(uids.length).toBeGreaterThan(10);
    expect(uids.filter((uid) => uid !== DATASOURCE)).toEqual([]);
  });

  it('filters every series it selects by job and instance', () => {
    const unfiltered: string[] = [];
    for (const expr of dashboardExpressions()) {
      // Each metric selector: a name, then its matchers (if any).
      for (const [selector, matchers = ''] of expr.matchAll(
        /\b(?:matrx_cache_[a-z_]+|up)(?:\{([^}]*)\})?(?=[\s[)]|$)/g,
      )) {
        if (!matchers.includes('job=~"$job"') || !matchers.includes('instance=~"$instance"'))
          unfiltered.push(`${selector} in ${expr}`);
      }
    }
    expect(unfiltered).toEqual([]);
    expect(dashboardExpressions().join('\n')).not.toMatch(/job="renderer"/);
  });
});
