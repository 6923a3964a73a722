import { Scope } from '@nestjs/common';
import type { FactoryProvider, Provider, Type, ValueProvider } from '@nestjs/common';
import { INQUIRER, REQUEST } from '@nestjs/core';
import { ContextualCache } from '../contextual-cache';
import { CACHE_INJECTION_SETTINGS } from '../redis-cache.constants';
import { invalidOptionMessage } from '../errors/messages';
import { RedisCacheConfigError } from '../errors/redis-cache.errors';
import { requestContextualCache } from './cache-context.storage';
import { ControllerContextBinder } from './controller-context.binder';
import { RequestCacheResolver } from './request-cache.resolver';
import type { CacheRequest } from './request-cache.resolver';

/**
 * Default: a transient provider, so Nest tells it who injects it. Each controller that injects
 * `ContextualCache` is bound to the request's cache (before the routes are registered) and stays a
 * singleton; no other route pays anything.
 */
const asyncContextProvider: FactoryProvider<ContextualCache> = {
  provide: ContextualCache,
  scope: Scope.TRANSIENT,
  inject: [INQUIRER, ControllerContextBinder],
  useFactory: (inquirer: object | undefined, binder: ControllerContextBinder) => {
    const owner = inquirer?.constructor as Type | undefined;
    if (owner && owner !== Object) binder.noteInjectedInto(owner);
    return requestContextualCache;
  },
};

/** `requestScoped: true`: a true `Scope.REQUEST` provider, built per request from its params. */
const requestScopedProvider: FactoryProvider<ContextualCache> = {
  provide: ContextualCache,
  scope: Scope.REQUEST,
  inject: [REQUEST, RequestCacheResolver],
  useFactory: (request: CacheRequest, resolver: RequestCacheResolver) => resolver.resolve(request),
};

/** How this app injects `ContextualCache`: the module extras that decide it. */
export interface CacheInjectionSettings {
  readonly requestScoped: boolean;
  readonly asyncLocalStorage: 'auto' | 'always';
}

export function contextualCacheProviders(settings: CacheInjectionSettings): Provider[] {
  if (typeof settings.requestScoped !== 'boolean') {
    throw new RedisCacheConfigError(
      invalidOptionMessage('requestScoped', 'true or false', settings.requestScoped),
    );
  }
  if (settings.asyncLocalStorage !== 'auto' && settings.asyncLocalStorage !== 'always') {
    throw new RedisCacheConfigError(
      invalidOptionMessage('asyncLocalStorage', '"auto" or "always"', settings.asyncLocalStorage),
    );
  }
  const injection: ValueProvider<CacheInjectionSettings> = {
    provide: CACHE_INJECTION_SETTINGS,
    useValue: {
      requestScoped: settings.requestScoped,
      asyncLocalStorage: settings.asyncLocalStorage,
    },
  };
  return [settings.requestScoped ? requestScopedProvider : asyncContextProvider, injection];
}
