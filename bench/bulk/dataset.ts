// The bulk benchmark's database: a million keys shaped like cache keys, of which one device's and
// one app-and-device's are the keys a flush or a count must find. Every app id carries the run's
// tag, so the keys this run wrote are told apart from anyone else's, and removed exactly.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { unlinkMatching } from '../support/redis';

/** Apps the filler keys are spread over. */
export const FILLER_APPS = 100;
/** Keys per app on each filler device. */
export const FILLER_KEYS_PER_APP_DEVICE = 10;
/** Apps the target device's keys are spread over (its keys in each are an equal share). */
export const TARGET_APPS = 10;
/** Every key's value: small, so the database is mostly keys. */
export const FILLER_VALUE = 'v'.repeat(16);
/** Well past any run, so keys left on a shared server by a crash expire on their own. */
export const KEY_TTL_SECONDS = 3 * 3600;
/** Commands per pipeline while filling. */
const PIPELINE_BATCH = 10_000;

/** The shape of one run's database; everything derives from `tag`, `totalKeys` and `matching`. */
export interface BulkDataset {
  readonly tag: string;
  readonly totalKeys: number;
  /** Keys of the target device (flushDevice), and of the stats namespace (stats). */
  readonly matching: number;
  readonly fillerKeys: number;
  readonly targetDevice: string;
  readonly statsApp: string;
  readonly statsDevice: string;
}

export function planDataset(totalKeys: number, matching: number): BulkDataset {
  const tag = randomBytes(3).toString('hex');
  const fillerKeys = totalKeys - 2 * matching;
  if (fillerKeys <= 0 || matching % TARGET_APPS !== 0) {
    throw new Error(
      `--keys ${totalKeys} and --matching ${matching}: need keys > 2 × matching and matching a multiple of ${TARGET_APPS}`,
    );
  }
  return {
    tag,
    totalKeys,
    matching,
    fillerKeys,
    targetDevice: `target-${tag}`,
    statsApp: appId(tag, 7),
    statsDevice: `stats-${tag}`,
  };
}

const appId = (tag: string, index: number) => `a${index}-${tag}`;

/**
 * Filler key `i`: 100 apps × (fillerKeys / 1000) devices × 10 keys, so every filler device has
 * keys in every app, like a device that uses many apps.
 */
export function fillerKey(tag: string, i: number): string {
  const app = i % FILLER_APPS;
  const rest = Math.floor(i / FILLER_APPS);
  const key = rest % FILLER_KEYS_PER_APP_DEVICE;
  const device = Math.floor(rest / FILLER_KEYS_PER_APP_DEVICE);
  return `/${appId(tag, app)}/d${device}/k${key}`;
}

/** The target device's key `i`: spread over the first 10 apps (which also hold filler keys). */
export function targetKey(dataset: BulkDataset, i: number): string {
  return `/${appId(dataset.tag, i % TARGET_APPS)}/${dataset.targetDevice}/k${i}`;
}

export function statsKey(dataset: BulkDataset, i: number): string {
  return `/${dataset.statsApp}/${dataset.statsDevice}/k${i}`;
}

/** SCAN MATCH pattern of every key this run wrote (filtered again by `isOwnKey`). */
export const ownKeysPattern = (dataset: BulkDataset) => `/*-${dataset.tag}/*`;

/** Exactly the shape this run writes: `/{app}-{tag}/{device}/{key}`, three slashes. */
export function isOwnKey(dataset: BulkDataset, key: string): boolean {
  const parts = key.split('/');
  return parts.length === 4 && parts[0] === '' && parts[1].endsWith(`-${dataset.tag}`);
}

/** SETs `count` keys named by `keyOf`, pipelined in batches, with a short value and a TTL. */
export async function writeKeys(
  client: Redis,
  count: number,
  keyOf: (i: number) => string,
): Promise<void> {
  for (let start = 0; start < count; start += PIPELINE_BATCH) {
    const pipeline = client.pipeline();
    const end = Math.min(count, start + PIPELINE_BATCH);
    for (let i = start; i < end; i++) pipeline.set(keyOf(i), FILLER_VALUE, 'EX', KEY_TTL_SECONDS);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error !== null);
    if (failed) throw failed[0]!;
  }
}

/** Fills the database: filler, the target device's keys and the stats namespace's. */
export async function populate(client: Redis, dataset: BulkDataset): Promise<void> {
  await writeKeys(client, dataset.fillerKeys, (i) => fillerKey(dataset.tag, i));
  await writeKeys(client, dataset.matching, (i) => targetKey(dataset, i));
  await writeKeys(client, dataset.matching, (i) => statsKey(dataset, i));
}

/** How many of the target device's keys exist (multi-key EXISTS, 1,000 at a time). */
export async function countTargetKeys(client: Redis, dataset: BulkDataset): Promise<number> {
  let found = 0;
  for (let start = 0; start < dataset.matching; start += 1000) {
    const keys: string[] = [];
    for (let i = start; i < Math.min(dataset.matching, start + 1000); i++) {
      keys.push(targetKey(dataset, i));
    }
    found += await client.exists(...keys);
  }
  return found;
}

/** UNLINKs every key this run wrote, and only those; resolves how many. */
export const removeOwnKeys = (client: Redis, dataset: BulkDataset) =>
  unlinkMatching(client, ownKeysPattern(dataset), (key) => isOwnKey(dataset, key));
