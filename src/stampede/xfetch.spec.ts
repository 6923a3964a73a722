import { shouldRefreshEarly } from './xfetch';

describe('shouldRefreshEarly (XFetch)', () => {
  it('never refreshes without a measured recompute time or a remaining TTL', () => {
    expect(shouldRefreshEarly(0, 1000, 1, () => 1e-9)).toBe(false);
    expect(shouldRefreshEarly(100, 0, 1, () => 1e-9)).toBe(false);
    expect(shouldRefreshEarly(100, -2, 1, () => 1e-9)).toBe(false);
  });

  it('refreshes exactly when -delta * beta * ln(random) reaches the remaining time', () => {
    // -100 * ln(e^-2) = 200
    const draw = () => Math.exp(-2);
    expect(shouldRefreshEarly(100, 199, 1, draw)).toBe(true);
    expect(shouldRefreshEarly(100, 200, 1, draw)).toBe(true);
    expect(shouldRefreshEarly(100, 201, 1, draw)).toBe(false);
    expect(shouldRefreshEarly(100, 399, 2, draw)).toBe(true);
    expect(shouldRefreshEarly(100, 401, 2, draw)).toBe(false);
  });

  it('gets likelier as the expiry nears: the share of early refreshes follows exp(-remaining / delta)', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const share = (remainingMs: number) => {
      let refreshes = 0;
      for (let i = 0; i < 20_000; i++)
        if (shouldRefreshEarly(100, remainingMs, 1, random)) refreshes++;
      return refreshes / 20_000;
    };
    for (const remainingMs of [10, 100, 300]) {
      expect(share(remainingMs)).toBeCloseTo(Math.exp(-remainingMs / 100), 1);
    }
    expect(share(2_000)).toBeLessThan(0.001);
  });
});
