// The renderer as `npm start` runs it: the built `main.js` in its own process.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot as root } from '../../../test/support/build';
import { buildRendererInto } from './support/build-renderer';
import { startService } from './support/service-process';
import { startOtlpReceiver } from '../../../test/support/otlp-receiver';
import { RedisServerProcess } from '../../../test/support/redis-server';
import { sleep } from '../../../test/support/unique';

describe('the renderer process', () => {
  let mainJs: string;
  let outDir: string;

  beforeAll(() => {
    outDir = buildRendererInto('renderer-process');
    mainJs = join(outDir, 'main.js');
  }, 120_000);

  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('refuses a bad setting with one line naming the variable, and exit code 1', () => {
    let failure: { status: number; stderr: string } | undefined;
    try {
      execFileSync(process.execPath, [mainJs], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', PORT: 'http' },
        stdio: 'pipe',
      });
    } catch (error) {
      const { status, stderr } = error as { status: number; stderr: Buffer };
      failure = { status, stderr: stderr.toString() };
    }
    expect(failure?.status).toBe(1);
    expect(failure?.stderr.trim()).toBe(
      'Configuration error: Environment variable PORT: expected a port number from 0 to 65535, got "http".',
    );
  });

  it('on SIGTERM finishes the request in flight, refuses new ones, and exits 0', async () => {
    const redis = await RedisServerProcess.start();
    const service = await startService(mainJs, {
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      CACHE_OPERATION_TIMEOUT_MS: '1500',
    });
    try {
      const url = `http://127.0.0.1:${service.port}/apps/banner/devices/d1/render`;
      expect((await fetch(url)).status).toBe(200);
      // A frozen Redis holds the next render in its cache read for up to 1.5 s.
      redis.freeze();
      const inFlight = fetch(url, { headers: { connection: 'close' } });
      await sleep(300);
      service.child.kill('SIGTERM');
      await sleep(200);
      await expect(fetch(`http://127.0.0.1:${service.port}/health/live`)).rejects.toThrow();

      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(response.headers.get('x-cache')).toBe('MISS');
      expect(await service.exited).toBe(0);
      expect(service.output.join('\n')).toMatch(/SIGTERM: finishing requests in flight/);
    } finally {
      redis.thaw();
      service.child.kill('SIGKILL');
      await redis.dispose();
    }
  }, 30_000);

  it('exports traces over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set, flushed on SIGTERM', async () => {
    const redis = await RedisServerProcess.start();
    const receiver = await startOtlpReceiver();
    const service = await startService(mainJs, {
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    });
    try {
      const url = `http://127.0.0.1:${service.port}/apps/banner/devices/device-42/render?text=hi`;
      expect((await fetch(url)).headers.get('x-cache')).toBe('MISS');
      expect((await fetch(url)).headers.get('x-cache')).toBe('HIT');
      service.child.kill('SIGTERM');
      expect(await service.exited).toBe(0);

      // Traces only: metrics go through /metrics, not OTLP.
      expect(new Set(receiver.paths())).toEqual(new Set(['/v1/traces']));
      const spans = receiver.spans();
      expect(receiver.serviceNames()).toContain('matrx-renderer');
      const names = spans.map(({ name }) => name);
      expect(names).toEqual(expect.arrayContaining(['cache.get', 'cache.set']));
      // The HTTP server span; the cache's INTERNAL spans without db.* attributes; ioredis's CLIENT
      // span for each command under them, the only database spans.
      const [SERVER, CLIENT, INTERNAL] = [2, 3, 1];
      expect(spans.some(({ kind }) => kind === SERVER)).toBe(true);
      const cacheSpans = spans.filter(({ name }) => name.startsWith('cache.'));
      for (const span of cacheSpans) {
        expect(span.kind).toBe(INTERNAL);
        expect(span.attributes['cache.app_id']).toBe('banner');
        expect(Object.keys(span.attributes).filter((name) => name.startsWith('db.'))).toEqual([]);
      }
      const databaseSpans = spans.filter(({ attributes }) => 'db.system.name' in attributes);
      expect(databaseSpans.length).toBeGreaterThan(0);
      for (const span of databaseSpans) expect(span.kind).toBe(CLIENT);
      const cacheGet = cacheSpans.find(({ name }) => name === 'cache.get')!;
      const underGet = databaseSpans.filter(({ parentSpanId }) => parentSpanId === cacheGet.spanId);
      expect(underGet.map(({ attributes }) => attributes['db.query.text'])).toEqual(['get ?']);
      // No device id or key anywhere in any span: not in a database span (its statement least of
      // all), the cache's spans, or the URLs of the HTTP and Nest spans (the route is there).
      expect(JSON.stringify(spans)).toContain('/apps/banner/devices/:deviceId/render');
      for (const span of spans) {
        const text = JSON.stringify(span);
        expect({
          span: span.name,
          device: text.includes('device-42'),
          key: text.includes('render:'),
        }).toEqual({
          span: span.name,
          device: false,
          key: false,
        });
      }
    } finally {
      service.child.kill('SIGKILL');
      await receiver.close();
      await redis.dispose();
    }
  }, 30_000);
});
