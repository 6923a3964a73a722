// The suites that must hold on both supported Nest majors, run against NestJS 12 (this folder's
// package). The library and the tests import `@nestjs/*` as usual; here those names map to this
// folder's copies, so the library, the test apps and Nest itself all share NestJS 12.
// NestJS 12 ships ES modules: Jest loads them with Node's require(esm), which needs Node 24.9+ and
// --experimental-vm-modules (`npm run test:nest12` sets both up).
const base = require('../../jest.config.js');

// The suites check it, so that a mapping gone wrong cannot pass as NestJS 12.
process.env.NEST_MAJOR_UNDER_TEST = '12';

const nest = '<rootDir>/test/nestjs-12/node_modules/@nestjs';
const packages = 'common|core|platform-express|platform-fastify|testing';

module.exports = {
  ...base,
  rootDir: '../..',
  displayName: 'NestJS 12',
  testRegex: 'test/(request-isolation|module-http|cache-metrics)\\.e2e-spec\\.ts$',
  moduleNameMapper: {
    [`^@nestjs/(${packages})$`]: `${nest}/$1`,
    [`^@nestjs/(${packages})/(.*)$`]: `${nest}/$1/$2`,
  },
};
