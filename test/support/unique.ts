import { randomBytes } from 'node:crypto';

/** An id no other test (or earlier run against a shared REDIS_URL) uses. */
export function uniqueId(label = 'id'): string {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
