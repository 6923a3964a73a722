import { Injectable, NotFoundException } from '@nestjs/common';
import { BannerApp } from './banner.app';
import type { CatalogApp } from './catalog-app';
import { ClockApp } from './clock.app';
import { QuoteApp } from './quote.app';

/** Ids of the built-in apps: known before the apps are built, for the cache's metric labels. */
export const CATALOG_APP_IDS: readonly string[] = ['clock', 'banner', 'quote'];

/** The apps this service renders, by id. */
@Injectable()
export class AppCatalog {
  private readonly apps: ReadonlyMap<string, CatalogApp>;

  constructor(clock: ClockApp, banner: BannerApp, quote: QuoteApp) {
    this.apps = new Map([clock, banner, quote].map((app) => [app.id, app]));
    const ids = this.ids().join(',');
    if (ids !== CATALOG_APP_IDS.join(',')) {
      throw new Error(`CATALOG_APP_IDS (${CATALOG_APP_IDS.join(',')}) must list the apps: ${ids}`);
    }
  }

  /** Throws `NotFoundException` (404) naming the catalog for an unknown id. */
  get(appId: string): CatalogApp {
    const app = this.apps.get(appId);
    if (!app) {
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `Unknown app ${JSON.stringify(appId)}; GET /apps lists the catalog (${this.ids().join(', ')}).`,
        field: 'appId',
      });
    }
    return app;
  }

  ids(): string[] {
    return [...this.apps.keys()];
  }

  describe() {
    return [...this.apps.values()].map(({ id, name, description, options }) => ({
      id,
      name,
      description,
      options,
    }));
  }
}
