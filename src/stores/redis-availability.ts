import type { Logger } from '@nestjs/common';
import { Command } from 'ioredis';
import type { RedisClient } from './redis-client.factory';

/**
 * Decides whether the Redis store sends commands at all, so a dead or frozen Redis costs a render
 * nothing but a quick miss.
 *
 * - Not connected (`status !== 'ready'`): nothing is sent; ioredis reconnects in the background and
 *   its `ready` event reopens the path.
 * - Connected but stalled (a command ran past its deadline: a frozen or overloaded server): nothing
 *   is sent except one PING. Its reply, whenever it comes, reopens the path; while it is unanswered
 *   no second PING is queued, so a long freeze queues nothing.
 */
export class RedisAvailability {
  private stalledSince: number | undefined;
  private probing: Promise<unknown> | undefined;
  private wasConnected: boolean;
  private readonly onReady = () => this.handleReady();

  /**
   * `probe`: what tells that Redis answers again. By default one PING on the client, which waits
   * as long as the freeze lasts; a cluster's store passes one that is bounded and retried, since a
   * frozen master may be replaced while it is still frozen.
   */
  constructor(
    private readonly client: RedisClient,
    private readonly logger: Logger,
    private readonly describeTarget: () => string,
    private readonly probe: () => Promise<unknown> = () =>
      client.sendCommand(new Command('ping', [])) as Promise<unknown>,
  ) {
    // Start-up reports the first connection; this reports reconnections after a drop.
    this.wasConnected = true;
    client.on('ready', this.onReady);
  }

  /** Whether commands may be sent now. */
  get accepting(): boolean {
    return this.stalledSince === undefined && this.client.status === 'ready';
  }

  get stalled(): boolean {
    return this.stalledSince !== undefined;
  }

  /** Called when a command ran past its deadline. */
  markStalled(timeoutMs: number): void {
    if (this.stalledSince !== undefined) return;
    this.stalledSince = performance.now();
    this.logger.warn(
      `Redis at ${this.describeTarget()} did not answer within ${timeoutMs} ms; the cache fails open until it answers.`,
    );
    this.sendProbe();
  }

  /** Called when the connection dropped, so the next `ready` is reported as a recovery. */
  markDisconnected(): void {
    this.wasConnected = false;
  }

  dispose(): void {
    this.client.off('ready', this.onReady);
  }

  private sendProbe(): void {
    if (this.probing || this.client.status !== 'ready') return;
    this.probing = this.probe().then(
      () => {
        this.probing = undefined;
        this.recover('answers again');
      },
      () => {
        this.probing = undefined;
        // A refused PING on a live connection: try again shortly; a lost one waits for `ready`.
        if (this.stalledSince !== undefined && this.client.status === 'ready') {
          setTimeout(() => this.sendProbe(), 250).unref();
        }
      },
    );
  }

  private handleReady(): void {
    if (!this.wasConnected) {
      this.wasConnected = true;
      this.logger.log(`Connected to Redis at ${this.describeTarget()}.`);
    }
    this.recover('reconnected');
  }

  private recover(how: string): void {
    if (this.stalledSince === undefined) return;
    const seconds = ((performance.now() - this.stalledSince) / 1000).toFixed(1);
    this.stalledSince = undefined;
    this.logger.log(
      `Redis at ${this.describeTarget()} ${how} after ${seconds} s; caching resumes.`,
    );
  }
}
