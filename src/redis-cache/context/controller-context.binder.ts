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
import { MetadataScanner, ModulesContainer } from '@nestjs/core';
import { ContextualCache } from '../contextual-cache';
import { REQUEST_SCOPED_INJECTION } from '../redis-cache.constants';
import { CacheContextInterceptor } from './cache-context.interceptor';
import { runInCacheContext } from './cache-context.storage';
import type { CacheContextSlot } from './cache-context.storage';
import { currentCacheOfRequest } from './current-cache.decorator';
import { RequestCacheResolver } from './request-cache.resolver';
import type { RouteParams } from './request-cache.resolver';

const SLOT_PARAM = `redisCacheContext${CUSTOM_ROUTE_ARGS_METADATA}`;
const ORIGINAL_HANDLER = Symbol('redisCacheOriginalHandler');

type Handler = ((...args: unknown[]) => unknown) & { [ORIGINAL_HANDLER]?: Handler };
interface RouteArg {
  index: number;
  data?: unknown;
  factory?: unknown;
  pipes?: unknown[];
}
type RouteArgs = Record<string, RouteArg>;

/** Reads the request's slot: Nest calls it with the app's resolver as `data`. */
function slotOfRequest(
  resolver: RequestCacheResolver,
  context: ExecutionContext,
): CacheContextSlot {
  return resolver.slotFor(context.getArgByIndex<{ params?: RouteParams }>(0).params);
}

/**
 * Gives each controller's cache arguments this app's `RequestCacheResolver`, right before the app
 * registers its routes (`RedisCacheModule.configure()`, which Nest calls just before that): Nest
 * reads route arguments once per app at registration, so apps that share a controller class each
 * keep their own resolver.
 *
 * - `@CurrentCache()` parameters: a custom route argument without a pipe; the resolver is its `data`.
 * - Controllers that inject `ContextualCache`: each route handler gets one hidden route argument
 *   (the request's cache, or why it has none; an invalid id answers 400 there) and is wrapped to run
 *   inside that cache's context with the arguments it declared. The controller stays a singleton
 *   and no Nest interceptor is involved (its RxJS pipeline and `AsyncResource.bind` calls cost more
 *   per request than the rest of a cached read).
 */
@Injectable()
export class ControllerContextBinder {
  private static readonly scanner = new MetadataScanner();
  private readonly injecting = new Set<Type>();

  constructor(
    private readonly resolver: RequestCacheResolver,
    private readonly modules: ModulesContainer,
    @Inject(REQUEST_SCOPED_INJECTION) private readonly requestScoped: boolean,
  ) {}

  /** The `ContextualCache` provider reports each class it is injected into. */
  noteInjectedInto(owner: Type): void {
    this.injecting.add(owner);
  }

  bindControllers(): void {
    for (const module of this.modules.values()) {
      for (const wrapper of module.controllers.values()) {
        const controller = wrapper.metatype as Type | null;
        if (typeof controller !== 'function') continue;
        // With `requestScoped`, Nest builds such a controller per request with its own cache.
        const injects =
          !this.requestScoped &&
          (this.injecting.has(controller) || declaresContextualCache(controller));
        this.bindRoutes(controller, injects);
      }
    }
  }

  private bindRoutes(controller: Type, injectsCache: boolean): void {
    // @UseCacheContext() on such a controller would enter the context a second time, dearly.
    if (injectsCache) withoutContextInterceptor(controller);
    const prototype = controller.prototype as Record<string, Handler>;
    for (const name of ControllerContextBinder.scanner.getAllMethodNames(prototype)) {
      const handler = prototype[name];
      if (!isHttpRoute(handler)) continue;
      const declared = Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) as
        RouteArgs | undefined;
      const args: RouteArgs = {};
      for (const [key, arg] of Object.entries(declared ?? {})) {
        args[key] = arg.factory === currentCacheOfRequest ? { ...arg, data: this.resolver } : arg;
      }
      if (injectsCache) this.addContextSlot(args);
      Reflect.defineMetadata(ROUTE_ARGS_METADATA, args, controller, name);
      if (injectsCache) {
        if (!handler[ORIGINAL_HANDLER]) prototype[name] = wrapHandler(handler);
        withoutContextInterceptor(prototype[name]);
      }
    }
  }

  /** The hidden last argument the wrapped handler takes off: this app's slot for the request. */
  private addContextSlot(args: RouteArgs): void {
    const slotKey = Object.keys(args).find((key) => key.startsWith(SLOT_PARAM));
    const slotIndex = slotKey ? args[slotKey].index : nextIndex(args);
    if (slotKey) delete args[slotKey];
    args[`${SLOT_PARAM}:${slotIndex}`] = {
      index: slotIndex,
      factory: slotOfRequest,
      data: this.resolver,
      pipes: [],
    };
  }
}

/** Runs the handler in the context of the slot Nest passed last, with the arguments it declared. */
function wrapHandler(original: Handler): Handler {
  const wrapped: Handler = function (this: unknown, ...args: unknown[]) {
    const slot = args.pop() as CacheContextSlot;
    return runInCacheContext(slot, () => original.apply(this, args));
  };
  // Route decorators keep their metadata on the function itself (path, method, status, headers...).
  for (const key of Reflect.getOwnMetadataKeys(original)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), wrapped);
  }
  Object.defineProperty(wrapped, 'name', { value: original.name });
  wrapped[ORIGINAL_HANDLER] = original;
  return wrapped;
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
