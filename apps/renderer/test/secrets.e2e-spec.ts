// No secret anywhere: the renderer on a password-protected Redis, with an admin token and a
// recognisable cached value, taken through wrong tokens, a wrong Redis password, Redis going away
// and bad configuration. The password, the tokens and the value's bytes must appear in no log line,
// no error, no response body and no span attribute (with recordKey and recordDeviceId on, too).
// In process (every Nest logger, console and stdout/stderr captured, spans in memory) and as the
// built service in its own process (its whole stdout/stderr, its spans over OTLP with the
// http and ioredis instrumentations).
import { spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';
import {
  RedisCache,
  RedisCacheConfigError,
  RedisCacheModule,
  redisCacheOptionsFromEnv,
} from 'nestjs-redis-app-cache';
import { QUOTE_SOURCE } from '../src/apps/quote.app';
import type { QuoteSource } from '../src/apps/quote.app';
import { RendererConfigError, rendererConfigFromEnv } from '../src/config/renderer.config';
import type { RendererConfig } from '../src/config/renderer.config';
import { rendererAdapter } from '../src/renderer.app';
import { RendererModule } from '../src/renderer.module';
import { repoRoot } from '../../../test/support/build';
import { buildRendererInto } from './support/build-renderer';
import { startService } from './support/service-process';
import type { ServiceProcess } from './support/service-process';
import { startOtlpReceiver } from '../../../test/support/otlp-receiver';
import {
  SecureRedisServer,
  everything,
  expectRoundTrip,
  makeSecret,
  secretsIn,
  watchOutput,
  withCache,
} from '../../../test/support/redis-secure-server';
import type { WatchedOutput } from '../../../test/support/redis-secure-server';
import { uniqueId } from '../../../test/support/unique';

const PASSWORD = makeSecret('requirepass');
const WRONG_PASSWORD = makeSecret('wrong-password');
const ADMIN_TOKEN = makeSecret('admin-token');
const WRONG_TOKEN = makeSecret('wrong-token');
/** A value the service caches: a quote its source returns, stored through the app cache. */
const QUOTE = makeSecret('cached-quote');
/** A value put in the cache directly, and one seeded in Redis for the service to read. */
const VALUE = makeSecret('cached-value');
const SECRETS = [PASSWORD, WRONG_PASSWORD, ADMIN_TOKEN, WRONG_TOKEN, QUOTE, VALUE];

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
trace.setGlobalTracerProvider(provider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

/** What every response showed: status, headers and body. */
type Seen = string[];
const seen = (response: request.Response): string =>
  `${response.status} ${JSON.stringify(response.headers)} ${response.text ?? ''}`;

/** The renderer as `main.ts` builds it, with the test's quote source, logger and registry. */
async function startRenderer(
  env: Record<string, string>,
  output: WatchedOutput,
): Promise<NestFastifyApplication> {
  const base = rendererConfigFromEnv(env);
  const config: RendererConfig = {
    ...base,
    cache: {
      ...base.cache,
      metrics: { ...base.cache.metrics, registry: new Registry() },
      // The most a deployment may record: values must still never be on a span.
      tracing: { recordKey: true, recordDeviceId: true },
    },
  };
  const quotes: QuoteSource = { fetchQuote: () => Promise.resolve(QUOTE) };
  const moduleRef = await Test.createTestingModule({ imports: [RendererModule.forConfig(config)] })
    .overrideProvider(QUOTE_SOURCE)
    .useValue(quotes)
    .setLogger(output.logger)
    .compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(rendererAdapter(), {
    logger: output.logger,
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

/** Every span's name, attributes, status and events, as one text. */
function spansText(): string {
  return JSON.stringify(
    exporter.getFinishedSpans().map((span) => ({
      name: span.name,
      attributes: span.attributes,
      status: span.status,
      events: span.events,
    })),
  );
}

/** Requests run as children of a SERVER span, as the http instrumentation would make them. */
const requestTracer = trace.getTracer('test-request');
function inRequestSpan<T>(work: () => Promise<T>): Promise<T> {
  const span = requestTracer.startSpan('HTTP request', { kind: SpanKind.SERVER });
  return context.with(trace.setSpan(context.active(), span), work).finally(() => span.end());
}

describe('the renderer in process', () => {
  let server: SecureRedisServer | undefined;

  beforeEach(async () => {
    exporter.reset();
    server = await SecureRedisServer.start({ requirePass: PASSWORD });
  });
  afterEach(async () => {
    await server?.dispose();
  });
  afterAll(() => provider.shutdown());

  it('never shows the password, the admin tokens or cached values, up to Redis going away', async () => {
    const redis = server!;
    const output = watchOutput();
    const responses: Seen = [];
    const device = uniqueId('device');
    let app: NestFastifyApplication | undefined;
    try {
      app = await startRenderer(
        {
          REDIS_ADDR: redis.addr,
          REDIS_PASSWORD: PASSWORD,
          CACHE_ADMIN_TOKEN: ADMIN_TOKEN,
          CACHE_OPERATION_TIMEOUT_MS: '2000',
          LOG_LEVEL: 'verbose',
        },
        output,
      );
      const http = app.getHttpServer();
      const call = async (test: request.Test, status: number) => {
        const response = await inRequestSpan(async () => test);
        responses.push(seen(response));
        expect(response.status).toBe(status);
        return response;
      };
      const render = `/apps/quote/devices/${device}/render`;
      const stats = `/apps/quote/devices/${device}/cache`;

      // The quote is fetched, cached through the app cache, and the image with it.
      expect((await call(request(http).get(render), 200)).headers['x-cache']).toBe('MISS');
      expect((await call(request(http).get(render), 200)).headers['x-cache']).toBe('HIT');
      expect(await redis.command(['GET', `/quote/${device}/app:quote`])).toBe(QUOTE);
      // A value set directly, read back through the service's own cache.
      const cache = app.get(RedisCache).withContext('quote', device);
      await inRequestSpan(() => cache.set('direct', VALUE));
      expect((await inRequestSpan(() => cache.get('direct'))).value?.toString()).toBe(VALUE);

      // Admin routes: wrong, missing and malformed tokens are refused; the right one works.
      for (const authorization of [`Bearer ${WRONG_TOKEN}`, WRONG_TOKEN, `Basic ${ADMIN_TOKEN}`]) {
        await call(request(http).get(stats).set('Authorization', authorization), 401);
        await call(request(http).delete(stats).set('Authorization', authorization), 401);
      }
      await call(request(http).delete(stats), 401);
      expect(await redis.command(['EXISTS', `/quote/${device}/direct`])).toBe(1);
      const counted = await call(
        request(http).get(stats).set('Authorization', `Bearer ${ADMIN_TOKEN}`),
        200,
      );
      expect(counted.body).toEqual({ keys: 3 });
      await call(request(http).get('/health/ready'), 200);
      await call(request(http).get('/metrics'), 200);

      // Redis goes away: renders go on, the flush answers 503, readiness says why.
      await redis.stop();
      expect((await call(request(http).get(render), 200)).headers['x-cache']).toBe('MISS');
      const flush = await call(
        request(http).delete(stats).set('Authorization', `Bearer ${ADMIN_TOKEN}`),
        503,
      );
      expect(flush.body.message).toMatch(/^Cache flush_app failed \(connection\)/);
      const ready = await call(request(http).get('/health/ready'), 200);
      expect(ready.body.info.cache).toMatchObject({ redis: 'down', mode: 'fail-open' });
      await call(
        request(http).get(`${stats}?again`).set('Authorization', `Bearer ${WRONG_TOKEN}`),
        401,
      );
      await call(request(http).get('/metrics'), 200);

      // The spans record what the settings allow (keys, device ids), and never more.
      const cacheSpans = exporter
        .getFinishedSpans()
        .filter((span) => span.name.startsWith('cache.'));
      expect(cacheSpans.map((span) => span.attributes['cache.key'])).toEqual(
        expect.arrayContaining(['app:quote', 'direct']),
      );
      expect(cacheSpans.some((span) => span.attributes['cache.device_id'] === device)).toBe(true);
      expect(cacheSpans.some((span) => span.status.message !== undefined)).toBe(true);
      expect(output.text()).toMatch(/Cache get failing open \(connection\)/);
    } finally {
      await app?.close();
      output.restore();
    }
    expect(secretsIn(output.text(), SECRETS)).toEqual([]);
    expect(secretsIn(responses.join('\n'), SECRETS)).toEqual([]);
    expect(secretsIn(spansText(), SECRETS)).toEqual([]);
  });

  it('never shows either password when Redis refuses the one configured', async () => {
    const redis = server!;
    const output = watchOutput();
    const responses: Seen = [];
    let app: NestFastifyApplication | undefined;
    try {
      app = await startRenderer(
        {
          REDIS_URL: redis.url({ username: 'default', password: WRONG_PASSWORD }),
          CACHE_ADMIN_TOKEN: ADMIN_TOKEN,
        },
        output,
      );
      const http = app.getHttpServer();
      const device = uniqueId('device');
      for (const [test, status] of [
        [request(http).get(`/apps/quote/devices/${device}/render`), 200],
        [request(http).get(`/apps/quote/devices/${device}/render`), 200],
        [
          request(http)
            .delete(`/devices/${device}/cache`)
            .set('Authorization', `Bearer ${ADMIN_TOKEN}`),
          503,
        ],
        [request(http).get('/health/ready'), 200],
      ] as const) {
        const response = await inRequestSpan(async () => test);
        responses.push(seen(response));
        expect(response.status).toBe(status);
      }
      expect(responses[1]).toMatch(/"x-cache":"MISS"/);
      expect(output.text()).toMatch(/is unreachable: .*WRONGPASS/);
    } finally {
      await app?.close();
      output.restore();
    }
    expect(secretsIn(output.text(), SECRETS)).toEqual([]);
    expect(secretsIn(responses.join('\n'), SECRETS)).toEqual([]);
    expect(secretsIn(spansText(), SECRETS)).toEqual([]);
  });
});

/** Bad REDIS_URLs carrying a password in every form a URL can hold one. */
const BAD_URLS: [string, string][] = [
  ['user and password, bad port', `redis://user:${encodeURIComponent(PASSWORD)}@cache:notaport`],
  ['password only, bad port', `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:notaport`],
  ['raw password with "@" and "/"', `redis://user:${PASSWORD}@cache:6379`],
  ['whitespace in the host', `rediss://user:${encodeURIComponent(PASSWORD)}@ca che:6379`],
  ['wrong scheme', `http://user:${encodeURIComponent(PASSWORD)}@cache:6379`],
];

/**
 * ioredis also takes the password from the URL's query (`?password=`): every query item becomes a
 * client option. The first test below shows Redis accepts it that way.
 */
const QUERY_URL = (port: string) =>
  `redis://127.0.0.1:${port}/?password=${encodeURIComponent(PASSWORD)}`;

describe('configuration errors', () => {
  it.each(BAD_URLS)(
    'REDIS_URL with %s: the error names REDIS_URL, hides the password',
    (_, url) => {
      for (const parse of [
        () => redisCacheOptionsFromEnv({ REDIS_URL: url }),
        () => rendererConfigFromEnv({ REDIS_URL: url, CACHE_ADMIN_TOKEN: ADMIN_TOKEN }),
      ]) {
        let error: unknown;
        try {
          parse();
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(RedisCacheConfigError);
        expect((error as Error).message).toMatch(/^Environment variable REDIS_URL: expected/);
        expect(secretsIn(everything(error), SECRETS)).toEqual([]);
      }
    },
  );

  it.each(BAD_URLS)(
    'the url option with %s: start-up fails naming "url", hides the password',
    async (_, url) => {
      const output = watchOutput();
      let error: unknown;
      try {
        await Test.createTestingModule({ imports: [RedisCacheModule.forRoot({ url })] })
          .setLogger(output.logger)
          .compile()
          .catch((caught: unknown) => (error = caught));
      } finally {
        output.restore();
      }
      expect(error).toBeInstanceOf(RedisCacheConfigError);
      expect((error as Error).message).toMatch(/^RedisCacheModule option "url": expected/);
      expect(secretsIn(everything(error), SECRETS)).toEqual([]);
      expect(secretsIn(output.text(), SECRETS)).toEqual([]);
    },
  );

  it('a password in the URL query is a working credential', async () => {
    const server = await SecureRedisServer.start({ requirePass: PASSWORD });
    try {
      const text = await withCache({ url: QUERY_URL(String(server.port)) }, async (cache) => {
        await expectRoundTrip(cache, server, VALUE);
      });
      expect(secretsIn(text, SECRETS)).toEqual([]);
    } finally {
      await server.dispose();
    }
  });

  // Regression: redactUrl once hid only what comes before the last "@", so a bad REDIS_URL with the
  // password in its query (which ioredis honours, as shown above) was printed whole.
  it('hides a password in the query of a bad REDIS_URL or url option', async () => {
    const url = QUERY_URL('notaport');
    expect(() => redisCacheOptionsFromEnv({ REDIS_URL: url })).toThrow(RedisCacheConfigError);
    const errors: unknown[] = [];
    try {
      redisCacheOptionsFromEnv({ REDIS_URL: url });
    } catch (error) {
      errors.push(error);
    }
    const output = watchOutput();
    try {
      await Test.createTestingModule({ imports: [RedisCacheModule.forRoot({ url })] })
        .setLogger(output.logger)
        .compile()
        .catch((error: unknown) => errors.push(error));
    } finally {
      output.restore();
    }
    expect(errors).toHaveLength(2);
    for (const error of errors) expect(secretsIn(everything(error), SECRETS)).toEqual([]);
  });

  it('a short CACHE_ADMIN_TOKEN is refused by its length, never shown', () => {
    const shortToken = `tok-${makeSecret('t').slice(-10)}`;
    let error: unknown;
    try {
      rendererConfigFromEnv({ CACHE_ADMIN_TOKEN: shortToken });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RendererConfigError);
    expect((error as Error).message).toBe(
      `Environment variable CACHE_ADMIN_TOKEN: expected a bearer token of at least 16 characters, got ${shortToken.length} characters.`,
    );
    expect(secretsIn(everything(error), [shortToken])).toEqual([]);
  });
});

/** Stops a child this test started, by its own pid, if it still runs. */
function kill(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

describe('the renderer process (built main.js)', () => {
  let outDir: string | undefined;
  let mainJs: string;

  beforeAll(() => {
    outDir = buildRendererInto('secrets');
    mainJs = join(outDir, 'main.js');
  }, 180_000);
  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('writes no secret to stdout, stderr, responses or exported spans', async () => {
    const server = await SecureRedisServer.start({ requirePass: PASSWORD });
    const receiver = await startOtlpReceiver();
    const responses: string[] = [];
    let service: ServiceProcess | undefined;
    let wrongService: ServiceProcess | undefined;
    try {
      const env = {
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_ADDR: server.addr,
        REDIS_PASSWORD: PASSWORD,
        CACHE_ADMIN_TOKEN: ADMIN_TOKEN,
        CACHE_OPERATION_TIMEOUT_MS: '2000',
        LOG_LEVEL: 'verbose',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      };
      service = await startService(mainJs, env);
      const base = `http://127.0.0.1:${service.port}`;
      const call = async (path: string, status: number, init: RequestInit = {}) => {
        const response = await fetch(`${base}${path}`, init);
        const body = Buffer.from(await response.arrayBuffer()).toString('latin1');
        responses.push(`${response.status} ${JSON.stringify([...response.headers])} ${body}`);
        expect(response.status).toBe(status);
        return response;
      };
      const device = uniqueId('device');
      // The service reads a value seeded under its app-cache key (a hit), renders it, caches the image.
      await server.command(['SET', `/quote/${device}/app:quote`, VALUE, 'EX', 600]);
      expect((await call(`/apps/quote/devices/${device}/render`, 200)).headers.get('x-cache')).toBe(
        'MISS',
      );
      expect((await call(`/apps/quote/devices/${device}/render`, 200)).headers.get('x-cache')).toBe(
        'HIT',
      );
      const stats = `/apps/quote/devices/${device}/cache`;
      for (const token of [WRONG_TOKEN, PASSWORD]) {
        await call(stats, 401, { headers: { authorization: `Bearer ${token}` } });
        await call(stats, 401, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      }
      await call(stats, 200, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      await call('/health/ready', 200);
      await call('/metrics', 200);

      // A second instance with the wrong Redis password: it starts, renders, and says why.
      wrongService = await startService(mainJs, { ...env, REDIS_PASSWORD: WRONG_PASSWORD });
      const wrongBase = `http://127.0.0.1:${wrongService.port}`;
      expect((await fetch(`${wrongBase}/apps/quote/devices/${device}/render`)).status).toBe(200);
      const refused = await fetch(`${wrongBase}${stats}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      responses.push(await refused.text());
      expect(refused.status).toBe(503);

      // Redis goes away under the first one.
      await server.stop();
      expect((await call(`/apps/quote/devices/${device}/render`, 200)).headers.get('x-cache')).toBe(
        'MISS',
      );
      await call(stats, 503, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      await call('/health/ready', 200);

      for (const running of [service, wrongService]) running.child.kill('SIGTERM');
      expect(await service.exited).toBe(0);
      expect(await wrongService.exited).toBe(0);

      const spans = receiver.spans();
      const names = spans.map(({ name }) => name);
      // The instrumentations were on: HTTP server spans, the cache's spans and ioredis's own.
      expect(names).toEqual(expect.arrayContaining(['cache.get', 'cache.set', 'get', 'set']));
      expect(spans.some(({ kind }) => kind === 2)).toBe(true);
      const output = [...service.output, ...wrongService.output].join('\n');
      expect(output).toMatch(/is unreachable: .*WRONGPASS/);
      expect(output).toMatch(/Cache get failing open \(connection\)/);
      expect(secretsIn(output, SECRETS)).toEqual([]);
      expect(secretsIn(JSON.stringify(spans), SECRETS)).toEqual([]);
      expect(secretsIn(responses.join('\n'), SECRETS)).toEqual([]);
    } finally {
      kill(service?.child);
      kill(wrongService?.child);
      await receiver.close();
      await server.dispose();
    }
  }, 90_000);

  it.each([BAD_URLS[0], BAD_URLS[2], ['a password in the query', QUERY_URL('notaport')]])(
    'exits 1 on a REDIS_URL with %s, with one line that hides the password',
    (_, url) => {
      // "A password in the query" was once shown: see "hides a password in the query" above.
      const run = spawnSync(process.execPath, [mainJs], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '', REDIS_URL: url, CACHE_ADMIN_TOKEN: ADMIN_TOKEN },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/^Configuration error: Environment variable REDIS_URL: expected/);
      expect(secretsIn(`${run.stdout}\n${run.stderr}`, SECRETS)).toEqual([]);
    },
  );
});
