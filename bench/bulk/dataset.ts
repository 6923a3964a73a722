// The large databases the bulk, key-count and namespace-index benchmarks work on: keys shaped like
// cache keys, `/{app}-{tag}/{device}/{key}`, with short values. The run's tag in every app id tells
// its keys from anyone else's, so a shared Redis is left as it was found.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { unlinkMatching } from '../support/redis';

export const FILLER_APPS = 100;
const FILLER_KEYS_PER_APP_DEVICE = 10;
/** Apps the target device's keys are spread over. */
export const TARGET_APPS = 10;
/** Small, so the database is mostly keys. */
export const FILLER_VALUE = 'v'.repeat(16);
/** Well past any run, so keys a crash leaves on a shared server expire on their own. */
const KEY_TTL_SECONDS = 3 * 3600;
const PIPELINE_BATCH = 10_000;
/** COUNT of every hand-written SCAN, as the module uses. */
export const SCAN_COUNT = 1000;

const appId = (tag: string, index: number) => `a${index}-${tag}`;

/** Filler key `i`: 100 apps × (count / 1000) devices × 10 keys, a device in every app. */
export function fillerKey(tag: string, i: number): string {
  const rest = Math.floor(i / FILLER_APPS);
  const device = Math.floor(rest / FILLER_KEYS_PER_APP_DEVICE);
  return `/${appId(tag, i % FILLER_APPS)}/d${device}/k${rest % FILLER_KEYS_PER_APP_DEVICE}`;
}

/** SETs `count` keys named by `keyOf`, in pipelines, with the short value and a TTL. */
export async function writeKeys(client: Redis, count: number, keyOf: (i: number) => string) {
  for (let start = 0; start < count; start += PIPELINE_BATCH) {
    const pipeline = client.pipeline();
    for (let i = start; i < Math.min(count, start + PIPELINE_BATCH); i++) {
      pipeline.set(keyOf(i), FILLER_VALUE, 'EX', KEY_TTL_SECONDS);
    }
    const failed = ((await pipeline.exec()) ?? []).find(([error]) => error !== null);
    if (failed) throw failed[0]!;
  }
}

export const writeFiller = (client: Redis, tag: string, count: number) =>
  writeKeys(client, count, (i) => fillerKey(tag, i));

/** UNLINKs exactly the keys tagged `tag`; resolves how many. */
export function removeTagged(client: Redis, tag: string): Promise<number> {
  return unlinkMatching(client, `/*-${tag}/*`, (key) => {
    const parts = key.split('/');
    return parts.length === 4 && parts[0] === '' && parts[1].endsWith(`-${tag}`);
  });
}

/** SCANs `pattern` to its end, handing each batch to `onBatch`; resolves the number of SCANs. */
export async function scanAll(
  client: Redis,
  pattern: string,
  onBatch: (keys: string[]) => unknown,
): Promise<number> {
  let scans = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    scans++;
    cursor = next;
    await onBatch(keys);
  } while (cursor !== '0');
  return scans;
}

/** Counts the keys matching `pattern`, adding up each SCAN batch (the hand-written count loop). */
export async function scanCount(client: Redis, pattern: string) {
  let count = 0;
  const scans = await scanAll(client, pattern, (keys) => {
    count += keys.length;
  });
  return { count, scans };
}

/** The bulk benchmark's database: filler, one device's keys to flush, one namespace to count. */
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
  const [targetDevice, statsApp, statsDevice] = [`target-${tag}`, appId(tag, 7), `stats-${tag}`];
  return { tag, totalKeys, matching, fillerKeys, targetDevice, statsApp, statsDevice };
}

/** The target device's key `i`, spread over the first 10 apps (which hold filler keys too). */
export const targetKey = (dataset: BulkDataset, i: number) =>
  `/${appId(dataset.tag, i % TARGET_APPS)}/${dataset.targetDevice}/k${i}`;

export async function populate(client: Redis, dataset: BulkDataset) {
  const { tag, fillerKeys, matching, statsApp, statsDevice } = dataset;
  await writeFiller(client, tag, fillerKeys);
  await writeKeys(client, matching, (i) => targetKey(dataset, i));
  await writeKeys(client, matching, (i) => `/${statsApp}/${statsDevice}/k${i}`);
}

/** How many of the target device's keys exist (EXISTS of 1,000 at a time). */
export async function countTargetKeys(client: Redis, dataset: BulkDataset): Promise<number> {
  let found = 0;
  for (let start = 0; start < dataset.matching; start += 1000) {
    const end = Math.min(dataset.matching, start + 1000);
    const keys = Array.from({ length: end - start }, (_, i) => targetKey(dataset, start + i));
    found += await client.exists(...keys);
  }
  return found;
}
