import { createHash } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';

/**
 * The index that lets flushes and counts touch only a namespace's own keys instead of scanning the
 * database. Beside each cache key `/{app}/{device}/{key}`:
 * - `keys-of:/{app}/{device}`, a sorted set of the namespace's keys (the `{key}` part, scored by
 *   the expiry in ms on Redis's clock), written in the same script as the key, so the two never
 *   disagree;
 * - `apps-of:/{device}`, a set naming the device's index keys, for `flushDevice`.
 * On a cluster, one index key per hash slot the namespace uses (`keys-of:{tag}/{app}/{device}`,
 * the tag chosen to land in the key's slot), so each write stays one script on one node; the
 * directory is written first, so an index key is always listed before it holds anything.
 * Both expire with the longest-lived key they cover. None of them has the `/{app}/{device}/{key}`
 * shape, so SCAN-based counts and flushes never see them.
 */
export const INDEX_PREFIX = 'keys-of:';
export const DIRECTORY_PREFIX = 'apps-of:';
/**
 * Set once every cache key of the database is indexed (by the migration that indexes what was
 * written before, or on an empty database); until then flushes and counts SCAN. A restart that
 * empties Redis removes it with everything else.
 */
export const INDEX_COMPLETE_KEY = 'keys-of:complete';
/** Held by the one instance that indexes the existing keys. */
export const INDEX_MIGRATION_LEASE_KEY = 'keys-of:migration';
/** Set for an hour when an audit found keys written without the index and dropped the marker. */
export const INDEX_RESET_KEY = 'keys-of:reset';
/**
 * Set until that hour is over when an audit finds such keys again: flushes and counts SCAN
 * meanwhile, without indexing everything again.
 */
export const INDEX_DISTRUSTED_KEY = 'keys-of:distrusted';
/** Keys without an expiry (written by something else) are indexed as living this long (ms). */
export const NO_EXPIRY_MS = 10 * 365 * 86_400_000;

/** Members a flush or count step handles in one script: bounded time on the server. */
export const INDEX_BATCH = 1000;

// Redis's clock in ms, inside a script (scripts replicate their effects, so TIME is allowed).
const NOW_MS = `local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)`;

const keepFor = (key: string, ttl: string) =>
  `if redis.call('PTTL', ${key}) < ${ttl} then redis.call('PEXPIRE', ${key}, ${ttl}) end`;

/** SET with EX and the index entry. KEYS: key, index[, directory]. ARGV: value, ttl s, member[, index name]. */
const SET = `${NOW_MS}
local ttl = tonumber(ARGV[2]) * 1000
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
${keepFor('KEYS[2]', 'ttl')}
if KEYS[3] then
  redis.call('SADD', KEYS[3], ARGV[4])
  ${keepFor('KEYS[3]', 'ttl')}
end
return 1`;

/**
 * The directory entry alone (a cluster writes it before the key). KEYS: directory. ARGV: index
 * name, ttl ms.
 */
const LIST = `redis.call('SADD', KEYS[1], ARGV[1])
${keepFor('KEYS[1]', 'tonumber(ARGV[2])')}
return 1`;

/** UNLINK and the index entry. KEYS: key, index. ARGV: member. */
const DELETE = `redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('UNLINK', KEYS[1])`;

/**
 * One flush step: UNLINKs up to a batch of the index's keys and drops their entries; once the index
 * is empty, its directory entry too (only where the directory is on the same server). KEYS:
 * index[, directory]. ARGV: key prefix, batch, index name. Returns { deleted, entries, left }.
 */
const FLUSH_STEP = `local members = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local deleted = 0
if #members > 0 then
  local keys = {}
  for i = 1, #members do keys[i] = ARGV[1] .. members[i] end
  deleted = redis.call('UNLINK', unpack(keys))
  redis.call('ZREM', KEYS[1], unpack(members))
end
local left = redis.call('ZCARD', KEYS[1])
if KEYS[2] and left == 0 then redis.call('SREM', KEYS[2], ARGV[3]) end
return {deleted, #members, left}`;

/**
 * One count step over entries [start, start + batch): counts those whose key exists and drops the
 * rest (expired, evicted or deleted behind the cache's back), so counts are exact. KEYS: index.
 * ARGV: key prefix, start, batch. Returns { live, entries, dropped }.
 */
const COUNT_STEP = `${NOW_MS}
local start = tonumber(ARGV[2])
if start == 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now) end
local members = redis.call('ZRANGE', KEYS[1], start, start + tonumber(ARGV[3]) - 1)
local live, gone = 0, {}
for i = 1, #members do
  if redis.call('EXISTS', ARGV[1] .. members[i]) == 1 then live = live + 1 else gone[#gone + 1] = members[i] end
end
if #gone > 0 then redis.call('ZREM', KEYS[1], unpack(gone)) end
return {live, #members, #gone}`;

/**
 * Indexes a key written before the index (or by another writer), if it still exists. KEYS: key,
 * index[, directory]. ARGV: member[, index name]. Returns 1 when it was not indexed yet.
 */
const ADOPT = `local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
if ttl == -1 then ttl = ${NO_EXPIRY_MS} end
${NOW_MS}
local added = redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
${keepFor('KEYS[2]', 'ttl')}
if KEYS[3] then
  redis.call('SADD', KEYS[3], ARGV[2])
  ${keepFor('KEYS[3]', 'ttl')}
end
return added`;

/**
 * Whether a key lacks its entry: 1 when it exists with no entry, or with an entry that expires
 * before the key does (rewritten by another writer with a longer TTL). KEYS: key, index. ARGV:
 * member.
 */
const CHECK = `local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score then return 1 end
${NOW_MS}
if ttl == -1 then
  if tonumber(score) > now + ${NO_EXPIRY_MS / 2} then return 0 end
  return 1
end
if tonumber(score) + 1000 < now + ttl then return 1 end
return 0`;

export interface IndexScript {
  readonly source: string;
  readonly sha: string;
}

const script = (source: string): IndexScript => ({
  source,
  sha: createHash('sha1').update(source).digest('hex'),
});

export const INDEX_SCRIPTS = {
  set: script(SET),
  list: script(LIST),
  delete: script(DELETE),
  flushStep: script(FLUSH_STEP),
  countStep: script(COUNT_STEP),
  adopt: script(ADOPT),
  check: script(CHECK),
} as const;

/** Where one cache key's index entry goes. */
export interface IndexEntry {
  /** The sorted set holding the entry. */
  readonly index: string;
  /** The set listing the device's index keys. */
  readonly directory: string;
  /** The entry: the key's `{key}` part. */
  readonly member: string;
}

/** Names the index keys of cache keys, on one server or on a cluster. */
export class NamespaceIndex {
  constructor(readonly clustered: boolean) {}

  /** The entry of a cache key `/{app}/{device}/{key}` (a key of another shape has none). */
  entryOf(key: string): IndexEntry | undefined {
    const appEnd = key.indexOf('/', 1);
    const deviceEnd = appEnd > 0 ? key.indexOf('/', appEnd + 1) : -1;
    if (key.charCodeAt(0) !== 47 || appEnd <= 1 || deviceEnd <= appEnd + 1) return undefined;
    const namespace = key.slice(0, deviceEnd);
    const tag = this.clustered ? `{${slotTag(calculateSlot(key))}}` : '';
    return {
      index: `${INDEX_PREFIX}${tag}${namespace}`,
      directory: this.directoryOf(key.slice(appEnd + 1, deviceEnd)),
      member: key.slice(deviceEnd + 1),
    };
  }

  /** The directory of a device's index keys. */
  directoryOf(deviceId: string): string {
    return `${DIRECTORY_PREFIX}/${deviceId}`;
  }

  /** On one server, the single index key of a namespace (a cluster's are in the directory). */
  indexOf(appId: string, deviceId: string): string {
    return `${INDEX_PREFIX}/${appId}/${deviceId}`;
  }

  /**
   * The key prefix `/{app}/{device}/` of an index key named in a directory, when it belongs to
   * `appId` (any app when undefined) and `deviceId`; else undefined.
   */
  prefixOf(indexName: string, deviceId: string, appId?: string): string | undefined {
    if (!indexName.startsWith(INDEX_PREFIX)) return undefined;
    let rest = indexName.slice(INDEX_PREFIX.length);
    if (this.clustered) {
      const tagEnd = rest.indexOf('}');
      if (!rest.startsWith('{') || tagEnd < 0) return undefined;
      rest = rest.slice(tagEnd + 1);
    }
    const deviceSegment = `/${deviceId}`;
    if (!rest.endsWith(deviceSegment)) return undefined;
    const app = rest.slice(1, rest.length - deviceSegment.length);
    if (!rest.startsWith('/') || app.length === 0 || app.includes('/')) return undefined;
    if (appId !== undefined && app !== appId) return undefined;
    return `${rest}/`;
  }
}

let slotTags: string[] | undefined;

/**
 * A short tag whose hash slot is `slot`: the first base-36 number, counting up, that lands there.
 * The same on every instance; built once, on a cluster only (about 90,000 hashes, 30 ms).
 */
export function slotTag(slot: number): string {
  if (!slotTags) {
    const tags: string[] = new Array<string>(16_384);
    let missing = tags.length;
    for (let n = 0; missing > 0; n++) {
      const tag = n.toString(36);
      const at = calculateSlot(tag);
      if (tags[at] === undefined) {
        tags[at] = tag;
        missing--;
      }
    }
    slotTags = tags;
  }
  return slotTags[slot];
}
