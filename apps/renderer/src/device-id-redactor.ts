import type { Context } from '@opentelemetry/api';
import type { Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/** The attributes the HTTP and NestJS instrumentations put the request's URL in. */
const URL_ATTRIBUTES = ['url.path', 'url.full', 'http.target', 'http.url'] as const;

/** `/apps/clock/devices/<id>/render` → `/apps/clock/devices/:deviceId/render`. */
export function withoutDeviceIds(url: string): string {
  return url.replace(/\/devices\/[^/?#]+/g, '/devices/:deviceId');
}

/**
 * Keeps device ids out of exported spans: the HTTP server span and Nest's request span carry the
 * request's URL, and every renderer route has the device id in its path. Rewritten as each span
 * starts (the instrumentations set these attributes when they start their spans), before any
 * exporter sees it. The cache's own spans and the Redis spans keep ids out by themselves.
 */
export class DeviceIdRedactor implements SpanProcessor {
  onStart(span: Span, _parentContext: Context): void {
    for (const name of URL_ATTRIBUTES) {
      const value = span.attributes[name];
      if (typeof value === 'string') span.setAttribute(name, withoutDeviceIds(value));
    }
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
