// What the fault suite and its load worker (load-worker.ts, a separate process) say to each other
// over the IPC channel. Types only: the worker is transpiled on its own and imports nothing else.

/** How the worker loads the renderer. Every figure is a bound: the load stops at the first reached. */
export interface LoadWorkerConfig {
  /** `http://127.0.0.1:<port>`: loopback only. */
  readonly baseUrl: string;
  /** Request paths, sent round robin. */
  readonly paths: readonly string[];
  /** Requests started per second, on a fixed schedule whatever the answers (an open loop). */
  readonly ratePerSecond: number;
  /** Keep-alive connections at most. */
  readonly connections: number;
  /** A request due while this many are unanswered is not sent, and counts as failed. */
  readonly maxInFlight: number;
  /** Requests at most, over the worker's life. */
  readonly maxRequests: number;
  /** The worker stops sending after this long, even if never told to stop. */
  readonly maxDurationMs: number;
  /** A request unanswered after this long is abandoned and counts as failed. */
  readonly requestTimeoutMs: number;
  /** How often outcomes are sent to the parent. */
  readonly reportEveryMs: number;
}

/** One request's fate. Times are epoch milliseconds (`performance.timeOrigin + now()`). */
export interface RequestOutcome {
  /** When the request was due on the schedule (latency counts from here, so waiting counts). */
  readonly startedAt: number;
  readonly latencyMs: number;
  readonly path: string;
  /** HTTP status, 0 when there was no answer. */
  readonly status: number;
  /** The `X-Cache` header. */
  readonly cache: 'HIT' | 'MISS' | null;
  /** Why the request failed; `null` when it got a 200 with the PNG expected for its path. */
  readonly error: string | null;
}

export type WorkerMessage =
  | { readonly type: 'outcomes'; readonly outcomes: readonly RequestOutcome[] }
  | {
      readonly type: 'done';
      readonly sent: number;
      /** Requests due while `maxInFlight` were unanswered: not sent (also reported as outcomes). */
      readonly skipped: number;
      readonly reason: 'stopped' | 'max-requests' | 'max-duration';
    };

export type ParentMessage = { readonly type: 'stop' };
