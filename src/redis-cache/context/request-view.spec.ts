import { RedisCache } from '../redis-cache';
import { requestContextualCache } from './cache-context.storage';
import { RequestView, viewableCacheProperties } from './request-view';

const injected = requestContextualCache;

class Plain {
  count = 0;
  constructor(
    readonly cache = injected,
    readonly other = injected,
    readonly settings = { ttl: 60 },
  ) {}

  get app() {
    return this.cache.appId;
  }

  bump() {
    this.count += 1;
    return this.cache.deviceId;
  }
}

describe('viewableCacheProperties', () => {
  it('lists every own property that holds the injected cache', () => {
    const instance = new Plain();
    expect(viewableCacheProperties(Plain, instance)).toEqual(new Set(['cache', 'other']));
  });

  it('declines a class with no property holding the cache', () => {
    class None {
      readonly settings = { ttl: 60 };
    }
    expect(viewableCacheProperties(None, new None())).toBeUndefined();
  });

  it('declines #private members, also in a base class and as compiled helpers', () => {
    class Native {
      #hidden = 1;
      constructor(readonly cache = injected) {}
      peek() {
        return this.#hidden;
      }
    }
    class Derived extends Native {}
    expect(viewableCacheProperties(Native, new Native())).toBeUndefined();
    expect(viewableCacheProperties(Derived, new Derived())).toBeUndefined();

    // What TypeScript emits for #private below ES2022: the helper's name is in the class body.
    const helper = (target: object) => target;
    class Compiled {
      constructor(readonly cache = injected) {}
      peek() {
        const __classPrivateFieldGet = helper;
        return __classPrivateFieldGet(this);
      }
    }
    expect(viewableCacheProperties(Compiled, new Compiled())).toBeUndefined();
  });

  it('declines own functions and accessors, which keep the controller as `this`', () => {
    class Arrow {
      readonly read = () => this.cache.get('k');
      constructor(readonly cache = injected) {}
    }
    expect(viewableCacheProperties(Arrow, new Arrow())).toBeUndefined();
    const withAccessor = new Plain();
    Object.defineProperty(withAccessor, 'lazy', { get: () => 1 });
    expect(viewableCacheProperties(Plain, withAccessor)).toBeUndefined();
  });

  it('declines a cache held by a nested object, and ignores caches held deeper', () => {
    class Nested {
      readonly facade = { inner: injected };
      constructor(readonly cache = injected) {}
    }
    expect(viewableCacheProperties(Nested, new Nested())).toBeUndefined();
    class Deep {
      readonly facade = { a: { b: { c: injected } } };
      constructor(readonly cache = injected) {}
    }
    expect(viewableCacheProperties(Deep, new Deep())).toEqual(new Set(['cache']));
  });
});

describe('RequestView', () => {
  const cache = RedisCache.inMemory().withContext('clock', 'dev1');

  it('gives the cache for the listed properties and the controller for the rest', () => {
    const instance = new Plain();
    const view = new Proxy<Plain>(instance, new RequestView(cache, new Set(['cache'])));
    expect(view.cache).toBe(cache);
    expect(view.other).toBe(injected);
    expect(view.settings).toBe(instance.settings);
    // Getters and methods run with the view as `this`.
    expect(view.app).toBe('clock');
    expect(view.bump()).toBe('dev1');
    // Writes land on the controller.
    expect(instance.count).toBe(1);
    expect(Object.prototype.hasOwnProperty.call(view, 'count')).toBe(true);
    expect(view instanceof Plain).toBe(true);
  });
});
