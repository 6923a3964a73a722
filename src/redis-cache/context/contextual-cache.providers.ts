import { Scope } from '@nestjs/common';
import type { FactoryProvider, NestInterceptor, Type } from '@nestjs/common';
import { CONTROLLER_WATERMARK, INTERCEPTORS_METADATA } from '@nestjs/common/constants';
import { INQUIRER, REQUEST } from '@nestjs/core';
import { ContextualCache } from '../contextual-cache';
import { CacheContextInterceptor } from './cache-context.interceptor';
import { CacheContextStorage } from './cache-context.storage';
import { RequestCacheResolver } from './request-cache.resolver';
import type { RouteParams } from './request-cache.resolver';

/**
 * Default: a transient provider, so Nest tells it who injects it. Each controller that injects
 * `ContextualCache` gets `CacheContextInterceptor` added to its own interceptors (before the routes
 * are registered) and stays a singleton; no other route pays anything.
 */
const asyncContextProvider: FactoryProvider<ContextualCache> = {
  provide: ContextualCache,
  scope: Scope.TRANSIENT,
  inject: [INQUIRER, CacheContextStorage, CacheContextInterceptor],
  useFactory: (
    inquirer: object | undefined,
    storage: CacheContextStorage,
    interceptor: CacheContextInterceptor,
  ) => {
    const owner = inquirer?.constructor as Type | undefined;
    if (owner && Reflect.getMetadata(CONTROLLER_WATERMARK, owner)) {
      enterContextAround(owner, interceptor);
    }
    return storage.cache;
  },
};

/** `requestScoped: true`: a true `Scope.REQUEST` provider, built per request from its params. */
const requestScopedProvider: FactoryProvider<ContextualCache> = {
  provide: ContextualCache,
  scope: Scope.REQUEST,
  inject: [REQUEST, RequestCacheResolver],
  useFactory: (request: { params?: RouteParams }, resolver: RequestCacheResolver) =>
    resolver.resolve(request.params),
};

export function contextualCacheProvider(requestScoped: boolean): FactoryProvider<ContextualCache> {
  return requestScoped ? requestScopedProvider : asyncContextProvider;
}

/**
 * Puts this app's interceptor first on the controller. Nest reads a controller's interceptors once,
 * when the app registers its routes, so when several apps in one process share a controller class
 * (tests do), each app captures its own interceptor: an earlier app's entry is replaced, not kept.
 */
function enterContextAround(controller: Type, interceptor: NestInterceptor): void {
  const existing = (Reflect.getMetadata(INTERCEPTORS_METADATA, controller) ?? []) as unknown[];
  // Also drops a class reference left by @UseCacheContext(), so the context is entered once.
  const others = existing.filter(
    (item) => item !== CacheContextInterceptor && !(item instanceof CacheContextInterceptor),
  );
  Reflect.defineMetadata(INTERCEPTORS_METADATA, [interceptor, ...others], controller);
}
