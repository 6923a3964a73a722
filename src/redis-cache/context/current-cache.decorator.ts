import { createParamDecorator } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';
import type { ContextualCache } from '../contextual-cache';
import { RequestCacheResolver } from './request-cache.resolver';
import type { CacheRequest } from './request-cache.resolver';

/**
 * Nest calls it for each `@CurrentCache()` parameter, with the app's resolver as `data` (set by
 * `ControllerContextBinder` before the routes are registered). No pipe: a pipe would add an async
 * step per request.
 */
export function currentCacheOfRequest(
  resolver: unknown,
  context: ExecutionContext,
): ContextualCache {
  if (!(resolver instanceof RequestCacheResolver)) {
    throw new Error(
      '@CurrentCache() needs RedisCacheModule.forRoot() or forRootAsync() imported in this app, on an HTTP route.',
    );
  }
  return resolver.resolve(context.getArgByIndex<CacheRequest>(0));
}

/**
 * The `ContextualCache` of the request's `:appId`/`:deviceId` as a handler parameter.
 * Costs one small object per call and leaves the controller a singleton.
 */
export const CurrentCache: () => ParameterDecorator = createParamDecorator(currentCacheOfRequest);
