import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { checkApp } from './check.js';

NestFactory.create(AppModule, { logger: ['error', 'warn'] })
  .then(checkApp)
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
