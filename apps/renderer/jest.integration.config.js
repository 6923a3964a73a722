// Suites that need more than Node and a Redis: Prometheus and promtool (Debian's prometheus
// package). `npm run test:integration` at the root runs them; CI installs what they need.
const base = require('./jest.config.js');

module.exports = { ...base, testRegex: 'test/.*\\.integration-spec\\.ts$' };
