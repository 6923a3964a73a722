import { BENCH_VALUE } from '../../support/redis';

/** One variant's operation on its client, how to tell a right result, and how to clean up. */
export interface Operation {
  run(): Promise<unknown>;
  isExpected(result: unknown): boolean;
  /** Failures the client swallowed (the cache fails open; Keyv reports errors as events). */
  swallowedErrors(): number;
  /** The module's own counter for the expected result (`cache` variants only). */
  metricsCount?(): Promise<number>;
  /** Deletes the keys this worker wrote and closes the client. */
  close(): Promise<void>;
}

/** The benchmark value, as bytes. */
export const isBenchBuffer = (result: unknown): boolean =>
  Buffer.isBuffer(result) && result.length === Buffer.byteLength(BENCH_VALUE);
