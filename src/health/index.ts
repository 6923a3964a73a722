// `nestjs-redis-app-cache/terminus`: apart from the main entry so that @nestjs/terminus stays optional.
export { RedisCacheHealthIndicator } from './redis-cache.health-indicator';
export type { RedisCacheHealthCheckOptions } from './redis-cache.health-indicator';
