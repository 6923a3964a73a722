export * from './redis-cache.errors';
