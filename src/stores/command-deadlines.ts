import type { Command } from 'ioredis';
import { performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { CommandTimeoutError } from './store-errors';
import type { EventLoopLoad } from './store-errors';

/**
 * A class, not an object literal: V8 can pretenure literal allocation sites (allocate them straight
 * in the old generation) when many survive a collection, and entries wait in the queue for a while.
 */
class Tracked {
  settled = false;

  constructor(
    /** Dropped once settled: a settled command holds its reply, often a slice of a large socket read. */
    public command: Command | undefined,
    readonly deadline: number,
  ) {}
}

/**
 * Bounds how long a Redis command may take, with one timer for all commands in flight instead of
 * ioredis's timer per command (measurably cheaper: docs/performance.md). Equal timeouts arrive in
 * order, so deadlines sit in a FIFO that drops settled entries as new ones arrive.
 */
/** Settled entries at the head that trigger a copy of the live ones to a fresh array. */
const COMPACT_AFTER = 64;

/**
 * The event loop counts as overloaded when the deadline's timer ran this late (ms): half the
 * timeout, at least 50 ms (a busy machine runs timers a few, now and then tens of, ms late)...
 */
const lateAfterMs = (timeoutMs: number) => Math.max(50, timeoutMs / 2);
/**
 * ...or when it was running code this share of the time since the timer was armed: a burst of
 * work keeps the loop turning (timers on time) but leaves it no time to read replies. A timeout
 * taken for an overload only leaves the path to Redis open for the next, still bounded, command.
 */
const BUSY_UTILIZATION = 0.9;

/** The event loop's use from `start` on. */
interface UtilizationWindow {
  readonly start: number;
  readonly since: EventLoopUtilization;
  /** Opened as commands expired because the loop was busy. */
  readonly afterOverload: boolean;
}

export class CommandDeadlines {
  private queue: Tracked[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer is due. */
  private dueAt = 0;
  /** Where the event loop's use is measured from: renewed once per timeout, and after an overload. */
  private window: UtilizationWindow | undefined;
  /** An expiry put off to after this turn's poll phase (see `expire`). */
  private deferred: NodeJS.Immediate | undefined;
  private readonly lateAfterMs: number;

  /** `onTimeout`'s `overload`: how busy the event loop was, when that is why the command expired. */
  constructor(
    private readonly timeoutMs: number,
    private readonly onTimeout: (command: Command, overload: EventLoopLoad | undefined) => void,
  ) {
    this.lateAfterMs = lateAfterMs(timeoutMs);
  }

  /**
   * Starts the clock for a command, before it is sent. The entry is marked settled when the command
   * resolves or rejects: its own settle functions are wrapped, so the caller can hand back the
   * command's promise as it is, with no async frame (and microtask turn) of its own.
   */
  track(command: Command): { settled: boolean } {
    const entry = new Tracked(command, performance.now() + this.timeoutMs);
    const { resolve, reject } = command;
    command.resolve = (value: unknown) => {
      settle(entry);
      resolve(value);
    };
    command.reject = (error: Error) => {
      settle(entry);
      reject(error);
    };
    this.dropSettledHead();
    this.queue.push(entry);
    if (!this.timer && !this.deferred) this.timer = this.arm(this.timeoutMs);
    return entry;
  }

  /** Commands tracked and not yet settled or expired (for tests and diagnostics). */
  get pending(): number {
    let count = 0;
    for (let i = this.head; i < this.queue.length; i++) if (!this.queue[i].settled) count++;
    return count;
  }

  /** Stops the timer; pending commands are left to the client. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.deferred) clearImmediate(this.deferred);
    this.timer = undefined;
    this.deferred = undefined;
    this.queue = [];
    this.head = 0;
  }

  private arm(delayMs: number, afterOverload = false): NodeJS.Timeout {
    const wait = Math.max(0, Math.ceil(delayMs));
    const now = performance.now();
    this.dueAt = now + wait;
    if (afterOverload || !this.window || now - this.window.start >= this.timeoutMs) {
      this.window = { start: now, since: performance.eventLoopUtilization(), afterOverload };
    }
    const timer = setTimeout(() => this.expire(), wait);
    timer.unref();
    return timer;
  }

  /**
   * Rejects what is overdue. When the event loop was overloaded, replies may be sitting in the
   * socket unread (Node runs timers before it polls for I/O): it first lets this turn's poll phase
   * read them (setImmediate runs right after it), then rejects what is still unanswered as an
   * overload of this process, not a Redis timeout.
   */
  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    const window = this.window!;
    const load: EventLoopLoad = {
      lateMs: now - this.dueAt,
      utilization: performance.eventLoopUtilization(window.since).utilization,
    };
    // Over less than half the timeout, utilization says little (the loop is busy right after it
    // failed a batch of commands), unless the window opened as an overload's batch expired: a
    // loop busy ever since is the same overload going on (a burst's deadlines keep coming).
    const measured = now - window.start >= this.timeoutMs / 2 || window.afterOverload;
    const busy =
      load.lateMs >= this.lateAfterMs || (measured && load.utilization >= BUSY_UTILIZATION);
    if (!busy) {
      this.expireOverdue(undefined);
      return;
    }
    // Not unref'd: an unref'd immediate lets the poll phase block until other I/O comes, which on
    // a quiet process would hold the rejection for seconds.
    this.deferred = setImmediate(() => {
      this.deferred = undefined;
      this.expireOverdue(load);
    });
  }

  private expireOverdue(overload: EventLoopLoad | undefined): void {
    const now = performance.now();
    while (this.head < this.queue.length) {
      const entry = this.queue[this.head];
      const command = entry.command;
      if (!entry.settled && command) {
        if (entry.deadline > now) break;
        settle(entry);
        command.reject(new CommandTimeoutError(this.timeoutMs, overload));
        this.onTimeout(command, overload);
      }
      this.head++;
    }
    this.compact();
    if (this.head < this.queue.length) {
      this.timer = this.arm(this.queue[this.head].deadline - now, overload !== undefined);
    }
  }

  private dropSettledHead(): void {
    while (this.head < this.queue.length && this.queue[this.head].settled) this.head++;
    this.compact();
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

// Retaining settled commands kept their replies alive (and the socket buffers those slice) past
// young-generation collections: on a busy cache that turned into frequent full collections.
function settle(entry: Tracked): void {
  entry.settled = true;
  entry.command = undefined;
}
