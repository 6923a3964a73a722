import { InvalidTtlError } from './errors/redis-cache.errors';
import { TtlPolicy } from './cache-ttl';

describe('TtlPolicy', () => {
  const policy = new TtlPolicy(60, 3600);

  it('uses the default TTL when none is given, or 0', () => {
    expect(policy.resolve()).toBe(60);
    expect(policy.resolve(undefined)).toBe(60);
    expect(policy.resolve(0)).toBe(60);
    expect(policy.resolve(-0)).toBe(60);
  });

  it('keeps a TTL from 1 up to the maximum', () => {
    expect(policy.resolve(1)).toBe(1);
    expect(policy.resolve(300)).toBe(300);
    expect(policy.resolve(3600)).toBe(3600);
  });

  it('clamps a longer TTL to the maximum', () => {
    expect(policy.resolve(3601)).toBe(3600);
    expect(policy.resolve(Number.MAX_SAFE_INTEGER)).toBe(3600);
  });

  it('exposes its settings', () => {
    expect(policy.defaultTtlSeconds).toBe(60);
    expect(policy.maxTtlSeconds).toBe(3600);
  });

  it.each<[unknown, string]>([
    [-1, '-1'],
    [1.5, '1.5'],
    [-0.5, '-0.5'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
    ['60', '"60"'],
    [null, 'null'],
    [true, 'true'],
    [{}, 'object'],
  ])('rejects %p with InvalidTtlError', (ttl, shown) => {
    let thrown: unknown;
    try {
      policy.resolve(ttl as number);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidTtlError);
    expect((thrown as InvalidTtlError).ttlSeconds).toBe(ttl);
    expect((thrown as InvalidTtlError).message).toBe(
      `Invalid TTL ${shown}: ttlSeconds must be a whole number of seconds >= 0 ` +
        `(0 or omitted means the default TTL).`,
    );
  });
});
