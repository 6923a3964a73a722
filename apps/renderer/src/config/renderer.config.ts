import type { LogLevel } from '@nestjs/common';
import { z } from 'zod';
import { redisCacheOptionsFromEnv } from 'nestjs-redis-app-cache';
import type { RedisCacheModuleOptions } from 'nestjs-redis-app-cache';

type Env = Record<string, string | undefined>;

/** Defaults of the renderer's own settings (the cache's are the module's). */
export const RENDERER_CONFIG_DEFAULTS = {
  port: 8080,
  host: '0.0.0.0',
  shutdownTimeoutMs: 10_000,
  readinessTimeoutMs: 500,
  logLevel: 'log',
} as const;

/** Nest's log levels from the most to the least severe; `LOG_LEVEL` keeps that one and those above. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;

/** The renderer service's settings, read once at start. */
export interface RendererConfig {
  readonly port: number;
  readonly host: string;
  /** Bearer token for the cache admin routes; `undefined` turns them off (403). */
  readonly adminToken: string | undefined;
  /** How long SIGTERM waits for requests in flight before the process exits anyway. */
  readonly shutdownTimeoutMs: number;
  /** How long `/health/ready` waits for Redis to answer PING. */
  readonly readinessTimeoutMs: number;
  /** The log levels Nest prints (`LOG_LEVEL` and every more severe one). */
  readonly logLevels: LogLevel[];
  readonly cache: RedisCacheModuleOptions;
}

/** A setting the service cannot start with; the message names the variable and what it expects. */
export class RendererConfigError extends Error {
  override readonly name = 'RendererConfigError';
}

const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .refine((n) => n >= min && n <= max);

const VARIABLES = {
  PORT: { schema: wholeNumber(0, 65535), expected: 'a port number from 0 to 65535' },
  HOST: { schema: z.string().min(1), expected: 'an address to listen on, such as 0.0.0.0' },
  CACHE_ADMIN_TOKEN: {
    schema: z.string().min(16),
    expected: 'a bearer token of at least 16 characters',
  },
  SHUTDOWN_TIMEOUT_MS: {
    schema: wholeNumber(100, 600_000),
    expected: 'a whole number of milliseconds from 100 to 600000',
  },
  LOG_LEVEL: {
    schema: z.enum(LOG_LEVELS),
    expected: `one of ${LOG_LEVELS.join(', ')}`,
  },
  READINESS_TIMEOUT_MS: {
    schema: wholeNumber(10, 60_000),
    expected: 'a whole number of milliseconds from 10 to 60000',
  },
} as const;

type Variable = keyof typeof VARIABLES;

function read<V extends Variable>(
  env: Env,
  name: V,
): z.output<(typeof VARIABLES)[V]['schema']> | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const { schema, expected } = VARIABLES[name];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const shown = name === 'CACHE_ADMIN_TOKEN' ? `${raw.length} characters` : JSON.stringify(raw);
    throw new RendererConfigError(
      `Environment variable ${name}: expected ${expected}, got ${shown}.`,
    );
  }
  return parsed.data as z.output<(typeof VARIABLES)[V]['schema']>;
}

/**
 * The renderer's settings from the environment: `PORT`, `HOST`, `CACHE_ADMIN_TOKEN`,
 * `SHUTDOWN_TIMEOUT_MS`, `READINESS_TIMEOUT_MS`, `LOG_LEVEL`, and the cache's (`redisCacheOptionsFromEnv`).
 * Empty values count as unset. Throws on the first bad value, naming the variable.
 */
export function rendererConfigFromEnv(env: Env = process.env): RendererConfig {
  return {
    port: read(env, 'PORT') ?? RENDERER_CONFIG_DEFAULTS.port,
    host: read(env, 'HOST') ?? RENDERER_CONFIG_DEFAULTS.host,
    adminToken: read(env, 'CACHE_ADMIN_TOKEN'),
    shutdownTimeoutMs:
      read(env, 'SHUTDOWN_TIMEOUT_MS') ?? RENDERER_CONFIG_DEFAULTS.shutdownTimeoutMs,
    readinessTimeoutMs:
      read(env, 'READINESS_TIMEOUT_MS') ?? RENDERER_CONFIG_DEFAULTS.readinessTimeoutMs,
    logLevels: levelsFrom(read(env, 'LOG_LEVEL') ?? RENDERER_CONFIG_DEFAULTS.logLevel),
    cache: redisCacheOptionsFromEnv(env),
  };
}

function levelsFrom(level: (typeof LOG_LEVELS)[number]): LogLevel[] {
  return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(level) + 1);
}
