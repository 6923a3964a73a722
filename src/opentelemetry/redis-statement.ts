/** The arguments of a Redis command as the ioredis instrumentation hands them over. */
export type RedisCommandArguments = readonly unknown[];

export interface RedisStatementOptions {
  /**
   * Show the first argument (the key, for the cache's commands: `/{appId}/{deviceId}/{key}`, so
   * the device id too). Off by default, as the module's own `tracing.recordKey`.
   */
  recordKeys?: boolean;
}

/**
 * A `dbStatementSerializer` for `@opentelemetry/instrumentation-ioredis`: the command and a `?`
 * per argument (`get ?`, `set ? ? ? ?`), so `db.query.text` carries no key, device id or value.
 * The instrumentation's default shows the keys and SCAN patterns, which hold device ids.
 *
 *   new IORedisInstrumentation({ dbStatementSerializer: redisStatementSerializer() })
 */
export function redisStatementSerializer(
  options: RedisStatementOptions = {},
): (command: string, args: RedisCommandArguments) => string {
  const recordKeys = options.recordKeys === true;
  return (command, args) => {
    const shown = args.map((arg, i) =>
      recordKeys && i === 0 && (typeof arg === 'string' || Buffer.isBuffer(arg))
        ? arg.toString()
        : '?',
    );
    return [command, ...shown].join(' ');
  };
}
