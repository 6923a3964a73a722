import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import { checkApp } from './check.js';

NestFactory.create(AppModule, new FastifyAdapter(), { logger: ['error', 'warn'] })
  .then(checkApp)
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
