// The apps of the HTTP injection benchmark: one declaration per variant, the first the baseline.
import { Controller, Get, Inject, Injectable, Module, Req, UseInterceptors } from '@nestjs/common';
import type {
  CallHandler,
  DynamicModule,
  ExecutionContext,
  NestInterceptor,
  OnApplicationShutdown,
  Provider,
  Type,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Redis } from 'ioredis';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Observable } from 'rxjs';
import {
  CacheMetricsInterceptor,
  ContextualCache,
  CurrentCache,
  RedisCache,
  RedisCacheModule,
} from '../../src';
import { BENCH_APP, BENCH_DEVICE, BENCH_KEY } from '../support/redis';

/** Every variant serves the measured route at this path. */
export const MEASURED_PATH = '/apps/app1/devices/dev1/value';
const ROUTE = 'apps/:appId/devices/:deviceId';
const UNMEASURED_ROUTE = `unmeasured/${ROUTE}`;
const RAW_CLIENT = Symbol('RAW_CLIENT');

/** baseline-raw-ioredis and module-no-cache-route: no cache layer at all on the route. */
@Controller(ROUTE)
class RawValueController {
  constructor(@Inject(RAW_CLIENT) private readonly client: Redis) {}

  @Get('value')
  async read(): Promise<string> {
    return (await this.client.getBuffer(BENCH_KEY))?.toString() ?? '';
  }
}

/** diag-raw-with-request-param: the baseline plus one parameter it does not use. */
@Controller(ROUTE)
class RawWithParamController {
  constructor(@Inject(RAW_CLIENT) private readonly client: Redis) {}

  @Get('value')
  async read(@Req() _request: unknown): Promise<string> {
    return (await this.client.getBuffer(BENCH_KEY))?.toString() ?? '';
  }
}

/** The baseline controller behind one controller-level interceptor. */
function interceptedRawController(interceptor: Type<NestInterceptor>): Type {
  @UseInterceptors(interceptor)
  @Controller(ROUTE)
  class InterceptedController extends RawValueController {}
  return InterceptedController;
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

/** module-no-cache-route: a controller that injects the cache, on a route the bench never loads. */
@Controller(UNMEASURED_ROUTE)
class UnmeasuredInjectedController extends InjectedValueController {}

/** diag-cache-singleton: one ContextualCache built at start-up, no per-request injection. */
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

/** diag-request-param: the request as a built-in parameter, the context made in the handler. */
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

interface VariantSpec {
  /** For the report's variant list. */
  readonly description: string;
  /** Not in the default run (pick it with --variants): it splits a variant's cost into parts. */
  readonly diagnostic?: true;
  readonly controllers: Type[];
  /** RedisCacheModule.forRoot's options besides the URL; without them the module is not imported. */
  readonly cache?: Partial<Parameters<typeof RedisCacheModule.forRoot>[0]>;
  /** A singleton ioredis client (RAW_CLIENT), connected before the app listens. */
  readonly raw?: true;
  readonly providers?: Provider[];
  /** A route requested once at start-up, before the app is measured. */
  readonly startupPath?: string;
}

const VARIANTS = {
  'baseline-raw-ioredis': {
    description:
      'singleton controller and singleton ioredis client, `client.getBuffer(key)`, no RedisCacheModule',
    controllers: [RawValueController],
    raw: true,
  },
  'current-cache-decorator': {
    description:
      '`RedisCacheModule.forRoot({ url })`, handler parameter `@CurrentCache() cache: ContextualCache`',
    controllers: [DecoratorValueController],
    cache: {},
  },
  'constructor-injected': {
    description:
      '`ContextualCache` in the controller constructor, `forRoot({ url })`: the request context is entered in the adapter hook, the injected cache resolves the request on each call',
    controllers: [InjectedValueController],
    cache: {},
  },
  'request-scoped': {
    description:
      '`forRoot({ url, requestScoped: true })` with constructor injection (true `Scope.REQUEST`)',
    controllers: [InjectedValueController],
    cache: { requestScoped: true },
  },
  'module-no-cache-route': {
    description:
      'the module imported and a constructor-injected controller present, but the measured route is on another controller that reads with raw ioredis like the baseline',
    controllers: [RawValueController, UnmeasuredInjectedController],
    cache: {},
    raw: true,
  },
  'diag-noop-interceptor': {
    description:
      'the baseline controller with a Nest interceptor that only returns `next.handle()`',
    diagnostic: true,
    controllers: [interceptedRawController(NoopInterceptor)],
    raw: true,
  },
  'diag-als-interceptor': {
    description:
      'the baseline controller with an interceptor that returns `als.run(slot, () => next.handle())`',
    diagnostic: true,
    controllers: [interceptedRawController(AlsInterceptor)],
    raw: true,
  },
  'diag-cache-singleton': {
    description:
      'the module imported; a singleton controller reads through one `ContextualCache` built at start-up (`redisCache.withContext(...)`): the cache layer without any per-request injection',
    diagnostic: true,
    controllers: [SingletonCacheController],
    cache: {},
  },
  'diag-no-cache-route-als-active': {
    description:
      "`module-no-cache-route`, after one request to the injected controller at start-up, so the module's AsyncLocalStorage is active",
    diagnostic: true,
    controllers: [RawValueController, UnmeasuredInjectedController],
    cache: {},
    raw: true,
    startupPath: `/unmeasured${MEASURED_PATH}`,
  },
  'diag-request-param': {
    description:
      'the module imported; handler parameter `@Req() request`, then `redisCache.withContext(request.params.appId, request.params.deviceId)` in the handler',
    diagnostic: true,
    controllers: [RequestParamController],
    cache: {},
  },
  'diag-decorator-context-always': {
    description:
      "`current-cache-decorator` with `forRoot({ url, asyncLocalStorage: 'always' })`: the request context entered for every request though nothing injects the cache",
    diagnostic: true,
    controllers: [DecoratorValueController],
    cache: { asyncLocalStorage: 'always' },
  },
  'diag-metrics-interceptor': {
    description:
      '`current-cache-decorator` with `CacheMetricsInterceptor` as a global interceptor (`APP_INTERCEPTOR`)',
    diagnostic: true,
    controllers: [DecoratorValueController],
    cache: {},
    providers: [{ provide: APP_INTERCEPTOR, useClass: CacheMetricsInterceptor }],
  },
  'diag-raw-with-request-param': {
    description: 'the baseline controller (raw ioredis) with one unused `@Req()` handler parameter',
    diagnostic: true,
    controllers: [RawWithParamController],
    raw: true,
  },
} satisfies Record<string, VariantSpec>;

export type InjectionVariant = keyof typeof VARIANTS;
export const ALL_INJECTION_VARIANTS = Object.keys(VARIANTS) as InjectionVariant[];
/** The default run: every variant but the diagnostic ones. */
export const INJECTION_VARIANTS = ALL_INJECTION_VARIANTS.filter((v) => !variantSpec(v).diagnostic);
export const BASELINE_VARIANT: InjectionVariant = 'baseline-raw-ioredis';

export const HTTP_ADAPTERS = ['fastify', 'express'] as const;
export type HttpAdapter = (typeof HTTP_ADAPTERS)[number];

export function variantSpec(variant: InjectionVariant): VariantSpec {
  return VARIANTS[variant];
}

@Injectable()
class RawClientCloser implements OnApplicationShutdown {
  constructor(@Inject(RAW_CLIENT) private readonly client: Redis) {}

  onApplicationShutdown(): void {
    this.client.disconnect();
  }
}

function rawClientProviders(url: string): Provider[] {
  const client = {
    provide: RAW_CLIENT,
    useFactory: async () => {
      const client = new Redis(url, { lazyConnect: true });
      await client.connect();
      return client;
    },
  };
  return [client, RawClientCloser];
}

@Module({})
class BenchAppModule {}

/** The root module of one variant's app. */
export function appModuleFor(variant: InjectionVariant, url: string): DynamicModule {
  const { controllers, cache, raw, providers = [] } = variantSpec(variant);
  return {
    module: BenchAppModule,
    imports: cache ? [RedisCacheModule.forRoot({ url, ...cache })] : [],
    controllers,
    providers: [...(raw ? rawClientProviders(url) : []), ...providers],
  };
}
