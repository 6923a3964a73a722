// The built renderer (`main.js`) in its own process, as `npm start` runs it, and what the fault
// suite reads from its /metrics: memory and the cache's error counters.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** The figures the suite reads from one scrape of `/metrics`. */
export interface ServiceSample {
  /** Epoch milliseconds of the scrape. */
  readonly at: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** `matrx_cache_errors_total` summed over operations, by kind. */
  readonly cacheErrors: {
    readonly timeout: number;
    readonly connection: number;
    readonly other: number;
  };
}

const epochNow = () => performance.timeOrigin + performance.now();

/** A renderer process the suite started; stopped by its own pid. */
export class RendererProcess {
  /** Everything it printed (kept for a failure's message, never printed on success). */
  readonly output: string[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly exited: Promise<number | null>,
  ) {}

  /** Starts `node main.js` with `env` (plus PATH) and resolves once it logs where it listens. */
  static start(mainJs: string, cwd: string, env: Record<string, string>): Promise<RendererProcess> {
    const child = spawn(process.execPath, [mainJs], {
      cwd,
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    return new Promise((resolve, reject) => {
      let service: RendererProcess | undefined;
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream }).on('line', (line) => {
          (service?.output ?? output).push(line);
          const port = /Listening on http:\/\/[^:]+:(\d+)/.exec(line)?.[1];
          if (port && !service) {
            service = new RendererProcess(child, Number(port), exited);
            service.output.push(...output);
            resolve(service);
          }
        });
      }
      void exited.then((code) => {
        if (!service) {
          reject(
            new Error(`the renderer exited (${code}) before listening:\n${output.join('\n')}`),
          );
        }
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Scrapes `/metrics` (bounded by `timeoutMs`). */
  async sample(timeoutMs = 2_000): Promise<ServiceSample> {
    const response = await fetch(`${this.baseUrl}/metrics`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
    return parseSample(await response.text(), epochNow());
  }

  /** SIGKILL: the process dies mid-work, as in a crash; resolves once it has exited. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; by its own pid only. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.exited,
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs))),
    ]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** The few values the suite needs from Prometheus's text format. */
export function parseSample(text: string, at: number): ServiceSample {
  let rssBytes = NaN;
  let heapUsedBytes = NaN;
  const cacheErrors = { timeout: 0, connection: 0, other: 0 };
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('process_resident_memory_bytes ')) rssBytes = value;
    else if (line.startsWith('nodejs_heap_size_used_bytes ')) heapUsedBytes = value;
    else if (line.startsWith('matrx_cache_errors_total{')) {
      const kind = /kind="([a-z]+)"/.exec(line)?.[1];
      if (kind === 'timeout' || kind === 'connection' || kind === 'other')
        cacheErrors[kind] += value;
    }
  }
  if (Number.isNaN(rssBytes) || Number.isNaN(heapUsedBytes)) {
    throw new Error('/metrics lacks process_resident_memory_bytes or nodejs_heap_size_used_bytes');
  }
  return { at, rssBytes, heapUsedBytes, cacheErrors };
}

/** Scrapes a renderer every `everyMs` until stopped; a failed scrape is skipped (and counted). */
export class ServiceSampler {
  readonly samples: ServiceSample[] = [];
  failedScrapes = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly service: RendererProcess,
    private readonly everyMs = 250,
  ) {
    this.loop = this.run();
  }

  /** Takes one more sample now and stops. */
  async stop(): Promise<void> {
    if (!this.running) return this.loop;
    this.running = false;
    await this.loop;
    await this.scrape();
  }

  private async run(): Promise<void> {
    while (this.running) {
      await this.scrape();
      await new Promise((resolve) => setTimeout(resolve, this.everyMs));
    }
  }

  private async scrape(): Promise<void> {
    try {
      this.samples.push(await this.service.sample());
    } catch {
      this.failedScrapes++;
    }
  }
}
