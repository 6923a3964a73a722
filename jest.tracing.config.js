// The suite that checks the cache's spans through the OpenTelemetry SDK, which needs Node 22.15+
// (the library needs only @opentelemetry/api, on Node 20 too). `npm test` runs it under Node 24
// where the machine's Node is older.
const base = require('./jest.config.js');

module.exports = { ...base, testRegex: 'test/.*\\.tracing-spec\\.ts$' };
