import { Injectable, createParamDecorator } from '@nestjs/common';
import type { ExecutionContext, PipeTransform } from '@nestjs/common';
import type { ContextualCache } from '../contextual-cache';
import { RequestCacheResolver } from './request-cache.resolver';
import type { RouteParams } from './request-cache.resolver';

/** Turns the route params into the request's cache (a pipe, so it is built with DI). */
@Injectable()
export class CurrentCachePipe implements PipeTransform<RouteParams, ContextualCache> {
  constructor(private readonly resolver: RequestCacheResolver) {}

  transform(params: RouteParams): ContextualCache {
    return this.resolver.resolve(params);
  }
}

const RouteParamsOf = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RouteParams =>
    context.switchToHttp().getRequest<{ params?: RouteParams }>().params,
);

/**
 * The `ContextualCache` of the request's `:appId`/`:deviceId` as a handler parameter.
 * Costs one small object per call and leaves the controller a singleton.
 */
export const CurrentCache = (): ParameterDecorator => RouteParamsOf(CurrentCachePipe);
