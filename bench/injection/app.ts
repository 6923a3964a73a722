// One variant's Nest app, run as its own process by the injection benchmark:
//   node bench/dist/bench/injection/app.js --variant constructor-injected --adapter fastify \
//     --redis redis://127.0.0.1:6379
// Prints `READY {"port":…}` once it listens on 127.0.0.1, and exits on SIGTERM.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { readFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { dirname, join } from 'node:path';
import { Args } from '../support/args';
import { ALL_INJECTION_VARIANTS, HTTP_ADAPTERS, appModuleFor, variantSpec } from './variants';
import type { HttpAdapter, InjectionVariant } from './variants';

export interface AppReadyInfo {
  port: number;
  pid: number;
  node: string;
  /** The NestJS version the app runs on. */
  nest: string;
  variant: InjectionVariant;
  adapter: HttpAdapter;
}

/** The version of the `@nestjs/core` this process loaded (NestJS 12 exports no package.json). */
function nestVersion(): string {
  const manifest = join(dirname(require.resolve('@nestjs/core')), 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  const args = new Args([], ['variant', 'adapter', 'redis', 'port']);
  const [variant] = args.list('variant', [], ALL_INJECTION_VARIANTS);
  const [adapter] = args.list('adapter', ['fastify'], HTTP_ADAPTERS);
  if (!variant) throw new Error('Missing --variant');
  const module = appModuleFor(variant, args.required('redis'));

  const app: INestApplication =
    adapter === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter({ maxParamLength: 1024 }), {
          logger: false,
        })
      : await NestFactory.create(module, new ExpressAdapter(), { logger: false });
  await app.listen(Number(args.string('port') ?? 0), '127.0.0.1');

  const address = (app.getHttpServer() as Server).address() as AddressInfo;
  const { startupPath } = variantSpec(variant);
  if (startupPath) {
    const response = await fetch(`http://127.0.0.1:${address.port}${startupPath}`);
    if (!response.ok) throw new Error(`GET ${startupPath} answered ${response.status}`);
    await response.text();
  }
  const info: AppReadyInfo = {
    port: address.port,
    pid: process.pid,
    node: process.version,
    nest: nestVersion(),
    variant,
    adapter,
  };
  process.stdout.write(`READY ${JSON.stringify(info)}\n`);

  let closing = false;
  process.on('SIGTERM', () => {
    if (closing) return;
    closing = true;
    // Close so a --cpu-prof run writes its profile; exit regardless after a short grace.
    setTimeout(() => process.exit(0), 3000).unref();
    void app.close().finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
