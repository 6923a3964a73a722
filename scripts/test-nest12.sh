#!/usr/bin/env bash
# Runs the suites that must hold on both supported Nest majors against NestJS 12
# (test/nestjs-12/jest.config.js). Jest loads NestJS 12's ES modules through require(esm), which
# needs Node 24.9+ and --experimental-vm-modules; on an older Node the suites run under Node 24
# from scripts/with-node.sh (installed from the npm registry on first use).
# Usage: bash scripts/test-nest12.sh [jest args...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

run=(env "NODE_OPTIONS=${NODE_OPTIONS:-} --experimental-vm-modules --disable-warning=ExperimentalWarning"
  node node_modules/jest/bin/jest.js -c test/nestjs-12/jest.config.js "$@")

if node -e 'const [major, minor] = process.versions.node.split(".").map(Number);
  process.exit(major > 24 || (major === 24 && minor >= 9) ? 0 : 1)'; then
  exec "${run[@]}"
fi
exec bash scripts/with-node.sh 24 "${run[@]}"
