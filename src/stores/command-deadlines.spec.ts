import { stat } from 'node:fs';
import { Command } from 'ioredis';
import { CommandDeadlines } from './command-deadlines';
import { CommandTimeoutError } from './store-errors';

const TIMEOUT_MS = 30;
// Timers fire late on a busy machine; they must not fire (much) early.
const SLACK_MS = 500;
const EARLY_MS = 2;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Outcome {
  settledAt?: number;
  error?: unknown;
  resolved: boolean;
}

/** A command that is never sent, with its outcome observed (so no rejection goes unhandled). */
function trackCommand(deadlines: CommandDeadlines, name = 'get') {
  const command = new Command(name, ['k']);
  const outcome: Outcome = { resolved: false };
  const done = command.promise.then(
    () => {
      outcome.resolved = true;
      outcome.settledAt = performance.now();
    },
    (error: unknown) => {
      outcome.error = error;
      outcome.settledAt = performance.now();
    },
  );
  const startedAt = performance.now();
  const entry = deadlines.track(command);
  return { command, entry, outcome, done, startedAt };
}

describe('CommandDeadlines', () => {
  let onTimeout: jest.Mock;
  let deadlines: CommandDeadlines;

  beforeEach(() => {
    onTimeout = jest.fn();
    deadlines = new CommandDeadlines(TIMEOUT_MS, onTimeout);
  });

  afterEach(() => {
    deadlines.stop();
    jest.restoreAllMocks();
  });

  it('rejects an unsettled command with CommandTimeoutError once its timeout passes', async () => {
    const { command, entry, outcome, done, startedAt } = trackCommand(deadlines);
    expect(deadlines.pending).toBe(1);

    await done;

    expect(outcome.resolved).toBe(false);
    expect(outcome.error).toBeInstanceOf(CommandTimeoutError);
    expect((outcome.error as CommandTimeoutError).timeoutMs).toBe(TIMEOUT_MS);
    expect((outcome.error as Error).message).toMatch(`within ${TIMEOUT_MS} ms`);
    const elapsed = outcome.settledAt! - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - EARLY_MS);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);

    expect(onTimeout).toHaveBeenCalledTimes(1);
    expect(onTimeout.mock.calls[0][0]).toBe(command);
    expect(entry.settled).toBe(true);
    expect(deadlines.pending).toBe(0);
  });

  it('does not reject a command settled before its deadline, nor report it', async () => {
    const { outcome, entry } = trackCommand(deadlines);
    await sleep(TIMEOUT_MS / 3);
    entry.settled = true;
    expect(deadlines.pending).toBe(0);

    await sleep(TIMEOUT_MS * 3);

    expect(outcome.error).toBeUndefined();
    expect(outcome.settledAt).toBeUndefined();
    expect(onTimeout).not.toHaveBeenCalled();
  });

  it('marks an entry settled when its command resolves or rejects, and never times it out', async () => {
    const answered = trackCommand(deadlines, 'answered');
    const failed = trackCommand(deadlines, 'failed');
    expect(deadlines.pending).toBe(2);

    // What the client does when Redis replies.
    answered.command.resolve(Buffer.from('value'));
    failed.command.reject(new Error('connection lost'));
    expect(answered.entry.settled).toBe(true);
    expect(failed.entry.settled).toBe(true);
    expect(deadlines.pending).toBe(0);
    // Nothing keeps a settled command (and the reply it holds) alive until the queue moves on.
    expect(answered.entry).not.toHaveProperty('command', answered.command);
    expect(failed.entry).not.toHaveProperty('command', failed.command);

    await Promise.all([answered.done, failed.done]);
    await sleep(TIMEOUT_MS * 3);
    expect(answered.outcome.resolved).toBe(true);
    expect((failed.outcome.error as Error).message).toBe('connection lost');
    expect(onTimeout).not.toHaveBeenCalled();
  });

  it('times out only the unsettled commands of a batch, with one timer for all of them', async () => {
    const setTimeoutSpy = jest.spyOn(global, 'setTimeout');
    const commands = Array.from({ length: 50 }, (_, i) => trackCommand(deadlines, `get${i}`));
    expect(deadlines.pending).toBe(50);
    expect(setTimeoutSpy).toHaveBeenCalledTimes(1);
    setTimeoutSpy.mockRestore();

    const settled = commands.filter((_, i) => i % 2 === 0);
    for (const { entry } of settled) entry.settled = true;
    expect(deadlines.pending).toBe(25);

    await Promise.all(commands.filter((_, i) => i % 2 === 1).map(({ done }) => done));
    await sleep(10);

    expect(deadlines.pending).toBe(0);
    expect(onTimeout).toHaveBeenCalledTimes(25);
    const timedOut = new Set(onTimeout.mock.calls.map(([command]) => command as Command));
    commands.forEach(({ command, outcome }, i) => {
      if (i % 2 === 1) {
        expect(outcome.error).toBeInstanceOf(CommandTimeoutError);
        expect(timedOut.has(command)).toBe(true);
      } else {
        expect(outcome.error).toBeUndefined();
        expect(timedOut.has(command)).toBe(false);
      }
    });
  });

  it('gives each command its own deadline when they start at different times', async () => {
    const first = trackCommand(deadlines, 'first');
    await sleep(TIMEOUT_MS / 2);
    const second = trackCommand(deadlines, 'second');

    await Promise.all([first.done, second.done]);

    for (const { outcome, startedAt } of [first, second]) {
      expect(outcome.error).toBeInstanceOf(CommandTimeoutError);
      const elapsed = outcome.settledAt! - startedAt;
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - EARLY_MS);
      expect(elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    }
    expect(onTimeout.mock.calls.map(([command]) => (command as Command).name)).toEqual([
      'first',
      'second',
    ]);
    expect(deadlines.pending).toBe(0);
  });

  it('times out a command tracked behind a settled one', async () => {
    const first = trackCommand(deadlines, 'first');
    await sleep(TIMEOUT_MS / 2);
    first.entry.settled = true;
    const second = trackCommand(deadlines, 'second');

    await second.done;

    expect(second.outcome.error).toBeInstanceOf(CommandTimeoutError);
    expect(second.outcome.settledAt! - second.startedAt).toBeGreaterThanOrEqual(
      TIMEOUT_MS - EARLY_MS,
    );
    expect(first.outcome.error).toBeUndefined();
    expect(onTimeout).toHaveBeenCalledTimes(1);
    expect(onTimeout.mock.calls[0][0]).toBe(second.command);
  });

  it('keeps working for commands tracked after the queue emptied', async () => {
    await trackCommand(deadlines, 'first').done;
    expect(deadlines.pending).toBe(0);

    const later = trackCommand(deadlines, 'later');
    expect(deadlines.pending).toBe(1);
    await later.done;

    expect(later.outcome.error).toBeInstanceOf(CommandTimeoutError);
    expect(onTimeout).toHaveBeenCalledTimes(2);
    expect(deadlines.pending).toBe(0);
  });

  it('stop() clears the pending commands and the timer, leaving the commands alone', async () => {
    const commands = [trackCommand(deadlines), trackCommand(deadlines)];
    expect(deadlines.pending).toBe(2);

    deadlines.stop();
    expect(deadlines.pending).toBe(0);

    await sleep(TIMEOUT_MS * 3);
    expect(onTimeout).not.toHaveBeenCalled();
    for (const { outcome } of commands) expect(outcome.settledAt).toBeUndefined();

    // Settle them the way the client would, so nothing is left hanging.
    for (const { command } of commands) command.resolve('done');
    await Promise.all(commands.map(({ done }) => done));
    for (const { outcome } of commands) expect(outcome.resolved).toBe(true);
  });

  it('can track again after stop()', async () => {
    deadlines.stop();
    const { outcome, done } = trackCommand(deadlines);
    await done;
    expect(outcome.error).toBeInstanceOf(CommandTimeoutError);
    expect(onTimeout).toHaveBeenCalledTimes(1);
  });

  describe('when the event loop was busy past a deadline', () => {
    /** Blocks this thread: the event loop can run nothing meanwhile. */
    const block = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };

    it('lets the I/O that completed meanwhile settle its command before anything expires', async () => {
      const { command, outcome, done } = trackCommand(deadlines);
      // An I/O callback that becomes due during the block, as a Redis reply would: Node runs the
      // late timer before it polls for I/O, so expiring at once would reject an answered command.
      stat(__filename, () => command.resolve('answered'));
      block(TIMEOUT_MS * 3 + 100);
      await done;
      expect(outcome.resolved).toBe(true);
      expect(outcome.error).toBeUndefined();
      expect(onTimeout).not.toHaveBeenCalled();
    });

    it('rejects what is still unanswered as an overload of this process, saying how busy it was', async () => {
      // Whether each immediate scheduled meanwhile still keeps the loop awake once its scheduler is done.
      const keepsLoopAwake: boolean[] = [];
      const schedule = setImmediate;
      jest
        .spyOn(global, 'setImmediate')
        .mockImplementation((...args: Parameters<typeof schedule>) => {
          const immediate = schedule(...args);
          queueMicrotask(() => keepsLoopAwake.push(immediate.hasRef()));
          return immediate;
        });
      const { command, outcome, done } = trackCommand(deadlines);
      block(TIMEOUT_MS * 3 + 100);
      const blockEnded = performance.now();
      await done;
      // At once after the busy moment, even with nothing else for the event loop to wake up for:
      // an unref'd immediate would wait for other I/O (seconds on a quiet process), which this
      // test's own event loop, busy with Jest, does not show by timing alone.
      expect(outcome.settledAt! - blockEnded).toBeLessThan(SLACK_MS);
      expect(keepsLoopAwake.length).toBeGreaterThan(0);
      expect(keepsLoopAwake.every(Boolean)).toBe(true);
      const error = outcome.error as CommandTimeoutError;
      expect(error).toBeInstanceOf(CommandTimeoutError);
      expect(error.overload?.lateMs).toBeGreaterThanOrEqual(TIMEOUT_MS * 2);
      expect(error.overload?.utilization).toBeGreaterThan(0.9);
      expect(error.message).toMatch(
        /this process was busy \(event loop \d+% busy, timers \d+ ms late\)/,
      );
      expect(onTimeout).toHaveBeenCalledWith(command, error.overload);
    });

    it('still calls it an overload when the next deadline comes soon after a busy one', async () => {
      // Busy in short chunks: timers run on time, only the loop's utilization shows the load.
      let busy = true;
      const work = (async () => {
        while (busy) {
          block(4);
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const first = trackCommand(deadlines);
      block(TIMEOUT_MS / 3);
      // Its deadline comes a third of the timeout after the first one's, when the window the
      // loop's use is measured over has just been renewed.
      const second = trackCommand(deadlines);
      await Promise.all([first.done, second.done]);
      busy = false;
      await work;
      for (const { outcome } of [first, second]) {
        const error = outcome.error as CommandTimeoutError;
        expect(error).toBeInstanceOf(CommandTimeoutError);
        expect(error.overload?.utilization).toBeGreaterThan(0.9);
      }
    });

    it('calls it a timeout when the loop went idle after the overload and Redis still did not answer', async () => {
      // A loaded machine (CI runs suites side by side) may run the second timer late too, which
      // is then rightly an overload: try a few times, and the loop must be idle in one of them.
      // Were the overload to stick to every later deadline, every try would fail.
      const secondOverloads: unknown[] = [];
      for (let attempt = 0; attempt < 5; attempt++) {
        const tried = new CommandDeadlines(TIMEOUT_MS, onTimeout);
        const first = trackCommand(tried);
        block(TIMEOUT_MS * 3 + 100);
        const second = trackCommand(tried);
        await Promise.all([first.done, second.done]);
        tried.stop();
        expect((first.outcome.error as CommandTimeoutError).overload).toBeDefined();
        const error = second.outcome.error as CommandTimeoutError;
        expect(error).toBeInstanceOf(CommandTimeoutError);
        expect(onTimeout).toHaveBeenLastCalledWith(second.command, error.overload);
        secondOverloads.push(error.overload);
        if (error.overload === undefined) break;
        await sleep(200);
      }
      expect(secondOverloads).toContain(undefined);
    });
  });
});
