/** The keys a flush or a count covers: one app on one device, or every app on one device. */
export interface CacheNamespace {
  /** Omitted: every app of the device. */
  readonly appId?: string;
  readonly deviceId: string;
}

/** `/{appId}/{deviceId}/`: every key of one context starts with it. */
export function namespacePrefix(appId: string, deviceId: string): string {
  return `/${appId}/${deviceId}/`;
}

/** Escapes the glob characters of Redis MATCH (`\ * ? [ ]`) so an id matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]]/g, '\\$&');
}

/** SCAN MATCH pattern for a namespace, with the ids glob-escaped. */
export function namespaceMatchPattern({ appId, deviceId }: CacheNamespace): string {
  return appId === undefined
    ? `/*/${escapeGlob(deviceId)}/*`
    : `${escapeGlob(namespacePrefix(appId, deviceId))}*`;
}

const SLASH = 47;

/**
 * Exact membership test applied to every key SCAN returns. MATCH's `*` also matches `/`, so it can
 * return keys of another shape (`/a/b/d/k` for device `d`); this check keeps a flush or a count to
 * keys shaped `/{app}/{device}/{key}` with no further `/`.
 *
 * `encode` maps ids into the same representation as the keys tested (for Redis, Buffers read as
 * latin1 so the comparison is byte for byte).
 */
export function namespaceMatcher(
  { appId, deviceId }: CacheNamespace,
  encode: (text: string) => string = (text) => text,
): (key: string) => boolean {
  if (appId !== undefined) {
    const prefix = encode(namespacePrefix(appId, deviceId));
    return (key) => key.startsWith(prefix) && key.indexOf('/', prefix.length) === -1;
  }
  const deviceSegment = encode(`/${deviceId}/`);
  return (key) => {
    if (key.charCodeAt(0) !== SLASH) return false;
    const appEnd = key.indexOf('/', 1);
    return (
      appEnd > 1 &&
      key.startsWith(deviceSegment, appEnd) &&
      key.indexOf('/', appEnd + deviceSegment.length) === -1
    );
  };
}

/** MATCH pattern of every key shaped like a cache key (`/{app}/{device}/{key}`). */
export const ANY_CACHE_KEY_PATTERN = '/*/*/*';

/**
 * The app id of a key shaped `/{app}/{device}/{key}` (exactly three slashes), else undefined: other
 * keys in the same database are not the cache's.
 */
export function appOfKey(key: string): string | undefined {
  if (key.charCodeAt(0) !== SLASH) return undefined;
  const appEnd = key.indexOf('/', 1);
  if (appEnd <= 1) return undefined;
  const deviceEnd = key.indexOf('/', appEnd + 1);
  if (deviceEnd <= appEnd + 1 || key.indexOf('/', deviceEnd + 1) !== -1) return undefined;
  return key.slice(1, appEnd);
}
