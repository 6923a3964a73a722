import { Controller, Delete, Get, Param, UseFilters, UseGuards } from '@nestjs/common';
import {
  ContextualCache,
  CurrentCache,
  InvalidCacheContextError,
  RedisCache,
  invalidContextBadRequest,
} from 'nestjs-redis-app-cache';
import { AdminTokenGuard } from './admin-token.guard';
import { CacheUnavailableFilter } from './cache-unavailable.filter';

// flushDevice works across apps; withContext() still wants an app id, and this one is never used.
const ANY_APP = '-';

/** Key counts and flushes, behind the admin token. */
@Controller()
@UseGuards(AdminTokenGuard)
@UseFilters(CacheUnavailableFilter)
export class CacheAdminController {
  constructor(private readonly redisCache: RedisCache) {}

  @Get('apps/:appId/devices/:deviceId/cache')
  async stats(@CurrentCache() cache: ContextualCache) {
    return { keys: await cache.stats() };
  }

  @Delete('apps/:appId/devices/:deviceId/cache')
  async flushApp(@CurrentCache() cache: ContextualCache) {
    return { deleted: await cache.flushApp() };
  }

  @Delete('devices/:deviceId/cache')
  async flushDevice(@Param('deviceId') deviceId: string) {
    return { deleted: await this.deviceCache(deviceId).flushDevice() };
  }

  /** Any app's cache of the device; an invalid id answers 400 naming the field, as elsewhere. */
  private deviceCache(deviceId: string): ContextualCache {
    try {
      return this.redisCache.withContext(ANY_APP, deviceId);
    } catch (error) {
      throw error instanceof InvalidCacheContextError ? invalidContextBadRequest(error) : error;
    }
  }
}
