#!/usr/bin/env bash
# Runs a command with this machine's Node if it is at least <version>, else with Node 24 from the
# npm registry (scripts/with-node.sh, installed on first use).
# Usage: bash scripts/with-node-at-least.sh 22.15 <command> [args...]
set -euo pipefail
minimum="${1:?usage: bash scripts/with-node-at-least.sh <major.minor> <command> [args...]}"
shift
if node -e '
  const [major, minor] = process.versions.node.split(".").map(Number);
  const [needMajor, needMinor] = process.argv[1].split(".").map(Number);
  process.exit(major > needMajor || (major === needMajor && minor >= needMinor) ? 0 : 1);
' "$minimum"; then
  exec "$@"
fi
exec bash "$(dirname "${BASH_SOURCE[0]}")/with-node.sh" 24 "$@"
