// What `npm pack` would publish: the library's build only, with types, sourcemaps that carry their
// sources, README and LICENSE; peer dependencies for what the application brings. Packed from a
// copy of the manifest beside a fresh build, so dist/ is never touched.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildInto, repoRoot as root } from './support/build';

interface PackedFile {
  path: string;
}

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

describe('the published package', () => {
  let staging: string;
  let files: string[];

  beforeAll(() => {
    const dist = buildInto('package-exports');
    staging = `${dist}-staging`;
    mkdirSync(staging);
    renameSync(dist, join(staging, 'dist'));
    for (const file of ['package.json', 'README.md', 'LICENSE'])
      copyFileSync(join(root, file), join(staging, file));
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: staging,
      encoding: 'utf8',
    });
    files = (JSON.parse(out) as [{ files: PackedFile[] }])[0].files.map((file) => file.path);
  }, 180_000);

  afterAll(() => rmSync(staging, { recursive: true, force: true }));

  it('is publishable, built before packing, and says which Node it is tested on', () => {
    expect(manifest.private).toBeUndefined();
    expect(manifest.license).toBe('MIT');
    // prepare, not prepack: npm runs only prepare when it installs the package from git.
    expect(manifest.scripts.prepare).toMatch(/build/);
    expect(manifest.engines.node).toMatch(/^>=\d+/);
  });

  it('ships the build, README and LICENSE and nothing else', () => {
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    const others = files.filter(
      (file) =>
        !['LICENSE', 'README.md', 'package.json'].includes(file) && !file.startsWith('dist/'),
    );
    expect(others).toEqual([]);
    expect(files.filter((file) => /\.spec\.|e2e-spec|tsbuildinfo/.test(file))).toEqual([]);
    expect(files.filter((file) => /renderer|bench|main\.js|tracing\.js$/.test(file))).toEqual([]);
  });

  it('has a file for each export, with its types', () => {
    for (const [entry, target] of Object.entries<unknown>(manifest.exports)) {
      if (typeof target === 'string') {
        expect({ entry, shipped: files.includes(target.replace(/^\.\//, '')) }).toEqual({
          entry,
          shipped: true,
        });
        continue;
      }
      const { types, default: main } = target as { types: string; default: string };
      for (const file of [types, main])
        expect({ entry, file, shipped: files.includes(file.replace(/^\.\//, '')) }).toEqual({
          entry,
          file,
          shipped: true,
        });
    }
    expect(Object.keys(manifest.exports)).toEqual([
      '.',
      './terminus',
      './opentelemetry',
      './package.json',
    ]);
    // TypeScript's node10 resolution (what `nest new` sets up) reads typesVersions, not exports.
    for (const entry of ['terminus', 'opentelemetry'])
      expect(manifest.typesVersions['*'][entry]).toEqual([manifest.exports[`./${entry}`].types]);
  });

  it('ships sourcemaps that carry their sources (src/ is not published)', () => {
    const maps = files.filter((file) => file.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(20);
    for (const file of maps) {
      const map = JSON.parse(readFileSync(join(staging, file), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      const complete =
        map.sourcesContent?.length === map.sources.length &&
        map.sourcesContent.every((content) => typeof content === 'string' && content.length > 0);
      expect({ file, complete }).toEqual({ file, complete: true });
    }
  });

  it('leaves Nest, ioredis, prom-client and OpenTelemetry to the application as peers', () => {
    const peers = manifest.peerDependencies as Record<string, string>;
    expect(peers['@nestjs/common']).toBe('^11.0.0 || ^12.0.0');
    expect(peers['@nestjs/core']).toBe('^11.0.0 || ^12.0.0');
    for (const name of ['ioredis', 'prom-client', '@opentelemetry/api', 'reflect-metadata', 'rxjs'])
      expect({ name, peer: name in peers }).toEqual({ name, peer: true });
    expect(manifest.peerDependenciesMeta['@nestjs/terminus']).toEqual({ optional: true });
    const runtime = Object.keys(manifest.dependencies as Record<string, string>);
    expect(runtime.filter((name) => name in peers || name.startsWith('@nestjs/'))).toEqual([]);
  });

  it('gives the public API from the built entry points', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const api = require(join(staging, 'dist', 'index.js')) as Record<string, unknown>;
    const expected = [
      'RedisCacheModule',
      'RedisCache',
      'ContextualCache',
      'CurrentCache',
      'InjectRedisClient',
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
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const health = require(join(staging, 'dist', 'health', 'index.js')) as Record<string, unknown>;
    expect(typeof health.RedisCacheHealthIndicator).toBe('function');
    // The tracing entry loads no other package (no ioredis, no Nest): a tracing file runs before
    // them, so that instrumentations can patch them as they load. In a process of its own.
    const loaded = execFileSync(
      process.execPath,
      [
        '-e',
        `const otel = require(${JSON.stringify(join(staging, 'dist', 'opentelemetry', 'index.js'))});
         if (typeof otel.redisStatementSerializer !== 'function') throw new Error('no serializer');
         console.log(JSON.stringify(Object.keys(require.cache)));`,
      ],
      { encoding: 'utf8' },
    );
    const loadedFiles = JSON.parse(loaded) as string[];
    expect(loadedFiles.filter((file) => !file.startsWith(staging))).toEqual([]);
    const { RedisCache } = api as {
      RedisCache: {
        inMemory(): { withContext(a: string, d: string): { keyFor(k: string): string } };
      };
    };
    expect(RedisCache.inMemory().withContext('clock', 'device123').keyFor('weather_data')).toBe(
      '/clock/device123/weather_data',
    );
  });
});
