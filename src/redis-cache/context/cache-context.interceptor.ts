import { Injectable, UseInterceptors } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { MissingCacheContextError } from '../errors/redis-cache.errors';
import { CacheContextStorage } from './cache-context.storage';
import type { CacheContextSlot } from './cache-context.storage';
import { RequestCacheResolver } from './request-cache.resolver';
import type { RouteParams } from './request-cache.resolver';

/**
 * Makes the request's `ContextualCache` current while its handler runs. The module adds it to
 * each controller that injects `ContextualCache`, and only to those.
 *
 * An invalid id answers 400 before the handler runs. A route without the params still runs: the
 * error naming the missing param is thrown only if the handler uses the cache.
 */
@Injectable()
export class CacheContextInterceptor implements NestInterceptor {
  constructor(
    private readonly resolver: RequestCacheResolver,
    private readonly storage: CacheContextStorage,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const params = context.switchToHttp().getRequest<{ params?: RouteParams }>().params;
    let slot: CacheContextSlot;
    try {
      slot = this.resolver.resolve(params);
    } catch (error) {
      if (!(error instanceof MissingCacheContextError)) throw error;
      slot = error;
    }
    // Nest binds the handler's async context when handle() is called, so calling it inside run()
    // carries the slot through the handler's awaits.
    return this.storage.run(slot, () => next.handle());
  }
}

/**
 * For a controller whose providers (not the controller itself) inject `ContextualCache`:
 * enters the request's cache context around its handlers.
 */
export const UseCacheContext = (): ClassDecorator & MethodDecorator =>
  UseInterceptors(CacheContextInterceptor);
