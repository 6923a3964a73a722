// How a controller that injects ContextualCache follows the request: a per-request view of the
// controller as `this` where that reaches every use, an AsyncLocalStorage context where it may not.
// Its own file: whether the process created its AsyncLocalStorage is part of what is tested.
import { Controller, Get, Injectable, Param, Put, Query } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ContextualCache, RedisCache, RedisCacheConfigError, RedisCacheModule } from '../src';
import { asyncCacheContextCreated } from '../src/redis-cache/context/cache-context.storage';
import { createHttpApp } from './support/http-app';
import { sleep } from './support/unique';

const ROUTE = ':appId/:deviceId';

/** Reports whether the handler ran with a view (`this` is not the controller itself). */
abstract class Reporting {
  protected readonly self = this;

  protected viewed(): boolean {
    return this !== this.self;
  }
}

@Controller(`plain/${ROUTE}`)
class PlainController extends Reporting {
  writes = 0;

  constructor(
    private readonly cache: ContextualCache,
    private readonly sameCache: ContextualCache,
  ) {
    super();
  }

  get where(): string {
    return `${this.cache.appId}/${this.cache.deviceId}`;
  }

  @Put(':key')
  async put(@Param('key') key: string, @Query('value') value: string) {
    this.writes += 1;
    await this.cache.set(key, value);
    return { viewed: this.viewed(), writes: this.writes };
  }

  @Get('roundtrip')
  async roundtrip(@Query('value') value: string, @Query('delay') delay: string) {
    await this.cache.set('rt', value);
    await sleep(Number(delay));
    return { where: this.where, value: await this.read('rt'), same: this.sameCache.keyFor('rt') };
  }

  @Get(':key')
  async get(@Param('key') key: string) {
    return { value: await this.read(key), viewed: this.viewed() };
  }

  private async read(key: string): Promise<string | null> {
    return (await this.cache.get(key)).value?.toString() ?? null;
  }
}

@Controller('no-params')
class NoParamsController {
  constructor(private readonly cache: ContextualCache) {}

  @Get('ok')
  ok() {
    return { ok: true };
  }

  @Get('uses')
  uses() {
    return this.cache.keyFor('k');
  }
}

@Controller(`private/${ROUTE}`)
class PrivateFieldController extends Reporting {
  #reads = 0;

  constructor(private readonly cache: ContextualCache) {
    super();
  }

  @Get(':key')
  async get(@Param('key') key: string) {
    this.#reads += 1;
    const hit = await this.cache.get(key);
    return { value: hit.value?.toString() ?? null, viewed: this.viewed(), reads: this.#reads };
  }
}

@Controller(`arrow/${ROUTE}`)
class ArrowFieldController extends Reporting {
  private readonly lookup = async (key: string) =>
    (await this.cache.get(key)).value?.toString() ?? null;

  constructor(private readonly cache: ContextualCache) {
    super();
  }

  @Get(':key')
  async get(@Param('key') key: string) {
    return { value: await this.lookup(key), viewed: this.viewed() };
  }
}

class Facade {
  constructor(readonly cache: ContextualCache) {}

  async text(key: string) {
    return (await this.cache.get(key)).value?.toString() ?? null;
  }
}

@Controller(`facade/${ROUTE}`)
class FacadeController extends Reporting {
  private readonly facade: Facade;

  constructor(cache: ContextualCache) {
    super();
    this.facade = new Facade(cache);
  }

  @Get(':key')
  async get(@Param('key') key: string) {
    return { value: await this.facade.text(key), viewed: this.viewed() };
  }
}

@Injectable()
class ReadingService {
  constructor(private readonly cache: ContextualCache) {}

  async text(key: string) {
    return (await this.cache.get(key)).value?.toString() ?? null;
  }
}

@Controller(`service/${ROUTE}`)
class ServiceController extends Reporting {
  constructor(
    private readonly cache: ContextualCache,
    private readonly service: ReadingService,
  ) {
    super();
  }

  @Put(':key')
  async put(@Param('key') key: string, @Query('value') value: string) {
    await this.cache.set(key, value);
    return { viewed: this.viewed() };
  }

  @Get(':key')
  async get(@Param('key') key: string) {
    return { value: await this.service.text(key), viewed: this.viewed() };
  }
}

function memoryCache(extras: { asyncLocalStorage?: 'auto' | 'always' } = {}) {
  return RedisCacheModule.forRoot({ store: 'memory', ...extras });
}

/** Stores a value for `app/dev1` through the module's RedisCache, then reads it back over HTTP. */
async function expectScopedReads(app: INestApplication, prefix: string, viewed: boolean) {
  await app.get(RedisCache).withContext('app', 'dev1').set('k', prefix);
  const server = app.getHttpServer();
  const mine = await request(server).get(`/${prefix}/app/dev1/k`).expect(200);
  expect(mine.body).toMatchObject({ value: prefix, viewed });
  const other = await request(server).get(`/${prefix}/app/dev2/k`).expect(200);
  expect(other.body).toMatchObject({ value: null, viewed });
}

describe('constructor-injected ContextualCache, with request views', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await createHttpApp('fastify', {
      imports: [memoryCache()],
      controllers: [PlainController, NoParamsController],
    });
  });
  afterAll(() => app.close());

  it('serves each request its own cache, with the controller as its view', async () => {
    const server = app.getHttpServer();
    const put = await request(server).put('/plain/clock/dev1/k?value=one').expect(200);
    expect(put.body.viewed).toBe(true);
    await request(server).get('/plain/clock/dev1/k').expect(200, { value: 'one', viewed: true });
    await request(server).get('/plain/clock/dev10/k').expect(200, { value: null, viewed: true });
    await request(server).get('/plain/clock2/dev1/k').expect(200, { value: null, viewed: true });
  });

  it('keeps the caches apart across awaits while requests interleave', async () => {
    const server = app.getHttpServer();
    const requests = Array.from({ length: 20 }, (_, i) =>
      request(server)
        .get(`/plain/app${i % 4}/dev${i}/roundtrip?value=v${i}&delay=${(i * 7) % 25}`)
        .expect(200),
    );
    const responses = await Promise.all(requests);
    responses.forEach((response, i) => {
      expect(response.body).toEqual({
        where: `app${i % 4}/dev${i}`,
        value: `v${i}`,
        same: `/app${i % 4}/dev${i}/rt`,
      });
    });
  });

  it('writes controller state to the controller itself, not to the view', async () => {
    const controller = app.get(PlainController);
    const before = controller.writes;
    const server = app.getHttpServer();
    await request(server).put('/plain/a/d/x?value=1').expect(200);
    const second = await request(server).put('/plain/a/d/x?value=2').expect(200);
    expect(second.body.writes).toBe(before + 2);
    expect(controller.writes).toBe(before + 2);
  });

  it('runs a route without the params until it uses the cache, then names the param', async () => {
    const errors: string[] = [];
    app.useLogger({
      log: () => undefined,
      warn: () => undefined,
      error: (message: unknown, stack?: unknown) =>
        errors.push(`${String(message)} ${String(stack)}`),
    });
    const server = app.getHttpServer();
    await request(server).get('/no-params/ok').expect(200, { ok: true });
    await request(server).get('/no-params/uses').expect(500);
    expect(errors.join('\n')).toMatch(/no :appId parameter/);
  });

  it('answers 400 naming the field for an invalid id', async () => {
    const response = await request(app.getHttpServer()).get('/plain/app/%2F/k').expect(400);
    expect(response.body.field).toBe('deviceId');
  });

  it('has not created an AsyncLocalStorage in this process', () => {
    expect(asyncCacheContextCreated()).toBe(false);
  });
});

describe('constructor-injected ContextualCache, where a view cannot reach every use', () => {
  it.each([
    ['a #private field', PrivateFieldController, 'private'],
    ['an arrow-function field', ArrowFieldController, 'arrow'],
    ['a facade holding the cache', FacadeController, 'facade'],
  ] as const)(
    'runs a controller with %s in an AsyncLocalStorage context',
    async (_, type, prefix) => {
      const app = await createHttpApp('fastify', {
        imports: [memoryCache()],
        controllers: [PlainController, type],
      });
      await expectScopedReads(app, prefix, false);
      await app.close();
    },
  );

  it('runs every controller in a context when a provider injects the cache', async () => {
    const app = await createHttpApp('express', {
      imports: [memoryCache()],
      controllers: [ServiceController, PlainController],
      providers: [ReadingService],
    });
    const server = app.getHttpServer();
    await request(server).put('/service/app/dev1/k?value=s').expect(200, { viewed: false });
    await request(server).get('/service/app/dev1/k').expect(200, { value: 's', viewed: false });
    await request(server).get('/service/app/dev2/k').expect(200, { value: null, viewed: false });
    await request(server).get('/plain/app/dev1/k').expect(200, { value: 's', viewed: false });
    await app.close();
  });

  it('uses the context for every controller with asyncLocalStorage: "always"', async () => {
    const app = await createHttpApp('fastify', {
      imports: [memoryCache({ asyncLocalStorage: 'always' })],
      controllers: [PlainController],
    });
    const server = app.getHttpServer();
    await request(server).put('/plain/app/dev1/k?value=a').expect(200);
    await request(server).get('/plain/app/dev1/k').expect(200, { value: 'a', viewed: false });
    expect(asyncCacheContextCreated()).toBe(true);
    await app.close();
  });

  it('rejects an asyncLocalStorage setting it does not know, naming it', () => {
    expect(() =>
      RedisCacheModule.forRoot({
        store: 'memory',
        asyncLocalStorage: 'sometimes' as 'auto',
      }),
    ).toThrow(RedisCacheConfigError);
    expect(() =>
      RedisCacheModule.forRoot({ store: 'memory', asyncLocalStorage: 'sometimes' as 'auto' }),
    ).toThrow(
      'RedisCacheModule option "asyncLocalStorage": expected "auto" or "always", got "sometimes".',
    );
  });
});
