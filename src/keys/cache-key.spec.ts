import fc from 'fast-check';
import { InvalidCacheContextError, InvalidCacheKeyError } from '../errors/redis-cache.errors';
import { assertValidContextId, MAX_CONTEXT_ID_BYTES, normalizeKey } from './cache-key';
import { escapeGlob, namespacePrefix } from './cache-namespace';

/** The error `assertValidContextId(field, id)` throws; fails the test when it does not throw one. */
function contextErrorOf(field: 'appId' | 'deviceId', id: unknown): InvalidCacheContextError {
  try {
    assertValidContextId(field, id);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCacheContextError);
    return error as InvalidCacheContextError;
  }
  throw new Error(`expected ${field} ${JSON.stringify(id)} to be rejected`);
}

describe('escapeGlob', () => {
  it.each([
    ['*', '\\*'],
    ['?', '\\?'],
    ['[', '\\['],
    [']', '\\]'],
    ['\\', '\\\\'],
  ])('escapes %j', (text, escaped) => {
    expect(escapeGlob(text)).toBe(escaped);
  });

  it('escapes every glob character in a longer text', () => {
    expect(escapeGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
    expect(escapeGlob('**')).toBe('\\*\\*');
  });

  it('leaves every other character alone', () => {
    const plain = 'device-123_ab.c^!{x,y}$()+|/:é😀 ';
    expect(escapeGlob(plain)).toBe(plain);
    expect(escapeGlob('')).toBe('');
  });
});

describe('assertValidContextId', () => {
  it.each(['clock', 'device123', 'a', 'a*b?[c]\\', 'é😀', 'with space', 'x'.repeat(256)])(
    'accepts %j',
    (id) => {
      expect(() => assertValidContextId('appId', id)).not.toThrow();
    },
  );

  it('accepts exactly 256 UTF-8 bytes of multi-byte characters', () => {
    expect(Buffer.byteLength('é'.repeat(128))).toBe(256);
    expect(() => assertValidContextId('deviceId', 'é'.repeat(128))).not.toThrow();
    expect(Buffer.byteLength('😀'.repeat(64))).toBe(256);
    expect(() => assertValidContextId('deviceId', '😀'.repeat(64))).not.toThrow();
    expect(MAX_CONTEXT_ID_BYTES).toBe(256);
  });

  it.each<['appId' | 'deviceId', unknown, string]>([
    ['appId', '', 'it is empty'],
    ['deviceId', '', 'it is empty'],
    ['appId', 'a/b', 'it contains "/"'],
    ['deviceId', '/', 'it contains "/"'],
    ['appId', 'a\u0000b', 'it contains a control character'],
    ['appId', 'tab\there', 'it contains a control character'],
    ['deviceId', 'line\n', 'it contains a control character'],
    ['deviceId', '\u001f', 'it contains a control character'],
    ['appId', 'del\u007f', 'it contains a control character'],
    ['deviceId', '\u0080', 'it contains a control character'],
    ['appId', 'c1\u009f', 'it contains a control character'],
    ['appId', 'x'.repeat(257), 'it is 257 bytes long, over 256'],
    ['deviceId', 'é'.repeat(129), 'it is 258 bytes long, over 256'],
    ['deviceId', '€'.repeat(86), 'it is 258 bytes long, over 256'],
    ['appId', 'a\ud800', 'it is not well-formed Unicode (lone surrogate)'],
    ['deviceId', '\udc00b', 'it is not well-formed Unicode (lone surrogate)'],
    ['appId', 42, 'expected a string, got number'],
    ['deviceId', undefined, 'expected a string, got undefined'],
    ['deviceId', null, 'expected a string, got object'],
  ])('rejects %s %j: %s', (field, id, rule) => {
    const error = contextErrorOf(field, id);
    expect(error.field).toBe(field);
    expect(error.rule).toBe(rule);
    expect(error.message).toBe(
      `Invalid ${field}: ${rule}. The ${field} must be a non-empty string of at most 256 bytes ` +
        `with no "/" and no control characters.`,
    );
  });

  it('accepts the characters just outside the control ranges', () => {
    expect(() => assertValidContextId('appId', ' ~\u00a0\u00ff')).not.toThrow();
  });

  // The quick test for common ids must accept exactly what the rules accept.
  it('accepts an id exactly when it follows every rule (property)', () => {
    const followsRules = (id: string) =>
      id.length > 0 &&
      !id.includes('/') &&
      // eslint-disable-next-line no-control-regex
      !/[\u0000-\u001f\u007f-\u009f]/.test(id) &&
      id.isWellFormed() &&
      Buffer.byteLength(id) <= MAX_CONTEXT_ID_BYTES;
    const accepts = (id: string) => {
      try {
        assertValidContextId('appId', id);
        return true;
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidCacheContextError);
        return false;
      }
    };
    const unit = fc.oneof(
      fc.constantFrom('/', '\u0000', '\u001f', '\u007f', '\u009f', '\u00a0', '\ud800', '\udc00'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(unit, { maxLength: 90 }).map((units) => units.join('')),
          fc.string({ unit: 'binary', minLength: 80, maxLength: 300 }),
        ),
        (id) => {
          expect(accepts(id)).toBe(followsRules(id));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('namespacePrefix', () => {
  it('is /{appId}/{deviceId}/', () => {
    expect(namespacePrefix('clock', 'device123')).toBe('/clock/device123/');
  });
});

describe('normalizeKey', () => {
  it('replaces every "/" with "_"', () => {
    expect(normalizeKey('portfolio/AAPL')).toBe('portfolio_AAPL');
    expect(normalizeKey('/a//b/')).toBe('_a__b_');
  });

  it('keeps a key without "/" as it is', () => {
    expect(normalizeKey('weather_data')).toBe('weather_data');
    expect(normalizeKey('*?[]\\ é😀\n')).toBe('*?[]\\ é😀\n');
  });

  it.each<[unknown, string]>([
    ['', 'it is empty'],
    ['a\ud800', 'it is not well-formed Unicode (lone surrogate)'],
    [undefined, 'expected a string, got undefined'],
    [7, 'expected a string, got number'],
  ])('rejects %j: %s', (key, rule) => {
    let thrown: unknown;
    try {
      normalizeKey(key);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidCacheKeyError);
    expect((thrown as InvalidCacheKeyError).rule).toBe(rule);
    expect((thrown as InvalidCacheKeyError).message).toBe(
      `Invalid cache key: ${rule}. A key must be a non-empty, well-formed string within the maxKeyBytes limit.`,
    );
  });
});
