import { Inject, Injectable } from '@nestjs/common';
import type { ExecutionContext, Type } from '@nestjs/common';
import {
  CUSTOM_ROUTE_ARGS_METADATA,
  INTERCEPTORS_METADATA,
  METHOD_METADATA,
  PARAMTYPES_METADATA,
  PATH_METADATA,
  PROPERTY_DEPS_METADATA,
  ROUTE_ARGS_METADATA,
  SELF_DECLARED_DEPS_METADATA,
} from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { MetadataScanner, ModulesContainer } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { ContextualCache } from '../contextual-cache';
import { CACHE_INJECTION_SETTINGS, REDIS_CACHE_REQUEST_METRICS } from '../redis-cache.constants';
import type { CacheRequestMetrics, RoutedRequest } from '../metrics/cache-request-metrics';
import { CacheContextInterceptor } from './cache-context.interceptor';
import { cacheOfSlot, runInCacheContext } from './cache-context.storage';
import type { CacheContextSlot } from './cache-context.storage';
import type { CacheInjectionSettings } from './contextual-cache.providers';
import { currentCacheOfRequest } from './current-cache.decorator';
import { RequestCacheResolver } from './request-cache.resolver';
import { RequestView, viewableCacheProperties } from './request-view';
import type { CacheRequest } from './request-cache.resolver';

const SLOT_PARAM = `redisCacheContext${CUSTOM_ROUTE_ARGS_METADATA}`;
const scanner = new MetadataScanner();
const ORIGINAL_HANDLER = Symbol('redisCacheOriginalHandler');

type Handler = ((...args: unknown[]) => unknown) & { [ORIGINAL_HANDLER]?: Handler };
interface RouteArg {
  index: number;
  data?: unknown;
  factory?: unknown;
  pipes?: unknown[];
}
type RouteArgs = Record<string, RouteArg>;

/** A route handler that needs the request's cache, and where. */
interface CacheRoute {
  readonly name: string;
  /** The route arguments as the class declared them. */
  readonly declared: RouteArgs;
  /** Positions of its `@CurrentCache()` parameters. */
  readonly cacheIndexes: number[];
}

/** Rewritten route arguments → the ones the class declared, so a later app can bind again. */
const declaredArgsOf = new WeakMap<RouteArgs, RouteArgs>();

/**
 * Gives each controller's cache arguments this app's `RequestCacheResolver`, right before the app
 * registers its routes (`RedisCacheModule.configure()`, which Nest calls just before that): Nest
 * reads a route's arguments and handler once per app at registration, so apps that share a
 * controller class each keep their own resolver.
 *
 * Controllers Nest builds once (the usual case) get, for each route that needs the cache, the
 * request as a built-in route argument and a handler bound to this app's resolver on the instance,
 * which turns the request into its cache (`@CurrentCache()` parameters) and, when the controller
 * injects `ContextualCache`, runs the handler inside that cache's context. No custom parameter, no
 * pipe, no Nest interceptor: each of those costs more per request than the cached read (custom
 * parameters allocate objects that V8 then pretenures, which multiplies garbage-collection time).
 * The bound handlers are taken off the instances once the routes hold them
 * (`releaseInstances()`), so calling a controller method directly calls the method as written.
 *
 * Controllers Nest builds per request (a request-scoped dependency) get the same through the
 * class: custom route arguments whose `data` is the resolver, and a wrapped prototype method.
 */
@Injectable()
export class ControllerContextBinder {
  private readonly injecting = new Set<Type>();
  private readonly bound: { instance: object; name: string }[] = [];

  constructor(
    private readonly resolver: RequestCacheResolver,
    private readonly modules: ModulesContainer,
    @Inject(CACHE_INJECTION_SETTINGS) private readonly settings: CacheInjectionSettings,
    @Inject(REDIS_CACHE_REQUEST_METRICS) private readonly requests: CacheRequestMetrics | null,
  ) {}

  /** The `ContextualCache` provider reports each class it is injected into (controller or not). */
  noteInjectedInto(owner: Type): void {
    this.injecting.add(owner);
  }

  bindControllers(): void {
    // A provider that injects the cache reaches it only through an AsyncLocalStorage context,
    // whichever controller calls it.
    const views = this.settings.asyncLocalStorage === 'auto' && !this.anyProviderInjectsCache();
    for (const module of this.modules.values()) {
      for (const wrapper of module.controllers.values()) {
        const controller = wrapper.metatype as Type | null;
        if (typeof controller !== 'function') continue;
        // With `requestScoped`, Nest builds such a controller per request with its own cache.
        const injects =
          !this.settings.requestScoped &&
          (this.injecting.has(controller) || declaresContextualCache(controller));
        const routes = cacheRoutesOf(controller, injects);
        if (routes.length === 0) continue;
        // @UseCacheContext() on such a controller would enter the context a second time, dearly.
        if (injects) withoutContextInterceptor(controller);
        const instance = builtOnce(wrapper);
        const viewed =
          instance && injects && views ? viewableCacheProperties(controller, instance) : undefined;
        for (const route of routes) {
          if (instance) this.bindOnInstance(instance, controller, route, injects, viewed);
          else this.bindOnClass(controller, route, injects);
        }
      }
    }
  }

  /** Takes the bound handlers off the instances: the registered routes already hold them. */
  releaseInstances(): void {
    for (const { instance, name } of this.bound.splice(0)) {
      delete (instance as Record<string, unknown>)[name];
    }
  }

  private anyProviderInjectsCache(): boolean {
    for (const module of this.modules.values()) {
      for (const wrapper of module.providers.values()) {
        if (wrapper.inject?.includes(ContextualCache)) return true; // a factory provider
        const type = wrapper.metatype as Type | null;
        if (typeof type !== 'function') continue;
        if (this.injecting.has(type) || declaresContextualCache(type)) return true;
      }
    }
    return false;
  }

  private bindOnInstance(
    instance: object,
    controller: Type,
    route: CacheRoute,
    injects: boolean,
    viewed: ReadonlySet<PropertyKey> | undefined,
  ): void {
    const args: RouteArgs = { ...route.declared };
    for (const [key, arg] of Object.entries(args)) {
      if (arg.factory === currentCacheOfRequest) delete args[key];
    }
    const requestIndexes = [...route.cacheIndexes];
    if (requestIndexes.length === 0) requestIndexes.push(nextIndex(args));
    for (const index of requestIndexes) {
      args[`${RouteParamtypes.REQUEST}:${index}`] = { index, data: undefined, pipes: [] };
    }
    defineRouteArgs(controller, route, args);

    const prototype = controller.prototype as Record<string, Handler>;
    const method = prototype[route.name];
    const original = method[ORIGINAL_HANDLER] ?? method;
    const bound = !injects
      ? cacheArgumentHandler(original, this.resolver, route.cacheIndexes)
      : viewed
        ? viewHandler(original, this.resolver, route.cacheIndexes, viewed)
        : contextHandler(original, this.resolver, route.cacheIndexes);
    const handler = this.requests ? timedHandler(bound, this.requests, requestIndexes[0]) : bound;
    copyRouteMetadata(original, handler, injects);
    Object.defineProperty(instance, route.name, {
      value: handler,
      configurable: true,
      writable: true,
      enumerable: false,
    });
    this.bound.push({ instance, name: route.name });
  }

  private bindOnClass(controller: Type, route: CacheRoute, injects: boolean): void {
    const args: RouteArgs = {};
    for (const [key, arg] of Object.entries(route.declared)) {
      args[key] = arg.factory === currentCacheOfRequest ? { ...arg, data: this.resolver } : arg;
    }
    if (injects) {
      const index = nextIndex(args);
      args[`${SLOT_PARAM}:${index}`] = {
        index,
        factory: slotOfRequest,
        data: this.resolver,
        pipes: [],
      };
    }
    defineRouteArgs(controller, route, args);
    if (!injects) return;
    const prototype = controller.prototype as Record<string, Handler>;
    const method = prototype[route.name];
    if (!method[ORIGINAL_HANDLER]) {
      const wrapped = slotPoppingHandler(method);
      copyRouteMetadata(method, wrapped, true);
      prototype[route.name] = wrapped;
    }
  }
}

/**
 * Records the request's latency and cache outcome once the handler settles: the binding holds the
 * request already, so this costs a clock read and an observation, not a Nest interceptor.
 */
function timedHandler(
  handler: Handler,
  metrics: CacheRequestMetrics,
  requestIndex: number,
): Handler {
  return function (this: unknown, ...args: unknown[]) {
    const request = args[requestIndex] as RoutedRequest;
    const started = performance.now();
    const result = handler.apply(this, args);
    if (result instanceof Promise) return result.finally(() => metrics.record(request, started));
    metrics.record(request, started);
    return result;
  };
}

/** Turns the requests Nest passes at `cacheIndexes` into this app's cache for the request. */
function cacheArgumentHandler(
  original: Handler,
  resolver: RequestCacheResolver,
  cacheIndexes: number[],
): Handler {
  return function (this: unknown, ...args: unknown[]) {
    const cache = resolver.resolve(args[cacheIndexes[0]] as CacheRequest);
    for (const index of cacheIndexes) args[index] = cache;
    return original.apply(this, args);
  };
}

/**
 * Takes the request's slot out of the arguments Nest passed: the request is at the first
 * `@CurrentCache()` position (which then gets the cache), or else the hidden last argument, which
 * the handler never sees.
 */
function takeSlot(
  args: unknown[],
  resolver: RequestCacheResolver,
  cacheIndexes: number[],
): CacheContextSlot {
  if (cacheIndexes.length === 0) return resolver.slotFor(args.pop() as CacheRequest);
  const slot = resolver.slotFor(args[cacheIndexes[0]] as CacheRequest);
  if (!(slot instanceof ContextualCache)) throw slot;
  for (const index of cacheIndexes) args[index] = slot;
  return slot;
}

/** Runs the handler in the request's AsyncLocalStorage cache context. */
function contextHandler(
  original: Handler,
  resolver: RequestCacheResolver,
  cacheIndexes: number[],
): Handler {
  return function (this: unknown, ...args: unknown[]) {
    const slot = takeSlot(args, resolver, cacheIndexes);
    return runInCacheContext(slot, () => original.apply(this, args));
  };
}

/** Runs the handler with a request view of the controller as `this` (no AsyncLocalStorage). */
function viewHandler(
  original: Handler,
  resolver: RequestCacheResolver,
  cacheIndexes: number[],
  cacheProperties: ReadonlySet<PropertyKey>,
): Handler {
  return function (this: object, ...args: unknown[]) {
    const slot = takeSlot(args, resolver, cacheIndexes);
    const view = new Proxy(this, new RequestView(cacheOfSlot(slot), cacheProperties));
    return original.apply(view, args);
  };
}

/** Per-request controllers: runs the handler in the context of the slot Nest passed last. */
function slotPoppingHandler(original: Handler): Handler {
  const wrapped: Handler = function (this: unknown, ...args: unknown[]) {
    const slot = args.pop() as CacheContextSlot;
    return runInCacheContext(slot, () => original.apply(this, args));
  };
  wrapped[ORIGINAL_HANDLER] = original;
  return wrapped;
}

/** Reads the request's slot: Nest calls it with the app's resolver as `data`. */
function slotOfRequest(
  resolver: RequestCacheResolver,
  context: ExecutionContext,
): CacheContextSlot {
  return resolver.slotFor(context.getArgByIndex<CacheRequest>(0));
}

/** The instance Nest built once for the app, or undefined when it builds one per request. */
function builtOnce(wrapper: InstanceWrapper): object | undefined {
  if (!wrapper.isDependencyTreeStatic()) return undefined;
  return (wrapper.instance as object | null | undefined) ?? undefined;
}

/** The controller's HTTP routes that need the cache: `@CurrentCache()` params, or all if it injects it. */
function cacheRoutesOf(controller: Type, injects: boolean): CacheRoute[] {
  const prototype = controller.prototype as Record<string, unknown>;
  const routes: CacheRoute[] = [];
  for (const name of scanner.getAllMethodNames(prototype)) {
    if (!isHttpRoute(prototype[name])) continue;
    const current = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as RouteArgs;
    const declared = declaredArgsOf.get(current) ?? current;
    const cacheIndexes = Object.values(declared)
      .filter((arg) => arg.factory === currentCacheOfRequest)
      .map((arg) => arg.index);
    if (injects || cacheIndexes.length > 0) routes.push({ name, declared, cacheIndexes });
  }
  return routes;
}

function defineRouteArgs(controller: Type, route: CacheRoute, args: RouteArgs): void {
  declaredArgsOf.set(args, route.declared);
  Reflect.defineMetadata(ROUTE_ARGS_METADATA, args, controller, route.name);
}

/**
 * Route decorators keep their metadata on the function itself (path, method, status, headers,
 * guards...): the handler Nest registers needs it, and guards read it through `getHandler()`.
 */
function copyRouteMetadata(from: Handler, to: Handler, injects: boolean): void {
  for (const key of Reflect.getOwnMetadataKeys(from)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, from), to);
  }
  Object.defineProperty(to, 'name', { value: from.name });
  if (injects) withoutContextInterceptor(to);
}

/**
 * Whether the class's own DI metadata asks for `ContextualCache` (constructor type, `@Inject()`,
 * or an injected property). The provider also reports the classes it is built for; this catches
 * controllers Nest builds per request, which it does not build before the routes exist.
 */
function declaresContextualCache(controller: Type): boolean {
  const paramTypes = (Reflect.getMetadata(PARAMTYPES_METADATA, controller) ?? []) as unknown[];
  const selfDeclared = (Reflect.getMetadata(SELF_DECLARED_DEPS_METADATA, controller) ?? []) as {
    param: unknown;
  }[];
  const properties = (Reflect.getMetadata(PROPERTY_DEPS_METADATA, controller) ?? []) as {
    type: unknown;
  }[];
  return (
    paramTypes.includes(ContextualCache) ||
    selfDeclared.some(({ param }) => param === ContextualCache) ||
    properties.some(({ type }) => type === ContextualCache)
  );
}

function withoutContextInterceptor(target: object): void {
  const interceptors = Reflect.getOwnMetadata(INTERCEPTORS_METADATA, target) as
    unknown[] | undefined;
  if (!interceptors?.includes(CacheContextInterceptor)) return;
  const others = interceptors.filter((item) => item !== CacheContextInterceptor);
  Reflect.defineMetadata(INTERCEPTORS_METADATA, others, target);
}

function isHttpRoute(handler: unknown): handler is Handler {
  return (
    typeof handler === 'function' &&
    Reflect.hasOwnMetadata(PATH_METADATA, handler) &&
    Reflect.hasOwnMetadata(METHOD_METADATA, handler)
  );
}

function nextIndex(args: RouteArgs): number {
  return Object.values(args).reduce((max, arg) => Math.max(max, arg.index + 1), 0);
}
