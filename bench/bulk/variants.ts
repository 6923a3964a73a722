/** What the bulk benchmark times: the module's two bulk operations, each beside a hand-written loop. */
export const BULK_VARIANTS = [
  'flushDevice',
  'scan-unlink-loop',
  'stats',
  'scan-count-loop',
] as const;
export type BulkVariant = (typeof BULK_VARIANTS)[number];

/** Each module operation and the hand-written loop it is held against. */
export const BULK_PAIRS: readonly { module: BulkVariant; baseline: BulkVariant }[] = [
  { module: 'flushDevice', baseline: 'scan-unlink-loop' },
  { module: 'stats', baseline: 'scan-count-loop' },
];

export const isFlush = (variant: BulkVariant) =>
  variant === 'flushDevice' || variant === 'scan-unlink-loop';

export const BULK_VARIANT_DESCRIPTIONS: Record<BulkVariant, string> = {
  flushDevice:
    '`RedisCache.fromClient(client).withContext(app, device).flushDevice()`: SCAN `MATCH /*/{device}/* COUNT 1000`, each key checked for the exact `/{app}/{device}/{key}` shape, one UNLINK per non-empty batch sent while the next SCAN runs',
  'scan-unlink-loop':
    "hand-written: `client.scan(cursor, 'MATCH', '/*/{device}/*', 'COUNT', 1000)`, then `await client.unlink(...keys)` for each non-empty batch, one after the other",
  stats:
    '`withContext(app, device).stats()`: SCAN `MATCH /{app}/{device}/* COUNT 1000`, exact-shape check, distinct keys counted in a Set',
  'scan-count-loop':
    "hand-written: `client.scan(cursor, 'MATCH', '/{app}/{device}/*', 'COUNT', 1000)`, adding up `keys.length`",
};

/** Targets from the issue. */
export const FLUSH_RATIO_TARGET = 1.1;
export const GET_P99_TARGET_MS = 5;

/** What a worker prints after `RESULT `. */
export interface BulkWorkerResult {
  variant: BulkVariant;
  /** Keys deleted (flushes) or counted (counts), as the operation reported. */
  count: number;
  /** The operation's wall time, in ms. */
  ms: number;
  /** Wall-clock bounds of the operation (ms since the epoch), to pick the GETs sent meanwhile. */
  startEpochMs: number;
  endEpochMs: number;
  /** SCAN calls made (hand-written loops only; the module does not say). */
  scans?: number;
  /** The worker's CPU time during the operation, and over its whole life, in ms. */
  opCpuMs: number;
  cpuMs: number;
  /** Right before the operation, after a forced GC. */
  rssBeforeBytes: number;
  heapUsedBeforeBytes: number;
  /** Highest RSS during the operation: the kernel's high-water mark, reset just before it. */
  rssPeakBytes: number;
  /** True when the high-water mark could not be reset and the peak is from 5 ms samples. */
  rssPeakSampled: boolean;
  /** Highest heapUsed seen in 5 ms samples during the operation. */
  heapUsedPeakBytes: number;
  samples: number;
}
