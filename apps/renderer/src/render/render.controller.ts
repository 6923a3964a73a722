import { Controller, Get, Header, Query, Res } from '@nestjs/common';
import { ContextualCache, CurrentCache } from 'nestjs-redis-app-cache';
import { AppCatalog } from '../apps/app-catalog';
import { RenderService } from './render.service';

/** What both adapters' responses offer for setting a header. */
interface HeaderSetter {
  header(name: string, value: string): unknown;
}

@Controller()
export class RenderController {
  constructor(
    private readonly catalog: AppCatalog,
    private readonly renders: RenderService,
  ) {}

  @Get('apps')
  list() {
    return { apps: this.catalog.describe() };
  }

  /** The app's 64x32 PNG for the device; `X-Cache: HIT` when the image came from the cache. */
  @Get('apps/:appId/devices/:deviceId/render')
  @Header('Cache-Control', 'no-store')
  async render(
    @CurrentCache() cache: ContextualCache,
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: HeaderSetter,
  ): Promise<Buffer> {
    const { png, hit } = await this.renders.render(cache.appId, cache, query);
    // Set here, not with @Header(): an error answer must stay JSON.
    response.header('Content-Type', 'image/png');
    response.header('X-Cache', hit ? 'HIT' : 'MISS');
    return png;
  }
}
