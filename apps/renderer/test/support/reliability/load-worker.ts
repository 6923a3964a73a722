// The fault suite's load generator, run as its own process (the suite transpiles this file and
// forks it with an IPC channel): a steady, open-loop request rate against the renderer on
// loopback, bounded in count and time. It reports every request's outcome to the parent and stops
// when told to, when a bound is reached, or when the parent goes away.
//
// It imports only Node's own modules (and types), so it runs as a single transpiled file.
import { Agent, request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type {
  LoadWorkerConfig,
  ParentMessage,
  RequestOutcome,
  WorkerMessage,
} from './load-protocol';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

type StopReason = Extract<WorkerMessage, { type: 'done' }>['reason'];

const now = () => performance.timeOrigin + performance.now();

class LoadWorker {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly intervalMs: number;
  private readonly startedAt = now();
  /** The first 200 body per path: a render is deterministic, so every later answer must match. */
  private readonly expectedBodies = new Map<string, Buffer>();
  private pending: RequestOutcome[] = [];
  private scheduled = 0;
  private sent = 0;
  private skipped = 0;
  private inFlight = 0;
  private stopping: StopReason | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private readonly reportTimer: NodeJS.Timeout;

  constructor(private readonly config: LoadWorkerConfig) {
    this.url = new URL(config.baseUrl);
    if (this.url.hostname !== '127.0.0.1' && this.url.hostname !== 'localhost') {
      throw new Error(`the load worker only sends to loopback, not ${this.url.hostname}`);
    }
    this.agent = new Agent({ keepAlive: true, maxSockets: config.connections });
    this.intervalMs = 1000 / config.ratePerSecond;
    this.reportTimer = setInterval(() => this.report(), config.reportEveryMs);
  }

  start(): void {
    this.tick();
  }

  stop(reason: StopReason): void {
    if (this.stopping) return;
    this.stopping = reason;
    clearTimeout(this.tickTimer);
    this.finishWhenIdle();
  }

  /** Sends every request due by now (catching up after a late timer), then sleeps until the next. */
  private tick(): void {
    this.tickTimer = undefined;
    if (this.stopping) return;
    const current = now();
    if (current - this.startedAt >= this.config.maxDurationMs) return this.stop('max-duration');
    while (this.startedAt + this.scheduled * this.intervalMs <= current) {
      if (this.scheduled >= this.config.maxRequests) return this.stop('max-requests');
      const dueAt = this.startedAt + this.scheduled * this.intervalMs;
      const path = this.config.paths[this.scheduled % this.config.paths.length];
      this.scheduled++;
      if (this.inFlight >= this.config.maxInFlight) {
        this.skipped++;
        this.record(dueAt, path, 0, null, `not sent: ${this.inFlight} requests unanswered`);
      } else {
        this.send(dueAt, path);
      }
    }
    const next = this.startedAt + this.scheduled * this.intervalMs;
    this.tickTimer = setTimeout(() => this.tick(), Math.max(0, next - now()));
  }

  private send(dueAt: number, path: string): void {
    this.inFlight++;
    this.sent++;
    let settled = false;
    const finish = (status: number, cache: RequestOutcome['cache'], error: string | null) => {
      if (settled) return;
      settled = true;
      this.inFlight--;
      this.record(dueAt, path, status, cache, error);
      if (this.stopping) this.finishWhenIdle();
    };
    const req = request(
      {
        agent: this.agent,
        host: this.url.hostname,
        port: this.url.port,
        path,
        method: 'GET',
      },
      (res) => this.readAnswer(res, path, finish),
    );
    req.setTimeout(this.config.requestTimeoutMs, () =>
      req.destroy(new Error(`no answer within ${this.config.requestTimeoutMs} ms`)),
    );
    req.on('error', (error) => finish(0, null, error.message));
    req.end();
  }

  private readAnswer(
    res: IncomingMessage,
    path: string,
    finish: (status: number, cache: RequestOutcome['cache'], error: string | null) => void,
  ): void {
    const status = res.statusCode ?? 0;
    const header = res.headers['x-cache'];
    const cache = header === 'HIT' || header === 'MISS' ? header : null;
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('error', (error) => finish(status, cache, error.message));
    res.on('end', () => {
      const body = Buffer.concat(chunks);
      finish(status, cache, this.checkAnswer(path, status, cache, body));
    });
  }

  private checkAnswer(
    path: string,
    status: number,
    cache: RequestOutcome['cache'],
    body: Buffer,
  ): string | null {
    if (status !== 200) return `status ${status}: ${body.toString('utf8', 0, 200)}`;
    if (!cache) return 'no X-Cache header';
    if (body.length <= PNG_SIGNATURE.length || !body.subarray(0, 8).equals(PNG_SIGNATURE)) {
      return `not a PNG (${body.length} bytes)`;
    }
    const expected = this.expectedBodies.get(path);
    if (!expected) this.expectedBodies.set(path, body);
    else if (!expected.equals(body)) return `a different image than before (${cache})`;
    return null;
  }

  private record(
    startedAt: number,
    path: string,
    status: number,
    cache: RequestOutcome['cache'],
    error: string | null,
  ): void {
    this.pending.push({ startedAt, latencyMs: now() - startedAt, path, status, cache, error });
  }

  private report(): void {
    if (this.pending.length === 0) return;
    const outcomes = this.pending;
    this.pending = [];
    send({ type: 'outcomes', outcomes });
  }

  private finishWhenIdle(): void {
    if (this.inFlight > 0 || !this.stopping) return;
    clearInterval(this.reportTimer);
    this.report();
    this.agent.destroy();
    send({ type: 'done', sent: this.sent, skipped: this.skipped, reason: this.stopping }, () =>
      process.exit(0),
    );
  }
}

function send(message: WorkerMessage, then?: () => void): void {
  if (!process.send || !process.connected) return process.exit(1);
  process.send(message, undefined, undefined, (error) => {
    if (error) process.exit(1);
    then?.();
  });
}

function main(): void {
  const config = JSON.parse(process.argv[2] ?? '') as LoadWorkerConfig;
  const worker = new LoadWorker(config);
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'stop') worker.stop('stopped');
  });
  // The parent is gone (or closed the channel): nobody reads the results, so stop at once.
  process.on('disconnect', () => process.exit(0));
  // A hard stop beyond every bound, in case requests hang past their own timeout.
  setTimeout(() => process.exit(2), config.maxDurationMs + config.requestTimeoutMs + 5_000).unref();
  worker.start();
}

main();
