// fast-check arbitraries for hostile cache input: ids, keys, TTLs and values chosen to break glob
// escaping, namespace matching, byte limits and the Redis protocol. The rules they model are the
// documented ones (README, error messages), written out here rather than imported from src, so a
// property compares the cache against the documentation and not against itself.
import fc from 'fast-check';
import type { Arbitrary } from 'fast-check';

/** Longest app or device id, in UTF-8 bytes (documented). */
export const MAX_ID_BYTES = 256;

/** Special to Redis MATCH globs: `* ? [ ] \` everywhere, `^ -` inside a `[...]` class. */
export const GLOB_CHARACTERS = ['*', '?', '[', ']', '\\', '^', '-'] as const;

/** Cluster hash-tag braces, URL escapes, separators and spaces. */
export const PUNCTUATION = ['{', '}', '{}', '%', '%2F', ':', ' ', '.', '_', '$', '!'] as const;

/**
 * Unicode that changes length or meaning between encodings: combining marks, astral characters
 * (surrogate pairs in JS, 4 bytes in UTF-8), ZWJ sequences, invisible and non-character code points,
 * the first printable after the C1 controls (U+00A0), and pairs that look alike or fold alike.
 */
export const UNICODE_CHARACTERS = [
  'é',
  'e\u0301',
  '\u0301',
  'ß',
  'İ',
  'ı',
  '中',
  '😀',
  '👩\u200d👩\u200d👧',
  '\u{1d11e}',
  '\u{10ffff}',
  '\ufeff',
  '\u200b',
  '\u2028',
  '\u00a0',
  '\ufffd',
  '\uffff',
  'Ω',
  '\u2126',
] as const;

/** A tiny alphabet, so generated ids often equal, prefix or extend each other (`d`, `dd`, `da`). */
const PLAIN_CHARACTERS = ['d', 'a', 'x', '1'] as const;

/** C0, DEL and C1 controls: forbidden in ids, allowed in keys. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Characters allowed in keys but not in ids. */
export const KEY_ONLY_CHARACTERS = [
  '/',
  '//',
  '\u0000',
  '\r\n',
  '\n',
  '\t',
  '\u007f',
  '\u0085',
] as const;

export const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** The documented id rules: a non-empty well-formed string of <= 256 bytes, no `/`, no control. */
export function isValidId(id: unknown): id is string {
  return (
    typeof id === 'string' &&
    id.length > 0 &&
    !id.includes('/') &&
    !CONTROL.test(id) &&
    id.isWellFormed() &&
    utf8Bytes(id) <= MAX_ID_BYTES
  );
}

/** The documented key rules: a non-empty well-formed string of at most `maxKeyBytes` bytes. */
export function isValidKey(key: unknown, maxKeyBytes: number): key is string {
  return (
    typeof key === 'string' && key.length > 0 && key.isWellFormed() && utf8Bytes(key) <= maxKeyBytes
  );
}

/** Any single code point that may appear in an id (fast-check's whole Unicode range, filtered). */
const anyIdCodePoint = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 1 })
  .filter((char) => isValidId(char));

/** One "character" of an id: often a glob or special character, often from a tiny alphabet. */
export const idCharacter: Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...GLOB_CHARACTERS) },
  { weight: 2, arbitrary: fc.constantFrom(...PUNCTUATION) },
  { weight: 4, arbitrary: fc.constantFrom(...PLAIN_CHARACTERS) },
  { weight: 2, arbitrary: fc.constantFrom(...UNICODE_CHARACTERS) },
  { weight: 1, arbitrary: anyIdCodePoint },
);

/** One "character" of a key: anything an id may hold, plus `/` and control characters. */
export const keyCharacter: Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: idCharacter },
  { weight: 2, arbitrary: fc.constantFrom(...KEY_ONLY_CHARACTERS) },
);

/**
 * A string of exactly `targetBytes` UTF-8 bytes: `pieces` repeated while they fit, then padded with
 * `x`. So near-limit strings mix 1- to 4-byte characters instead of being all ASCII.
 */
export function fillToBytes(pieces: readonly string[], targetBytes: number): string {
  let text = '';
  let bytes = 0;
  for (let i = 0; pieces.length > 0 && i < targetBytes; i++) {
    const piece = pieces[i % pieces.length];
    const size = utf8Bytes(piece);
    if (size === 0 || bytes + size > targetBytes) break;
    text += piece;
    bytes += size;
  }
  return text + 'x'.repeat(targetBytes - bytes);
}

/** Strings of `character`s whose UTF-8 length is `maxBytes - slack`, slack in 0..`maxSlack`. */
export function nearByteLimit(
  character: Arbitrary<string>,
  maxBytes: number,
  maxSlack = 3,
): Arbitrary<string> {
  return fc
    .tuple(
      fc.array(character, { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 0, max: Math.min(maxSlack, maxBytes - 1) }),
    )
    .map(([pieces, slack]) => fillToBytes(pieces, maxBytes - slack));
}

/** A valid id of at most `maxBytes` bytes: usually short and glob-heavy, sometimes at the limit. */
export function hostileId(maxBytes = MAX_ID_BYTES): Arbitrary<string> {
  return fc
    .oneof(
      { weight: 8, arbitrary: fc.array(idCharacter, { minLength: 1, maxLength: 6 }).map(join) },
      { weight: 1, arbitrary: nearByteLimit(idCharacter, maxBytes) },
    )
    .filter((id) => isValidId(id) && utf8Bytes(id) <= maxBytes);
}

/** Code points, so slicing never splits a surrogate pair. */
const codePoints = (text: string): string[] => [...text];
const join = (parts: readonly string[]): string => parts.join('');

/**
 * A valid id related to `base` in a way a sloppy namespace check would confuse with it: `base`
 * doubled or extended (`d` -> `dd`, `d*`), shortened, a glob that matches it (`*`, `?`, `[d]`,
 * `\d`), or the same text under another Unicode normalization or case.
 */
export function relatedId(base: string, maxBytes = MAX_ID_BYTES): Arbitrary<string> {
  const chars = codePoints(base);
  const first = chars[0];
  const transforms: string[] = [
    base + base,
    `${base}*`,
    `*${base}`,
    `${base}?`,
    '*',
    '?',
    '?'.repeat(chars.length),
    `[${first}]`,
    `[^${first}]`,
    `[${first}-${first}]${join(chars.slice(1))}`,
    `[${join(chars)}]`,
    chars.map((char) => `\\${char}`).join(''),
    join(chars.slice(0, -1)),
    join(chars.slice(1)),
    `${join(chars.slice(0, -1))}*`,
    `${join(chars.slice(0, -1))}?`,
    `${base}\\`,
    `${base} `,
    `{${base}}`,
    base.normalize('NFC'),
    base.normalize('NFD'),
    base.toUpperCase(),
    base.toLowerCase(),
  ];
  return fc
    .oneof(
      { weight: 4, arbitrary: fc.constantFrom(...transforms) },
      { weight: 1, arbitrary: idCharacter.map((char) => base + char) },
      { weight: 1, arbitrary: idCharacter.map((char) => char + base) },
    )
    .filter((id) => isValidId(id) && utf8Bytes(id) <= maxBytes);
}

/** An id: `base` itself, or one related to it. */
export function sameOrRelatedId(base: string, maxBytes = MAX_ID_BYTES): Arbitrary<string> {
  return fc.oneof(fc.constant(base), relatedId(base, maxBytes));
}

/** A valid key: short and full of `/`, `_`, globs and controls, or near `maxKeyBytes`. */
export function hostileKey(maxKeyBytes: number): Arbitrary<string> {
  return fc
    .oneof(
      { weight: 8, arbitrary: fc.array(keyCharacter, { minLength: 1, maxLength: 6 }).map(join) },
      { weight: 1, arbitrary: fc.constantFrom('/', '_', '//', '/_/', '*', '\u0000') },
      { weight: 1, arbitrary: nearByteLimit(keyCharacter, maxKeyBytes) },
    )
    .filter((key) => isValidKey(key, maxKeyBytes));
}

/** The documented `/` -> `_` rule. */
export const normalizeKey = (key: string): string => key.replaceAll('/', '_');

/** Another spelling of `key` that names the same cache entry: some `/` and `_` swapped. */
export function aliasOf(key: string): Arbitrary<string> {
  const units = key.split('');
  return fc
    .array(fc.boolean(), { minLength: units.length, maxLength: units.length })
    .map((flips) =>
      units
        .map((unit, i) => (flips[i] && (unit === '/' || unit === '_') ? swapSlash(unit) : unit))
        .join(''),
    );
}
const swapSlash = (unit: string) => (unit === '/' ? '_' : '/');

// ---- TTLs ----

/** TTLs the cache accepts: omitted, 0 (the default), whole seconds, and huge ones it clamps. */
export const validTtl: Arbitrary<number | undefined> = fc.oneof(
  fc.constantFrom(undefined, 0, -0, 1, 2),
  fc.integer({ min: 1, max: 100_000 }),
  fc.constantFrom(
    2 ** 31,
    2 ** 32 + 1,
    2 ** 53 - 1,
    2 ** 53,
    1e21,
    1e300,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_VALUE,
  ),
);

/** Valid TTLs long enough that nothing expires while a property runs. */
export const lastingTtl: Arbitrary<number | undefined> = validTtl.filter(
  (ttl) => ttl === undefined || ttl === 0 || ttl >= 600,
);

/** What a TTL must be rejected for: negative, fractional, NaN, infinite, or not a number at all. */
export const invalidTtl: Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -1_000_000, max: -1 }),
  fc.constantFrom(
    -1,
    -0.5,
    0.5,
    1.5,
    59.999,
    Number.EPSILON,
    Number.MIN_VALUE,
    -Number.MAX_VALUE,
    NaN,
    Infinity,
    -Infinity,
    -(2 ** 53),
  ),
  fc.double({ noInteger: true }),
  fc.constantFrom('60', '', '0', '1e3', ' 60', 'Infinity', null, true, false, 60n, [60], {}),
  fc.constant(Symbol('ttl')),
  fc.constant(new Date(0)),
  // Boxed 60: a number to `==`, an object to `typeof`.
  fc.constant(Object(60) as unknown),
);

// ---- values ----

/** Byte sequences no UTF-8 decoder accepts: overlong, truncated, surrogates, 0xFE/0xFF, CESU. */
export const INVALID_UTF8: readonly Buffer[] = [
  [0xc3, 0x28],
  [0xff],
  [0xfe, 0xff],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0x80],
  [0xf0, 0x9f, 0x98],
].map((bytes) => Buffer.from(bytes));

const ALL_BYTES = Array.from({ length: 256 }, (_, i) => i);

/** Values meant to survive byte for byte: binary of every byte value and any well-formed string. */
export function hostileValue(maxBytes: number): Arbitrary<string | Buffer> {
  return fc
    .oneof(
      fc.constantFrom<string | Buffer>('', Buffer.alloc(0), '\u0000', Buffer.from([0])),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      fc
        .shuffledSubarray(ALL_BYTES, { minLength: 256, maxLength: 256 })
        .map((bytes) => Buffer.from(bytes)),
      fc
        .array(fc.constantFrom(...INVALID_UTF8), { minLength: 1, maxLength: 8 })
        .map((parts) => Buffer.concat(parts)),
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.array(keyCharacter, { maxLength: 30 }).map(join),
      nearByteLimit(keyCharacter, maxBytes, 4),
      fc
        .integer({ min: Math.max(0, maxBytes - 4), max: maxBytes })
        .chain((size) => fc.uint8Array({ minLength: size, maxLength: size }))
        .map((bytes) => Buffer.from(bytes)),
    )
    .filter((value) => byteLengthOf(value) <= maxBytes);
}

/** Stored size of a value: strings as UTF-8. */
export const byteLengthOf = (value: string | Buffer): number =>
  typeof value === 'string' ? utf8Bytes(value) : value.length;

/**
 * Values over `maxBytes`: just over and far over, as Buffers, ASCII strings, and multi-byte
 * strings whose UTF-16 length is under the limit but whose UTF-8 length is not.
 */
export function oversizedValue(maxBytes: number): Arbitrary<string | Buffer> {
  return fc
    .oneof(
      fc
        .integer({ min: maxBytes + 1, max: maxBytes * 3 })
        .map((size) => Buffer.alloc(size, 0xff) as string | Buffer),
      fc.integer({ min: 1, max: 8 }).map((over) => 'v'.repeat(maxBytes + over)),
      fc
        .tuple(
          fc.constantFrom('é', '€', '😀', 'e\u0301', '\u{10ffff}'),
          fc.integer({ min: 1, max: 4 }),
        )
        .map(([char, over]) => fillToBytes([char], maxBytes + over)),
      nearByteLimit(keyCharacter, maxBytes + 4, 3),
    )
    .filter((value) => byteLengthOf(value) > maxBytes);
}

/** Values of the wrong type for `set` (it takes a string or a Buffer). */
export const nonValue: Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, undefined, true, 0, 42, NaN, 1n, [], [1, 2], {}, { length: 3 }),
  fc.integer(),
  fc.double(),
  fc.uint8Array({ maxLength: 8 }).map((bytes) => bytes as unknown), // a Uint8Array is not a Buffer
  fc.constant(new ArrayBuffer(4)),
  fc.constant(Object('boxed') as unknown),
  fc.constant(Symbol('value')),
  fc.constant(() => 'value'),
  fc.constant(new Map([['k', 'v']])),
);

/** Values `setJson` cannot serialize: no JSON form, BigInt inside, or a cycle. */
export const nonJsonValue: Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(undefined, 1n, { n: 1n }, [1n], Symbol('json'), () => 1),
  fc.constant(null).map(cyclicObject),
  fc.constant(null).map(() => ({
    toJSON() {
      throw new Error('toJSON refuses');
    },
  })),
);

// ---- invalid ids and keys ----

/** An object `JSON.stringify` throws on: it refers to itself. */
export function cyclicObject(): Record<string, unknown> {
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  return cycle;
}

/**
 * Not a string: what a loose caller might pass as an id or a key, including what `String()` or
 * `JSON.stringify` would choke on (a BigInt, a cycle, a throwing `toJSON`) should an error message
 * try to quote it.
 */
export const nonString: Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, undefined, 0, 1, NaN, true, [], ['d'], {}),
  fc.integer(),
  fc.bigInt(),
  fc.constant(Object('d') as unknown),
  fc.constant(Buffer.from('d')),
  fc.constant(Symbol('d')),
  fc.constant({ toString: () => 'd' }),
  fc.constant(null).map(cyclicObject),
  fc.constant(null).map(() => ({
    toJSON(): never {
      throw new Error('toJSON refuses');
    },
  })),
);

const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff', '\udc00\ud800', '\ud83d'] as const;
const C0_C1_CONTROLS = fc
  .oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f }))
  .map((code) => String.fromCharCode(code));

/** Splices `inner` into `base` at a generated position. */
const spliced = (base: string, inner: Arbitrary<string>): Arbitrary<string> =>
  fc
    .tuple(inner, fc.integer({ min: 0, max: base.length }))
    .map(([text, at]) => base.slice(0, at) + text + base.slice(at));

/**
 * Ids every rule of which is broken at least once; string ones are built around `base` (a valid id,
 * so what a test writes stays recognisable). Over-long ones start just over the limit.
 */
export function invalidId(base: string): Arbitrary<unknown> {
  const overLimit = fc
    .tuple(
      fc.constantFrom('x', 'é', '€', '😀', 'e\u0301'),
      fc.integer({ min: MAX_ID_BYTES + 1, max: MAX_ID_BYTES + 8 }),
    )
    .map(([char, bytes]) => fillToBytes([base, char], bytes));
  return fc
    .oneof(
      nonString,
      fc.constant(''),
      spliced(base, fc.constantFrom('/', '//', '/*', '\\/')),
      spliced(base, C0_C1_CONTROLS),
      // Filtered: "\udc00\ud800" spliced into a surrogate pair makes two well-formed pairs.
      spliced(base, fc.constantFrom(...LONE_SURROGATES)),
      overLimit,
      fc.constant('x'.repeat(100_000)),
    )
    .filter((id) => !isValidId(id));
}

/** Keys breaking a rule: not a string, empty, a lone surrogate, or over `maxKeyBytes`. */
export function invalidKey(base: string, maxKeyBytes: number): Arbitrary<unknown> {
  const overLimit = fc
    .tuple(
      fc.constantFrom('k', '/', 'é', '€', '😀', '\u0000'),
      fc.integer({ min: maxKeyBytes + 1, max: maxKeyBytes + 6 }),
    )
    .map(([char, bytes]) => fillToBytes([base, char], bytes));
  return fc
    .oneof(
      nonString,
      fc.constant(''),
      spliced(base, fc.constantFrom(...LONE_SURROGATES)),
      overLimit,
      nearByteLimit(keyCharacter, maxKeyBytes * 2),
    )
    .filter((key) => !isValidKey(key, maxKeyBytes));
}
