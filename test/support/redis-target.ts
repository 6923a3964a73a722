import { Redis } from 'ioredis';
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { NO_REDIS_MESSAGE, RedisServerProcess, redisServerBinary } from './redis-server';

/** A Redis the tests may write to (under their own unique ids) but must not stop or flush. */
export interface RedisTarget {
  readonly url: string;
  readonly source: 'REDIS_URL' | 'testcontainers' | 'redis-server';
  release(): Promise<void>;
}

/**
 * Finds a Redis: `REDIS_URL` if set; else testcontainers' Redis module where a Docker engine
 * answers; else a `redis-server` binary started on a free port. None of these: fails, saying how
 * to get one.
 */
export async function acquireRedis(): Promise<RedisTarget> {
  const url = process.env.REDIS_URL;
  if (url) return { url, source: 'REDIS_URL', release: () => Promise.resolve() };

  if (await dockerEngineAnswers()) {
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7-alpine').start();
    return {
      url: container.getConnectionUrl(),
      source: 'testcontainers',
      release: async () => {
        await container.stop();
      },
    };
  }

  if (redisServerBinary()) {
    const server = await RedisServerProcess.start();
    return { url: server.url, source: 'redis-server', release: () => server.dispose() };
  }
  throw new Error(NO_REDIS_MESSAGE);
}

/** A Redis and a plain client on it for the whole suite: acquired before its tests, released after. */
export function redisForSuite(): { readonly url: string; readonly raw: Redis } {
  let target: RedisTarget | undefined;
  let raw: Redis | undefined;
  beforeAll(async () => {
    target = await acquireRedis();
    raw = new Redis(target.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await target?.release();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('redisForSuite(): used outside the suite’s tests');
    return value;
  };
  return {
    get url() {
      return ready(target).url;
    },
    get raw() {
      return ready(raw);
    },
  };
}

/** Whether a Docker engine answers `/_ping` on DOCKER_HOST (unix or tcp) or the default socket. */
function dockerEngineAnswers(): Promise<boolean> {
  const host = process.env.DOCKER_HOST;
  let target: { socketPath: string } | { host: string; port: number };
  if (!host || host.startsWith('unix://')) {
    const socketPath = host ? host.slice('unix://'.length) : '/var/run/docker.sock';
    if (!existsSync(socketPath)) return Promise.resolve(false);
    target = { socketPath };
  } else if (host.startsWith('tcp://') && URL.canParse(host)) {
    const url = new URL(host);
    target = { host: url.hostname, port: Number(url.port || 2375) };
  } else {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
