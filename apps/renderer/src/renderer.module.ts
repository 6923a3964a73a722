import { Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { RedisCacheModule } from 'nestjs-redis-app-cache';
import { RedisCacheHealthIndicator } from 'nestjs-redis-app-cache/terminus';
import { CacheAdminController } from './admin/cache-admin.controller';
import { AdminTokenGuard } from './admin/admin-token.guard';
import { AppCatalog, CATALOG_APP_IDS } from './apps/app-catalog';
import { BannerApp } from './apps/banner.app';
import { ClockApp } from './apps/clock.app';
import { BuiltInQuotes, QUOTE_SOURCE, QuoteApp } from './apps/quote.app';
import { RENDERER_CONFIG } from './config/renderer-config.provider';
import type { RendererConfig } from './config/renderer.config';
import { HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';
import { RenderController } from './render/render.controller';
import { RenderService } from './render/render.service';

/** The renderer service: the app catalog, its render route, cache administration and health. */
@Module({})
export class RendererModule {
  static forConfig(config: RendererConfig): DynamicModule {
    return {
      module: RendererModule,
      imports: [
        // The catalog's apps get their own `app` label in the key counts; any other id is "other".
        RedisCacheModule.forRoot({
          ...config.cache,
          metrics: { ...config.cache.metrics, apps: [...CATALOG_APP_IDS] },
        }),
        TerminusModule.forRoot({ logger: false }),
      ],
      controllers: [RenderController, CacheAdminController, HealthController, MetricsController],
      providers: [
        { provide: RENDERER_CONFIG, useValue: config },
        { provide: QUOTE_SOURCE, useClass: BuiltInQuotes },
        ClockApp,
        BannerApp,
        QuoteApp,
        AppCatalog,
        RenderService,
        AdminTokenGuard,
        RedisCacheHealthIndicator,
      ],
    };
  }
}
