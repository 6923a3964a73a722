// The alerting rules beside the dashboard, through Prometheus's own tools (promtool, from Debian's
// prometheus package): part of `npm run test:integration`, which needs it. They are also loaded
// by the real Prometheus of dashboard.integration-spec.ts and evaluated against the renderer.
import { spawnSync } from 'node:child_process';
import { ALERT_RULES, ALERT_RULE_TESTS } from './support/dashboard';

function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8' });
  if (run.error) {
    throw new Error(
      `promtool is needed to check the alerting rules (apt-get install prometheus): ${run.error.message}`,
    );
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('the alerting rules', () => {
  it('pass promtool’s rule checker', () => {
    const { status, output } = promtool('check', 'rules', ALERT_RULES);
    expect(output).toContain('SUCCESS: 5 rules found');
    expect(status).toBe(0);
  });

  it('pass their unit tests (promtool test rules): each fires when it should, and not before', () => {
    const { status, output } = promtool('test', 'rules', ALERT_RULE_TESTS);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });
});
