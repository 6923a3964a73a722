import type { Type } from '@nestjs/common';
import type { ContextualCache } from '../contextual-cache';
import { requestContextualCache } from './cache-context.storage';

/**
 * A controller as one request sees it: reading one of the properties that hold the injected
 * `ContextualCache` gives the request's cache; everything else (reads, writes, methods, getters)
 * goes to the controller itself. The handler runs with it as `this`, so the cache follows the
 * request through every `await` without an AsyncLocalStorage.
 *
 * A class rather than a literal handler: one small object per request, and no literal allocation
 * site for V8 to pretenure.
 */
export class RequestView implements ProxyHandler<object> {
  constructor(
    private readonly cache: ContextualCache,
    private readonly cacheProperties: ReadonlySet<PropertyKey>,
  ) {}

  get(target: object, property: PropertyKey, receiver: unknown): unknown {
    if (this.cacheProperties.has(property)) return this.cache;
    return Reflect.get(target, property, receiver);
  }
}

// `#name` members (native) and the helpers TypeScript and Babel compile them to: a proxy is not
// the object that owns them, so reading one through it throws.
const PRIVATE_MEMBERS = /#[\p{ID_Start}$_\\]|_class(?:Static)?Private/u;
// How far to look inside the controller's properties for a copy of the injected cache.
const SEARCH_DEPTH = 2;
const SEARCH_LIMIT = 500;
const KEYS_LIMIT = 1000;

/**
 * The controller's own properties that hold the injected `ContextualCache`, when a request view
 * gives the handlers everything they can reach it by; `undefined` when it may not:
 * - the class (or a base class) has `#private` members, which a proxy cannot read;
 * - the controller has functions or accessors of its own (arrow-function fields, bound methods):
 *   they keep the controller itself as `this`, not the view;
 * - a nested object holds the cache (say, a facade built in the constructor), out of the view's
 *   reach;
 * - no own property holds it (it is reached some other way).
 * Then the handlers run in an AsyncLocalStorage context instead.
 */
export function viewableCacheProperties(
  controller: Type,
  instance: object,
): ReadonlySet<PropertyKey> | undefined {
  if (usesPrivateMembers(controller)) return undefined;
  const properties = new Set<PropertyKey>();
  const seen = new Set<object>([instance]);
  for (const key of Reflect.ownKeys(instance)) {
    const descriptor = Reflect.getOwnPropertyDescriptor(instance, key);
    if (!descriptor || !('value' in descriptor)) return undefined;
    const value: unknown = descriptor.value;
    if (value === requestContextualCache) properties.add(key);
    else if (typeof value === 'function') return undefined;
    else if (holdsInjectedCache(value, SEARCH_DEPTH, seen)) return undefined;
  }
  return properties.size > 0 ? properties : undefined;
}

function usesPrivateMembers(controller: Type): boolean {
  for (
    let type: unknown = controller;
    typeof type === 'function' && type !== Function.prototype;
    type = Object.getPrototypeOf(type)
  ) {
    if (PRIVATE_MEMBERS.test(Function.prototype.toString.call(type))) return true;
  }
  return false;
}

/** Whether `value` or an object it holds (data properties only, no getters run) is the cache. */
function holdsInjectedCache(value: unknown, depth: number, seen: Set<object>): boolean {
  if (value === requestContextualCache) return true;
  if (depth === 0 || value === null || typeof value !== 'object' || seen.has(value)) return false;
  if (seen.size >= SEARCH_LIMIT) return false;
  seen.add(value);
  const keys = Reflect.ownKeys(value);
  if (keys.length > KEYS_LIMIT) return false;
  for (const key of keys) {
    const descriptor = Reflect.getOwnPropertyDescriptor(value, key);
    if (
      descriptor &&
      'value' in descriptor &&
      holdsInjectedCache(descriptor.value, depth - 1, seen)
    ) {
      return true;
    }
  }
  return false;
}
