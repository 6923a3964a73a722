import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildInto, repoRoot as root } from './support/build';

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' });
}

describe('the package root export', () => {
  let outDir: string;

  beforeAll(() => {
    outDir = buildInto('package-exports');
  }, 120_000);

  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('points main, types and exports into dist/', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.main).toBe('dist/index.js');
    expect(pkg.types).toBe('dist/index.d.ts');
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(existsSync(join(outDir, 'index.js'))).toBe(true);
    expect(existsSync(join(outDir, 'index.d.ts'))).toBe(true);
  });

  it('gives the public API from the built entry point', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const api = require(join(outDir, 'index.js')) as Record<string, unknown>;
    const expected = [
      'RedisCacheModule',
      'RedisCache',
      'ContextualCache',
      'CurrentCache',
      'invalidContextBadRequest',
      'redisCacheOptionsFromEnv',
      'resolveRedisCacheOptions',
      'REDIS_CACHE_CLIENT',
      'REDIS_CACHE_MODULE_OPTIONS',
      'RedisCacheError',
      'InvalidCacheContextError',
      'InvalidCacheKeyError',
      'InvalidTtlError',
      'InvalidCacheValueError',
      'CacheUnavailableError',
      'MissingCacheContextError',
      'RedisCacheConfigError',
      'escapeGlob',
    ];
    for (const name of expected)
      expect({ name, defined: api[name] !== undefined }).toEqual({ name, defined: true });
    const { RedisCache } = api as {
      RedisCache: {
        inMemory(): { withContext(a: string, d: string): { keyFor(k: string): string } };
      };
    };
    expect(RedisCache.inMemory().withContext('clock', 'device123').keyFor('weather_data')).toBe(
      '/clock/device123/weather_data',
    );
  });

  it('leaves tests out of the build', () => {
    const files = filesUnder(outDir);
    expect(files.filter((file) => /\.spec\.|e2e-spec|^test\//.test(file))).toEqual([]);
  });
});
