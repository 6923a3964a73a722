import { RedisCacheConfigError } from 'nestjs-redis-app-cache';
import {
  RENDERER_CONFIG_DEFAULTS,
  RendererConfigError,
  rendererConfigFromEnv,
} from './renderer.config';

describe('rendererConfigFromEnv', () => {
  it('uses the defaults and the memory store for an empty environment', () => {
    const config = rendererConfigFromEnv({});
    expect(config).toMatchObject({
      port: RENDERER_CONFIG_DEFAULTS.port,
      host: '0.0.0.0',
      adminToken: undefined,
      shutdownTimeoutMs: 10_000,
      readinessTimeoutMs: 500,
      logLevels: ['fatal', 'error', 'warn', 'log'],
    });
    expect(config.cache.store).toBe('memory');
  });

  it('reads every variable, and the cache settings through redisCacheOptionsFromEnv', () => {
    const config = rendererConfigFromEnv({
      PORT: '9000',
      HOST: '127.0.0.1',
      CACHE_ADMIN_TOKEN: 'a-token-of-20-chars!',
      SHUTDOWN_TIMEOUT_MS: '2500',
      READINESS_TIMEOUT_MS: '250',
      LOG_LEVEL: 'warn',
      REDIS_ADDR: 'redis:6379',
      REDIS_DB: '2',
    });
    expect(config).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
      adminToken: 'a-token-of-20-chars!',
      shutdownTimeoutMs: 2500,
      readinessTimeoutMs: 250,
      logLevels: ['fatal', 'error', 'warn'],
      cache: { store: 'redis', host: 'redis', port: 6379, db: 2 },
    });
  });

  it('treats empty values as unset', () => {
    expect(rendererConfigFromEnv({ PORT: '', CACHE_ADMIN_TOKEN: '' })).toMatchObject({
      port: 8080,
      adminToken: undefined,
    });
  });

  it.each([
    ['PORT', 'http', 'expected a port number from 0 to 65535, got "http"'],
    ['PORT', '70000', 'expected a port number from 0 to 65535, got "70000"'],
    ['SHUTDOWN_TIMEOUT_MS', '5s', 'expected a whole number of milliseconds from 100 to 600000'],
    ['READINESS_TIMEOUT_MS', '0', 'expected a whole number of milliseconds from 10 to 60000'],
    ['LOG_LEVEL', 'info', 'expected one of fatal, error, warn, log, debug, verbose, got "info"'],
  ])('names %s when it is %j', (name, value, expected) => {
    expect(() => rendererConfigFromEnv({ [name]: value })).toThrow(RendererConfigError);
    expect(() => rendererConfigFromEnv({ [name]: value })).toThrow(
      `Environment variable ${name}: ${expected}`,
    );
  });

  it('rejects a short admin token without showing it', () => {
    expect(() => rendererConfigFromEnv({ CACHE_ADMIN_TOKEN: 'hunter2' })).toThrow(
      'Environment variable CACHE_ADMIN_TOKEN: expected a bearer token of at least 16 characters, got 7 characters.',
    );
  });

  it('passes the cache variables’ errors through', () => {
    expect(() => rendererConfigFromEnv({ REDIS_DB: 'abc' })).toThrow(RedisCacheConfigError);
  });
});
