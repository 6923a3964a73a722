import { Inject, Injectable } from '@nestjs/common';
import type { HttpServer } from '@nestjs/common';
import { DiscoveryService, HttpAdapterHost, REQUEST } from '@nestjs/core';
import { ContextualCache } from '../contextual-cache';
import { CACHE_INJECTION_SETTINGS, REDIS_CACHE_REQUEST_METRICS } from '../redis-cache.constants';
import type { CacheRequestMetrics } from '../metrics/cache-request-metrics';
import type { CacheInjectionSettings } from './contextual-cache.providers';
import { recordRequest } from './request-slot';
import { runForRequest } from './request-context';

type Hook = 'context' | 'responses';
type Next = (error?: unknown) => void;
type FastifyHook = (request: object, reply: unknown, done: Next) => void;

/** The hooks each HTTP adapter has, so apps with several module instances install each once. */
const installed = new WeakMap<object, Set<Hook>>();

/**
 * Installs, through the HTTP adapter's public hooks and before the routes exist, what runs for
 * every request: the request context the injected `ContextualCache` reads (only where something
 * injects it), so that it covers guards, interceptors, pipes, the handler and all that runs after
 * it; and, on Fastify with metrics on, the hook that records the responses of requests that used
 * the cache (on Express the resolver listens to the response itself).
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
    if (this.needsContext()) installOnce(adapter, 'context');
    if (this.metrics) installOnce(adapter, 'responses');
  }

  private needsContext(): boolean {
    if (this.settings.asyncLocalStorage === 'always' || this.injected) return true;
    // Nest builds request-scoped classes (and what they inject) per request, after this point:
    // any of them may inject the cache.
    return (
      !this.settings.requestScoped &&
      [...this.discovery.getProviders(), ...this.discovery.getControllers()].some(
        (wrapper) =>
          wrapper.token !== REQUEST &&
          wrapper.token !== ContextualCache &&
          !wrapper.isDependencyTreeStatic(),
      )
    );
  }
}

function installOnce(adapter: HttpServer, hook: Hook): void {
  const hooks = installed.get(adapter) ?? new Set<Hook>();
  if (hooks.has(hook)) return;
  installed.set(adapter, hooks.add(hook));
  const fastify =
    adapter.getType() === 'fastify' ? (adapter.getInstance() as FastifyLike) : undefined;
  if (hook === 'context') {
    // preHandler: after Fastify has routed and read the body, right before Nest's handler.
    if (fastify) fastify.addHook('preHandler', enterContext);
    else adapter.use(enterContext);
  } else {
    fastify?.addHook('onResponse', recordResponse);
  }
}

function enterContext(request: object, _response: unknown, next: Next): void {
  runForRequest(request, next);
}

function recordResponse(request: object, _reply: unknown, done: Next): void {
  recordRequest(request);
  done();
}

interface FastifyLike {
  addHook(name: 'preHandler' | 'onResponse', hook: FastifyHook): unknown;
}
