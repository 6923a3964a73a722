// The orchestrator's side of a library worker: spawn it, wait for READY, then drive it line by
// line over stdin (`RUN <ms>`, `KEEP`/`DROP`, `END`) and read its `SLICE`/`RESULT` lines from stdout.
// (bench/support/child.ts's spawnReady ignores stdin, which this protocol needs.)
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { WorkerReady, WorkerResult, WorkerSlice } from './variants';

export class WorkerProcess {
  private readonly waiting: {
    tag: string;
    resolve: (json: string) => void;
    reject: (error: Error) => void;
  }[] = [];
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly label: string,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        for (const waiter of this.waiting.splice(0)) {
          waiter.reject(new Error(`${label}: exited (${code ?? signal}) before ${waiter.tag}`));
        }
        resolve(code);
      }),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const space = line.indexOf(' ');
      const tag = space > 0 ? line.slice(0, space) : line;
      const next = this.waiting[0];
      if (next && tag === next.tag) {
        this.waiting.shift();
        next.resolve(line.slice(space + 1));
      } else {
        // Anything else (a warning logged by a client) is passed on, not parsed.
        process.stderr.write(`[${label} ${child.pid}] ${line}\n`);
      }
    });
  }

  /** Spawns `binary args` and resolves once it printed `READY {json}`. */
  static async start(
    binary: string,
    args: readonly string[],
    label: string,
    timeoutMs = 60_000,
  ): Promise<{ worker: WorkerProcess; ready: WorkerReady }> {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const worker = new WorkerProcess(child, label);
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    await spawned;
    try {
      const ready = JSON.parse(await worker.next('READY', timeoutMs)) as WorkerReady;
      return { worker, ready };
    } catch (error) {
      await worker.kill();
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Runs the closed loop for `ms` and resolves what the worker measured. */
  async slice(ms: number): Promise<WorkerSlice> {
    this.send(`RUN ${Math.round(ms)}`);
    return JSON.parse(await this.next('SLICE', ms + 30_000)) as WorkerSlice;
  }

  /** Adds the last slice to the worker's result, or forgets it. */
  settle(keep: boolean): void {
    this.send(keep ? 'KEEP' : 'DROP');
  }

  /** Tells the worker to clean up and exit; resolves its result. */
  async finish(): Promise<WorkerResult> {
    this.send('END');
    const result = JSON.parse(await this.next('RESULT', 30_000)) as WorkerResult;
    const code = await this.exited;
    if (code !== 0) throw new Error(`${this.label}: exited with ${code}`);
    return result;
  }

  /** Kills the worker if it still runs (on failure or Ctrl-C). */
  async kill(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  private send(line: string): void {
    if (this.exitCode !== undefined) throw new Error(`${this.label}: has exited`);
    this.child.stdin!.write(`${line}\n`);
  }

  private next(tag: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.exitCode !== undefined) {
        reject(new Error(`${this.label}: exited (${this.exitCode}) before ${tag}`));
        return;
      }
      const timer = setTimeout(() => {
        reject(new Error(`${this.label}: no ${tag} after ${timeoutMs} ms`));
        void this.kill();
      }, timeoutMs);
      this.waiting.push({
        tag,
        resolve: (json) => {
          clearTimeout(timer);
          resolve(json);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }
}
