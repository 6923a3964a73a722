import { Injectable } from '@nestjs/common';
import { Frame } from '../rendering';
import { CatalogApp, badOption } from './catalog-app';
import type { RenderInput, RenderOutput } from './catalog-app';

const TIME_COLOR = [255, 200, 80] as const;
const DATE_COLOR = [120, 160, 255] as const;

/** The time and date in the `tz` time zone; fresh until the next minute starts. */
@Injectable()
export class ClockApp extends CatalogApp {
  readonly id = 'clock';
  readonly name = 'Clock';
  readonly description = 'The time and date in a time zone.';
  readonly options = [
    { name: 'tz', description: 'IANA time zone, such as Europe/Berlin', default: 'UTC' },
  ] as const;

  protected override validateOption(name: string, value: string): void {
    if (name !== 'tz') return;
    try {
      new Intl.DateTimeFormat('en-GB', { timeZone: value });
    } catch {
      throw badOption('tz', `${JSON.stringify(value)} is not an IANA time zone`);
    }
  }

  render({ options, now }: RenderInput): Promise<RenderOutput> {
    const timeZone = options.tz;
    const time = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).format(now);
    const date = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
    })
      .format(now)
      .replace(',', '')
      .toUpperCase();
    const frame = new Frame();
    frame.drawTextCentered(time, 6, TIME_COLOR);
    frame.drawTextCentered(date, 19, DATE_COLOR);
    const secondsLeft = 60 - now.getUTCSeconds();
    return Promise.resolve({ frame, ttlSeconds: Math.max(1, secondsLeft) });
  }
}
