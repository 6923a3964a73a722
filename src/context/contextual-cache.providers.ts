import { Scope } from '@nestjs/common';
import type { FactoryProvider, Provider } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { ContextualCache } from '../contextual-cache';
import { RedisCacheConfigError } from '../errors/redis-cache.errors';
import { CacheRequestHooks } from './cache-request.hooks';
import { RequestBoundCache } from './request-bound-cache';
import { RequestCacheResolver } from './request-cache.resolver';
import type { CacheRequest } from './request-slot';

/**
 * Default: every class that injects `ContextualCache` gets the module's one request-bound cache.
 * Transient only so that Nest calls the factory once per injecting class: an app in which nothing
 * injects it never enters a request context.
 */
const requestBoundProvider: FactoryProvider<ContextualCache> = {
  provide: ContextualCache,
  scope: Scope.TRANSIENT,
  inject: [RequestCacheResolver, CacheRequestHooks],
  useFactory: (resolver: RequestCacheResolver, hooks: CacheRequestHooks) => {
    hooks.contextNeeded();
    return resolver.currentRequestCache;
  },
};

/** `requestScoped: true`: a true `Scope.REQUEST` provider, resolved from its request on first use. */
const requestScopedProvider: FactoryProvider<ContextualCache> = {
  provide: ContextualCache,
  scope: Scope.REQUEST,
  inject: [REQUEST, RequestCacheResolver],
  useFactory: (request: CacheRequest, resolver: RequestCacheResolver) =>
    new RequestBoundCache(() => resolver.resolve(request)),
};

/** How this module instance provides `ContextualCache`: the module extras that decide it. */
export interface CacheInjectionSettings {
  readonly requestScoped: boolean;
  readonly asyncLocalStorage: 'auto' | 'always';
}

/** The `ContextualCache` provider the settings ask for; a bad setting throws, naming it. */
export function contextualCacheProvider(settings: CacheInjectionSettings): Provider {
  if (typeof settings.requestScoped !== 'boolean') {
    throw RedisCacheConfigError.invalidOption(
      'requestScoped',
      'true or false',
      settings.requestScoped,
    );
  }
  if (settings.asyncLocalStorage !== 'auto' && settings.asyncLocalStorage !== 'always') {
    const expected = '"auto" or "always"';
    throw RedisCacheConfigError.invalidOption(
      'asyncLocalStorage',
      expected,
      settings.asyncLocalStorage,
    );
  }
  return settings.requestScoped ? requestScopedProvider : requestBoundProvider;
}
