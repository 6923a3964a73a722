// The benchmarks' child processes (apps, workers, the GET load), read line by line. A stdout line
// `TAG {json}` answers whoever waits for TAG (READY, SLICE, RESULT); any other line is kept in
// `lines`, or echoed to stderr with the child's label (`echo`).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A child's JSON figures: NaN (which JSON writes as null, e.g. an empty window's p99) comes back. */
export const parseFigures = <T>(json: string): T =>
  JSON.parse(json, (_key, value: unknown) => value ?? Number.NaN) as T;

export interface ChildOptions {
  label?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep stdin open for commands (`send`). */
  stdin?: boolean;
  /** Read stderr as stdout is read, rather than passing it through. */
  stderr?: boolean;
  /** Echo untagged lines to stderr rather than keeping them. */
  echo?: boolean;
}

interface Waiter {
  tag: string;
  resolve: (json: string) => void;
  reject: (error: Error) => void;
}

export class Child {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  readonly label: string;
  private readonly child: ChildProcess;
  private readonly waiting: Waiter[] = [];
  /** Undefined while the process runs. */
  private exit: { code: number | null; signal: string | null } | undefined;

  constructor(binary: string, args: readonly string[], options: ChildOptions = {}) {
    this.label = options.label ?? args.find((arg) => arg.endsWith('.js')) ?? binary;
    this.child = spawn(binary, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', options.stderr ? 'pipe' : 'inherit'],
    });
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: string | null, error?: Error) => {
        if (this.exit) return;
        this.exit = { code, signal };
        for (const waiter of this.waiting.splice(0)) {
          waiter.reject(
            error ?? new Error(`${this.label}: exited (${code ?? signal}) before ${waiter.tag}`),
          );
        }
        resolve(code);
      };
      // 'close', not 'exit': every line has been read by then.
      this.child.once('close', (code, signal) => done(code, signal));
      this.child.once('error', (error) => done(null, null, error));
    });
    const onLine = (line: string) => {
      const space = line.indexOf(' ');
      const next = this.waiting[0];
      if (next && line.slice(0, space > 0 ? space : undefined) === next.tag) {
        this.waiting.shift();
        next.resolve(line.slice(space + 1));
      } else if (options.echo) {
        process.stderr.write(`[${this.label} ${this.pid}] ${line}\n`);
      } else {
        this.lines.push(line);
      }
    };
    createInterface({ input: this.child.stdout! }).on('line', onLine);
    if (options.stderr) createInterface({ input: this.child.stderr! }).on('line', onLine);
  }

  /** Spawns and waits for the child's `READY {json}` line. */
  static async ready<T>(
    binary: string,
    args: readonly string[],
    options: ChildOptions = {},
    timeoutMs = 60_000,
  ): Promise<{ child: Child; info: T }> {
    const child = new Child(binary, args, options);
    try {
      return { child, info: JSON.parse(await child.next('READY', timeoutMs)) as T };
    } catch (error) {
      await child.kill();
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  send(line: string): void {
    if (!this.running) throw new Error(`${this.label}: has exited`);
    this.child.stdin!.write(`${line}\n`);
  }

  /** The rest of the next line tagged `tag`. */
  next(tag: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      if (!this.running) {
        reject(new Error(`${this.label}: exited (${this.exit?.code}) before ${tag}`));
        return;
      }
      const timer = setTimeout(() => {
        reject(new Error(`${this.label}: no ${tag} after ${timeoutMs} ms`));
        void this.kill();
      }, timeoutMs);
      const settle = () => clearTimeout(timer);
      this.waiting.push({
        tag,
        resolve: (json) => (settle(), resolve(json)),
        reject: (error) => (settle(), reject(error)),
      });
    });
  }

  /** Asks the child to exit (SIGTERM: apps close cleanly), then kills it after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => void this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Waits for the exit; rejects unless the exit code is 0. */
  async finished(): Promise<void> {
    const code = await this.exited;
    if (code !== 0) {
      throw new Error(`${this.label}: exited with ${code ?? this.exit?.signal ?? 'an error'}`);
    }
  }
}

/** Runs `binary args` to completion (killed after `timeoutMs`) and returns its stdout lines. */
export async function runChild(
  binary: string,
  args: readonly string[],
  timeoutMs: number,
  onSpawn?: (pid: number | undefined) => void,
): Promise<string[]> {
  const child = new Child(binary, args);
  onSpawn?.(child.pid);
  const timer = setTimeout(() => void child.kill(), timeoutMs);
  try {
    await child.finished();
    return child.lines;
  } finally {
    clearTimeout(timer);
  }
}

/** The JSON of a child's `RESULT {json}` lines. */
export function resultsOf<T>(lines: readonly string[]): T[] {
  return lines
    .filter((line) => line.startsWith('RESULT '))
    .map((line) => JSON.parse(line.slice(7)) as T);
}
