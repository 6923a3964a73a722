import type { Logger } from '@nestjs/common';

/**
 * Logs the first message of a topic, then at most one per interval with a count of the ones it held
 * back, so an outage under load writes a few lines instead of one per request.
 * Topics must come from a small fixed set (an operation and an error kind), never from input.
 */
export class RateLimitedLogger {
  private readonly topics = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(topic: string, message: string): void {
    const now = Date.now();
    const state = this.topics.get(topic);
    if (state && now - state.loggedAt < this.intervalMs) {
      state.suppressed++;
      return;
    }
    const held = state?.suppressed
      ? ` (${state.suppressed} more like it in the last ${Math.round((now - state.loggedAt) / 1000)} s)`
      : '';
    this.topics.set(topic, { loggedAt: now, suppressed: 0 });
    this.logger.warn(message + held);
  }
}
