// The renderer service end to end: the real app on Fastify, over HTTP, on a real Redis.
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { PNG } from 'pngjs';
import request from 'supertest';
import type { Response } from 'supertest';
import { QUOTE_SOURCE } from '../src/apps/quote.app';
import type { QuoteSource } from '../src/apps/quote.app';
import { rendererConfigFromEnv } from '../src/config/renderer.config';
import type { RendererConfig } from '../src/config/renderer.config';
import { rendererAdapter } from '../src/renderer.app';
import { RendererModule } from '../src/renderer.module';
import { RedisServerProcess } from '../../../test/support/redis-server';
import { acquireRedis } from '../../../test/support/redis-target';
import type { RedisTarget } from '../../../test/support/redis-target';
import { pollUntil } from '../../../test/support/poll';
import { uniqueId } from '../../../test/support/unique';

const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** A quote source that counts its fetches. */
class CountingQuotes implements QuoteSource {
  fetches = 0;

  fetchQuote(): Promise<string> {
    this.fetches += 1;
    return Promise.resolve(`Quote number ${this.fetches}`);
  }
}

async function startRenderer(env: Record<string, string>, quotes = new CountingQuotes()) {
  const config: RendererConfig = rendererConfigFromEnv(env);
  const moduleRef = await Test.createTestingModule({
    imports: [RendererModule.forConfig(config)],
  })
    .overrideProvider(QUOTE_SOURCE)
    .useValue(quotes)
    .compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(rendererAdapter(), {
    logger: false,
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return { app, quotes };
}

/** supertest gives binary bodies as Buffers only when asked to. */
function binary(test: request.Test): request.Test {
  return test.buffer(true).parse((response, callback) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => callback(null, Buffer.concat(chunks)));
  });
}

function expectPng64x32(response: Response): void {
  expect(response.headers['content-type']).toBe('image/png');
  const image = PNG.sync.read(response.body as Buffer);
  expect([image.width, image.height]).toEqual([64, 32]);
  // Something was drawn: not every pixel is the colour of the first one (RGBA after decoding).
  const first = image.data.readUInt32BE(0);
  let differs = false;
  for (let i = 4; i < image.data.length && !differs; i += 4)
    differs = image.data.readUInt32BE(i) !== first;
  expect(differs).toBe(true);
}

describe('renderer service on Redis', () => {
  let target: RedisTarget;
  let app: NestFastifyApplication;
  let quotes: CountingQuotes;

  beforeAll(async () => {
    target = await acquireRedis();
    ({ app, quotes } = await startRenderer({
      REDIS_URL: target.url,
      CACHE_ADMIN_TOKEN: ADMIN_TOKEN,
      CACHE_OPERATION_TIMEOUT_MS: '5000',
    }));
  });
  afterAll(async () => {
    await app.close();
    await target.release();
  });

  const server = () => app.getHttpServer();
  const admin = (test: request.Test) => test.set('Authorization', `Bearer ${ADMIN_TOKEN}`);

  it('lists the catalog', async () => {
    const response = await request(server()).get('/apps').expect(200);
    const ids = (response.body.apps as { id: string }[]).map(({ id }) => id);
    expect(ids).toEqual(expect.arrayContaining(['clock', 'banner', 'quote']));
  });

  it('renders a 64x32 PNG, a MISS then a HIT, and a MISS again after a flush', async () => {
    const device = uniqueId('dev');
    const path = `/apps/banner/devices/${device}/render?text=Hello%20world`;
    const first = await binary(request(server()).get(path)).expect(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expectPng64x32(first);
    const second = await binary(request(server()).get(path)).expect(200);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(Buffer.compare(second.body as Buffer, first.body as Buffer)).toBe(0);

    const flushed = await admin(request(server()).delete(`/apps/banner/devices/${device}/cache`));
    expect(flushed.status).toBe(200);
    expect(flushed.body.deleted).toBe(1);
    const third = await binary(request(server()).get(path)).expect(200);
    expect(third.headers['x-cache']).toBe('MISS');
  });

  it('caches each option set and each device apart', async () => {
    const device = uniqueId('dev');
    const render = (query: string, dev = device) =>
      binary(request(server()).get(`/apps/banner/devices/${dev}/render?${query}`)).expect(200);
    expect((await render('text=one')).headers['x-cache']).toBe('MISS');
    expect((await render('text=two')).headers['x-cache']).toBe('MISS');
    expect((await render('text=one')).headers['x-cache']).toBe('HIT');
    expect((await render('text=one', `${device}-other`)).headers['x-cache']).toBe('MISS');
  });

  it('renders the clock in a time zone, and answers 400 naming tz for a bad one', async () => {
    const device = uniqueId('dev');
    expectPng64x32(
      await binary(
        request(server()).get(`/apps/clock/devices/${device}/render?tz=Europe/Berlin`),
      ).expect(200),
    );
    const bad = await request(server())
      .get(`/apps/clock/devices/${device}/render?tz=Mars/Olympus`)
      .expect(400);
    expect(bad.body.field).toBe('tz');
  });

  it('fetches app data once per device through the app cache', async () => {
    const device = uniqueId('dev');
    const before = quotes.fetches;
    await binary(request(server()).get(`/apps/quote/devices/${device}/render`)).expect(200);
    expect(quotes.fetches).toBe(before + 1);
    // The image is cached now; a device flush removes it and the fetched data, so it is fetched again.
    await binary(request(server()).get(`/apps/quote/devices/${device}/render`)).expect(200);
    expect(quotes.fetches).toBe(before + 1);
    const stats = await admin(request(server()).get(`/apps/quote/devices/${device}/cache`));
    expect(stats.body).toEqual({ keys: 2 });
    await admin(request(server()).delete(`/devices/${device}/cache`)).expect(200, { deleted: 2 });
    await binary(request(server()).get(`/apps/quote/devices/${device}/render`)).expect(200);
    expect(quotes.fetches).toBe(before + 2);
  });

  it('flushes a device across apps and counts per app', async () => {
    const device = uniqueId('dev');
    await binary(request(server()).get(`/apps/banner/devices/${device}/render`)).expect(200);
    await binary(request(server()).get(`/apps/clock/devices/${device}/render`)).expect(200);
    const other = `${device}x`;
    await binary(request(server()).get(`/apps/banner/devices/${other}/render`)).expect(200);
    await admin(request(server()).get(`/apps/banner/devices/${device}/cache`)).expect(200, {
      keys: 1,
    });
    await admin(request(server()).delete(`/devices/${device}/cache`)).expect(200, { deleted: 2 });
    await admin(request(server()).get(`/apps/banner/devices/${other}/cache`)).expect(200, {
      keys: 1,
    });
  });

  it('guards the admin routes: 401 without or with a wrong token, 200 with the right one', async () => {
    const path = `/apps/banner/devices/${uniqueId('dev')}/cache`;
    await request(server()).get(path).expect(401);
    await request(server()).get(path).set('Authorization', 'Bearer wrong-token').expect(401);
    await request(server()).get(path).set('Authorization', ADMIN_TOKEN).expect(401);
    await admin(request(server()).get(path)).expect(200, { keys: 0 });
  });

  it('answers 400 naming the field for invalid ids, and 404 for an unknown app', async () => {
    const tooLong = 'x'.repeat(257);
    const render = await request(server())
      .get(`/apps/banner/devices/${tooLong}/render`)
      .expect(400);
    expect(render.body.field).toBe('deviceId');
    const flush = await admin(request(server()).delete(`/devices/${tooLong}/cache`)).expect(400);
    expect(flush.body.field).toBe('deviceId');
    const unknown = await request(server()).get('/apps/nope/devices/d1/render').expect(404);
    expect(unknown.body.field).toBe('appId');
  });

  it('answers a flush that outlasts the wait with 202 and a job any instance reports', async () => {
    const device = uniqueId('dev');
    const raw = new Redis(target.url);
    const pipeline = raw.pipeline();
    for (let i = 0; i < 3000; i++) pipeline.set(`/banner/${device}/k${i}`, 'v', 'EX', 600);
    for (let i = 0; i < 500; i++) pipeline.set(`/clock/${device}/k${i}`, 'v', 'EX', 600);
    await pipeline.exec();
    // A second instance behind the same load balancer: the job is polled there.
    const { app: other } = await startRenderer({
      REDIS_URL: target.url,
      CACHE_ADMIN_TOKEN: ADMIN_TOKEN,
    });
    try {
      const accepted = await admin(request(server()).delete(`/devices/${device}/cache`))
        .set('Prefer', 'respond-async')
        .expect(202);
      expect(accepted.headers['preference-applied']).toBe('respond-async');
      expect(accepted.headers['retry-after']).toBe('1');
      expect(accepted.body).toMatchObject({ operation: 'flushDevice', state: 'running' });
      expect(accepted.headers.location).toBe(`/cache-jobs/${accepted.body.id}`);
      expect(JSON.stringify(accepted.body)).not.toContain(device);

      let status: { state: string; keys: number } | undefined;
      await pollUntil(async () => {
        const polled = await admin(request(other.getHttpServer()).get(accepted.headers.location));
        expect(polled.status).toBe(200);
        status = polled.body;
        expect(status?.state).toBe('done');
      }, 20_000);
      expect(status?.keys).toBe(3500);
      expect(await raw.exists(`/banner/${device}/k0`, `/clock/${device}/k0`)).toBe(0);

      // Within the wait, the same route answers with its result.
      const counted = await admin(request(server()).get(`/apps/banner/devices/${device}/cache`))
        .set('Prefer', 'wait=5')
        .expect(200, { keys: 0 });
      expect(counted.headers['preference-applied']).toBe('wait=5');
      // The job route is behind the token too, and knows no other id.
      await request(other.getHttpServer()).get(accepted.headers.location).expect(401);
      const unknown = await admin(
        request(server()).get('/cache-jobs/00000000-0000-4000-8000-000000000000'),
      ).expect(404);
      expect(unknown.body.message).toMatch(/No such cache job/);
      await admin(request(server()).get('/cache-jobs/not-an-id')).expect(404);
    } finally {
      await other.close();
      raw.disconnect();
    }
  });

  it('is live and ready with Redis up', async () => {
    await request(server()).get('/health/live').expect(200);
    const ready = await request(server()).get('/health/ready').expect(200);
    expect(ready.body.info.cache).toMatchObject({ status: 'up', store: 'redis', redis: 'up' });
  });
});

describe('renderer service when Redis stops', () => {
  let redis: RedisServerProcess;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    redis = await RedisServerProcess.start();
    ({ app } = await startRenderer({ REDIS_URL: redis.url, CACHE_ADMIN_TOKEN: ADMIN_TOKEN }));
  });
  afterAll(async () => {
    await app.close();
    await redis.dispose();
  });

  it('still renders (200), reports degraded readiness, and answers 503 to a flush', async () => {
    const server = app.getHttpServer();
    await binary(request(server).get('/apps/banner/devices/d1/render')).expect(200);
    await redis.stop();

    const render = await binary(request(server).get('/apps/banner/devices/d1/render')).expect(200);
    expect(render.headers['x-cache']).toBe('MISS');
    expectPng64x32(render);
    await request(server).get('/health/live').expect(200);
    const ready = await request(server).get('/health/ready').expect(200);
    expect(ready.body.info.cache).toMatchObject({ redis: 'down', mode: 'fail-open' });
    const flush = await request(server)
      .delete('/apps/banner/devices/d1/cache')
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(503);
    expect(flush.body.message).toMatch(/flush_app/);
  });
});

describe('renderer service on the embedded memory store', () => {
  it('starts without any Redis setting, renders and reports the memory store', async () => {
    const { app } = await startRenderer({});
    const server = app.getHttpServer();
    const first = await binary(request(server).get('/apps/clock/devices/d1/render')).expect(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expectPng64x32(first);
    const second = await binary(request(server).get('/apps/clock/devices/d1/render')).expect(200);
    expect(second.headers['x-cache']).toBe('HIT');
    const ready = await request(server).get('/health/ready').expect(200);
    expect(ready.body.info.cache).toMatchObject({ status: 'up', store: 'memory' });
    expect(ready.body.info.cache).not.toHaveProperty('redis');
    // No token configured: the admin routes say how to turn them on.
    const admin = await request(server).get('/apps/clock/devices/d1/cache').expect(403);
    expect(admin.body.message).toMatch(/CACHE_ADMIN_TOKEN/);
    await app.close();
  });
});
