import { ConsoleLogger, Logger } from '@nestjs/common';
import type { LoggerService } from '@nestjs/common';

export interface CapturedLine {
  level: 'log' | 'warn' | 'error' | 'debug' | 'verbose' | 'fatal';
  message: string;
}

/**
 * Routes every Nest Logger to an array for the test to inspect; `restore()` puts the default back.
 * A testing module installs its own logger when it compiles: pass `logger` to its `setLogger()`.
 */
export function captureLogs(): {
  lines: CapturedLine[];
  logger: LoggerService;
  text: () => string;
  restore: () => void;
} {
  const lines: CapturedLine[] = [];
  const record =
    (level: CapturedLine['level']) =>
    (message: unknown, ...rest: unknown[]) =>
      lines.push({ level, message: [message, ...rest].map(String).join(' ') });
  const logger: LoggerService = {
    log: record('log'),
    warn: record('warn'),
    error: record('error'),
    debug: record('debug'),
    verbose: record('verbose'),
    fatal: record('fatal'),
  };
  Logger.overrideLogger(logger);
  return {
    lines,
    logger,
    text: () => lines.map((line) => `${line.level}: ${line.message}`).join('\n'),
    restore: () => {
      Logger.overrideLogger(new ConsoleLogger());
    },
  };
}
