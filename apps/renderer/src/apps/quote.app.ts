import { Inject, Injectable } from '@nestjs/common';
import { Frame } from '../rendering';
import { drawWrapped } from './banner.app';
import { CatalogApp } from './catalog-app';
import type { RenderInput, RenderOutput } from './catalog-app';

/** Where the quote app gets its data: swap it for a real feed (or a counting fake in tests). */
export interface QuoteSource {
  fetchQuote(): Promise<string>;
}

export const QUOTE_SOURCE = Symbol('QUOTE_SOURCE');

/** A small built-in list, one quote after another. */
export class BuiltInQuotes implements QuoteSource {
  private next = 0;
  private readonly quotes = [
    'Simplicity is prerequisite for reliability.',
    'Make it work, make it right, make it fast.',
    'Premature optimization is the root of all evil.',
    'Cache invalidation is hard.',
  ];

  fetchQuote(): Promise<string> {
    const quote = this.quotes[this.next % this.quotes.length];
    this.next += 1;
    return Promise.resolve(quote);
  }
}

/** How long a fetched quote is reused, through the app cache. */
export const QUOTE_DATA_TTL_SECONDS = 120;

/** Shows a quote fetched from a `QuoteSource`, cached through the app cache like a Pixlet app. */
@Injectable()
export class QuoteApp extends CatalogApp {
  readonly id = 'quote';
  readonly name = 'Quote';
  readonly description =
    'A quote from a data source, fetched at most every two minutes per device.';
  readonly options = [] as const;

  constructor(@Inject(QUOTE_SOURCE) private readonly source: QuoteSource) {
    super();
  }

  async render({ cache }: RenderInput): Promise<RenderOutput> {
    let quote = await cache.get('quote');
    if (quote === null) {
      quote = await this.source.fetchQuote();
      await cache.set('quote', quote, QUOTE_DATA_TTL_SECONDS);
    }
    const frame = new Frame();
    drawWrapped(frame, quote, [200, 255, 200]);
    return { frame, ttlSeconds: 60 };
  }
}
