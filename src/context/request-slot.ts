import type { ContextualCache } from '../contextual-cache';
import type { CacheRequestMetrics, RoutedRequest } from '../metrics/cache-request-metrics';
import type { ReadOutcome, ReadOutcomeSource } from '../scoped-cache';

export type RouteParams = Record<string, string | undefined> | undefined;

const SLOT = Symbol('redisCacheOfRequest');

/**
 * The cache a request resolved first, from which params (Express replaces them per layer), and
 * when: its request metrics run from then to the end of its response.
 */
export interface ResolvedCache {
  /** The resolver (one per module instance) that resolved it. */
  readonly owner: object;
  readonly metrics: CacheRequestMetrics | null;
  readonly params: RouteParams;
  readonly cache: ContextualCache & Partial<ReadOutcomeSource>;
  readonly started: number;
}

/** The request as the resolver sees it, on Express and Fastify alike. */
export type CacheRequest = RoutedRequest & {
  params?: RouteParams;
  /** Express's response; Fastify's are recorded by an onResponse hook. */
  res?: { on(event: 'finish', listener: (this: { req: CacheRequest }) => void): unknown };
  [SLOT]?: ResolvedCache;
};

/** The cache the request resolved first, if any. */
export function resolvedCacheOf(request: CacheRequest): ResolvedCache | undefined {
  return request[SLOT];
}

/** Keeps `resolved` as the request's cache; on Express, records the request when it ends. */
export function keepResolvedCache(request: CacheRequest, resolved: ResolvedCache): void {
  const first = request[SLOT] === undefined;
  request[SLOT] = resolved;
  if (resolved.metrics && first) request.res?.on('finish', recordExpressResponse);
}

/** What the request's cache reads found so far: `none` when it resolved none or read nothing. */
export function readOutcomeOf(request: CacheRequest): ReadOutcome {
  return request[SLOT]?.cache.readOutcome ?? 'none';
}

/**
 * Records a request that used the cache, once its response has ended, in the metrics of the module
 * instance whose cache it used first: from that first use to the end of the response.
 */
export function recordRequest(request: CacheRequest): void {
  const resolved = request[SLOT];
  const metrics = resolved?.metrics;
  if (!metrics) return;
  const seconds = (performance.now() - resolved.started) / 1000;
  metrics.record(request, resolved.cache.readOutcome ?? 'none', seconds);
}

function recordExpressResponse(this: { req: CacheRequest }): void {
  recordRequest(this.req);
}
