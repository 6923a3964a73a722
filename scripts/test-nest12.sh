#!/usr/bin/env bash
# Runs the suites that must hold on both supported Nest majors against NestJS 12
# (test/nestjs-12/jest.config.js). Jest loads NestJS 12's ES modules through require(esm), which
# needs Node 24.9+ and --experimental-vm-modules; on an older Node the suites run under Node 24
# from the npm registry. Usage: bash scripts/test-nest12.sh [jest args...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec bash scripts/with-node-at-least.sh 24.9 \
  env "NODE_OPTIONS=${NODE_OPTIONS:-} --experimental-vm-modules --disable-warning=ExperimentalWarning" \
  node node_modules/jest/bin/jest.js -c test/nestjs-12/jest.config.js "$@"
