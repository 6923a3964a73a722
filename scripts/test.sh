#!/usr/bin/env bash
# npm test: every suite that needs only Node and a Redis (README, Tests):
#   1. the library's suites on this Node;
#   2. the suites that must hold on both Nest majors, again on NestJS 12; the store's suites again on
#      ioredis 6; the OpenTelemetry suites (jest.otel.config.js, spans and metrics: the SDK needs Node 22.15+);
#   3. the renderer's suites (apps/renderer), on Node 22.15+ (its OpenTelemetry packages need it):
#      under Node 24 from the npm registry where this Node is older.
# Suites that need Prometheus and promtool are `npm run test:integration`, and the packed library in
# fresh apps from the registry is `npm run test:consumer`; the last line says so.
# Arguments go to the library's jest run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
node node_modules/jest/bin/jest.js "$@"
bash scripts/test-nest12.sh
node node_modules/jest/bin/jest.js -c test/ioredis-6/jest.config.js
bash scripts/with-node-at-least.sh 22.15 node node_modules/jest/bin/jest.js -c jest.otel.config.js
npm run build --silent
bash scripts/with-node-at-least.sh 22.15 npm test --silent --workspace apps/renderer
echo "npm test: all passed. Not run: the suites that need Prometheus and promtool (npm run test:integration), the packed library in fresh apps (npm run test:consumer)."
