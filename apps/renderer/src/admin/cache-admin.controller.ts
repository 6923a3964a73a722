import {
  Controller,
  Delete,
  Get,
  Headers,
  HttpStatus,
  NotFoundException,
  Param,
  Res,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import {
  CacheJobs,
  ContextualCache,
  CurrentCache,
  InvalidCacheContextError,
  RedisCache,
  invalidContextBadRequest,
} from 'nestjs-redis-app-cache';
import type { CacheJobOperation, CacheJobStatus } from 'nestjs-redis-app-cache';
import { AdminTokenGuard } from './admin-token.guard';
import { CacheUnavailableFilter } from './cache-unavailable.filter';
import { adminWaitFrom } from './prefer-wait';

// flushDevice works across apps; withContext() still wants an app id, and this one is never used.
const ANY_APP = '-';

/**
 * Key counts and flushes, behind the admin token. Each answers 200 with its result when it ends
 * within the wait (2 s, or what `Prefer: wait=N` / `respond-async` asks), else 202 with the running
 * job and `Location: /cache-jobs/{id}`, which any instance on the same Redis answers.
 */
@Controller()
@UseGuards(AdminTokenGuard)
@UseFilters(CacheUnavailableFilter)
export class CacheAdminController {
  constructor(
    private readonly redisCache: RedisCache,
    private readonly jobs: CacheJobs,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  @Get('apps/:appId/devices/:deviceId/cache')
  stats(
    @CurrentCache() cache: ContextualCache,
    @Headers('prefer') prefer: string | undefined,
    @Res({ passthrough: true }) response: unknown,
  ) {
    return this.run(cache, 'stats', prefer, response, (keys) => ({ keys }));
  }

  @Delete('apps/:appId/devices/:deviceId/cache')
  flushApp(
    @CurrentCache() cache: ContextualCache,
    @Headers('prefer') prefer: string | undefined,
    @Res({ passthrough: true }) response: unknown,
  ) {
    return this.run(cache, 'flushApp', prefer, response, (deleted) => ({ deleted }));
  }

  @Delete('devices/:deviceId/cache')
  flushDevice(
    @Param('deviceId') deviceId: string,
    @Headers('prefer') prefer: string | undefined,
    @Res({ passthrough: true }) response: unknown,
  ) {
    const cache = this.deviceCache(deviceId);
    return this.run(cache, 'flushDevice', prefer, response, (deleted) => ({ deleted }));
  }

  /** Where a job answered with 202 stands: running (keys so far), done, failed or abandoned. */
  @Get('cache-jobs/:jobId')
  async job(@Param('jobId') jobId: string): Promise<CacheJobStatus> {
    const status = await this.jobs.status(jobId);
    if (!status) {
      throw new NotFoundException(
        'No such cache job: the id is unknown, or the job ended over an hour ago.',
      );
    }
    return status;
  }

  private async run<T>(
    cache: ContextualCache,
    operation: CacheJobOperation,
    prefer: string | undefined,
    response: unknown,
    result: (keys: number) => T,
  ): Promise<T | CacheJobStatus> {
    const { waitMs, applied } = adminWaitFrom(prefer);
    const job = await this.jobs.run(cache, operation, { waitMs });
    const { httpAdapter } = this.adapterHost;
    if (applied) httpAdapter.setHeader(response, 'Preference-Applied', applied);
    if (job.state === 'done') return result(job.keys);
    httpAdapter.status(response, HttpStatus.ACCEPTED);
    httpAdapter.setHeader(response, 'Location', `/cache-jobs/${job.id}`);
    httpAdapter.setHeader(response, 'Retry-After', '1');
    return job;
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
