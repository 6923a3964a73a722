import type { Logger } from '@nestjs/common';
import calculateSlot from 'cluster-key-slot';
import { Command } from 'ioredis';
import type { Cluster, Redis } from 'ioredis';
import {
  ANY_CACHE_KEY_PATTERN,
  appOfKey,
  namespaceMatcher,
  namespaceMatchPattern,
} from '../keys/cache-namespace';
import type { CacheNamespace } from '../keys/cache-namespace';
import { RateLimitedLogger } from '../logging/rate-limited-logger';
import type { CacheStore, KeysSoFar } from './cache-store.interface';
import { CommandDeadlines } from './command-deadlines';
import { NamespaceIndex } from './namespace-index';
import { IndexedNamespaces } from './indexed-namespaces';
import type { IndexBackend } from './indexed-namespaces';
import { flatArguments } from './flat-arguments';
import { RedisAvailability } from './redis-availability';
import { connectWithin, isClusterClient } from './redis-client.factory';
import type { RedisClient } from './redis-client.factory';
import { StoreUnavailableError, describeLoad } from './store-errors';
import type { EventLoopLoad } from './store-errors';

/** Keys SCAN examines per call: large enough that a flush is few round trips, small enough to not block Redis. */
export const SCAN_COUNT = 1000;

/**
 * Each SCAN or UNLINK of a flush or count may take this much longer than a get: they do more work,
 * and an admin call failing on a busy server helps nobody. At least a second.
 */
export const BULK_STEP_TIMEOUT_FACTOR = 5;
export const bulkStepTimeoutMs = (operationTimeoutMs: number) =>
  Math.max(1000, operationTimeoutMs * BULK_STEP_TIMEOUT_FACTOR);

const BUFFER_REPLY = { replyEncoding: null } as const;
// Status replies ("OK") come back as Buffers unless asked for as text.
const TEXT_REPLY = { replyEncoding: 'utf8' } as const;

/** Deletes KEYS[1] only if it holds ARGV[1]: one atomic step, so a lock is released by its owner only. */
const DELETE_IF_EQUALS = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('unlink', KEYS[1]) else return 0 end`;
const HOLD_LEASE = `local holder = redis.call('get', KEYS[1])
if holder == false or holder == ARGV[1] then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
/** RANDOMKEY commands in flight at once while sampling. */
const SAMPLE_BATCH = 1000;
const NOT_ACCEPTING = new StoreUnavailableError('Redis is not answering; the command was not sent');
const DATABASE_UNCONFIRMED = new StoreUnavailableError(
  'Redis has not confirmed the database (SELECT); the command was not sent',
);
const latin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

export interface RedisStoreOptions {
  operationTimeoutMs: number;
  /** The store created the client, so closing the store quits it. */
  ownsClient: boolean;
  /** How long `close()` waits for QUIT before dropping the connection. */
  quitTimeoutMs?: number;
  logger: Logger;
  /** Keep the namespace index, and flush and count through it (else SCAN). */
  indexNamespaces?: boolean;
}

/**
 * The Redis backend: plain `GET`/`SET EX`/`UNLINK` on the keys it is given, so values are the bytes
 * stored, readable by any other client. Every command is bounded by `operationTimeoutMs`, and none
 * is sent while Redis is known to be down or stalled.
 *
 * On a cluster, ioredis routes each key to its master; what spans the keyspace (flushes, counts,
 * DBSIZE) runs on every master, and deletes are grouped by hash slot (no CROSSSLOT).
 */
export class RedisStore implements CacheStore {
  readonly kind = 'redis' as const;
  private readonly deadlines: CommandDeadlines;
  private readonly bulkDeadlines: CommandDeadlines;
  private readonly availability: RedisAvailability;
  private readonly warnings: RateLimitedLogger;
  private readonly onError = (error: Error) =>
    this.warnings.warn(
      'connection',
      `Redis connection error (${this.description}): ${error.message}`,
    );
  private readonly onClose = () => {
    this.availability.markDisconnected();
    if (this.database !== 0) this.onDatabase = false;
  };
  /**
   * The database the connection must be on. ioredis only logs a refused SELECT (an ACL without
   * +select, say) and goes on in database 0, someone else's data: the store sends SELECT itself
   * after each connect and sends nothing else until Redis confirms it.
   */
  private readonly database: number;
  private onDatabase: boolean;
  private confirming: Promise<unknown> = Promise.resolve();
  private readonly onReady = () => this.confirmDatabase();
  /** A single server's socket can hold a tick's writes; a cluster writes to several. */
  private readonly batchesWrites: boolean;
  /** The socket holding this tick's writes, until the next tick sends them. */
  private batchingWrites: Redis['stream'] | undefined;
  /** The namespace index, when `indexNamespaces`. */
  readonly indexed: IndexedNamespaces | undefined;

  constructor(
    readonly client: RedisClient,
    private readonly options: RedisStoreOptions,
  ) {
    this.warnings = new RateLimitedLogger(options.logger);
    this.availability = new RedisAvailability(
      client,
      options.logger,
      () => this.description,
      isClusterClient(client) ? () => this.probeEveryMaster(client) : undefined,
    );
    this.deadlines = new CommandDeadlines(options.operationTimeoutMs, (_, overload) =>
      this.commandTimedOut(options.operationTimeoutMs, overload),
    );
    const bulkTimeoutMs = bulkStepTimeoutMs(options.operationTimeoutMs);
    this.bulkDeadlines = new CommandDeadlines(bulkTimeoutMs, (_, overload) =>
      this.commandTimedOut(bulkTimeoutMs, overload),
    );
    this.batchesWrites = !isClusterClient(client);
    this.indexed = options.indexNamespaces
      ? new IndexedNamespaces(
          new NamespaceIndex(isClusterClient(client)),
          this.indexBackend(),
          options.logger,
        )
      : undefined;
    this.database = isClusterClient(client) ? 0 : (client.options.db ?? 0);
    this.onDatabase = this.database === 0;
    client.on('error', this.onError);
    client.on('close', this.onClose);
    if (this.database !== 0) {
      client.on('ready', this.onReady);
      if (client.status === 'ready') this.confirmDatabase();
    }
  }

  /**
   * A store over `client` once it is ready and on its database, or after `startupWaitMs`, whichever
   * comes first: without a connection it starts anyway (failing open) and says so once.
   */
  static async open(
    client: RedisClient,
    options: RedisStoreOptions,
    startupWaitMs: number,
  ): Promise<RedisStore> {
    const store = new RedisStore(client, options);
    const started = performance.now();
    let notReady = await connectWithin(client, startupWaitMs);
    const leftMs = Math.max(0, startupWaitMs - (performance.now() - started));
    if (!notReady && !(await store.databaseConfirmed(leftMs))) {
      notReady = 'its database was not confirmed (SELECT refused or unanswered)';
    }
    if (notReady) {
      options.logger.warn(
        `Redis at ${store.description} is unreachable: ${notReady}. Starting anyway; the cache fails open until Redis answers.`,
      );
    } else {
      options.logger.log(`Using Redis at ${store.description}.`);
      // Starts indexing what was written before, if nobody has; failing here changes nothing.
      store.indexed?.complete().catch(() => undefined);
    }
    return store;
  }

  /** Read when logged: a cluster's masters are known only once it has connected. */
  get description(): string {
    return describeRedisTarget(this.client);
  }

  get available(): boolean {
    return this.client.status === 'ready' && this.onDatabase && this.availability.accepting;
  }

  // get and set hand back the command's own promise: no extra async frame on the hot path.
  get(key: string): Promise<Buffer | null> {
    return this.send(
      new Command('get', flatArguments(key), BUFFER_REPLY),
    ) as Promise<Buffer | null>;
  }

  set(key: string, value: string | Buffer, ttlSeconds: number): Promise<void> {
    const entry = this.indexed?.index.entryOf(key);
    if (entry) return this.indexed!.set(key, value, ttlSeconds, entry);
    return this.send(
      new Command('set', flatArguments(key, value, 'EX', ttlSeconds)),
    ) as Promise<never>;
  }

  async delete(key: string): Promise<boolean> {
    const entry = this.indexed?.index.entryOf(key);
    const deleted = entry
      ? await this.indexed!.delete(key, entry)
      : await this.send(new Command('unlink', flatArguments(key)));
    return deleted === 1;
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (
      (await this.send(new Command('set', [key, value, 'PX', ttlMs, 'NX'], TEXT_REPLY))) === 'OK'
    );
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    return (await this.send(new Command('eval', [DELETE_IF_EQUALS, 1, key, value]))) === 1;
  }

  async holdLease(key: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.send(new Command('eval', [HOLD_LEASE, 1, key, owner, ttlMs]))) === 1;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.send(new Command('exists', flatArguments(key)))) === 1;
  }

  remainingTtlMs(key: string): Promise<number> {
    return this.send(new Command('pttl', flatArguments(key))) as Promise<number>;
  }

  /** SCANs the namespace and UNLINKs each batch while the next SCAN runs: one batch in memory. */
  async deleteNamespace(namespace: CacheNamespace, onProgress?: KeysSoFar): Promise<number> {
    if (this.indexed && (await this.indexed.complete()))
      return this.indexed.deleteNamespace(namespace, onProgress);
    const inNamespace = namespaceMatcher(namespace, latin1);
    let deleted = 0;
    let unlinking: Promise<number> | undefined;
    try {
      await this.scan(namespace, async (keys) => {
        const batch = keys.filter((key) => inNamespace(key.toString('latin1')));
        if (batch.length === 0) return;
        if (unlinking) {
          deleted += await unlinking;
          onProgress?.(deleted);
        }
        unlinking = this.unlink(batch);
      });
      if (unlinking) {
        deleted += await unlinking;
        onProgress?.(deleted);
      }
    } catch (error) {
      unlinking?.catch(() => undefined);
      throw error;
    }
    return deleted;
  }

  /** Counts distinct keys: SCAN may return a key twice while Redis resizes its table. */
  async countNamespace(namespace: CacheNamespace, onProgress?: KeysSoFar): Promise<number> {
    if (this.indexed && (await this.indexed.complete()))
      return this.indexed.countNamespace(namespace, onProgress);
    const inNamespace = namespaceMatcher(namespace, latin1);
    const seen = new Set<string>();
    await this.scan(namespace, (keys) => {
      for (const key of keys) {
        const text = key.toString('latin1');
        if (inNamespace(text)) seen.add(text);
      }
      onProgress?.(seen.size);
    });
    return seen.size;
  }

  /**
   * Unlike `countNamespace`, keeps no set of the keys seen: the census covers the whole database
   * every interval, and remembering a million keys to drop the rare repeat SCAN returns while Redis
   * resizes its table would cost far more than the figure is worth on a dashboard.
   */
  async countKeysByApp(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    await this.scanPattern(ANY_CACHE_KEY_PATTERN, (keys) => {
      for (const raw of keys) {
        const app = appOfKey(raw.toString('utf8'));
        if (app !== undefined) counts.set(app, (counts.get(app) ?? 0) + 1);
      }
    });
    return counts;
  }

  async sampleKeysByApp(samples: number): Promise<Map<string, number>> {
    const servers = this.servers();
    const sizes = await Promise.all(
      servers.map(
        (server) =>
          this.send(new Command('dbsize', []), this.bulkDeadlines, server) as Promise<number>,
      ),
    );
    const total = sizes.reduce((sum, size) => sum + size, 0);
    const estimates = new Map<string, number>();
    for (const [i, server] of servers.entries()) {
      if (sizes[i] === 0) continue;
      // Each server's share of the samples, so every key of the database has the same weight.
      const drawn = Math.max(1, Math.round((samples * sizes[i]) / total));
      const hits = new Map<string, number>();
      for (let done = 0; done < drawn; done += SAMPLE_BATCH) {
        const keys = await Promise.all(
          Array.from(
            { length: Math.min(SAMPLE_BATCH, drawn - done) },
            () =>
              this.send(
                new Command('randomkey', [], BUFFER_REPLY),
                this.bulkDeadlines,
                server,
              ) as Promise<Buffer | null>,
          ),
        );
        for (const key of keys) {
          const app = key ? appOfKey(key.toString('utf8')) : undefined;
          if (app !== undefined) hits.set(app, (hits.get(app) ?? 0) + 1);
        }
      }
      for (const [app, count] of hits) {
        estimates.set(app, (estimates.get(app) ?? 0) + (count * sizes[i]) / drawn);
      }
    }
    for (const [app, estimate] of estimates) estimates.set(app, Math.round(estimate));
    return estimates;
  }

  async auditIndex(): Promise<void> {
    await this.indexed?.audit();
  }

  async databaseSize(): Promise<number> {
    const sizes = await Promise.all(
      this.servers().map(
        (server) =>
          this.send(new Command('dbsize', []), this.bulkDeadlines, server) as Promise<number>,
      ),
    );
    return sizes.reduce((sum, size) => sum + size, 0);
  }

  /** A cluster answers only when every master does: a dead one holds a share of the keys. */
  async ping(): Promise<void> {
    if (this.client.status !== 'ready') {
      throw new StoreUnavailableError(`Redis is not connected (status ${this.client.status})`);
    }
    if (!this.onDatabase) throw DATABASE_UNCONFIRMED;
    await Promise.all(
      this.servers().map((server) => this.track(new Command('ping', []), this.deadlines, server)),
    );
  }

  async close(): Promise<void> {
    await this.indexed?.close();
    this.deadlines.stop();
    this.bulkDeadlines.stop();
    this.availability.dispose();
    this.client.off('error', this.onError);
    this.client.off('close', this.onClose);
    this.client.off('ready', this.onReady);
    if (!this.options.ownsClient) return;
    // Errors after this point are the shutdown's own; keep ioredis from reporting them as unhandled.
    this.client.on('error', () => undefined);
    if (this.client.status === 'end') return;
    const ended = new Promise((resolve) => this.client.once('end', resolve));
    if (this.client.status === 'ready') {
      await withinMs(
        this.options.quitTimeoutMs ?? 1000,
        this.client.quit().catch(() => undefined),
      );
    }
    // QUIT may have timed out on a frozen server, or never been sent: drop the connection either way.
    this.client.disconnect();
    await withinMs(1000, ended);
  }

  /** The store's commands as the index uses them. */
  private indexBackend(): IndexBackend {
    const describe = () => this.description;
    return {
      send: (command, step, via) =>
        this.send(command, step === 'bulk' ? this.bulkDeadlines : this.deadlines, via),
      servers: () => this.servers(),
      scanPattern: (pattern, onBatch) => this.scanPattern(pattern, onBatch),
      holdLease: (key, owner, ttlMs) => this.holdLease(key, owner, ttlMs),
      releaseLease: (key, owner) =>
        this.send(new Command('eval', [DELETE_IF_EQUALS, 1, key, owner])),
      get description() {
        return describe();
      },
    };
  }

  private scan(
    namespace: CacheNamespace,
    onBatch: (keys: Buffer[]) => void | Promise<void>,
  ): Promise<void> {
    return this.scanPattern(namespaceMatchPattern(namespace), onBatch);
  }

  /** SCANs every server holding keys (each master of a cluster, one after the other). */
  private async scanPattern(
    pattern: string,
    onBatch: (keys: Buffer[]) => void | Promise<void>,
  ): Promise<void> {
    for (const server of this.servers()) {
      let cursor = '0';
      do {
        const [next, keys] = (await this.send(
          new Command('scan', [cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT], BUFFER_REPLY),
          this.bulkDeadlines,
          server,
        )) as [Buffer, Buffer[]];
        cursor = next.toString();
        await onBatch(keys);
      } while (cursor !== '0');
    }
  }

  /** One UNLINK per batch; on a cluster one per hash slot, sent through the cluster's routing. */
  private async unlink(keys: Buffer[]): Promise<number> {
    if (!isClusterClient(this.client)) {
      return (await this.send(new Command('unlink', keys), this.bulkDeadlines)) as number;
    }
    const bySlot = new Map<number, Buffer[]>();
    for (const key of keys) {
      const slot = calculateSlot(key);
      const group = bySlot.get(slot);
      if (group) group.push(key);
      else bySlot.set(slot, [key]);
    }
    const counts = await Promise.all(
      [...bySlot.values()].map(
        (group) => this.send(new Command('unlink', group), this.bulkDeadlines) as Promise<number>,
      ),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** Where keyspace-wide commands go: the masters of a cluster, else the client itself. */
  private servers(): RedisClient[] {
    return isClusterClient(this.client) ? this.client.nodes('master') : [this.client];
  }

  private commandTimedOut(timeoutMs: number, overload: EventLoopLoad | undefined): void {
    if (overload) {
      // This process was too busy to hear Redis: closing the path to Redis would turn a busy
      // moment into seconds of misses after it. Commands keep going; each is still bounded.
      this.warnings.warn(
        'overload',
        `Cache commands ran past ${timeoutMs} ms because this process was busy (${describeLoad(overload)}), not because Redis at ${this.description} was slow; the commands failed open, and Redis is still used.`,
      );
      return;
    }
    // A master that stops answering without dropping its connections (frozen, or cut off) is
    // failed over by the cluster, but ioredis learns the new map only when asked.
    if (isClusterClient(this.client) && !this.availability.stalled) {
      this.client.refreshSlotsCache();
    }
    this.availability.markStalled(timeoutMs);
  }

  /** A cluster answers again when every master it now knows does, within the deadline. */
  private probeEveryMaster(cluster: Cluster): Promise<unknown> {
    cluster.refreshSlotsCache();
    return Promise.all(
      cluster
        .nodes('master')
        .map((node) => this.track(new Command('ping', []), this.deadlines, node)),
    );
  }

  /** Waits (at most `waitMs`) for the database to be confirmed after a connect; resolves whether it is. */
  async databaseConfirmed(waitMs: number): Promise<boolean> {
    if (!this.onDatabase) await withinMs(waitMs, this.confirming);
    return this.onDatabase;
  }

  private confirmDatabase(): void {
    this.confirming = this.track(new Command('select', [this.database])).then(
      () => (this.onDatabase = true),
      (error: Error) =>
        this.warnings.warn(
          'select',
          `Redis (${this.description}) refused SELECT ${this.database}: ${error.message}. The cache fails open rather than use another database.`,
        ),
    );
  }

  private send(command: Command, deadlines = this.deadlines, via = this.client): Promise<unknown> {
    if (!this.onDatabase) return Promise.reject(DATABASE_UNCONFIRMED);
    if (!this.availability.accepting) return Promise.reject(NOT_ACCEPTING);
    return this.track(command, deadlines, via);
  }

  private track(command: Command, deadlines = this.deadlines, via = this.client): Promise<unknown> {
    deadlines.track(command);
    if (!this.batchingWrites && via === this.client && this.batchesWrites) this.batchWrites();
    return via.sendCommand(command) as Promise<unknown>;
  }

  /**
   * One socket write for the commands of an event-loop turn, uncorked by setImmediate (after the
   * turn's I/O callbacks, so requests that arrive together share it): a write per command was most
   * of the client's cost. Figures: docs/performance.md.
   */
  private batchWrites(): void {
    const stream = (this.client as Redis).stream;
    if (!stream || !stream.writable) return;
    this.batchingWrites = stream;
    stream.cork();
    setImmediate(this.sendBatch);
  }

  private readonly sendBatch = () => {
    const stream = this.batchingWrites;
    this.batchingWrites = undefined;
    stream?.uncork();
  };
}

/** Waits for `promise`, but no longer than `ms`. */
async function withinMs(ms: number, promise: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * Where a client points, without credentials, for logs: `redis://host:port/db`,
 * `sentinel://host:port,.../name/db` or `cluster://host:port,...` (the masters it knows).
 */
export function describeRedisTarget(client: RedisClient): string {
  if (isClusterClient(client)) {
    const tls = client.options.redisOptions?.tls ? 'rediss+' : '';
    // The nodes it was given are private to ioredis; the masters it knows are the useful part.
    const masters = client.nodes('master').map((node) => describeNode(node.options));
    return `${tls}cluster://${masters.length > 0 ? masters.join(',') : '(not connected yet)'}`;
  }
  const { host, port, db, tls, path, sentinels, name } = client.options;
  if (sentinels?.length) {
    return `${tls ? 'rediss+' : ''}sentinel://${sentinels.map(describeNode).join(',')}/${name}/${db ?? 0}`;
  }
  if (path) return `unix:${path}`;
  return `${tls ? 'rediss' : 'redis'}://${host ?? 'localhost'}:${port ?? 6379}/${db ?? 0}`;
}

function describeNode(node: unknown): string {
  if (typeof node === 'string' || typeof node === 'number') return String(node);
  const { host, port } = (node ?? {}) as { host?: string; port?: number };
  return `${host ?? 'localhost'}:${port ?? 6379}`;
}
