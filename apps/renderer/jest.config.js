// The renderer's unit specs (src, *.spec.ts) and end-to-end suites (test/) on a real Redis. The
// library resolves to its sources; the suites that run the built service build it themselves.
const { join } = require('node:path');

const library = join(__dirname, '..', '..', 'src');

module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  testRegex: '(src|test)/.*\\.(spec|e2e-spec)\\.ts$',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: join(__dirname, 'tsconfig.json') }],
  },
  moduleNameMapper: {
    '^nestjs-redis-app-cache$': library,
    '^nestjs-redis-app-cache/terminus$': join(library, 'health'),
    '^nestjs-redis-app-cache/opentelemetry$': join(library, 'opentelemetry'),
  },
  testTimeout: 30000,
  maxWorkers: 2,
};
