import type { Command } from 'ioredis';
import { CommandTimeoutError } from './store-errors';

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
 * Bounds how long a Redis command may take, with one timer for all commands in flight.
 *
 * ioredis's `commandTimeout` arms and clears a timer per command, which costs measurable
 * throughput at cache rates. Every command here gets the same timeout, so deadlines arrive in
 * order: they sit in a FIFO and one timer, armed for the oldest unsettled command, rejects whatever
 * is overdue. Settled entries are dropped from the head as new ones arrive, so the queue stays about
 * as long as the number of commands in flight, and holds no settled command for long (commands kept
 * alive past a garbage collection make every later one dearer).
 */
/** Settled entries at the head that trigger a copy of the live ones to a fresh array. */
const COMPACT_AFTER = 64;

export class CommandDeadlines {
  private queue: Tracked[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly onTimeout: (command: Command) => void,
  ) {}

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
    this.timer ??= this.arm(this.timeoutMs);
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
    this.timer = undefined;
    this.queue = [];
    this.head = 0;
  }

  private arm(delayMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.expire(), Math.max(0, Math.ceil(delayMs)));
    timer.unref();
    return timer;
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.queue.length) {
      const entry = this.queue[this.head];
      const command = entry.command;
      if (!entry.settled && command) {
        if (entry.deadline > now) break;
        settle(entry);
        command.reject(new CommandTimeoutError(this.timeoutMs));
        this.onTimeout(command);
      }
      this.head++;
    }
    this.compact();
    if (this.head < this.queue.length) {
      this.timer = this.arm(this.queue[this.head].deadline - now);
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
