#!/usr/bin/env bash
# The library as an application gets it: packs it (npm pack runs the build), installs the tarball
# from a fresh app's package.json with everything else from the npm registry, and checks each app:
#   - NestJS 11 on Express, CommonJS as `nest new` sets it up, ioredis 5, on this machine's Node;
#   - NestJS 12 on Fastify, ES modules, ioredis 6, on Node 24 (scripts/with-node.sh).
# For each: one copy of @nestjs/core, the app compiles (the library's types included) and boots,
# and test/consumer/src/check.ts (started by main-<adapter>.ts) sees a miss then a hit through
# constructor injection and through @CurrentCache(), and the terminus health indicator up. Then a
# git install (npm runs the prepare build) that loads. It starts its own redis-server on a free
# port and stops it by its pid.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/consumer-check-XXXXXX")"
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "consumer-check: packing the library"
tarball="$work/$(cd "$root" && npm pack --pack-destination "$work" --silent | tail -1)"

port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
export REDIS_URL="redis://127.0.0.1:$port"

# check_app <name> <nest major> <adapter> <module type> <node major or "machine"> <ioredis major>
check_app() {
  local name="$1" nest="$2" adapter="$3" type="$4" node="$5" ioredis="$6"
  local app="$work/$name"
  mkdir -p "$app"
  cp -r "$root/test/consumer/src" "$app/"
  if [ "$type" = module ]; then
    cp "$root/test/consumer/tsconfig.json" "$app/"
  else
    cp "$root/test/consumer/tsconfig.commonjs.json" "$app/tsconfig.json"
  fi
  cp "$root/test/consumer/main-$adapter.ts" "$app/src/main.ts"
  local platform="@nestjs/platform-$adapter"
  # The app's manifest: Nest of that major, the library's peers, the tarball.
  NEST="^$nest.0.0" IOREDIS="^$ioredis.0.0" PLATFORM="$platform" TYPE="$type" TARBALL="$tarball" node -e '
    const { NEST, IOREDIS, PLATFORM, TYPE, TARBALL } = process.env;
    const manifest = {
      name: "consumer-app", private: true, type: TYPE,
      dependencies: {
        "@nestjs/common": NEST, "@nestjs/core": NEST, [PLATFORM]: NEST, "@nestjs/terminus": NEST,
        "@opentelemetry/api": "^1.9.0", ioredis: IOREDIS, "prom-client": "^15.1.0",
        "reflect-metadata": "^0.2.2", rxjs: "^7.8.0",
        "nestjs-redis-app-cache": `file:${TARBALL}`,
      },
      devDependencies: { typescript: "~5.9.0", "@types/node": "^24.0.0" },
    };
    console.log(JSON.stringify(manifest, null, 2));
  ' >"$app/package.json"
  echo "consumer-check: $name: installing from the registry"
  (cd "$app" && npm install --no-audit --no-fund --loglevel=error)
  local copies
  copies="$(find "$app/node_modules" -path '*/@nestjs/core/package.json' | wc -l)"
  if [ "$copies" != 1 ]; then
    echo "consumer-check: $name has $copies copies of @nestjs/core:" >&2
    find "$app/node_modules" -path '*/@nestjs/core/package.json' >&2
    exit 1
  fi
  local version
  version="$(node -p "require('$app/node_modules/@nestjs/core/package.json').version")"
  echo "consumer-check: $name: one @nestjs/core ($version); compiling"
  (cd "$app" && node node_modules/typescript/bin/tsc -p tsconfig.json)
  if [ "$node" = machine ]; then
    (cd "$app" && node dist/main.js)
  else
    (cd "$app" && bash "$root/scripts/with-node.sh" "$node" node dist/main.js)
  fi
}

# A git install: npm clones the repository, installs it and runs its prepare script (the build).
# Installs the committed HEAD, so it needs a git checkout.
check_git_install() {
  local app="$work/from-git"
  mkdir -p "$app"
  echo '{ "name": "from-git", "private": true }' >"$app/package.json"
  echo "consumer-check: from-git: installing git+file://$root#$(git -C "$root" rev-parse --short HEAD)"
  (cd "$app" && npm install --no-audit --no-fund --loglevel=error \
    @nestjs/common@^11 @nestjs/core@^11 ioredis@^5 prom-client@^15 @opentelemetry/api@^1.9 \
    reflect-metadata rxjs "git+file://$root#$(git -C "$root" rev-parse HEAD)")
  (cd "$app" && node -e '
    const { RedisCache } = require("nestjs-redis-app-cache");
    const key = RedisCache.inMemory().withContext("app", "device").keyFor("k");
    if (key !== "/app/device/k") throw new Error(`keyFor gave ${key}`);
    console.log("ok   from-git: the built package loads and keys /app/device/k");
  ')
}

check_app nest11-express 11 express commonjs machine 5
check_app nest12-fastify 12 fastify module 24 6
check_git_install
echo "consumer-check: passed"
