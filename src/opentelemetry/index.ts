// `nestjs-redis-app-cache/opentelemetry`: what an application's tracing set-up needs from this
// package. Apart from the main entry, which loads ioredis and Nest: a tracing file runs before
// them, so that the instrumentations can patch them as they load.
export { redisStatementSerializer } from './redis-statement';
export type { RedisCommandArguments, RedisStatementOptions } from './redis-statement';
