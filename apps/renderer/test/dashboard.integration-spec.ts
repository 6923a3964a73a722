// Keeps the Grafana dashboard honest: a real Prometheus (Debian's package) scrapes the running
// renderer while it serves hits, misses, flushes and an error, then every PromQL expression of the
// dashboard must return series.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { rendererConfigFromEnv } from '../src/config/renderer.config';
import { createRendererApp } from '../src/renderer.app';
import { RedisServerProcess, freePort } from '../../../test/support/redis-server';
import { sleep } from '../../../test/support/unique';
import { ALERT_RULES, dashboardExpressions, withVariables } from './support/dashboard';

const ADMIN_TOKEN = 'dashboard-test-token-0123';

interface QueryResult {
  status: string;
  error?: string;
  data?: { result: unknown[] };
}

class PrometheusProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly url: string,
  ) {}

  static async start(targetPort: number): Promise<PrometheusProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-prometheus-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${ALERT_RULES}`,
        'scrape_configs:',
        '  - job_name: renderer',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${targetPort}']`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const child = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    const started = new Promise<void>((resolve, reject) => {
      child.once('error', (error) =>
        reject(
          new Error(
            `Prometheus is needed for this test (apt-get install prometheus): ${error.message}`,
          ),
        ),
      );
      child.once('spawn', () => resolve());
    });
    await started;
    const prometheus = new PrometheusProcess(child, dir, `http://127.0.0.1:${port}`);
    await prometheus.waitUntil(async () => (await fetch(`${prometheus.url}/-/ready`)).ok, 20_000);
    return prometheus;
  }

  async query(expr: string): Promise<QueryResult> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await response.json()) as QueryResult;
  }

  /** Every rule group's rules as Prometheus evaluates them, with their health. */
  async rules(): Promise<{ name: string; health: string; lastError?: string }[]> {
    const response = await fetch(`${this.url}/api/v1/rules`);
    const body = (await response.json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    return body.data.groups.flatMap((group) => group.rules);
  }

  async waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (await check()) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        const targets = await fetch(`${this.url}/api/v1/targets`).then((r) => r.text());
        throw new Error(`Prometheus did not get there in time; targets: ${targets}`);
      }
      await sleep(200);
    }
  }

  stop(): void {
    this.child.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('the Grafana dashboard against a real Prometheus', () => {
  let redis: RedisServerProcess;
  let app: NestFastifyApplication;
  let prometheus: PrometheusProcess;

  beforeAll(async () => {
    redis = await RedisServerProcess.start();
    app = await createRendererApp(
      rendererConfigFromEnv({
        REDIS_URL: redis.url,
        CACHE_ADMIN_TOKEN: ADMIN_TOKEN,
        LOG_LEVEL: 'error',
      }),
    );
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    prometheus = await PrometheusProcess.start(port);
  }, 60_000);

  afterAll(async () => {
    prometheus?.stop();
    await app?.close();
    await redis?.dispose();
  });

  it('returns series for every expression once the service has had traffic', async () => {
    const { port } = app.getHttpServer().address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    const admin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };
    const render = (app: string, device: string) =>
      fetch(`${base}/apps/${app}/devices/${device}/render`).then((response) => response.status);

    // Hits and misses across the catalog, while Prometheus scrapes every second.
    for (let round = 0; round < 4; round++) {
      for (const app of ['clock', 'banner', 'quote']) {
        for (const device of ['d1', 'd2']) expect(await render(app, device)).toBe(200);
      }
      await sleep(700);
    }
    // Flushes, one per kind.
    expect(
      (await fetch(`${base}/apps/banner/devices/d1/cache`, { method: 'DELETE', ...admin })).status,
    ).toBe(200);
    expect((await fetch(`${base}/devices/d2/cache`, { method: 'DELETE', ...admin })).status).toBe(
      200,
    );
    expect((await fetch(`${base}/apps/clock/devices/d1/cache`, admin)).status).toBe(200);
    // An error: Redis frozen past the operation timeout; the render still answers.
    redis.freeze();
    try {
      expect(await render('banner', 'd3')).toBe(200);
    } finally {
      redis.thaw();
    }
    for (let round = 0; round < 3; round++) {
      expect(await render('banner', 'd1')).toBe(200);
      await sleep(700);
    }
    // Rates need two samples: wait until Prometheus has scraped the error and a few times since.
    const scrapedAfterError = async () => {
      const errors = await prometheus.query('sum(matrx_cache_errors_total) > 0');
      const samples = await prometheus.query(
        'count_over_time(matrx_cache_backend_up[1m]) >= 5 and on () max_over_time(sum(matrx_cache_errors_total)[1m:1s]) > 0',
      );
      return (errors.data?.result.length ?? 0) > 0 && (samples.data?.result.length ?? 0) > 0;
    };
    await prometheus.waitUntil(scrapedAfterError, 30_000);
    await sleep(2500);

    // Every query as Grafana sends it with "All" instances of the job the scrape config names,
    // then of one instance; with another job, none returns a series (the filters hold).
    const expressions = dashboardExpressions();
    expect(expressions.length).toBeGreaterThanOrEqual(10);
    const failures: string[] = [];
    // As Grafana writes a single value into a regex matcher: dots escaped, the backslash doubled
    // inside the PromQL string.
    const instance = `127.0.0.1:${port}`.replaceAll('.', '\\\\.');
    for (const variables of [
      { job: 'renderer', instance: '.*' },
      { job: 'renderer', instance },
    ]) {
      for (const expr of expressions.map((each) => withVariables(each, variables))) {
        const result = await prometheus.query(expr);
        if (result.status !== 'success') failures.push(`${expr}\n  error: ${result.error}`);
        else if (!result.data?.result.length) failures.push(`${expr}\n  no series`);
      }
    }
    for (const expr of expressions.map((each) =>
      withVariables(each, { job: 'another-job', instance: '.*' }),
    )) {
      const result = await prometheus.query(expr);
      if (result.data?.result.length) failures.push(`${expr}\n  series of another job`);
    }
    expect(failures).toEqual([]);

    // The alerting rules load and evaluate against the renderer's real series without error.
    const rules = await prometheus.rules();
    expect(rules.map(({ name }) => name).sort()).toEqual([
      'MatrxCacheErrorRateHigh',
      'MatrxCacheHitRatioCollapsed',
      'MatrxCacheKeyCountFailing',
      'MatrxCacheKeyFiguresStale',
      'MatrxCacheRedisDown',
    ]);
    expect(rules.filter(({ health }) => health !== 'ok')).toEqual([]);
  }, 90_000);
});
