// Request isolation, pattern by pattern: each pattern is written the way people write controllers,
// guards, interceptors, pipes and services. Two requests for two devices are interleaved (A writes,
// B writes, A reads, B reads, each waiting at a gate the test opens) and a third follows them; the
// test checks what each read and where each write landed in Redis. Runs on Express and Fastify,
// and on NestJS 11 and 12 (test/nestjs-12/jest.config.js).
import {
  Controller,
  Get,
  Injectable,
  Module,
  Query,
  Res,
  Scope,
  Sse,
  StreamableFile,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import type {
  ArgumentMetadata,
  CallHandler,
  CanActivate,
  DynamicModule,
  ExecutionContext,
  INestApplication,
  MessageEvent,
  NestInterceptor,
  PipeTransform,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { Redis } from 'ioredis';
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { concatMap, defer, from, interval, map, mergeMap, switchMap, take } from 'rxjs';
import type { Observable } from 'rxjs';
import request from 'supertest';
import type { Response } from 'supertest';
import { ContextualCache, CurrentCache, RedisCacheModule } from '../src';
import type { CacheLookup, RedisCacheModuleOptions } from '../src';
import { currentRequest } from '../src/context/request-context';
import { Gates } from './support/gates';
import { HTTP_ADAPTERS, createHttpApp } from './support/http-app';
import { redisForSuite } from './support/redis-target';
import { uniqueId } from './support/unique';

const gates = new Gates();
const ROUTE = ':appId/:deviceId';
const text = (lookup: CacheLookup) => (lookup.found ? lookup.value.toString() : null);

// ---------------------------------------------------------------- controllers, one per pattern

@Controller(`direct/${ROUTE}`)
class DirectController {
  constructor(private readonly cache: ContextualCache) {}

  @Get()
  async step(@Query('value') value: string, @Query('gate') gate?: string) {
    await this.cache.set('k', value);
    await gates.pass(gate);
    return { read: text(await this.cache.get('k')) };
  }
}

@Controller(`helpers/${ROUTE}`)
class HelperMethodsController {
  constructor(private readonly cache: ContextualCache) {}

  @Get()
  async step(@Query('value') value: string, @Query('gate') gate?: string) {
    await this.write(value);
    await gates.pass(gate);
    return { read: await this.read() };
  }

  private write(value: string) {
    return this.cache.set('k', value);
  }

  private async read() {
    return text(await this.cache.get('k'));
  }
}

/** A repository a controller builds lazily, on its first request. */
class ValueRepository {
  constructor(private readonly cache: ContextualCache) {}
  save(value: string) {
    return this.cache.set('k', value);
  }
  async load() {
    return text(await this.cache.get('k'));
  }
}

@Controller(`lazy-helper/${ROUTE}`)
class LazyHelperController {
  private repository?: ValueRepository;

  constructor(private readonly cache: ContextualCache) {}

  @Get()
  async step(@Query('value') value: string, @Query('gate') gate?: string) {
    this.repository ??= new ValueRepository(this.cache);
    await this.repository.save(value);
    await gates.pass(gate);
    return { read: await this.repository.load() };
  }
}

@Controller(`bound-method/${ROUTE}`)
class BoundMethodController {
  private saveBound?: (value: string) => Promise<void>;

  constructor(private readonly cache: ContextualCache) {}

  @Get()
  async step(@Query('value') value: string, @Query('gate') gate?: string) {
    this.saveBound ??= this.save.bind(this);
    await this.saveBound(value);
    await gates.pass(gate);
    return { read: text(await this.cache.get('k')) };
  }

  private save(value: string) {
    return this.cache.set('k', value);
  }
}

/** As autobind-decorator does: the first access binds the method and keeps it on the instance. */
function autobind<T extends (...args: never[]) => unknown>(
  _target: object,
  key: string,
  descriptor: TypedPropertyDescriptor<T>,
): TypedPropertyDescriptor<T> {
  const method = descriptor.value as T;
  return {
    configurable: true,
    get(this: object): T {
      const bound = method.bind(this) as T;
      Object.defineProperty(this, key, { value: bound, configurable: true, writable: true });
      return bound;
    },
  };
}

@Controller(`autobind/${ROUTE}`)
class AutobindController {
  constructor(private readonly cache: ContextualCache) {}

  @Get()
  async step(@Query('value') value: string, @Query('gate') gate?: string) {
    const { save, load } = this;
    await save(value);
    await gates.pass(gate);
    return { read: await load() };
  }

  @autobind
  save(value: string) {
    return this.cache.set('k', value);
  }

  @autobind
  async load() {
    return text(await this.cache.get('k'));
  }
}

@Controller(`arrow-fields/${ROUTE}`)
class ArrowFieldsController {
  constructor(private readonly cache: ContextualCache) {}

  private readonly save = (value: string) => this.cache.set('k', value);
  private readonly load = async () => text(await this.cache.get('k'));

  @Get()
  async step(@Query('value') value: string, @Query('gate') gate?: string) {
    await this.save(value);
    await gates.pass(gate);
    return { read: await this.load() };
  }
}

/** A facade built in the constructor, keeping the cache in a `#private` field. */
class PrivateFacade {
  readonly #cache: ContextualCache;
  constructor(cache: ContextualCache) {
    this.#cache = cache;
  }
  save(value: string) {
    return this.#cache.set('k', value);
  }
  async load() {
    return text(await this.#cache.get('k'));
  }
}

@Controller(`private-facade/${ROUTE}`)
class PrivateFacadeController {
  readonly #facade: PrivateFacade;
  #requests = 0;

  constructor(cache: ContextualCache) {
    this.#facade = new PrivateFacade(cache);
  }

  @Get()
  async step(@Query('value') value: string, @Query('gate') gate?: string) {
    this.#requests += 1;
    await this.#facade.save(value);
    await gates.pass(gate);
    return { read: await this.#facade.load(), requests: this.#requests };
  }
}

@Controller(`map-facade/${ROUTE}`)
class MapFacadeController {
  private readonly stores: Map<string, ContextualCache>;

  constructor(cache: ContextualCache) {
    this.stores = new Map([['values', cache]]);
  }

  @Get()
  async step(@Query('value') value: string, @Query('gate') gate?: string) {
    await this.stores.get('values')!.set('k', value);
    await gates.pass(gate);
    return { read: text(await this.stores.get('values')!.get('k')) };
  }
}

@Controller(`getter/${ROUTE}`)
class GetterController {
  constructor(private readonly injected: ContextualCache) {}

  private get cache(): ContextualCache {
    return this.injected;
  }

  @Get()
  async step(@Query('value') value: string, @Query('gate') gate?: string) {
    await this.cache.set('k', value);
    await gates.pass(gate);
    return { read: text(await this.cache.get('k')) };
  }
}

abstract class CachingBase {
  constructor(protected readonly cache: ContextualCache) {}

  protected save(value: string) {
    return this.cache.set('k', value);
  }
}

@Controller(`inheritance/${ROUTE}`)
class InheritingController extends CachingBase {
  constructor(cache: ContextualCache) {
    super(cache);
  }

  @Get()
  async step(@Query('value') value: string, @Query('gate') gate?: string) {
    await this.save(value);
    await gates.pass(gate);
    return { read: text(await this.cache.get('k')) };
  }
}

@Controller(`observable/${ROUTE}`)
class ObservableController {
  constructor(private readonly cache: ContextualCache) {}

  /** Nothing runs until Nest subscribes, after the handler has returned. */
  @Get()
  step(@Query('value') value: string, @Query('gate') gate?: string): Observable<object> {
    return defer(() => from(this.cache.set('k', value))).pipe(
      switchMap(() => gates.pass(gate)),
      switchMap(() => this.cache.get('k')),
      map((lookup) => ({ read: text(lookup) })),
    );
  }
}

@Controller(`sse/${ROUTE}`)
class SseController {
  constructor(private readonly cache: ContextualCache) {}

  @Sse()
  step(@Query('value') value: string, @Query('gate') gate?: string): Observable<MessageEvent> {
    return interval(1).pipe(
      take(2),
      concatMap(async (event) => {
        await this.cache.set('k', value);
        if (event === 0) await gates.pass(gate);
        return { data: { event, read: text(await this.cache.get('k')) } };
      }),
    );
  }
}

@Controller(`stream/${ROUTE}`)
class StreamController {
  constructor(private readonly cache: ContextualCache) {}

  @Get()
  step(@Query('value') value: string, @Query('gate') gate?: string): StreamableFile {
    const cache = this.cache;
    async function* body() {
      await cache.set('k', value);
      await gates.pass(gate);
      yield JSON.stringify({ read: text(await cache.get('k')) });
    }
    return new StreamableFile(Readable.from(body()), { type: 'application/json' });
  }
}

@Controller(`response-object/${ROUTE}`)
class ResponseObjectController {
  constructor(private readonly cache: ContextualCache) {}

  @Get()
  async step(
    @Query('value') value: string,
    @Query('gate') gate: string | undefined,
    @Res() response: { send(body: unknown): void; header(name: string, value: string): void },
  ) {
    await this.cache.set('k', value);
    await gates.pass(gate);
    response.header('content-type', 'application/json');
    response.send(JSON.stringify({ read: text(await this.cache.get('k')) }));
  }
}

/** The response goes first; a timer writes after it, once its gate opens. */
@Controller(`timer/${ROUTE}`)
class TimerController {
  constructor(private readonly cache: ContextualCache) {}

  @Get()
  step(@Query('value') value: string, @Query('gate') gate?: string) {
    setTimeout(() => {
      void (async () => {
        await gates.pass(gate);
        await this.cache.set('k', value);
        gates.finish(gate);
      })();
    }, 1);
    return { read: value };
  }
}

/** A listener one request registers and a later request fires (the emit is the second's). */
const announcements = new EventEmitter();

@Controller(`listener/${ROUTE}`)
class ListenerController {
  constructor(private readonly cache: ContextualCache) {}

  @Get('register')
  register(@Query('value') value: string, @Query('pinned') pinned: string) {
    const cache = pinned === 'true' ? this.cache.pin() : this.cache;
    announcements.once('announce', (done: () => void) => {
      void cache.set('k', value).then(done);
    });
    return { registered: true };
  }

  @Get('fire')
  async fire() {
    await new Promise<void>((done) => announcements.emit('announce', done));
    return { fired: true };
  }
}

@Injectable()
class ValueService {
  constructor(private readonly cache: ContextualCache) {}

  async step(value: string, gate?: string) {
    await this.cache.set('k', value);
    await gates.pass(gate);
    return { read: text(await this.cache.get('k')) };
  }
}

/** Injects no cache itself: its service does. */
@Controller(`service/${ROUTE}`)
class ServiceCallerController {
  constructor(private readonly values: ValueService) {}

  @Get()
  step(@Query('value') value: string, @Query('gate') gate?: string) {
    return this.values.step(value, gate);
  }
}

@Controller(`decorator/${ROUTE}`)
class DecoratorController {
  @Get()
  async step(
    @CurrentCache() cache: ContextualCache,
    @Query('value') value: string,
    @Query('gate') gate?: string,
  ) {
    await cache.set('k', value);
    await gates.pass(gate);
    return { read: text(await cache.get('k')) };
  }
}

// ---------------------------------------------------------------- guards, interceptors, pipes

type GatedRequest = {
  query: Record<string, string | undefined>;
  url: string;
  guardRead?: string | null;
};

/** Writes, waits at the gate and reads in `canActivate`, on the routes under its path. */
abstract class CachingGuard implements CanActivate {
  constructor(
    private readonly cache: ContextualCache,
    private readonly path: string,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<GatedRequest>();
    if (!request.url.startsWith(this.path)) return true;
    await this.cache.set('k', request.query.value as string);
    await gates.pass(request.query.gate);
    request.guardRead = text(await this.cache.get('k'));
    return true;
  }
}

@Injectable()
class GlobalCachingGuard extends CachingGuard {
  constructor(cache: ContextualCache) {
    super(cache, '/global-guard/');
  }
}

@Injectable()
class RouteCachingGuard extends CachingGuard {
  constructor(cache: ContextualCache) {
    super(cache, '/route-guard/');
  }
}

@Controller(`global-guard/${ROUTE}`)
class GlobalGuardController {
  @Get()
  step() {
    return {};
  }
}

@UseGuards(RouteCachingGuard)
@Controller(`route-guard/${ROUTE}`)
class RouteGuardController {
  @Get()
  step() {
    return {};
  }
}

/** Guard patterns answer with what the guard read. */
@Injectable()
class GuardReadInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<GatedRequest>();
    return next
      .handle()
      .pipe(map((body: object) => ('guardRead' in request ? { read: request.guardRead } : body)));
  }
}

/**
 * On the routes under its path: writes before the handler, which waits at the gate, and reads
 * after the handler has returned.
 */
abstract class CachingInterceptor implements NestInterceptor {
  constructor(
    private readonly cache: ContextualCache,
    private readonly path: string,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<GatedRequest>();
    if (!request.url.startsWith(this.path)) return next.handle();
    return from(this.cache.set('k', request.query.value as string)).pipe(
      switchMap(() => next.handle()),
      mergeMap(async () => ({ read: text(await this.cache.get('k')) })),
    );
  }
}

@Injectable()
class GlobalCachingInterceptor extends CachingInterceptor {
  constructor(cache: ContextualCache) {
    super(cache, '/global-interceptor/');
  }
}

@Injectable()
class RouteCachingInterceptor extends CachingInterceptor {
  constructor(cache: ContextualCache) {
    super(cache, '/route-interceptor/');
  }
}

@Controller(`global-interceptor/${ROUTE}`)
class GlobalInterceptorController {
  @Get()
  async step(@Query('gate') gate?: string) {
    await gates.pass(gate);
    return {};
  }
}

@UseInterceptors(RouteCachingInterceptor)
@Controller(`route-interceptor/${ROUTE}`)
class RouteInterceptorController {
  @Get()
  async step(@Query('gate') gate?: string) {
    await gates.pass(gate);
    return {};
  }
}

/**
 * For the query param it is named for, `value|gate` becomes what the cache holds after writing
 * the value and waiting at the gate.
 */
abstract class CachingPipe implements PipeTransform {
  constructor(
    private readonly cache: ContextualCache,
    private readonly param: string,
  ) {}

  async transform(value: unknown, metadata: ArgumentMetadata) {
    if (metadata.data !== this.param) return value;
    const [written, gate] = String(value).split('|');
    await this.cache.set('k', written);
    await gates.pass(gate);
    return text(await this.cache.get('k'));
  }
}

@Injectable()
class GlobalCachingPipe extends CachingPipe {
  constructor(cache: ContextualCache) {
    super(cache, 'globallyPiped');
  }
}

@Injectable()
class RouteCachingPipe extends CachingPipe {
  constructor(cache: ContextualCache) {
    super(cache, 'routePiped');
  }
}

@Controller(`global-pipe/${ROUTE}`)
class GlobalPipeController {
  @Get()
  step(@Query('globallyPiped') read: string) {
    return { read };
  }
}

@Controller(`route-pipe/${ROUTE}`)
class RoutePipeController {
  @Get()
  step(@Query('routePiped', RouteCachingPipe) read: string) {
    return { read };
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

// ---------------------------------------------------------------- the apps

const redis = redisForSuite();

// Behaviour, not timeouts: a generous bound keeps a busy machine from failing a write open.
const cacheOptions = (extra: RedisCacheModuleOptions = {}): RedisCacheModuleOptions => ({
  url: redis.url,
  operationTimeoutMs: 5000,
  metrics: { enabled: false },
  ...extra,
});

/** How a pattern's request is made and its answer read. */
interface Pattern {
  name: string;
  url: (appId: string, device: string, value: string, gate?: string) => string;
  read: (response: Response) => unknown;
}

const plainPattern = (name: string): Pattern => ({
  name,
  url: (appId, device, value, gate) =>
    `/${name}/${appId}/${device}?value=${value}${gate ? `&gate=${gate}` : ''}`,
  read: (response) => (response.body as { read: unknown }).read,
});

/** Two events; the reads of both must be the request's own value. */
const ssePattern: Pattern = {
  ...plainPattern('sse'),
  read: (response) => {
    const events = response.text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => (JSON.parse(line.slice(6)) as { read: unknown }).read);
    expect(events).toHaveLength(2);
    expect(events[1]).toBe(events[0]);
    return events[0];
  },
};

const pipePattern = (name: string, param: string): Pattern => ({
  name,
  url: (appId, device, value, gate) =>
    `/${name}/${appId}/${device}?${param}=${value}|${gate ?? ''}`,
  read: (response) => (response.body as { read: unknown }).read,
});

interface ControllerPattern {
  pattern: Pattern;
  controller: new (...args: never[]) => object;
}

/** Patterns where the controller itself (or its @CurrentCache() parameter) holds the cache. */
const CONTROLLER_PATTERNS: ControllerPattern[] = [
  { pattern: plainPattern('direct'), controller: DirectController },
  { pattern: plainPattern('helpers'), controller: HelperMethodsController },
  { pattern: plainPattern('lazy-helper'), controller: LazyHelperController },
  { pattern: plainPattern('bound-method'), controller: BoundMethodController },
  { pattern: plainPattern('autobind'), controller: AutobindController },
  { pattern: plainPattern('arrow-fields'), controller: ArrowFieldsController },
  { pattern: plainPattern('private-facade'), controller: PrivateFacadeController },
  { pattern: plainPattern('map-facade'), controller: MapFacadeController },
  { pattern: plainPattern('getter'), controller: GetterController },
  { pattern: plainPattern('inheritance'), controller: InheritingController },
  { pattern: plainPattern('observable'), controller: ObservableController },
  { pattern: ssePattern, controller: SseController },
  { pattern: plainPattern('stream'), controller: StreamController },
  { pattern: plainPattern('response-object'), controller: ResponseObjectController },
  { pattern: plainPattern('decorator'), controller: DecoratorController },
];

/** Patterns where a provider (service, guard, interceptor, pipe) holds the cache. */
const PROVIDER_PATTERNS: ControllerPattern[] = [
  { pattern: plainPattern('service'), controller: ServiceCallerController },
  { pattern: plainPattern('global-guard'), controller: GlobalGuardController },
  { pattern: plainPattern('route-guard'), controller: RouteGuardController },
  { pattern: plainPattern('global-interceptor'), controller: GlobalInterceptorController },
  { pattern: plainPattern('route-interceptor'), controller: RouteInterceptorController },
  { pattern: pipePattern('global-pipe', 'globallyPiped'), controller: GlobalPipeController },
  { pattern: pipePattern('route-pipe', 'routePiped'), controller: RoutePipeController },
];

/** A (request, gate) not yet awaited: supertest starts it on `then`. */
function start(app: INestApplication, path: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    request(app.getHttpServer()).get(path).then(resolve, reject);
  });
}

/**
 * A writes, B writes, A reads, B reads (each waits at its gate after writing), then C alone.
 * Returns what each read, by device.
 */
async function interleave(
  app: INestApplication,
  pattern: Pick<Pattern, 'url' | 'read'>,
  appId: string,
): Promise<Record<string, unknown>> {
  const [gateA, gateB] = [gates.create(), gates.create()];
  const a = start(app, pattern.url(appId, 'devA', 'value-A', gateA));
  await gates.reached(gateA);
  const b = start(app, pattern.url(appId, 'devB', 'value-B', gateB));
  await gates.reached(gateB);
  gates.open(gateA);
  const answerA = await a;
  gates.open(gateB);
  const answerB = await b;
  const answerC = await start(app, pattern.url(appId, 'devC', 'value-C'));
  for (const answer of [answerA, answerB, answerC]) {
    expect({ status: answer.status, body: answer.text }).toMatchObject({ status: 200 });
  }
  return {
    devA: pattern.read(answerA),
    devB: pattern.read(answerB),
    devC: pattern.read(answerC),
  };
}

/** Every key of the app in `client`'s database, with its value. */
async function keysOf(client: Redis, appId: string): Promise<Record<string, string | null>> {
  const keys = (await client.keys(`/${appId}/*`)).sort();
  const values = await Promise.all(keys.map((key) => client.get(key)));
  return Object.fromEntries(keys.map((key, i) => [key, values[i]]));
}

const EACH_DEVICE_ITS_OWN = {
  reads: { devA: 'value-A', devB: 'value-B', devC: 'value-C' },
  keys: (appId: string) => ({
    [`/${appId}/devA/k`]: 'value-A',
    [`/${appId}/devB/k`]: 'value-B',
    [`/${appId}/devC/k`]: 'value-C',
  }),
};

describe.each(HTTP_ADAPTERS)('request isolation on %s', (adapter) => {
  it('runs on the NestJS major this run is for', () => {
    // The package as the library resolves it (mapped to NestJS 12 in that run).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { version } = require('@nestjs/core/package.json') as { version: string };
    expect(version.split('.')[0]).toBe(process.env.NEST_MAJOR_UNDER_TEST ?? '11');
  });

  // Old machinery bound controllers differently when only controllers injected the cache.
  describe('only controllers inject the cache', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createHttpApp(adapter, {
        imports: [RedisCacheModule.forRoot(cacheOptions())],
        controllers: CONTROLLER_PATTERNS.map(({ controller }) => controller),
      });
    });
    afterAll(() => app.close());

    it.each(CONTROLLER_PATTERNS.map(({ pattern }) => [pattern.name, pattern] as const))(
      '%s: each request reads and writes only its own device',
      async (_name, pattern) => {
        const appId = uniqueId(pattern.name);
        expect(await interleave(app, pattern, appId)).toEqual(EACH_DEVICE_ITS_OWN.reads);
        expect(await keysOf(redis.raw, appId)).toEqual(EACH_DEVICE_ITS_OWN.keys(appId));
      },
    );
  });

  describe('one module, controllers and providers that inject the cache', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createHttpApp(adapter, {
        imports: [RedisCacheModule.forRoot(cacheOptions())],
        controllers: [
          ...CONTROLLER_PATTERNS.map(({ controller }) => controller),
          ...PROVIDER_PATTERNS.map(({ controller }) => controller),
          TimerController,
          ListenerController,
          NoParamsController,
        ],
        providers: [
          ValueService,
          { provide: APP_GUARD, useClass: GlobalCachingGuard },
          { provide: APP_INTERCEPTOR, useClass: GlobalCachingInterceptor },
          { provide: APP_INTERCEPTOR, useClass: GuardReadInterceptor },
          { provide: APP_PIPE, useClass: GlobalCachingPipe },
        ],
      });
    });
    afterAll(() => app.close());

    it.each(
      [...CONTROLLER_PATTERNS, ...PROVIDER_PATTERNS].map(
        ({ pattern }) => [pattern.name, pattern] as const,
      ),
    )('%s: each request reads and writes only its own device', async (_name, pattern) => {
      const appId = uniqueId(pattern.name);
      expect(await interleave(app, pattern, appId)).toEqual(EACH_DEVICE_ITS_OWN.reads);
      expect(await keysOf(redis.raw, appId)).toEqual(EACH_DEVICE_ITS_OWN.keys(appId));
    });

    it('a timer that runs after the response writes to its own request’s device', async () => {
      const appId = uniqueId('timer');
      const url = (device: string, gate: string) =>
        `/timer/${appId}/${device}?value=late-${device}&gate=${gate}`;
      const [gateA, gateB] = [gates.create(), gates.create()];
      await request(app.getHttpServer()).get(url('devA', gateA)).expect(200);
      await request(app.getHttpServer()).get(url('devB', gateB)).expect(200);
      await gates.reached(gateB);
      // B's timer writes first, then A's: neither response is in flight any more.
      gates.open(gateB);
      await gates.finished(gateB);
      gates.open(gateA);
      await gates.finished(gateA);
      expect(await keysOf(redis.raw, appId)).toEqual({
        [`/${appId}/devA/k`]: 'late-devA',
        [`/${appId}/devB/k`]: 'late-devB',
      });
    });

    it('a listener runs in the context of the request that fires it, unless its cache is pinned', async () => {
      for (const pinned of [false, true]) {
        const appId = uniqueId(`listener-${pinned}`);
        await request(app.getHttpServer())
          .get(`/listener/${appId}/devA/register?value=from-A&pinned=${pinned}`)
          .expect(200);
        await request(app.getHttpServer()).get(`/listener/${appId}/devB/fire`).expect(200);
        // AsyncLocalStorage's rule: the emit is B's, so the unpinned cache is B's.
        expect(await keysOf(redis.raw, appId)).toEqual({
          [`/${appId}/${pinned ? 'devA' : 'devB'}/k`]: 'from-A',
        });
      }
    });

    it('runs routes without the params until they use the cache, then names the param', async () => {
      await request(app.getHttpServer()).get('/no-params/ok').expect(200, { ok: true });
      await request(app.getHttpServer()).get('/no-params/uses').expect(500);
    });

    it('answers 400 naming the field for an invalid id, writing nothing', async () => {
      const response = await request(app.getHttpServer())
        .get('/direct/ok-app/bad%01device?value=v')
        .expect(400);
      expect(response.body).toMatchObject({ statusCode: 400, field: 'deviceId' });
      expect(await redis.raw.keys('/ok-app/*')).toEqual([]);
    });
  });

  describe('request-scoped classes', () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequestValues {
      readonly id = Math.random();
      constructor(private readonly cache: ContextualCache) {}

      async step(value: string, gate?: string) {
        await this.cache.set('k', value);
        await gates.pass(gate);
        return { read: text(await this.cache.get('k')), id: this.id };
      }
    }

    /** Built per request because its service is; injects no cache itself. */
    @Controller(`per-request/${ROUTE}`)
    class PerRequestController {
      constructor(private readonly values: PerRequestValues) {}

      @Get()
      step(@Query('value') value: string, @Query('gate') gate?: string) {
        return this.values.step(value, gate);
      }
    }

    it('a request-scoped service that injects the cache gets its own request’s', async () => {
      const app = await createHttpApp(adapter, {
        imports: [RedisCacheModule.forRoot(cacheOptions())],
        controllers: [PerRequestController],
        providers: [PerRequestValues],
      });
      const appId = uniqueId('per-request');
      const reads = await interleave(app, plainPattern('per-request'), appId);
      expect(reads).toEqual(EACH_DEVICE_ITS_OWN.reads);
      expect(await keysOf(redis.raw, appId)).toEqual(EACH_DEVICE_ITS_OWN.keys(appId));
      await app.close();
    });

    it('requestScoped: true isolates requests and leaves routes without the params alone', async () => {
      const app = await createHttpApp(adapter, {
        imports: [RedisCacheModule.forRoot({ ...cacheOptions(), requestScoped: true })],
        controllers: [DirectController, LazyHelperController, NoParamsController],
      });
      for (const name of ['direct', 'lazy-helper']) {
        const appId = uniqueId(`scoped-${name}`);
        expect(await interleave(app, plainPattern(name), appId)).toEqual(EACH_DEVICE_ITS_OWN.reads);
        expect(await keysOf(redis.raw, appId)).toEqual(EACH_DEVICE_ITS_OWN.keys(appId));
      }
      await request(app.getHttpServer()).get('/no-params/ok').expect(200, { ok: true });
      await request(app.getHttpServer()).get('/no-params/uses').expect(500);
      await app.close();
    });
  });

  describe('two module instances', () => {
    /** Each feature imports its own, non-global instance on its own database. */
    function feature(name: string, db: number): DynamicModule {
      @Injectable()
      class FeatureService {
        constructor(readonly cache: ContextualCache) {}
      }

      @Controller(`${name}/${ROUTE}`)
      class FeatureController {
        constructor(private readonly service: FeatureService) {}

        @Get()
        async step(@Query('value') value: string, @Query('gate') gate?: string) {
          await this.service.cache.set('k', value);
          await gates.pass(gate);
          return { read: text(await this.service.cache.get('k')) };
        }

        @Get('decorated')
        async decorated(@CurrentCache() cache: ContextualCache, @Query('value') value: string) {
          await cache.set('d', value);
          return { read: text(await cache.get('d')) };
        }
      }

      @Module({})
      class FeatureModule {}

      const url = new URL(redis.url);
      url.pathname = `/${db}`;
      return {
        module: FeatureModule,
        imports: [
          RedisCacheModule.forRoot({ ...cacheOptions({ url: url.toString() }), isGlobal: false }),
        ],
        controllers: [FeatureController],
        providers: [FeatureService],
      };
    }

    it('each keeps its own store for its own controllers and providers', async () => {
      const app = await createHttpApp(adapter, {
        imports: [feature('alpha', 1), feature('beta', 2)],
      });
      const [alphaDb, betaDb] = [1, 2].map((db) => {
        const url = new URL(redis.url);
        url.pathname = `/${db}`;
        return new Redis(url.toString());
      });
      try {
        const appId = uniqueId('two-modules');
        // alpha's request for devA and beta's for devB interleaved.
        const routed: Pick<Pattern, 'url' | 'read'> = {
          url: (app_, device, value, gate) =>
            `/${device === 'devB' ? 'beta' : 'alpha'}/${app_}/${device}?value=${value}${gate ? `&gate=${gate}` : ''}`,
          read: (response) => (response.body as { read: unknown }).read,
        };
        expect(await interleave(app, routed, appId)).toEqual(EACH_DEVICE_ITS_OWN.reads);
        await request(app.getHttpServer())
          .get(`/beta/${appId}/devD/decorated?value=dec`)
          .expect(200, { read: 'dec' });
        expect(await keysOf(alphaDb, appId)).toEqual({
          [`/${appId}/devA/k`]: 'value-A',
          [`/${appId}/devC/k`]: 'value-C',
        });
        expect(await keysOf(betaDb, appId)).toEqual({
          [`/${appId}/devB/k`]: 'value-B',
          [`/${appId}/devD/d`]: 'dec',
        });
      } finally {
        alphaDb.disconnect();
        betaDb.disconnect();
        await app.close();
      }
    });
  });

  describe('what apps that do not inject the cache pay', () => {
    @Controller(`report/${ROUTE}`)
    class ContextReportController {
      @Get('decorated')
      async decorated(@CurrentCache() cache: ContextualCache) {
        await cache.get('k');
        return { inContext: currentRequest() !== undefined };
      }
    }

    it('enters no request context where only @CurrentCache() is used', async () => {
      const app = await createHttpApp(adapter, {
        imports: [RedisCacheModule.forRoot(cacheOptions())],
        controllers: [ContextReportController],
      });
      await request(app.getHttpServer())
        .get('/report/a/d/decorated')
        .expect(200, { inContext: false });
      await app.close();
    });

    it('enters the context once anything injects the cache', async () => {
      const app = await createHttpApp(adapter, {
        imports: [RedisCacheModule.forRoot(cacheOptions())],
        controllers: [ContextReportController, DirectController],
      });
      await request(app.getHttpServer())
        .get('/report/a/d/decorated')
        .expect(200, { inContext: true });
      await app.close();
    });
  });
});
