import { Logger } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { RedisCache, RedisCacheConfigError } from 'nestjs-redis-app-cache';
import { RendererConfigError, rendererConfigFromEnv } from './config/renderer.config';
import type { RendererConfig } from './config/renderer.config';
import { RendererModule } from './renderer.module';

/**
 * Fastify: measured faster than Express for this module's routes (docs/benchmarks-core.md).
 * Ids may be 256 bytes (768 characters percent-encoded); Fastify's default limit is 100.
 */
export function rendererAdapter(): FastifyAdapter {
  return new FastifyAdapter({ routerOptions: { maxParamLength: 1024 } });
}

export async function createRendererApp(config: RendererConfig): Promise<NestFastifyApplication> {
  return NestFactory.create<NestFastifyApplication>(
    RendererModule.forConfig(config),
    rendererAdapter(),
    { logger: config.logLevels },
  );
}

/**
 * Runs the service from the environment: a bad setting stops the start with one line naming the
 * variable; SIGTERM or SIGINT stop accepting, let requests in flight finish, close the cache, and
 * exit 0 (1 when draining took longer than SHUTDOWN_TIMEOUT_MS).
 */
export async function startRenderer(
  env: NodeJS.ProcessEnv = process.env,
  tracing?: Flushable,
): Promise<void> {
  const logger = new Logger('Renderer');
  let config: RendererConfig;
  try {
    config = rendererConfigFromEnv(env);
  } catch (error) {
    if (error instanceof RendererConfigError || error instanceof RedisCacheConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const app = await createRendererApp(config);
  await app.listen(config.port, config.host);
  const { port } = app.getHttpServer().address() as AddressInfo;
  const shown = config.host === '0.0.0.0' ? 'localhost' : config.host;
  logger.log(
    `Listening on http://${shown}:${port} (cache: ${app.get(RedisCache).storeDescription}); try http://${shown}:${port}/apps/clock/devices/my-device/render`,
  );
  stopOnSignals(app, config.shutdownTimeoutMs, logger, tracing);
}

/** Something to flush on the way out (the OpenTelemetry SDK and its pending spans). */
export interface Flushable {
  shutdown(): Promise<void>;
}

function stopOnSignals(
  app: INestApplication,
  timeoutMs: number,
  logger: Logger,
  tracing: Flushable | undefined,
): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: finishing requests in flight, then stopping`);
    setTimeout(() => {
      logger.error(`Requests still running after ${timeoutMs} ms; exiting anyway`);
      process.exit(1);
    }, timeoutMs).unref();
    app
      .close()
      .then(() => tracing?.shutdown())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error(`Shutdown failed: ${String(error)}`);
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
