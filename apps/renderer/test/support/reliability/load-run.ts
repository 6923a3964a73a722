// Runs the load worker (load-worker.ts) as a separate process and collects its outcomes as they
// arrive, so the suite can watch the renderer's answers while it injects faults.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import type {
  LoadWorkerConfig,
  ParentMessage,
  RequestOutcome,
  WorkerMessage,
} from './load-protocol';

/**
 * Transpiles load-worker.ts into `outDir` and returns the script's path. The worker imports only
 * Node's modules and types, so a single-file transpile (no type check: tsc does that) is enough.
 */
export function compileLoadWorker(outDir: string): string {
  const source = readFileSync(join(__dirname, 'load-worker.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: 'load-worker.ts',
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  });
  const script = join(outDir, 'load-worker.js');
  writeFileSync(script, outputText);
  return script;
}

export interface LoadSummary {
  readonly sent: number;
  readonly skipped: number;
  readonly reason: string;
}

/** One load worker process and what it has reported so far. */
export class LoadRun {
  readonly outcomes: RequestOutcome[] = [];
  private summary: LoadSummary | undefined;
  private stderr = '';
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly config: LoadWorkerConfig,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stderr?.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 10_000) this.stderr += chunk.toString();
    });
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'outcomes') this.outcomes.push(...message.outcomes);
      else this.summary = { sent: message.sent, skipped: message.skipped, reason: message.reason };
    });
  }

  /** Forks the worker (`node <script>`, no inherited flags) with `config`; it starts at once. */
  static start(script: string, config: LoadWorkerConfig): LoadRun {
    const child = fork(script, [JSON.stringify(config)], {
      execArgv: [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { PATH: process.env.PATH ?? '' },
    });
    return new LoadRun(child, config);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Asks the worker to stop sending, waits for the answers still due (each bounded by the
   * request timeout) and its summary; kills it if it does not exit in time.
   */
  async stop(): Promise<LoadSummary> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.connected) {
      this.child.send({ type: 'stop' } satisfies ParentMessage);
    }
    const graceMs = this.config.requestTimeoutMs + 5_000;
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      this.exited,
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs))),
    ]);
    clearTimeout(timer);
    if (code === 'timeout') {
      this.kill();
      await this.exited;
      throw new Error(`the load worker did not stop within ${graceMs} ms`);
    }
    if (!this.summary) {
      throw new Error(`the load worker exited (${code}) without a summary: ${this.stderr}`);
    }
    return this.summary;
  }

  /** Kills the worker by its pid if it still runs (cleanup after a failure). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
  }

  /** Polls `check` over the outcomes so far until it gives a value, or `timeoutMs` passes. */
  async waitFor<T>(
    check: (outcomes: readonly RequestOutcome[]) => T | undefined,
    timeoutMs: number,
  ): Promise<T | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = check(this.outcomes);
      if (found !== undefined) return found;
      if (performance.now() > deadline || this.child.exitCode !== null) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
