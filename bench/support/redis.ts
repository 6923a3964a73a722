import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { RedisServerProcess } from '../../test/support/redis-server';

/** The one cached value every benchmark reads: 200 bytes of ASCII. */
export const BENCH_VALUE = `{"bench":"${'x'.repeat(200 - '{"bench":""}'.length)}"}`;
/** What `ContextualCache` of app1/dev1 reads for key `k`, and what the raw variants GET. */
export const BENCH_KEY = '/app1/dev1/k';
export const BENCH_APP = 'app1';
export const BENCH_DEVICE = 'dev1';

/** The Redis the benchmark talks to: one it started (and stops), or `REDIS_URL` (left alone). */
export interface BenchRedis {
  readonly url: string;
  readonly owned: boolean;
  /** The server's process when it runs on this machine (its CPU is the benchmark's, not other work). */
  readonly pid: number | undefined;
  version(): Promise<string>;
  /** Writes the benchmark value (with a TTL well past any run, so a shared server is left clean). */
  seed(): Promise<void>;
  release(): Promise<void>;
}

export async function acquireBenchRedis(): Promise<BenchRedis> {
  const external = process.env.REDIS_URL;
  const server = external ? undefined : await RedisServerProcess.start();
  const url = external ?? server!.url;
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  let seeded = false;
  return {
    url,
    owned: server !== undefined,
    pid: server?.pid ?? (await localServerPid(admin, url)),
    async version() {
      const info = await admin.info('server');
      return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    },
    async seed() {
      seeded = true;
      await admin.set(BENCH_KEY, BENCH_VALUE, 'EX', 3 * 3600);
      const back = await admin.getBuffer(BENCH_KEY);
      if (back?.toString() !== BENCH_VALUE) throw new Error('Could not seed the benchmark value');
    },
    async release() {
      // Only the key this benchmark wrote; never a flush, and never a server it did not start.
      if (!server && seeded) await admin.del(BENCH_KEY).catch(() => undefined);
      admin.disconnect();
      await server?.dispose();
    },
  };
}

/**
 * The pid of a REDIS_URL server on loopback, from INFO, when /proc shows a redis-server under it
 * (a server in a container reports a pid of its own namespace).
 */
async function localServerPid(admin: Redis, url: string): Promise<number | undefined> {
  const { hostname } = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) return undefined;
  const pid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis-server') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** UNLINKs the keys matching `pattern` that `own` accepts (what a run wrote); resolves how many. */
export async function unlinkMatching(
  client: Redis,
  pattern: string,
  own = (_key: string) => true,
): Promise<number> {
  let removed = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 10_000);
    cursor = next;
    const mine = keys.filter(own);
    if (mine.length > 0) removed += await client.unlink(...mine);
  } while (cursor !== '0');
  return removed;
}
