import { Injectable, UseInterceptors } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { runInCacheContext } from './cache-context.storage';
import { RequestCacheResolver } from './request-cache.resolver';
import type { CacheRequest } from './request-cache.resolver';

/**
 * Makes the request's `ContextualCache` current while a handler runs, for controllers whose
 * providers inject `ContextualCache` (see `UseCacheContext`). Controllers that inject it themselves
 * get a cheaper binding (`ControllerContextBinder`); a Nest interceptor costs more per request.
 */
@Injectable()
export class CacheContextInterceptor implements NestInterceptor {
  constructor(private readonly resolver: RequestCacheResolver) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const slot = this.resolver.slotFor(context.switchToHttp().getRequest<CacheRequest>());
    // Nest binds the handler's async context when handle() is called, so calling it inside the
    // context carries the slot through the handler's awaits.
    return runInCacheContext(slot, () => next.handle());
  }
}

/**
 * For a controller whose providers (not the controller itself) inject `ContextualCache`:
 * enters the request's cache context around its handlers.
 */
export const UseCacheContext = (): ClassDecorator & MethodDecorator =>
  UseInterceptors(CacheContextInterceptor);
