import type { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Command } from 'ioredis';
import { ANY_CACHE_KEY_PATTERN, appOfKey, namespacePrefix } from '../keys/cache-namespace';
import type { CacheNamespace } from '../keys/cache-namespace';
import { RateLimitedLogger } from '../logging/rate-limited-logger';
import type { KeysSoFar } from './cache-store.interface';
import { keepLease } from './lease';
import {
  INDEX_BATCH,
  INDEX_COMPLETE_KEY,
  INDEX_DISTRUSTED_KEY,
  INDEX_MIGRATION_LEASE_KEY,
  INDEX_RESET_KEY,
  INDEX_SCRIPTS,
  NO_EXPIRY_MS,
} from './namespace-index';
import type { IndexEntry, IndexScript, NamespaceIndex } from './namespace-index';
import type { RedisClient } from './redis-client.factory';
import { StoreUnavailableError } from './store-errors';

const TEXT_REPLY = { replyEncoding: 'utf8' } as const;
const BUFFER_REPLY = { replyEncoding: null } as const;

/** Random keys one audit checks: a writer that does not index shows up within a few intervals. */
export const AUDIT_SAMPLES = 100;
/** An audit drops the completion marker at most this often (the fleet then indexes again). */
const RESET_PAUSE_SECONDS = 3600;

/** What the index needs of the Redis store: its bounded commands and its keyspace-wide helpers. */
export interface IndexBackend {
  /** Sends as the store does (bounded, refused while Redis is down); `bulk`: a flush step's deadline. */
  send(command: Command, step?: 'bulk', via?: RedisClient): Promise<unknown>;
  /** Each master of a cluster, else the one server. */
  servers(): RedisClient[];
  scanPattern(pattern: string, onBatch: (keys: Buffer[]) => void | Promise<void>): Promise<void>;
  holdLease(key: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(key: string, owner: string): Promise<unknown>;
  readonly description: string;
}

/**
 * The namespace index's operations on Redis (the key names and scripts are in namespace-index.ts):
 * indexed writes, flushes and counts that read only the namespace's index keys, whether the index
 * can be trusted, and the migration that indexes keys written without it.
 */
export class IndexedNamespaces {
  private readonly warnings: RateLimitedLogger;
  /** The indexing of keys written before the index, while it runs. */
  private migrating: Promise<unknown> | undefined;
  private closing = false;

  constructor(
    readonly index: NamespaceIndex,
    private readonly redis: IndexBackend,
    private readonly logger: Logger,
  ) {
    this.warnings = new RateLimitedLogger(logger);
  }

  /** Stops an indexing under way after its current batch (it lets go of its lease first). */
  async close(): Promise<void> {
    this.closing = true;
    await this.migrating;
  }

  /** UNLINK of a key and its entry, in one script. */
  delete(key: string, entry: IndexEntry): Promise<unknown> {
    return this.runScript(INDEX_SCRIPTS.delete, [key, entry.index], [entry.member]);
  }

  /**
   * On one server, one script writes the key, its index entry and the directory. On a cluster the
   * directory (on another node) is written first: an index key is listed before it holds anything.
   */
  async set(
    key: string,
    value: string | Buffer,
    ttlSeconds: number,
    entry: IndexEntry,
  ): Promise<void> {
    if (this.index.clustered) {
      await this.runScript(INDEX_SCRIPTS.list, [entry.directory], [entry.index, ttlSeconds * 1000]);
      await this.runScript(
        INDEX_SCRIPTS.set,
        [key, entry.index],
        [value, ttlSeconds, entry.member],
      );
      return;
    }
    await this.runScript(
      INDEX_SCRIPTS.set,
      [key, entry.index, entry.directory],
      [value, ttlSeconds, entry.member, entry.index],
    );
  }

  /**
   * Whether every cache key is indexed, so flushes and counts may rely on the index. When not, it
   * starts indexing the keys written before (one instance of the fleet, holding a lease), and the
   * caller SCANs meanwhile.
   */
  async complete(): Promise<boolean> {
    const { evicting, runIds } = await this.serversState();
    if (evicting) {
      this.warnings.warn(
        'index-eviction',
        `namespaceIndex is on, but Redis at ${this.redis.description} may evict keys (maxmemory-policy ${evicting}): an evicted index would hide keys from flushes, so flushes and counts SCAN. Use maxmemory-policy noeviction (or no maxmemory) to use the index.`,
      );
      return false;
    }
    // The marker names the servers the index was completed on: a master that restarted empty or
    // was replaced by a replica since (a new run id) may have lost index keys the marker outlived.
    const [marker, distrusted] = (await Promise.all([
      this.redis.send(new Command('get', [INDEX_COMPLETE_KEY], TEXT_REPLY), 'bulk'),
      this.redis.send(new Command('exists', [INDEX_DISTRUSTED_KEY]), 'bulk'),
    ])) as [string | null, number];
    // Another writer that does not index was found again within the hour: SCAN, index later.
    if (distrusted) return false;
    if (marker === runIds) return true;
    this.migrating ??= this.indexExistingKeys()
      .catch((error: unknown) => {
        if (this.closing) return;
        const detail = error instanceof Error ? error.message : String(error);
        this.warnings.warn('index', `Indexing the existing cache keys failed: ${detail}`);
      })
      .finally(() => (this.migrating = undefined));
    return false;
  }

  /**
   * Checks `samples` random keys against the index: a cache key that exists without its entry (or
   * with an entry that expires before it) was written by a writer that does not index (the Go
   * service, an older version, an instance with the index off). Then flushes and counts would miss
   * such keys, so the completion marker is dropped: they SCAN until the keys are indexed again. At
   * most once an hour for the whole fleet, so a writer that keeps writing cannot keep Redis busy
   * re-indexing: a finding within that hour makes flushes and counts SCAN until it is over. Each
   * finding is logged. Resolves how many sampled keys were not indexed.
   */
  async audit(samples = AUDIT_SAMPLES): Promise<number> {
    if (!(await this.complete())) return 0;
    const servers = this.redis.servers();
    const keys = (await Promise.all(
      Array.from({ length: samples }, (_, i) =>
        this.redis.send(
          new Command('randomkey', [], BUFFER_REPLY),
          'bulk',
          servers[i % servers.length],
        ),
      ),
    )) as (Buffer | null)[];
    const found = await Promise.all(
      keys.map(async (raw) => {
        const key = raw?.toString('utf8');
        const entry = key && appOfKey(key) !== undefined ? this.index.entryOf(key) : undefined;
        if (!entry || !Buffer.from(key!, 'utf8').equals(raw!)) return 0;
        return (await this.runScript(
          INDEX_SCRIPTS.check,
          [key!, entry.index],
          [entry.member],
          'bulk',
        )) as number;
      }),
    );
    const unindexed = found.reduce((sum, one) => sum + one, 0);
    if (unindexed === 0) return 0;
    const resetting =
      (await this.redis.send(
        new Command('set', [INDEX_RESET_KEY, '1', 'EX', RESET_PAUSE_SECONDS, 'NX'], TEXT_REPLY),
        'bulk',
      )) === 'OK';
    if (resetting) {
      await this.redis.send(new Command('unlink', [INDEX_COMPLETE_KEY]), 'bulk');
      await this.complete(); // finds the marker gone, and starts indexing what is there
    } else {
      const untilMs = (await this.redis.send(
        new Command('pttl', [INDEX_RESET_KEY]),
        'bulk',
      )) as number;
      const distrust = [INDEX_DISTRUSTED_KEY, '1', 'PX', Math.max(untilMs, 1000)];
      await this.redis.send(new Command('set', distrust), 'bulk');
    }
    this.warnings.warn(
      resetting ? 'index-audit-reset' : 'index-audit',
      `${unindexed} of ${samples} random keys are cache keys the namespace index does not hold: something that does not index (the Go service, an older version, an instance with namespaceIndex off) writes cache keys to Redis at ${this.redis.description}, and flushes and counts miss them. ` +
        (resetting
          ? 'Flushes and counts SCAN until they are indexed again.'
          : 'They were indexed again less than an hour ago: flushes and counts SCAN until that hour is over, then they are indexed again. Turn namespaceIndex off while such a writer runs.'),
    );
    return unindexed;
  }

  /**
   * From each server's INFO: the eviction policy of the first that may evict keys (a maxmemory and
   * a policy other than noeviction; eviction would pick index keys like any other, so an index is
   * only sound where Redis never evicts), and the servers' run ids, sorted.
   */
  private async serversState(): Promise<{ evicting: string | undefined; runIds: string }> {
    const infos = (await Promise.all(
      this.redis
        .servers()
        .map((server) => this.redis.send(new Command('info', [], TEXT_REPLY), 'bulk', server)),
    )) as string[];
    let evicting: string | undefined;
    for (const info of infos) {
      const maxmemory = Number(/^maxmemory:(\d+)/m.exec(info)?.[1] ?? 0);
      const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? 'noeviction';
      if (maxmemory > 0 && policy !== 'noeviction') evicting ??= policy;
    }
    const runIds = infos.map((info) => /^run_id:(\S+)/m.exec(info)?.[1] ?? '?').sort();
    return { evicting, runIds: runIds.join(',') };
  }

  /**
   * Indexes the cache keys written without the index (before an upgrade, or by another writer),
   * then marks the index complete. Runs on the instance that holds the migration lease; resolves
   * how many keys it indexed (0 when another instance is at it).
   */
  async indexExistingKeys(): Promise<number> {
    const owner = randomUUID();
    const leaseMs = 60_000;
    if (!(await this.redis.holdLease(INDEX_MIGRATION_LEASE_KEY, owner, leaseMs))) return 0;
    const stopRenewing = keepLease(this.redis, INDEX_MIGRATION_LEASE_KEY, owner, leaseMs);
    let indexed = 0;
    let unnamed = 0;
    try {
      const { runIds } = await this.serversState();
      await this.redis.scanPattern(ANY_CACHE_KEY_PATTERN, async (keys) => {
        if (this.closing) throw new StoreUnavailableError('the store is closing');
        const started = performance.now();
        const done = await Promise.all(keys.map((raw) => this.adopt(raw)));
        indexed += done.filter((outcome) => outcome === 'indexed').length;
        unnamed += done.filter((outcome) => outcome === 'unnamed').length;
        // A one-off that must not starve everyone's reads: at most half of Redis's time.
        await new Promise((resolve) => setTimeout(resolve, performance.now() - started));
      });
      // Completed on these servers only if they are still the ones it started on.
      if ((await this.serversState()).runIds !== runIds) {
        throw new StoreUnavailableError('a Redis server restarted or failed over meanwhile');
      }
      await this.redis.send(new Command('set', [INDEX_COMPLETE_KEY, runIds]), 'bulk');
      if (unnamed > 0) {
        this.logger.warn(
          `${unnamed} cache keys have names that are not UTF-8 and cannot be indexed: flushes and counts will not find them (they expire with their TTL).`,
        );
      }
      if (indexed > 0) {
        this.logger.log(
          `Indexed ${indexed} cache keys written before the index: flushes and counts now use it.`,
        );
      }
    } finally {
      stopRenewing();
      await this.redis.releaseLease(INDEX_MIGRATION_LEASE_KEY, owner).catch(() => undefined);
    }
    return indexed;
  }

  /** Indexes one key SCAN returned, if it is a cache key (by its exact bytes) that still exists. */
  private async adopt(raw: Buffer): Promise<'indexed' | 'unnamed' | 'skipped'> {
    const index = this.index;
    const key = raw.toString('utf8');
    const entry = appOfKey(key) === undefined ? undefined : index.entryOf(key);
    if (!entry) return 'skipped';
    if (!Buffer.from(key, 'utf8').equals(raw)) return 'unnamed';
    if (!index.clustered) {
      const adopted = await this.runScript(
        INDEX_SCRIPTS.adopt,
        [key, entry.index, entry.directory],
        [entry.member, entry.index],
        'bulk',
      );
      return adopted === 1 ? 'indexed' : 'skipped';
    }
    const ttl = (await this.redis.send(new Command('pttl', [key]), 'bulk')) as number;
    if (ttl === -2) return 'skipped';
    await this.runScript(
      INDEX_SCRIPTS.list,
      [entry.directory],
      [entry.index, ttl === -1 ? NO_EXPIRY_MS : ttl],
      'bulk',
    );
    const adopted = await this.runScript(
      INDEX_SCRIPTS.adopt,
      [key, entry.index],
      [entry.member],
      'bulk',
    );
    return adopted === 1 ? 'indexed' : 'skipped';
  }

  /** The index keys of a namespace: read from the device's directory on a cluster. */
  private async indexKeysOf({
    appId,
    deviceId,
  }: CacheNamespace): Promise<{ name: string; prefix: string }[]> {
    const index = this.index;
    if (appId !== undefined && !index.clustered) {
      return [{ name: index.indexOf(appId, deviceId), prefix: namespacePrefix(appId, deviceId) }];
    }
    const listed = (await this.redis.send(
      new Command('smembers', [index.directoryOf(deviceId)], TEXT_REPLY),
      'bulk',
    )) as string[];
    const found: { name: string; prefix: string }[] = [];
    for (const name of listed) {
      const prefix = index.prefixOf(name, deviceId, appId);
      if (prefix !== undefined) found.push({ name, prefix });
    }
    return found;
  }

  async deleteNamespace(namespace: CacheNamespace, onProgress?: KeysSoFar): Promise<number> {
    const index = this.index;
    const directory = index.directoryOf(namespace.deviceId);
    return this.sumOverIndexKeys(namespace, onProgress, async ({ name, prefix }, add) => {
      // The directory is on another node of a cluster: there the entry stays until it expires.
      const keys = index.clustered ? [name] : [name, directory];
      // What was there when the flush began, not what writers keep adding: a bounded loop.
      for (let steps = 1, most = 1; steps <= most; steps++) {
        const [removed, entries, left] = (await this.runScript(
          INDEX_SCRIPTS.flushStep,
          keys,
          [prefix, INDEX_BATCH, name],
          'bulk',
        )) as [number, number, number];
        add(removed);
        if (steps === 1) most = Math.ceil((entries + left) / INDEX_BATCH);
        if (left === 0) break;
      }
    });
  }

  async countNamespace(namespace: CacheNamespace, onProgress?: KeysSoFar): Promise<number> {
    return this.sumOverIndexKeys(namespace, onProgress, async ({ name, prefix }, add) => {
      for (let start = 0; ;) {
        const [found, entries, dropped] = (await this.runScript(
          INDEX_SCRIPTS.countStep,
          [name],
          [prefix, start, INDEX_BATCH],
          'bulk',
        )) as [number, number, number];
        add(found);
        if (entries < INDEX_BATCH) break;
        start += entries - dropped;
      }
    });
  }

  /**
   * Steps through each index key of the namespace in its own loop, all at once (on a cluster a
   * namespace has one per slot), and resolves the keys they found, reporting the sum as it grows.
   */
  private async sumOverIndexKeys(
    namespace: CacheNamespace,
    onProgress: KeysSoFar | undefined,
    step: (
      indexKey: { name: string; prefix: string },
      add: (keys: number) => void,
    ) => Promise<void>,
  ): Promise<number> {
    let total = 0;
    const add = (keys: number) => {
      total += keys;
      onProgress?.(total);
    };
    await Promise.all((await this.indexKeysOf(namespace)).map((indexKey) => step(indexKey, add)));
    return total;
  }

  /** EVALSHA, or EVAL when the server does not have the script yet (then it keeps it). */
  private async runScript(
    script: IndexScript,
    keys: string[],
    args: (string | number | Buffer)[],
    step?: 'bulk',
  ): Promise<unknown> {
    const argv = [keys.length, ...keys, ...args];
    try {
      return await this.redis.send(new Command('evalsha', [script.sha, ...argv]), step);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.redis.send(new Command('eval', [script.source, ...argv]), step);
    }
  }
}
