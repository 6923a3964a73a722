import { BadRequestException } from '@nestjs/common';
import type { Frame } from '../rendering';
import type { AppCache } from '../cache/app-cache';

/** One query option an app understands. */
export interface AppOption {
  readonly name: string;
  readonly description: string;
  readonly default: string;
}

/** What an app gets for one render. */
export interface RenderInput {
  readonly deviceId: string;
  /** Every option of the app, defaults filled in, validated by `parseOptions`. */
  readonly options: Readonly<Record<string, string>>;
  readonly cache: AppCache;
  readonly now: Date;
}

/** A rendered frame and how long it stays fresh. */
export interface RenderOutput {
  readonly frame: Frame;
  readonly ttlSeconds: number;
}

/** An app of the built-in catalog: renders a 64x32 frame for a device. */
export abstract class CatalogApp {
  abstract readonly id: string;
  abstract readonly name: string;
  abstract readonly description: string;
  abstract readonly options: readonly AppOption[];

  abstract render(input: RenderInput): Promise<RenderOutput>;

  /** Throws `BadRequestException` naming the option when a value is not acceptable. */
  protected validateOption(_name: string, _value: string): void {}

  /** The app's options from a query string: known names only, defaults filled in, validated. */
  parseOptions(query: Readonly<Record<string, unknown>>): Record<string, string> {
    const options: Record<string, string> = {};
    for (const option of this.options) {
      const raw = query[option.name];
      if (raw !== undefined && typeof raw !== 'string') {
        throw badOption(option.name, 'give it once, as a single value');
      }
      const value = raw === undefined || raw === '' ? option.default : raw;
      this.validateOption(option.name, value);
      options[option.name] = value;
    }
    return options;
  }
}

/** HTTP 400 with a JSON body naming the option, like the cache's invalid-id answers. */
export function badOption(field: string, rule: string): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    message: `Invalid option ${field}: ${rule}.`,
    field,
  });
}
