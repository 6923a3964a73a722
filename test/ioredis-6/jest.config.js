// The store's suites against ioredis 6 (this folder's package): the library and the tests import
// `ioredis` as usual, and here that name maps to this folder's copy. Among them the guards of the
// store's ioredis-specific paths (corked writes, flat arguments, command deadlines), which fail if
// ioredis changes under them.
const base = require('../../jest.config.js');

// The suites check it, so that a mapping gone wrong cannot pass as ioredis 6.
process.env.IOREDIS_MAJOR_UNDER_TEST = '6';

const ioredis = '<rootDir>/test/ioredis-6/node_modules/ioredis';

module.exports = {
  ...base,
  rootDir: '../..',
  displayName: 'ioredis 6',
  testRegex: [
    'src/stores/.*\\.spec\\.ts$',
    'test/(redis-store|fail-open|cache-contract|redis-topologies|foreign-copies)\\.e2e-spec\\.ts$',
  ],
  moduleNameMapper: {
    '^ioredis$': ioredis,
    '^ioredis/(.*)$': `${ioredis}/$1`,
  },
};
