import { BadRequestException } from '@nestjs/common';
import { RedisCache } from 'nestjs-redis-app-cache';
import { AppCache } from '../cache/app-cache';
import { BannerApp } from './banner.app';
import { ClockApp } from './clock.app';
import { QuoteApp } from './quote.app';
import type { QuoteSource } from './quote.app';

const quietLogger = { warn: () => undefined };

function optionError(run: () => unknown): { field: string; message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return (error as BadRequestException).getResponse() as { field: string; message: string };
  }
  throw new Error('expected a BadRequestException');
}

/** Pixels that differ from the background, as "x,y". */
function inked(frame: {
  width: number;
  height: number;
  getPixel(x: number, y: number): readonly number[];
}) {
  const points: string[] = [];
  for (let y = 0; y < frame.height; y++) {
    for (let x = 0; x < frame.width; x++)
      if (frame.getPixel(x, y).some((v) => v !== 0)) points.push(`${x},${y}`);
  }
  return points;
}

describe('catalog apps', () => {
  const redisCache = RedisCache.inMemory();
  const cache = new AppCache(redisCache.withContext('app', 'dev'), quietLogger);
  const input = (options: Record<string, string>, now = new Date('2026-11-25T10:15:42Z')) => ({
    deviceId: 'dev',
    options,
    cache,
    now,
  });

  afterAll(() => redisCache.close());

  it('parses known options only, fills defaults, and refuses repeated values', () => {
    const banner = new BannerApp();
    expect(banner.parseOptions({ text: 'Hi', other: 'x' })).toEqual({
      text: 'Hi',
      color: 'ffffff',
    });
    expect(banner.parseOptions({ text: '' })).toEqual({ text: 'Hello!', color: 'ffffff' });
    expect(optionError(() => banner.parseOptions({ text: ['a', 'b'] })).field).toBe('text');
  });

  it('names the banner option that is wrong', () => {
    const banner = new BannerApp();
    expect(optionError(() => banner.parseOptions({ color: 'red' }))).toMatchObject({
      field: 'color',
      message: 'Invalid option color: 6 hex digits such as ff8800, got "red".',
    });
    expect(optionError(() => banner.parseOptions({ text: 'x'.repeat(121) })).field).toBe('text');
  });

  it('draws the banner text in its colour, more lines for a longer text', async () => {
    const banner = new BannerApp();
    const short = await banner.render(input({ text: 'Hi', color: 'ff0000' }));
    const long = await banner.render(
      input({ text: 'one two three four five six', color: 'ff0000' }),
    );
    const red = inked(short.frame).map((p) =>
      short.frame.getPixel(...(p.split(',').map(Number) as [number, number])),
    );
    expect(red.length).toBeGreaterThan(0);
    expect(red.every(([r, g, b]) => r === 255 && g === 0 && b === 0)).toBe(true);
    const rows = (frame: typeof short.frame) =>
      new Set(inked(frame).map((p) => p.split(',')[1])).size;
    expect(rows(long.frame)).toBeGreaterThan(rows(short.frame));
    expect(short.ttlSeconds).toBe(300);
  });

  it('keeps the clock fresh until the next minute and refuses an unknown time zone', async () => {
    const clock = new ClockApp();
    const rendered = await clock.render(input(clock.parseOptions({ tz: 'Asia/Tokyo' })));
    expect(rendered.ttlSeconds).toBe(18);
    expect(inked(rendered.frame).length).toBeGreaterThan(0);
    expect(optionError(() => clock.parseOptions({ tz: 'Nowhere/Special' })).field).toBe('tz');
  });

  it('draws a different clock face for another time zone', async () => {
    const clock = new ClockApp();
    const utc = await clock.render(input({ tz: 'UTC' }));
    const tokyo = await clock.render(input({ tz: 'Asia/Tokyo' }));
    expect(inked(tokyo.frame)).not.toEqual(inked(utc.frame));
  });

  it('fetches a quote once and then reads it from the app cache', async () => {
    let fetches = 0;
    const source: QuoteSource = { fetchQuote: () => Promise.resolve(`quote ${++fetches}`) };
    const app = new QuoteApp(source);
    await app.render(input({}));
    await app.render(input({}));
    expect(fetches).toBe(1);
    await expect(cache.get('quote')).resolves.toBe('quote 1');
  });
});
