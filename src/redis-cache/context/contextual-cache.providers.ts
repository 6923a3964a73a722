import { Scope } from '@nestjs/common';
import type { FactoryProvider, Provider, Type, ValueProvider } from '@nestjs/common';
import { CONTROLLER_WATERMARK } from '@nestjs/common/constants';
import { INQUIRER, REQUEST } from '@nestjs/core';
import { ContextualCache } from '../contextual-cache';
import { REQUEST_SCOPED_INJECTION } from '../redis-cache.constants';
import { requestContextualCache } from './cache-context.storage';
import { ControllerContextBinder } from './controller-context.binder';
import { RequestCacheResolver } from './request-cache.resolver';
import type { RouteParams } from './request-cache.resolver';

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
    if (owner && Reflect.getMetadata(CONTROLLER_WATERMARK, owner)) binder.noteInjectedInto(owner);
    return requestContextualCache;
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

export function contextualCacheProviders(requestScoped: boolean): Provider[] {
  const mode: ValueProvider<boolean> = {
    provide: REQUEST_SCOPED_INJECTION,
    useValue: requestScoped,
  };
  return [requestScoped ? requestScopedProvider : asyncContextProvider, mode];
}
