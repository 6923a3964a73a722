// The suites that check what the cache hands the OpenTelemetry SDK (spans, metrics): the SDK needs
// Node 22.15+ (the library needs only @opentelemetry/api, on Node 20 too). `npm test` runs them
// under Node 24 where the machine's Node is older.
const base = require('./jest.config.js');

module.exports = { ...base, testRegex: 'test/.*\\.otel-spec\\.ts$' };
