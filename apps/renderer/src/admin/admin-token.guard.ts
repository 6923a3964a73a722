import { createHash, timingSafeEqual } from 'node:crypto';
import { ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { RENDERER_CONFIG } from '../config/renderer-config.provider';
import type { RendererConfig } from '../config/renderer.config';

/**
 * Lets a request through with `Authorization: Bearer <CACHE_ADMIN_TOKEN>`. Without a configured
 * token the admin routes are off: 403 saying how to turn them on.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(@Inject(RENDERER_CONFIG) config: RendererConfig) {
    this.expected = config.adminToken === undefined ? undefined : digest(config.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) {
      throw new ForbiddenException(
        'Cache administration is disabled. Set CACHE_ADMIN_TOKEN (at least 16 characters) and send it as "Authorization: Bearer <token>".',
      );
    }
    const header = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>()
      .headers.authorization;
    const token = typeof header === 'string' ? /^Bearer (.+)$/i.exec(header)?.[1] : undefined;
    // Compare digests, so the comparison takes the same time whatever the length or content.
    if (token === undefined || !timingSafeEqual(digest(token), this.expected)) {
      throw new UnauthorizedException(
        'A valid "Authorization: Bearer <token>" header is required.',
      );
    }
    return true;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
