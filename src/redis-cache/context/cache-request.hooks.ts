import { Inject, Injectable } from '@nestjs/common';
import type { HttpServer } from '@nestjs/common';
import { DiscoveryService, HttpAdapterHost, REQUEST } from '@nestjs/core';
import { ContextualCache } from '../contextual-cache';
import { CACHE_INJECTION_SETTINGS, REDIS_CACHE_REQUEST_METRICS } from '../redis-cache.constants';
import type { CacheRequestMetrics } from '../metrics/cache-request-metrics';
import type { CacheInjectionSettings } from './contextual-cache.providers';
import { recordRequest } from './request-cache.resolver';
import type { CacheRequest } from './request-cache.resolver';
import { runForRequest } from './request-context';

type Hook = 'context' | 'timing';
type Next = (error?: unknown) => void;
interface FastifyLike {
  addHook(name: string, hook: (request: object, reply: object, done: Next) => void): unknown;
}
type TimedRequest = CacheRequest & { [STARTED]?: number };

const STARTED = Symbol('redisCacheRequestStarted');
/** The hooks each HTTP adapter has, so apps with several module instances install each once. */
const installed = new WeakMap<object, Set<Hook>>();

/**
 * Installs, through the HTTP adapter's public hooks, what runs for every request: the request
 * context the injected `ContextualCache` reads (only where something injects it), and the timing
 * of the request metrics (only with metrics on). Each before the routes exist, so each covers the
 * whole of every route: guards, interceptors, pipes, the handler and what runs after it returns.
 */
@Injectable()
export class CacheRequestHooks {
  private injected = false;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly discovery: DiscoveryService,
    @Inject(CACHE_INJECTION_SETTINGS) private readonly settings: CacheInjectionSettings,
    @Inject(REDIS_CACHE_REQUEST_METRICS) private readonly metrics: CacheRequestMetrics | null,
  ) {}

  /** The `ContextualCache` provider was injected into some class. */
  contextNeeded(): void {
    this.injected = true;
  }

  /** Called by the module before Nest registers the routes. */
  install(): void {
    const adapter = this.adapterHost.httpAdapter as HttpServer | undefined;
    if (!adapter) return;
    if (this.metrics) installOnce(adapter, 'timing');
    if (this.needsContext()) installOnce(adapter, 'context');
  }

  private needsContext(): boolean {
    if (this.settings.asyncLocalStorage === 'always' || this.injected) return true;
    // Nest builds request-scoped classes (and what they inject) per request, after this point:
    // any of them may inject the cache.
    return (
      !this.settings.requestScoped &&
      [...this.discovery.getProviders(), ...this.discovery.getControllers()].some(
        (wrapper) =>
          !wrapper.isDependencyTreeStatic() &&
          wrapper.token !== REQUEST &&
          wrapper.token !== ContextualCache,
      )
    );
  }
}

function installOnce(adapter: HttpServer, hook: Hook): void {
  const hooks = installed.get(adapter) ?? new Set<Hook>();
  if (hooks.has(hook)) return;
  hooks.add(hook);
  installed.set(adapter, hooks);
  if (adapter.getType() === 'fastify') {
    const fastify = adapter.getInstance() as FastifyLike;
    // preHandler: after Fastify has routed and read the body, right before Nest's handler.
    if (hook === 'context') fastify.addHook('preHandler', enterContext);
    else fastify.addHook('onResponse', recordFastifyResponse);
  } else {
    adapter.use(hook === 'context' ? enterContext : startExpressTiming);
  }
}

function enterContext(request: object, _response: unknown, next: Next): void {
  runForRequest(request, next);
}

function recordFastifyResponse(request: object, reply: object, done: Next): void {
  recordRequest(request, (reply as { elapsedTime: number }).elapsedTime / 1000);
  done();
}

function startExpressTiming(
  request: TimedRequest,
  response: { on(event: 'finish', listener: () => void): unknown },
  next: Next,
): void {
  request[STARTED] = performance.now();
  response.on('finish', recordExpressResponse);
  next();
}

function recordExpressResponse(this: { req: TimedRequest }): void {
  const request = this.req;
  recordRequest(request, (performance.now() - (request[STARTED] ?? 0)) / 1000);
}
