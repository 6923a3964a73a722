import type { Logger } from '@nestjs/common';
import { RateLimitedLogger } from './rate-limited-logger';

describe('RateLimitedLogger', () => {
  let now: number;
  let warn: jest.Mock;
  let logger: RateLimitedLogger;

  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    warn = jest.fn();
    logger = new RateLimitedLogger({ warn } as unknown as Logger, 10_000);
  });

  afterEach(() => jest.restoreAllMocks());

  it('logs the first message of a topic as it is', () => {
    logger.warn('get:timeout', 'Redis get timed out');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenLastCalledWith('Redis get timed out');
  });

  it('holds back repeats within the interval and counts them in the next logged line', () => {
    logger.warn('get:timeout', 'first');
    now += 1_000;
    logger.warn('get:timeout', 'second');
    now += 5_000;
    logger.warn('get:timeout', 'third');
    now += 3_999;
    logger.warn('get:timeout', 'fourth');
    expect(warn).toHaveBeenCalledTimes(1);

    now += 1; // 10 s after the first line
    logger.warn('get:timeout', 'fifth');
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenLastCalledWith('fifth (3 more like it in the last 10 s)');
  });

  it('starts a new interval and a new count after each logged line', () => {
    logger.warn('t', 'one');
    now += 2_000;
    logger.warn('t', 'held');
    now += 10_000;
    logger.warn('t', 'two');
    expect(warn).toHaveBeenLastCalledWith('two (1 more like it in the last 12 s)');

    now += 9_999;
    logger.warn('t', 'held');
    expect(warn).toHaveBeenCalledTimes(2);
    now += 1;
    logger.warn('t', 'three');
    expect(warn).toHaveBeenCalledTimes(3);
    expect(warn).toHaveBeenLastCalledWith('three (1 more like it in the last 10 s)');
  });

  it('adds no count when nothing was held back', () => {
    logger.warn('t', 'one');
    now += 60_000;
    logger.warn('t', 'two');
    expect(warn.mock.calls).toEqual([['one'], ['two']]);
  });

  it('keeps topics independent', () => {
    logger.warn('get:timeout', 'get timed out');
    logger.warn('set:connection', 'set lost the connection');
    logger.warn('get:timeout', 'get timed out again');
    logger.warn('get:timeout', 'get timed out again');
    logger.warn('set:connection', 'set lost the connection again');
    expect(warn.mock.calls).toEqual([['get timed out'], ['set lost the connection']]);

    now += 10_000;
    logger.warn('set:connection', 'set still failing');
    logger.warn('get:timeout', 'get still failing');
    expect(warn.mock.calls.slice(2)).toEqual([
      ['set still failing (1 more like it in the last 10 s)'],
      ['get still failing (2 more like it in the last 10 s)'],
    ]);
  });

  it('defaults to a 10 s interval', () => {
    const defaultLogger = new RateLimitedLogger({ warn } as unknown as Logger);
    defaultLogger.warn('t', 'one');
    now += 9_999;
    defaultLogger.warn('t', 'held');
    expect(warn).toHaveBeenCalledTimes(1);
    now += 1;
    defaultLogger.warn('t', 'two');
    expect(warn).toHaveBeenLastCalledWith('two (1 more like it in the last 10 s)');
  });

  it('honours a custom interval', () => {
    const fast = new RateLimitedLogger({ warn } as unknown as Logger, 100);
    fast.warn('t', 'one');
    now += 50;
    fast.warn('t', 'held');
    now += 50;
    fast.warn('t', 'two');
    expect(warn.mock.calls).toEqual([['one'], ['two (1 more like it in the last 0 s)']]);
  });
});
