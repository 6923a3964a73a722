import { Catch, HttpStatus } from '@nestjs/common';
import type { ArgumentsHost, ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { CacheUnavailableError } from 'nestjs-redis-app-cache';

/** A flush or count that Redis could not do answers 503, never a false success. */
@Catch(CacheUnavailableError)
export class CacheUnavailableFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(error: CacheUnavailableError, host: ArgumentsHost): void {
    const { httpAdapter } = this.adapterHost;
    const status = HttpStatus.SERVICE_UNAVAILABLE;
    httpAdapter.reply(
      host.switchToHttp().getResponse(),
      { statusCode: status, error: 'Service Unavailable', message: error.message },
      status,
    );
  }
}
