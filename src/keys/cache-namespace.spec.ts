import fc from 'fast-check';
import { assertValidContextId, normalizeKey } from './cache-key';
import { escapeGlob, namespaceMatcher, namespaceMatchPattern } from './cache-namespace';

const latin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/**
 * Redis's MATCH (stringmatchlen) for the patterns this module builds: `*`, `?` and `\` escapes,
 * byte for byte. An unescaped `[` would mean a bad escape, so it fails the test.
 */
function redisGlobMatches(pattern: string, text: string): boolean {
  const p = latin1(pattern);
  const s = latin1(text);
  const match = (pi: number, si: number): boolean => {
    while (pi < p.length) {
      const c = p[pi];
      if (c === '*') {
        while (p[pi + 1] === '*') pi++;
        if (pi + 1 === p.length) return true;
        for (let k = si; k <= s.length; k++) if (match(pi + 1, k)) return true;
        return false;
      }
      if (c === '[') throw new Error(`unescaped "[" in pattern ${JSON.stringify(pattern)}`);
      if (si >= s.length) return false;
      if (c === '?') {
        pi++;
        si++;
        continue;
      }
      if (c === '\\' && pi + 1 < p.length) pi++;
      if (p[pi] !== s[si]) return false;
      pi++;
      si++;
    }
    return si === s.length;
  };
  return match(0, 0);
}

const GLOB_AND_EDGE_CHARACTERS = ['*', '?', '[', ']', '\\', '^', '-', '!', '_', 'd', 'é', '😀'];

/** Characters of ids and keys: any code point, with glob characters and "/" made common. */
const character = fc.oneof(
  fc.constantFrom(...GLOB_AND_EDGE_CHARACTERS),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);

const isValidId = (id: string) => {
  try {
    assertValidContextId('appId', id);
    return true;
  } catch {
    return false;
  }
};

/** Valid app or device ids: no "/", no control characters, at most 256 bytes. */
const contextId = fc
  .string({ unit: character, minLength: 1, maxLength: 12 })
  .map((id) => id.replaceAll('/', ''))
  .filter(isValidId);

/** Raw keys, "/" included: they are normalized the way the cache does. */
const rawKey = fc.string({
  unit: fc.oneof(character, fc.constant('/')),
  minLength: 1,
  maxLength: 16,
});

/** An id different from `id`, often one that shares a prefix or suffix with it (`d` and `dd`). */
const otherIdThan = (id: string) =>
  fc
    .oneof(
      contextId,
      contextId.map((extra) => id + extra),
      contextId.map((extra) => extra + id),
      fc.constant(id.slice(0, -1)),
      fc.constant(id.slice(1)),
    )
    .filter((other) => other !== id && isValidId(other));

const keyOf = (appId: string, deviceId: string, key: string) =>
  `/${appId}/${deviceId}/${normalizeKey(key)}`;

describe('namespaceMatchPattern', () => {
  it('is /{app}/{device}/* for one app on one device', () => {
    expect(namespaceMatchPattern({ appId: 'clock', deviceId: 'device123' })).toBe(
      '/clock/device123/*',
    );
  });

  it('is /*/{device}/* for every app on one device', () => {
    expect(namespaceMatchPattern({ deviceId: 'device123' })).toBe('/*/device123/*');
  });

  it('escapes glob characters in the ids', () => {
    expect(namespaceMatchPattern({ appId: 'a*', deviceId: 'd?[x]\\' })).toBe(
      '/a\\*/d\\?\\[x\\]\\\\/*',
    );
    expect(namespaceMatchPattern({ deviceId: '*' })).toBe('/*/\\*/*');
  });

  it('matches (with Redis glob rules) every key of its namespace', () => {
    fc.assert(
      fc.property(contextId, contextId, rawKey, (appId, deviceId, key) => {
        const redisKey = keyOf(appId, deviceId, key);
        expect(redisGlobMatches(namespaceMatchPattern({ appId, deviceId }), redisKey)).toBe(true);
        expect(redisGlobMatches(namespaceMatchPattern({ deviceId }), redisKey)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('matches (with Redis glob rules) no key of another device, even with glob characters in the ids', () => {
    fc.assert(
      fc.property(
        contextId,
        contextId.chain((deviceId) => fc.tuple(fc.constant(deviceId), otherIdThan(deviceId))),
        rawKey,
        (appId, [deviceId, otherDevice], key) => {
          const redisKey = keyOf(appId, otherDevice, key);
          expect(redisGlobMatches(namespaceMatchPattern({ appId, deviceId }), redisKey)).toBe(
            false,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('uses escapes Redis reads back as the literal text', () => {
    fc.assert(
      fc.property(fc.string({ unit: character, maxLength: 12 }), (text) => {
        expect(redisGlobMatches(escapeGlob(text), text)).toBe(true);
        expect(redisGlobMatches(escapeGlob(text), `${text}x`)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('matches a glob-looking device id literally', () => {
    const pattern = namespaceMatchPattern({ appId: 'app', deviceId: '*' });
    expect(redisGlobMatches(pattern, '/app/*/k')).toBe(true);
    expect(redisGlobMatches(pattern, '/app/device1/k')).toBe(false);
  });
});

describe('namespaceMatcher', () => {
  describe('examples', () => {
    const forDevice = namespaceMatcher({ deviceId: 'd' });
    const forAppOnDevice = namespaceMatcher({ appId: 'a', deviceId: 'd' });

    it('matches /{app}/{device}/{key} keys', () => {
      expect(forDevice('/a/d/k')).toBe(true);
      expect(forDevice('/other/d/k')).toBe(true);
      expect(forAppOnDevice('/a/d/k')).toBe(true);
    });

    it.each(['/a/b/d/k', '//d/k', '/a/d/k/x', 'a/d/k', '/a/dd/k', '/a/d', '/d/k', ''])(
      'does not match %j for device d',
      (key) => {
        expect(forDevice(key)).toBe(false);
        expect(forAppOnDevice(key)).toBe(false);
      },
    );

    it('does not match another app on the same device', () => {
      expect(forAppOnDevice('/b/d/k')).toBe(false);
      expect(forAppOnDevice('/aa/d/k')).toBe(false);
      expect(forAppOnDevice('//d/k')).toBe(false);
    });

    it('matches the empty key part, which only a foreign writer could produce', () => {
      expect(forDevice('/a/d/')).toBe(true);
      expect(forAppOnDevice('/a/d/')).toBe(true);
    });

    it('treats glob characters in the ids literally', () => {
      expect(namespaceMatcher({ deviceId: '*' })('/a/*/k')).toBe(true);
      expect(namespaceMatcher({ deviceId: '*' })('/a/d/k')).toBe(false);
      expect(namespaceMatcher({ appId: '?', deviceId: 'd' })('/x/d/k')).toBe(false);
    });
  });

  describe('properties', () => {
    // With and without the latin1 encoding the Redis store uses to compare bytes.
    const encodings: [string, (text: string) => string][] = [
      ['as text', (text) => text],
      ['as latin1 bytes', latin1],
    ];

    describe.each(encodings)('%s', (_, encode) => {
      const matcherFor = (namespace: { appId?: string; deviceId: string }) => {
        const matches = namespaceMatcher(namespace, encode);
        return (key: string) => matches(encode(key));
      };

      it('matches every key of its own namespace, by app and device and by device', () => {
        fc.assert(
          fc.property(contextId, contextId, rawKey, (appId, deviceId, key) => {
            const redisKey = keyOf(appId, deviceId, key);
            expect(matcherFor({ appId, deviceId })(redisKey)).toBe(true);
            expect(matcherFor({ deviceId })(redisKey)).toBe(true);
          }),
          { numRuns: 500 },
        );
      });

      it('never matches a key of another device', () => {
        fc.assert(
          fc.property(
            contextId,
            contextId.chain((deviceId) => fc.tuple(fc.constant(deviceId), otherIdThan(deviceId))),
            rawKey,
            (appId, [deviceId, otherDevice], key) => {
              const redisKey = keyOf(appId, deviceId, key);
              expect(matcherFor({ appId, deviceId: otherDevice })(redisKey)).toBe(false);
              expect(matcherFor({ deviceId: otherDevice })(redisKey)).toBe(false);
            },
          ),
          { numRuns: 500 },
        );
      });

      it('never matches a key of another app', () => {
        fc.assert(
          fc.property(
            contextId.chain((appId) => fc.tuple(fc.constant(appId), otherIdThan(appId))),
            contextId,
            rawKey,
            ([appId, otherApp], deviceId, key) => {
              expect(matcherFor({ appId: otherApp, deviceId })(keyOf(appId, deviceId, key))).toBe(
                false,
              );
            },
          ),
          { numRuns: 500 },
        );
      });

      it('never matches a key with an extra "/" segment', () => {
        fc.assert(
          fc.property(contextId, contextId, contextId, rawKey, (appId, middle, deviceId, key) => {
            // "/a/b/d/k": device d under a nested app, or app a with device b and a key with "/".
            const nested = `/${appId}/${middle}/${deviceId}/${normalizeKey(key)}`;
            expect(matcherFor({ deviceId })(nested)).toBe(false);
            expect(matcherFor({ appId, deviceId: middle })(nested)).toBe(false);
          }),
          { numRuns: 500 },
        );
      });
    });
  });
});
