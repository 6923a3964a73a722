import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import type { ContextualCache } from 'nestjs-redis-app-cache';
import { RateLimitedLogger } from 'nestjs-redis-app-cache';
import { AppCatalog } from '../apps/app-catalog';
import { AppCache } from '../cache/app-cache';

/** A rendered PNG and whether it came from the cache. */
export interface RenderResult {
  readonly png: Buffer;
  readonly hit: boolean;
}

/**
 * Renders an app for the request's device, reusing the rendered image while it is fresh. The cache
 * is an optimisation only: any cache failure is logged and the render goes on.
 */
@Injectable()
export class RenderService {
  // One outage must not write a line per request.
  private readonly warnings = new RateLimitedLogger(new Logger(RenderService.name));

  constructor(private readonly catalog: AppCatalog) {}

  async render(
    appId: string,
    cache: ContextualCache,
    query: Readonly<Record<string, unknown>>,
  ): Promise<RenderResult> {
    const app = this.catalog.get(appId);
    const options = app.parseOptions(query);
    const imageKey = renderKey(options);
    const cached = await this.cachedImage(cache, imageKey);
    if (cached) return { png: cached, hit: true };

    const appCache = new AppCache(cache, this.warnings);
    const { frame, ttlSeconds } = await app.render({
      deviceId: cache.deviceId,
      options,
      cache: appCache,
      now: new Date(),
    });
    const png = frame.toPng();
    await this.storeImage(cache, imageKey, png, ttlSeconds);
    return { png, hit: false };
  }

  private async cachedImage(cache: ContextualCache, key: string): Promise<Buffer | null> {
    try {
      const hit = await cache.get(key);
      return hit.found ? hit.value : null;
    } catch (error) {
      this.warnings.warn(
        'render.read',
        `Reading a rendered image failed, rendering anew: ${describe(error)}`,
      );
      return null;
    }
  }

  private async storeImage(cache: ContextualCache, key: string, png: Buffer, ttlSeconds: number) {
    try {
      await cache.set(key, png, ttlSeconds);
    } catch (error) {
      this.warnings.warn('render.store', `Storing a rendered image failed: ${describe(error)}`);
    }
  }
}

/** One cache entry per app option set: `render:` and a digest, so long texts make short keys. */
export function renderKey(options: Readonly<Record<string, string>>): string {
  const canonical = JSON.stringify(Object.entries(options).sort(([a], [b]) => (a < b ? -1 : 1)));
  return `render:${createHash('sha256').update(canonical).digest('base64url').slice(0, 22)}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
