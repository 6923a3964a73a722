# The renderer service (apps/renderer), built from the repository root: it depends on the library
# at the root through the npm workspace, as a user's app depends on the published package.

# Build stage: dev dependencies (TypeScript) are needed to compile, but never ship.
FROM node:24-bookworm-slim AS build
WORKDIR /app

# Manifests first (the root and every workspace, which npm ci checks against the lockfile), so the
# dependency layer stays cached until they change.
COPY package.json package-lock.json ./
COPY apps/renderer/package.json ./apps/renderer/
COPY bench/package.json ./bench/
COPY test/nestjs-12/package.json ./test/nestjs-12/
COPY test/ioredis-6/package.json ./test/ioredis-6/
# No scripts yet: the library's prepare script builds it, and its sources come below.
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY apps/renderer/tsconfig.json apps/renderer/tsconfig.build.json ./apps/renderer/
COPY apps/renderer/src ./apps/renderer/src
RUN npm run build:renderer

# Runtime stage: production dependencies of the renderer and the library, and the compiled output.
FROM node:24-bookworm-slim AS runtime
# Libraries read NODE_ENV; npm skips devDependencies with it too (--omit=dev says so explicitly).
ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json ./
COPY apps/renderer/package.json ./apps/renderer/
COPY bench/package.json ./bench/
COPY test/nestjs-12/package.json ./test/nestjs-12/
COPY test/ioredis-6/package.json ./test/ioredis-6/
# No scripts: the library's prepare build needs the dev dependencies, and its build comes below.
RUN npm ci --omit=dev --workspace apps/renderer --include-workspace-root --ignore-scripts \
    --no-audit --no-fund \
  && npm cache clean --force

# Files stay root-owned: the service only reads them, so a compromised process cannot rewrite them.
COPY --from=build /app/dist ./dist
COPY --from=build /app/apps/renderer/dist ./apps/renderer/dist

# The image's built-in unprivileged user.
USER node

# Must match the service's default (RENDERER_CONFIG_DEFAULTS.port) and the compose port mapping.
ENV PORT=8080
EXPOSE 8080

# The slim image has no curl or wget, so Node's global fetch probes. Liveness, not readiness: a Redis
# outage must not mark the process itself unhealthy (/health/ready is for the load balancer).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 8080}/health/live`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The service drains requests in flight on SIGTERM (SHUTDOWN_TIMEOUT_MS) before exiting.
STOPSIGNAL SIGTERM

# Exec form: node is PID 1 and receives the stop signal itself (no shell in between).
CMD ["node", "apps/renderer/dist/main.js"]
