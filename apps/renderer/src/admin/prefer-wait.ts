/** How long an admin call waits for its flush or count when the client does not say. */
export const DEFAULT_ADMIN_WAIT_MS = 2000;
/** The longest a client may ask an admin call to wait (`Prefer: wait=N`). */
export const MAX_ADMIN_WAIT_MS = 60_000;

/** How long to wait before answering 202, and the preference honoured (for `Preference-Applied`). */
export interface AdminWait {
  waitMs: number;
  applied?: string;
}

/**
 * Reads RFC 7240's `Prefer` request header: `wait=N` waits up to N seconds (at most a minute),
 * `respond-async` alone answers 202 at once (with `wait=N`: 202 after N seconds); anything else,
 * or nothing, waits the default 2 s.
 */
export function adminWaitFrom(prefer: string | string[] | undefined): AdminWait {
  const preferences = [prefer ?? []]
    .flat()
    .flatMap((header) => header.split(','))
    .map((preference) => preference.split(';')[0].trim().toLowerCase());
  const async = preferences.includes('respond-async');
  for (const preference of preferences) {
    const seconds = /^wait\s*=\s*"?(\d{1,9})"?$/.exec(preference)?.[1];
    if (seconds === undefined) continue;
    const waitMs = Math.min(Number(seconds) * 1000, MAX_ADMIN_WAIT_MS);
    const applied = `wait=${waitMs / 1000}`;
    return { waitMs, applied: async ? `respond-async, ${applied}` : applied };
  }
  if (async) return { waitMs: 0, applied: 'respond-async' };
  return { waitMs: DEFAULT_ADMIN_WAIT_MS };
}
