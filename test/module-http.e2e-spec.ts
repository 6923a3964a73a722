import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Param,
  Post,
  Put,
  Query,
  Scope,
} from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  ContextualCache,
  CurrentCache,
  REDIS_CACHE_CLIENT,
  RedisCache,
  RedisCacheModule,
  redisCacheOptionsFromEnv,
} from '../src';
import type { RedisCacheModuleOptions } from '../src';
import { captureLogs } from './support/capture-logger';
import { HTTP_ADAPTERS, createHttpApp } from './support/http-app';
import { redisForSuite } from './support/redis-target';
import { sleep, uniqueId } from './support/unique';

/** Constructor injection: the controller stays a singleton, the cache follows the request. */
@Controller('apps/:appId/devices/:deviceId')
class InjectedController {
  readonly instanceId = Math.random();

  constructor(private readonly cache: ContextualCache) {}

  @Put('values/:key')
  async put(@Param('key') key: string, @Query('value') value: string) {
    await this.cache.set(key, value);
    return { key: this.cache.keyFor(key) };
  }

  @Get('values/:key')
  async read(@Param('key') key: string) {
    const hit = await this.cache.get(key);
    return { found: hit.found, value: hit.value?.toString() ?? null, instance: this.instanceId };
  }

  /** Writes, waits, reads back: another request in between must not change what it sees. */
  @Get('roundtrip')
  async roundtrip(@Query('value') value: string, @Query('delay') delay: string) {
    await this.cache.set('rt', value);
    await sleep(Number(delay));
    const hit = await this.cache.get('rt');
    return { app: this.cache.appId, device: this.cache.deviceId, value: hit.value?.toString() };
  }

  @Get('stats')
  async stats() {
    return { keys: await this.cache.stats() };
  }
}

@Controller('plain')
class PlainRoutesController {
  constructor(private readonly cache: ContextualCache) {}

  @Get('no-cache')
  ok() {
    return { ok: true };
  }

  @Get('uses-cache')
  async uses() {
    return this.cache.get('k');
  }
}

@Controller('decorated/:appId/:deviceId')
class DecoratorController {
  @Get(':key')
  async read(@CurrentCache() cache: ContextualCache, @Param('key') key: string) {
    const hit = await cache.get(key);
    return { value: hit.value?.toString() ?? null, redisKey: cache.keyFor(key) };
  }

  @Put(':key')
  async write(
    @CurrentCache() cache: ContextualCache,
    @Param('key') key: string,
    @Query('value') value: string,
  ) {
    await cache.set(key, value);
    return { ok: true };
  }
}

@Controller('decorated-missing/:appId')
class DecoratorMissingParamController {
  @Get()
  read(@CurrentCache() cache: ContextualCache) {
    return cache.keyFor('k');
  }
}

/** A provider that injects ContextualCache; its controller does not. */
@Injectable()
class ProfileService {
  constructor(readonly cache: ContextualCache) {}

  async remember(value: string) {
    await this.cache.set('profile', value);
    return (await this.cache.get('profile')).value?.toString();
  }
}

@Controller('service/:appId/:deviceId')
class ServiceController {
  constructor(private readonly profiles: ProfileService) {}

  @Get()
  remember(@Query('value') value: string) {
    return this.profiles.remember(value);
  }
}

const controllers = [
  InjectedController,
  PlainRoutesController,
  DecoratorController,
  DecoratorMissingParamController,
  ServiceController,
];

@Injectable()
class CacheOptionsFactory {
  constructor(@Inject('REDIS_URL') private readonly url: string) {}
  createRedisCacheOptions(): RedisCacheModuleOptions {
    return { url: this.url, defaultTtlSeconds: 30, operationTimeoutMs: BEHAVIOUR_TIMEOUT_MS };
  }
}

// These suites test behaviour, not timeouts: a generous bound keeps a busy CI machine from
// turning a slow write into a fail-open skip. test/fail-open.e2e-spec.ts tests the 200 ms default.
const BEHAVIOUR_TIMEOUT_MS = 5000;

const redis = redisForSuite();

const registrations = {
  forRoot: () =>
    RedisCacheModule.forRoot({ url: redis.url, operationTimeoutMs: BEHAVIOUR_TIMEOUT_MS }),
  'forRootAsync useFactory': () =>
    RedisCacheModule.forRootAsync({
      inject: ['REDIS_URL'],
      extraProviders: [{ provide: 'REDIS_URL', useValue: redis.url }],
      useFactory: (url: string) => ({ url, operationTimeoutMs: BEHAVIOUR_TIMEOUT_MS }),
    }),
  'forRootAsync useClass': () => {
    @Module({
      providers: [{ provide: 'REDIS_URL', useValue: redis.url }],
      exports: ['REDIS_URL'],
    })
    class UrlModule {}
    return RedisCacheModule.forRootAsync({ imports: [UrlModule], useClass: CacheOptionsFactory });
  },
};

describe.each(HTTP_ADAPTERS)('RedisCacheModule over HTTP on %s', (adapter) => {
  describe.each(Object.keys(registrations) as Array<keyof typeof registrations>)(
    'registered with %s',
    (registration) => {
      let app: INestApplication;
      beforeAll(async () => {
        app = await createHttpApp(adapter, {
          imports: [registrations[registration]()],
          controllers,
          providers: [ProfileService],
        });
      });
      afterAll(() => app.close());

      it('writes under the request scope and reads it back through the same Redis', async () => {
        const appId = uniqueId('clock');
        const put = await request(app.getHttpServer())
          .put(`/apps/${appId}/devices/device123/values/weather_data?value=sunny`)
          .expect(200);
        expect(put.body).toEqual({ key: `/${appId}/device123/weather_data` });
        expect(await redis.raw.get(`/${appId}/device123/weather_data`)).toBe('sunny');
        const got = await request(app.getHttpServer())
          .get(`/apps/${appId}/devices/device123/values/weather_data`)
          .expect(200);
        expect(got.body).toMatchObject({ found: true, value: 'sunny' });
      });

      it('keeps the controller a singleton', async () => {
        const appId = uniqueId('single');
        const a = await request(app.getHttpServer()).get(`/apps/${appId}/devices/d1/values/x`);
        const b = await request(app.getHttpServer()).get(`/apps/${appId}/devices/d2/values/x`);
        expect(a.body.instance).toBe(b.body.instance);
        expect(app.get(InjectedController).instanceId).toBe(a.body.instance);
      });

      it('gives @CurrentCache() the same scoped cache', async () => {
        const appId = uniqueId('deco');
        await request(app.getHttpServer())
          .put(`/decorated/${appId}/dev9/greeting?value=hello`)
          .expect(200);
        const res = await request(app.getHttpServer())
          .get(`/decorated/${appId}/dev9/greeting`)
          .expect(200);
        expect(res.body).toEqual({ value: 'hello', redisKey: `/${appId}/dev9/greeting` });
        const injected = await request(app.getHttpServer())
          .get(`/apps/${appId}/devices/dev9/values/greeting`)
          .expect(200);
        expect(injected.body.value).toBe('hello');
      });

      it('gives a provider that injects the cache the request of the controller calling it', async () => {
        const appId = uniqueId('svc');
        const res = await request(app.getHttpServer())
          .get(`/service/${appId}/devA?value=remembered`)
          .expect(200);
        expect(res.text).toBe('remembered');
        expect(await redis.raw.get(`/${appId}/devA/profile`)).toBe('remembered');
      });
    },
  );

  describe('request handling', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createHttpApp(adapter, {
        imports: [
          RedisCacheModule.forRoot({ url: redis.url, operationTimeoutMs: BEHAVIOUR_TIMEOUT_MS }),
        ],
        controllers,
        providers: [ProfileService],
      });
    });
    afterAll(() => app.close());

    it.each([
      ['appId', `/apps/${'a'.repeat(257)}/devices/d/values/k`],
      ['appId', '/apps/a%2Fb/devices/d/values/k'],
      ['deviceId', '/apps/a/devices/bad%01id/values/k'],
      ['deviceId', '/decorated/a/bad%0Aid/k'],
      ['appId', `/decorated/${'é'.repeat(129)}/d/k`],
    ])('answers 400 naming %s for %s', async (field, path) => {
      const res = await request(app.getHttpServer()).get(path).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, field });
      expect(res.body.message).toMatch(new RegExp(`^Invalid ${field}: `));
    });

    it('stores nothing when the id is invalid', async () => {
      const before = await redis.raw.dbsize();
      await request(app.getHttpServer()).put('/apps/a%2Fb/devices/d/values/k?value=v').expect(400);
      expect(await redis.raw.dbsize()).toBe(before);
    });

    it('runs routes without the params until they use the cache, then answers 500', async () => {
      await request(app.getHttpServer()).get('/plain/no-cache').expect(200, { ok: true });
      const failing = await request(app.getHttpServer()).get('/plain/uses-cache').expect(500);
      expect(failing.body.statusCode).toBe(500);
      const missing = await request(app.getHttpServer()).get('/decorated-missing/app1').expect(500);
      expect(missing.body.statusCode).toBe(500);
    });

    it('never lets concurrent requests see each other’s data', async () => {
      const apps = [uniqueId('a'), uniqueId('b'), uniqueId('c')];
      const calls = Array.from({ length: 150 }, (_, i) => {
        const appId = apps[i % apps.length];
        const deviceId = `dev${i % 7}`;
        const value = `${appId}:${deviceId}:${i}`;
        return { appId, deviceId, value, delay: (i * 7) % 25 };
      });
      // Each (app, device) pair has several writers; the check is on scope, not last-writer-wins.
      const responses = await Promise.all(
        calls.map(({ appId, deviceId, value, delay }) =>
          request(app.getHttpServer())
            .get(`/apps/${appId}/devices/${deviceId}/roundtrip`)
            .query({ value, delay })
            .expect(200)
            .then((res) => ({
              expected: { appId, deviceId },
              body: res.body as { app: string; device: string; value: string },
            })),
        ),
      );
      for (const { expected, body } of responses) {
        expect(body.app).toBe(expected.appId);
        expect(body.device).toBe(expected.deviceId);
        expect(body.value.startsWith(`${expected.appId}:${expected.deviceId}:`)).toBe(true);
      }
    });
  });
});

describe('module wiring', () => {
  it('says how to get a context when ContextualCache is used outside a request', async () => {
    const { Test } = await import('@nestjs/testing');
    const moduleRef = await Test.createTestingModule({
      imports: [RedisCacheModule.forRoot({ store: 'memory' })],
      controllers: [PlainRoutesController],
    }).compile();
    const controller = moduleRef.get(PlainRoutesController);
    const proxy = await moduleRef.resolve(ContextualCache);
    expect(proxy).toBeInstanceOf(ContextualCache);
    // Outside any request: the cache says how to get a scope.
    await expect(controller.uses()).rejects.toThrow(/outside an HTTP request/);
    expect(() => proxy.keyFor('k')).toThrow(/RedisCache\.withContext\(appId, deviceId\)/);
    await moduleRef.close();
  });

  it.each(HTTP_ADAPTERS)('%s: the missing-param error names :appId', async (adapter) => {
    const errors: string[] = [];
    const app = await createHttpApp(adapter, {
      imports: [RedisCacheModule.forRoot({ store: 'memory' })],
      controllers: [PlainRoutesController],
    });
    app.useLogger({
      log: () => undefined,
      warn: () => undefined,
      error: (message: unknown, stack?: unknown) =>
        errors.push(`${String(message)} ${String(stack)}`),
    });
    await request(app.getHttpServer()).get('/plain/uses-cache').expect(500);
    expect(errors.join('\n')).toMatch(/no :appId parameter/);
    await app.close();
  });

  it('keeps two live apps that share a controller class on their own caches', async () => {
    const first = await createHttpApp('express', {
      imports: [RedisCacheModule.forRoot({ store: 'memory' })],
      controllers: [InjectedController],
    });
    const second = await createHttpApp('fastify', {
      imports: [RedisCacheModule.forRoot({ store: 'memory' })],
      controllers: [InjectedController],
    });
    await request(first.getHttpServer()).put('/apps/a/devices/d/values/k?value=first').expect(200);
    await request(second.getHttpServer())
      .put('/apps/a/devices/d/values/k?value=second')
      .expect(200);
    const fromFirst = await request(first.getHttpServer()).get('/apps/a/devices/d/values/k');
    const fromSecond = await request(second.getHttpServer()).get('/apps/a/devices/d/values/k');
    expect(fromFirst.body.value).toBe('first');
    expect(fromSecond.body.value).toBe('second');
    await first.close();
    await second.close();
  });

  it('gives each app its own cache when both are built before either registers its routes', async () => {
    const { Test } = await import('@nestjs/testing');
    const build = async () =>
      (
        await Test.createTestingModule({
          imports: [RedisCacheModule.forRoot({ store: 'memory' })],
          controllers: [InjectedController, DecoratorController],
        }).compile()
      ).createNestApplication({ logger: false });
    const first = await build();
    const second = await build();
    await first.init();
    await second.init();
    for (const [app, value] of [
      [first, 'first'],
      [second, 'second'],
    ] as const) {
      await request(app.getHttpServer()).put(`/apps/a/devices/d/values/k?value=${value}`);
      await request(app.getHttpServer()).put(`/decorated/a/d/k?value=${value}`).expect(200);
    }
    for (const [app, value] of [
      [first, 'first'],
      [second, 'second'],
    ] as const) {
      const injected = await request(app.getHttpServer()).get('/apps/a/devices/d/values/k');
      expect(injected.body.value).toBe(value);
      const decorated = await request(app.getHttpServer()).get('/decorated/a/d/k');
      expect(decorated.body.value).toBe(value);
    }
    await first.close();
    await second.close();
  });

  it('leaves controller methods as written for direct calls once the routes are registered', async () => {
    const app = await createHttpApp('fastify', {
      imports: [RedisCacheModule.forRoot({ store: 'memory' })],
      controllers: [DecoratorController, InjectedController],
    });
    const redisCache = app.get(RedisCache);
    const cache = redisCache.withContext('direct', 'dev1');
    await cache.set('k', 'v');
    const decorated = app.get(DecoratorController);
    await expect(decorated.read(cache, 'k')).resolves.toEqual({
      value: 'v',
      redisKey: '/direct/dev1/k',
    });
    expect(Object.prototype.hasOwnProperty.call(decorated, 'read')).toBe(false);
    // The routes still resolve the request's cache.
    await request(app.getHttpServer()).put('/decorated/http/dev1/k?value=w').expect(200);
    const read = await request(app.getHttpServer()).get('/decorated/http/dev1/k').expect(200);
    expect(read.body).toEqual({ value: 'w', redisKey: '/http/dev1/k' });
    await app.close();
  });

  it('says what is missing when @CurrentCache() is used without the module, at start-up', async () => {
    @Controller('unbound/:appId/:deviceId')
    class UnboundController {
      @Get(':key')
      read(@CurrentCache() cache: ContextualCache, @Param('key') key: string) {
        return cache.keyFor(key);
      }
    }
    await expect(createHttpApp('express', { controllers: [UnboundController] })).rejects.toThrow(
      '@CurrentCache() needs RedisCacheModule.forRoot() or forRootAsync() imported globally or by the module of the controller that uses it.',
    );
  });

  it.each(HTTP_ADAPTERS)(
    '%s: binds a controller that Nest builds per request (a request-scoped dependency)',
    async (adapter) => {
      @Injectable({ scope: Scope.REQUEST })
      class PerRequest {
        readonly id = Math.random();
      }

      @Controller('per-request/:appId/:deviceId')
      class PerRequestController {
        constructor(
          private readonly cache: ContextualCache,
          private readonly perRequest: PerRequest,
        ) {}

        @Put(':key')
        async write(@Param('key') key: string, @Query('value') value: string) {
          await this.cache.set(key, value);
          return { key: this.cache.keyFor(key), id: this.perRequest.id };
        }

        @Get(':key')
        async read(@Param('key') key: string) {
          return { value: (await this.cache.get(key)).value?.toString() ?? null };
        }
      }

      const app = await createHttpApp(adapter, {
        imports: [RedisCacheModule.forRoot({ store: 'memory' })],
        controllers: [PerRequestController],
        providers: [PerRequest],
      });
      const written = await request(app.getHttpServer())
        .put('/per-request/clock/dev1/k?value=v1')
        .expect(200);
      expect(written.body.key).toBe('/clock/dev1/k');
      const again = await request(app.getHttpServer()).put('/per-request/clock/dev1/k?value=v1');
      expect(again.body.id).not.toBe(written.body.id);
      await request(app.getHttpServer())
        .get('/per-request/clock/dev1/k')
        .expect(200, { value: 'v1' });
      await request(app.getHttpServer())
        .get('/per-request/clock/dev2/k')
        .expect(200, { value: null });
      await app.close();
    },
  );

  it('selects the memory store from an empty environment and says so once at start', async () => {
    const { Test } = await import('@nestjs/testing');
    const logs = captureLogs();
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [RedisCacheModule.forRoot(redisCacheOptionsFromEnv({}))],
      })
        .setLogger(logs.logger)
        .compile();
      const cache = moduleRef.get(RedisCache);
      expect(cache.storeKind).toBe('memory');
      expect(moduleRef.get(REDIS_CACHE_CLIENT)).toBeNull();
      await cache.withContext('a', 'd').set('k', 'v');
      expect((await cache.withContext('a', 'd').get('k')).found).toBe(true);
      expect(logs.lines.filter((line) => /in-memory store/.test(line.message))).toHaveLength(1);
      await moduleRef.close();
    } finally {
      logs.restore();
    }
  });

  it('keeps route metadata and inherited routes of a cache-injecting controller', async () => {
    class BaseRoutes {
      constructor(protected readonly cache: ContextualCache) {}
      @Get('inherited')
      async inherited() {
        await this.cache.set('from-base', 'yes');
        return this.cache.keyFor('from-base');
      }
    }
    @Controller('meta/:appId/:deviceId')
    class MetaController extends BaseRoutes {
      constructor(cache: ContextualCache) {
        super(cache);
      }
      @Post('created/:key')
      @HttpCode(202)
      @Header('x-cache-test', 'kept')
      async created(@Param('key') key: string, @Body() body: { value: string }) {
        await this.cache.set(key, body.value);
        return { key: this.cache.keyFor(key), value: body.value };
      }
    }
    for (const adapter of HTTP_ADAPTERS) {
      const app = await createHttpApp(adapter, {
        imports: [RedisCacheModule.forRoot({ store: 'memory' })],
        controllers: [MetaController],
      });
      const res = await request(app.getHttpServer())
        .post('/meta/a/d/created/k')
        .send({ value: 'v' })
        .expect(202);
      expect(res.headers['x-cache-test']).toBe('kept');
      expect(res.body).toEqual({ key: '/a/d/k', value: 'v' });
      await request(app.getHttpServer()).get('/meta/a/d/inherited').expect(200, '/a/d/from-base');
      const cache = app.get(RedisCache).withContext('a', 'd');
      expect((await cache.get('k')).value?.toString()).toBe('v');
      await app.close();
    }
  });

  it('uses custom routeParams names', async () => {
    @Controller('r/:app/:device')
    class CustomParamsController {
      constructor(private readonly cache: ContextualCache) {}
      @Get()
      key() {
        return this.cache.keyFor('k');
      }
    }
    const app = await createHttpApp('fastify', {
      imports: [
        RedisCacheModule.forRoot({
          store: 'memory',
          routeParams: { app: 'app', device: 'device' },
        }),
      ],
      controllers: [CustomParamsController],
    });
    await request(app.getHttpServer()).get('/r/x/y').expect(200, '/x/y/k');
    await app.close();
  });

  it('makes the controller request-scoped only when asked (requestScoped: true)', async () => {
    const app = await createHttpApp('express', {
      imports: [
        RedisCacheModule.forRoot({
          url: redis.url,
          operationTimeoutMs: BEHAVIOUR_TIMEOUT_MS,
          requestScoped: true,
        }),
      ],
      controllers: [InjectedController],
    });
    const appId = uniqueId('req');
    await request(app.getHttpServer()).put(`/apps/${appId}/devices/d/values/k?value=v`).expect(200);
    const a = await request(app.getHttpServer())
      .get(`/apps/${appId}/devices/d/values/k`)
      .expect(200);
    const b = await request(app.getHttpServer())
      .get(`/apps/${appId}/devices/d/values/k`)
      .expect(200);
    expect(a.body.value).toBe('v');
    expect(a.body.instance).not.toBe(b.body.instance);
    await request(app.getHttpServer()).get('/apps/a%2Fb/devices/d/values/k').expect(400);
    await app.close();
  });

  it('is global by default and local with isGlobal: false', async () => {
    const { Test } = await import('@nestjs/testing');
    @Injectable()
    class NeedsCache {
      constructor(readonly cache: RedisCache) {}
    }
    @Module({ providers: [NeedsCache], exports: [NeedsCache] })
    class FeatureModule {}

    const global = await Test.createTestingModule({
      imports: [RedisCacheModule.forRoot({ store: 'memory' }), FeatureModule],
    }).compile();
    expect(global.get(NeedsCache).cache).toBeInstanceOf(RedisCache);
    await global.close();

    await expect(
      Test.createTestingModule({
        imports: [RedisCacheModule.forRoot({ store: 'memory', isGlobal: false }), FeatureModule],
      }).compile(),
    ).rejects.toThrow(/RedisCache/);
  });

  it('closes a client it created on shutdown, and leaves a passed-in client open', async () => {
    const { Test } = await import('@nestjs/testing');
    const owned = await Test.createTestingModule({
      imports: [
        RedisCacheModule.forRoot({ url: redis.url, operationTimeoutMs: BEHAVIOUR_TIMEOUT_MS }),
      ],
    }).compile();
    const ownedClient = owned.get<Redis>(REDIS_CACHE_CLIENT);
    expect(ownedClient.status).toBe('ready');
    await owned.close();
    expect(ownedClient.status).toBe('end');

    const mine = new Redis(redis.url);
    await mine.ping();
    const external = await Test.createTestingModule({
      imports: [RedisCacheModule.forRoot({ client: mine })],
    }).compile();
    expect(external.get(REDIS_CACHE_CLIENT)).toBe(mine);
    await external.get(RedisCache).withContext('a', 'b').set('k', 'v');
    await external.close();
    expect(mine.status).toBe('ready');
    expect(await mine.get('/a/b/k')).toBe('v');
    mine.disconnect();
  });

  it('shares one client across all requests (no per-request connections)', async () => {
    const app = await createHttpApp('fastify', {
      imports: [
        RedisCacheModule.forRoot({ url: redis.url, operationTimeoutMs: BEHAVIOUR_TIMEOUT_MS }),
      ],
      controllers: [InjectedController],
    });
    const name = uniqueId('conn');
    await app.get<Redis>(REDIS_CACHE_CLIENT).client('SETNAME', name);
    const appId = uniqueId('pool');
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        request(app.getHttpServer()).put(`/apps/${appId}/devices/d${i}/values/k?value=${i}`),
      ),
    );
    const clients = (await redis.raw.client('LIST')) as string;
    expect(clients.split('\n').filter((line) => line.includes(`name=${name}`))).toHaveLength(1);
    await app.close();
  });
});
