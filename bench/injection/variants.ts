import { Controller, Get, Inject, Injectable, Module, Req, UseInterceptors } from '@nestjs/common';
import type {
  CallHandler,
  DynamicModule,
  ExecutionContext,
  FactoryProvider,
  NestInterceptor,
  OnApplicationShutdown,
  Provider,
  Type,
} from '@nestjs/common';
import { Redis } from 'ioredis';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Observable } from 'rxjs';
import { APP_INTERCEPTOR } from '@nestjs/core';
import {
  CacheMetricsInterceptor,
  ContextualCache,
  CurrentCache,
  RedisCache,
  RedisCacheModule,
} from '../../src';
import { BENCH_APP, BENCH_DEVICE } from '../support/redis';
import { BENCH_KEY } from '../support/redis';

/** The variants of the HTTP injection benchmark; the first is the baseline. */
export const INJECTION_VARIANTS = [
  'baseline-raw-ioredis',
  'current-cache-decorator',
  'constructor-injected',
  'request-scoped',
  'module-no-cache-route',
] as const;
/**
 * Not part of the default run (pick them with --variants): they split a variant's cost into its
 * parts, for the analysis. Each is the baseline controller plus one thing.
 */
export const DIAGNOSTIC_VARIANTS = [
  // + a Nest interceptor that only calls next.handle(): the cost of any interceptor.
  'diag-noop-interceptor',
  // + an interceptor that runs next.handle() inside AsyncLocalStorage.run: interceptor + ALS.
  'diag-als-interceptor',
  // Reads through a ContextualCache built once at startup: the cache layer alone, no DI path.
  'diag-cache-singleton',
  // module-no-cache-route after one request to the injected controller at start-up, so the
  // module's AsyncLocalStorage is active: what the other routes pay once any route used it.
  'diag-no-cache-route-als-active',
  // The request as a built-in `@Req()` parameter and `withContext()` in the handler: what
  // @CurrentCache() would cost without Nest's custom-parameter path.
  'diag-request-param',
  // current-cache-decorator with `asyncLocalStorage: 'always'`: what entering the request context
  // costs an app that does not need it (the module enters it only where something injects the cache).
  'diag-decorator-context-always',
  // current-cache-decorator with `CacheMetricsInterceptor` as a global interceptor: what the Nest
  // interceptor pipeline costs over the module's own response hook.
  'diag-metrics-interceptor',
  // The baseline handler with one unused `@Req()` parameter: what any handler parameter costs
  // (Nest then runs its async parameter step), the floor for @CurrentCache().
  'diag-raw-with-request-param',
] as const;

export const INJECTION_VARIANT_DESCRIPTIONS: Record<InjectionVariant, string> = {
  'baseline-raw-ioredis':
    'singleton controller and singleton ioredis client, `client.getBuffer(key)`, no RedisCacheModule',
  'current-cache-decorator':
    '`RedisCacheModule.forRoot({ url })`, handler parameter `@CurrentCache() cache: ContextualCache`',
  'constructor-injected':
    '`ContextualCache` in the controller constructor, `forRoot({ url })`: the request context is entered in the adapter hook, the injected cache resolves the request on each call',
  'request-scoped':
    '`forRoot({ url, requestScoped: true })` with constructor injection (true `Scope.REQUEST`)',
  'module-no-cache-route':
    'the module imported and a constructor-injected controller present, but the measured route is on another controller that reads with raw ioredis like the baseline',
  'diag-noop-interceptor':
    'the baseline controller with a Nest interceptor that only returns `next.handle()`',
  'diag-als-interceptor':
    'the baseline controller with an interceptor that returns `als.run(slot, () => next.handle())`',
  'diag-cache-singleton':
    'the module imported; a singleton controller reads through one `ContextualCache` built at start-up (`redisCache.withContext(...)`): the cache layer without any per-request injection',
  'diag-no-cache-route-als-active':
    "`module-no-cache-route`, after one request to the injected controller at start-up, so the module's AsyncLocalStorage is active",
  'diag-decorator-context-always':
    "`current-cache-decorator` with `forRoot({ url, asyncLocalStorage: 'always' })`: the request context entered for every request though nothing injects the cache",
  'diag-metrics-interceptor':
    '`current-cache-decorator` with `CacheMetricsInterceptor` as a global interceptor (`APP_INTERCEPTOR`)',
  'diag-raw-with-request-param':
    'the baseline controller (raw ioredis) with one unused `@Req()` handler parameter',
  'diag-request-param':
    'the module imported; handler parameter `@Req() request`, then `redisCache.withContext(request.params.appId, request.params.deviceId)` in the handler',
};

/** A route the app requests once at start-up, before it is measured (or undefined). */
export function startupRequestFor(variant: InjectionVariant): string | undefined {
  return variant === 'diag-no-cache-route-als-active' ? UNMEASURED_PATH : undefined;
}
export type InjectionVariant =
  (typeof INJECTION_VARIANTS)[number] | (typeof DIAGNOSTIC_VARIANTS)[number];
export const ALL_INJECTION_VARIANTS: readonly InjectionVariant[] = [
  ...INJECTION_VARIANTS,
  ...DIAGNOSTIC_VARIANTS,
];
export const BASELINE_VARIANT: InjectionVariant = 'baseline-raw-ioredis';

export const HTTP_ADAPTERS = ['fastify', 'express'] as const;
export type HttpAdapter = (typeof HTTP_ADAPTERS)[number];

/** Every variant serves the measured route at this path. */
export const MEASURED_PATH = '/apps/app1/devices/dev1/value';
const UNMEASURED_PATH = '/unmeasured/apps/app1/devices/dev1/value';
const ROUTE = 'apps/:appId/devices/:deviceId';

const RAW_CLIENT = Symbol('RAW_CLIENT');

/** A singleton ioredis client, connected before the app listens. */
function rawClientProvider(url: string): FactoryProvider<Redis> {
  return {
    provide: RAW_CLIENT,
    useFactory: async () => {
      const client = new Redis(url, { lazyConnect: true });
      await client.connect();
      return client;
    },
  };
}

@Injectable()
class RawClientCloser implements OnApplicationShutdown {
  constructor(@Inject(RAW_CLIENT) private readonly client: Redis) {}

  onApplicationShutdown(): void {
    this.client.disconnect();
  }
}

/** baseline-raw-ioredis and module-no-cache-route: no cache layer at all on the route. */
@Controller(ROUTE)
class RawValueController {
  constructor(@Inject(RAW_CLIENT) private readonly client: Redis) {}

  @Get('value')
  async read(): Promise<string> {
    const value = await this.client.getBuffer(BENCH_KEY);
    return value === null ? '' : value.toString();
  }
}

/** diag-raw-with-request-param: the baseline plus one parameter it does not use. */
@Controller(ROUTE)
class RawWithParamController {
  constructor(@Inject(RAW_CLIENT) private readonly client: Redis) {}

  @Get('value')
  async read(@Req() _request: unknown): Promise<string> {
    const value = await this.client.getBuffer(BENCH_KEY);
    return value === null ? '' : value.toString();
  }
}

/** current-cache-decorator: a singleton controller, the cache as a handler parameter. */
@Controller(ROUTE)
class DecoratorValueController {
  @Get('value')
  async read(@CurrentCache() cache: ContextualCache): Promise<string> {
    const hit = await cache.get('k');
    return hit.found ? hit.value.toString() : '';
  }
}

/** constructor-injected and request-scoped: the cache injected into the controller. */
@Controller(ROUTE)
class InjectedValueController {
  constructor(private readonly cache: ContextualCache) {}

  @Get('value')
  async read(): Promise<string> {
    const hit = await this.cache.get('k');
    return hit.found ? hit.value.toString() : '';
  }
}

/** module-no-cache-route: a controller that injects the cache, on a route the bench never calls. */
@Controller('unmeasured/apps/:appId/devices/:deviceId')
class UnmeasuredInjectedController {
  constructor(private readonly cache: ContextualCache) {}

  @Get('value')
  async read(): Promise<string> {
    const hit = await this.cache.get('k');
    return hit.found ? hit.value.toString() : '';
  }
}

@Injectable()
class NoopInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

@Injectable()
class AlsInterceptor implements NestInterceptor {
  private readonly storage = new AsyncLocalStorage<object>();
  private readonly slot = {};

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return this.storage.run(this.slot, () => next.handle());
  }
}

@UseInterceptors(NoopInterceptor)
@Controller(ROUTE)
class NoopInterceptedController extends RawValueController {}

@UseInterceptors(AlsInterceptor)
@Controller(ROUTE)
class AlsInterceptedController extends RawValueController {}

@Controller(ROUTE)
class SingletonCacheController {
  private readonly cache: ContextualCache;

  constructor(redisCache: RedisCache) {
    this.cache = redisCache.withContext(BENCH_APP, BENCH_DEVICE);
  }

  @Get('value')
  async read(): Promise<string> {
    const hit = await this.cache.get('k');
    return hit.found ? hit.value.toString() : '';
  }
}

@Controller(ROUTE)
class RequestParamController {
  constructor(private readonly redisCache: RedisCache) {}

  @Get('value')
  async read(@Req() request: { params: Record<string, string> }): Promise<string> {
    const cache = this.redisCache.withContext(request.params.appId, request.params.deviceId);
    const hit = await cache.get('k');
    return hit.found ? hit.value.toString() : '';
  }
}

@Module({})
class BenchAppModule {}

/** Each variant's app: its controllers, the module's options (when imported), the raw client. */
const APPS: Record<
  InjectionVariant,
  {
    controllers: Type[];
    cache?: Partial<Parameters<typeof RedisCacheModule.forRoot>[0]>;
    raw?: true;
    providers?: Provider[];
  }
> = {
  'baseline-raw-ioredis': { controllers: [RawValueController], raw: true },
  'current-cache-decorator': { controllers: [DecoratorValueController], cache: {} },
  'constructor-injected': { controllers: [InjectedValueController], cache: {} },
  'request-scoped': { controllers: [InjectedValueController], cache: { requestScoped: true } },
  'module-no-cache-route': {
    controllers: [RawValueController, UnmeasuredInjectedController],
    cache: {},
    raw: true,
  },
  'diag-noop-interceptor': { controllers: [NoopInterceptedController], raw: true },
  'diag-als-interceptor': { controllers: [AlsInterceptedController], raw: true },
  'diag-cache-singleton': { controllers: [SingletonCacheController], cache: {} },
  'diag-no-cache-route-als-active': {
    controllers: [RawValueController, UnmeasuredInjectedController],
    cache: {},
    raw: true,
  },
  'diag-request-param': { controllers: [RequestParamController], cache: {} },
  'diag-decorator-context-always': {
    controllers: [DecoratorValueController],
    cache: { asyncLocalStorage: 'always' },
  },
  'diag-metrics-interceptor': {
    controllers: [DecoratorValueController],
    cache: {},
    providers: [{ provide: APP_INTERCEPTOR, useClass: CacheMetricsInterceptor }],
  },
  'diag-raw-with-request-param': { controllers: [RawWithParamController], raw: true },
};

/** The root module of one variant's app. */
export function appModuleFor(variant: InjectionVariant, url: string): DynamicModule {
  const { controllers, cache, raw, providers = [] } = APPS[variant];
  return {
    module: BenchAppModule,
    imports: cache ? [RedisCacheModule.forRoot({ url, ...cache })] : [],
    controllers,
    providers: [...(raw ? [rawClientProvider(url), RawClientCloser] : []), ...providers],
  };
}
