#!/usr/bin/env bash
# npm start: the renderer service, built by `npm run build:renderer` (prestart). Its OpenTelemetry
# packages need Node 22.15+: on an older Node it runs under Node 24 from the npm registry.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec bash scripts/with-node-at-least.sh 22.15 node apps/renderer/dist/main.js "$@"
