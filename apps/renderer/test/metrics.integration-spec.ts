// The renderer's /metrics, checked by Prometheus's own linter (promtool, from Debian's prometheus
// package): part of `npm run test:integration`, which needs it.
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { spawnSync } from 'node:child_process';
import request from 'supertest';
import { rendererConfigFromEnv } from '../src/config/renderer.config';
import { rendererAdapter } from '../src/renderer.app';
import { RendererModule } from '../src/renderer.module';

describe('GET /metrics on the renderer', () => {
  it('serves the Prometheus text format that promtool accepts without findings', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [RendererModule.forConfig(rendererConfigFromEnv({}))],
    }).compile();
    const app = moduleRef.createNestApplication<NestFastifyApplication>(rendererAdapter(), {
      logger: false,
    });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    const server = app.getHttpServer();
    await request(server).get('/apps/clock/devices/d1/render').expect(200);

    const response = await request(server).get('/metrics').expect(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.text).toContain('matrx_cache_operations_total{operation="get",result="miss"}');
    expect(response.text).toContain('process_cpu_user_seconds_total');
    await app.close();

    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: response.text });
    if (promtool.error) {
      throw new Error(
        `promtool is needed to check the metrics (apt-get install prometheus): ${promtool.error.message}`,
      );
    }
    expect(`${promtool.stdout.toString()}${promtool.stderr.toString()}`).toBe('');
    expect(promtool.status).toBe(0);
  });
});
