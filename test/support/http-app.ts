import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';

export type HttpAdapterName = 'express' | 'fastify';
export const HTTP_ADAPTERS: HttpAdapterName[] = ['express', 'fastify'];

/**
 * A real Nest app on the chosen adapter, initialised and ready for supertest. Fastify limits route
 * params to 100 characters by default (414 beyond); ids may be 256 bytes, so the limit is raised.
 */
export async function createHttpApp(
  adapter: HttpAdapterName,
  metadata: ModuleMetadata,
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  if (adapter === 'fastify') {
    const app = moduleRef.createNestApplication<NestFastifyApplication>(
      new FastifyAdapter({ routerOptions: { maxParamLength: 1024 } }),
      {
        logger: false,
      },
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return app;
  }
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}
