import { Injectable } from '@nestjs/common';
import type { ExecutionContext, Type } from '@nestjs/common';
import {
  CUSTOM_ROUTE_ARGS_METADATA,
  INTERCEPTORS_METADATA,
  METHOD_METADATA,
  PATH_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants';
import { MetadataScanner } from '@nestjs/core';
import { CacheContextInterceptor } from './cache-context.interceptor';
import { runInCacheContext } from './cache-context.storage';
import type { CacheContextSlot } from './cache-context.storage';
import { RequestCacheResolver } from './request-cache.resolver';
import type { RouteParams } from './request-cache.resolver';

const SLOT_PARAM = `redisCacheContext${CUSTOM_ROUTE_ARGS_METADATA}`;
const ORIGINAL_HANDLER = Symbol('redisCacheOriginalHandler');

type Handler = ((...args: unknown[]) => unknown) & { [ORIGINAL_HANDLER]?: Handler };
type RouteArgs = Record<string, { index: number; data?: unknown }>;

/** Reads the request's slot: Nest calls it with the app's resolver as `data`. */
function slotOfRequest(
  resolver: RequestCacheResolver,
  context: ExecutionContext,
): CacheContextSlot {
  return resolver.slotFor(context.switchToHttp().getRequest<{ params?: RouteParams }>().params);
}

/**
 * Makes a controller that injects `ContextualCache` see the current request's cache, without
 * making it request-scoped and without a Nest interceptor (whose RxJS pipeline and
 * `AsyncResource.bind` calls cost more per request than the rest of a cached read).
 *
 * For each route handler of the controller it appends one hidden route argument, filled by Nest
 * like a custom parameter decorator (the request's cache, or why it has none; an invalid id answers
 * 400 there), and wraps the handler so it runs inside that cache's context with the arguments it
 * declared. It runs while the app instantiates the controller, before routes are registered; Nest
 * reads the arguments once per app at registration, so apps that share the controller class each
 * keep their own resolver.
 */
@Injectable()
export class ControllerContextBinder {
  private static readonly scanner = new MetadataScanner();

  constructor(private readonly resolver: RequestCacheResolver) {}

  bind(controller: Type): void {
    // @UseCacheContext() on such a controller would enter the context a second time, dearly.
    withoutContextInterceptor(controller);
    const prototype = controller.prototype as Record<string, Handler>;
    for (const name of ControllerContextBinder.scanner.getAllMethodNames(prototype)) {
      const handler = prototype[name];
      if (!isHttpRoute(handler)) continue;
      const original = handler[ORIGINAL_HANDLER] ?? handler;
      const args = { ...(Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) as RouteArgs) };
      const slotKey = Object.keys(args).find((key) => key.startsWith(SLOT_PARAM));
      const slotIndex = slotKey ? args[slotKey].index : nextIndex(args);
      if (slotKey) delete args[slotKey];
      args[`${SLOT_PARAM}:${slotIndex}`] = {
        index: slotIndex,
        factory: slotOfRequest,
        data: this.resolver,
        pipes: [],
      } as RouteArgs[string];
      Reflect.defineMetadata(ROUTE_ARGS_METADATA, args, controller, name);
      if (!handler[ORIGINAL_HANDLER]) prototype[name] = wrapHandler(original);
      withoutContextInterceptor(prototype[name]);
    }
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
