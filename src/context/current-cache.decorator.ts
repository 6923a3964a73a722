import { Injectable, Optional, createParamDecorator } from '@nestjs/common';
import type { ExecutionContext, PipeTransform } from '@nestjs/common';
import type { ContextualCache } from '../contextual-cache';
import { RedisCacheConfigError } from '../errors/redis-cache.errors';
import { RequestCacheResolver } from './request-cache.resolver';
import type { CacheRequest } from './request-slot';

/**
 * Turns the request into its cache. A pipe because Nest builds it in the module of the controller
 * that uses it, so it gets the resolver of the `RedisCacheModule` instance that module imports.
 */
@Injectable()
export class CurrentCachePipe implements PipeTransform<CacheRequest, ContextualCache> {
  private readonly resolver: RequestCacheResolver;

  constructor(@Optional() resolver?: RequestCacheResolver) {
    if (!resolver) {
      throw new RedisCacheConfigError(
        '@CurrentCache() needs RedisCacheModule.forRoot() or forRootAsync() imported globally or by the module of the controller that uses it.',
      );
    }
    this.resolver = resolver;
  }

  transform(request: CacheRequest): ContextualCache {
    return this.resolver.resolve(request);
  }
}

const requestParam = createParamDecorator(
  (_data: unknown, context: ExecutionContext): CacheRequest =>
    context.switchToHttp().getRequest<CacheRequest>(),
);

/**
 * The `ContextualCache` of the request's `:appId`/`:deviceId` as a handler parameter; the
 * controller stays a singleton. Global pipes see the parameter before it is the cache, as the
 * request, with `type: 'custom'` (Nest's `ValidationPipe` leaves such parameters alone).
 */
export const CurrentCache = (): ParameterDecorator => requestParam(undefined, CurrentCachePipe);
