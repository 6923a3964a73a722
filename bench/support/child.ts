import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A child process that printed `READY {json}` on stdout. */
export interface ReadyChild<T> {
  readonly child: ChildProcess;
  readonly info: T;
  /** Resolves with every stdout line after READY (for results printed at exit). */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

/** Spawns `binary args...` and waits for its `READY {json}` line. */
export function spawnReady<T>(
  binary: string,
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<ReadyChild<T>> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      if (ready) return;
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')}: not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`${args.join(' ')}: exited (${code}) before READY`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!ready && line.startsWith('READY ')) {
        ready = true;
        clearTimeout(timer);
        resolve({ child, info: JSON.parse(line.slice(6)) as T, lines, exited });
      } else if (ready) {
        lines.push(line);
      } else {
        process.stderr.write(`[child ${child.pid}] ${line}\n`);
      }
    });
  });
}

/** Asks the child (by its pid) to exit, then kills it if it has not within `graceMs`. */
export async function stopChild(
  { child, exited }: Pick<ReadyChild<unknown>, 'child' | 'exited'>,
  graceMs = 10_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const outcome = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Runs `binary args...` to completion and returns its stdout lines; rejects on a non-zero exit. */
export function runToCompletion(
  binary: string,
  args: readonly string[],
  timeoutMs: number,
  onSpawn?: (pid: number | undefined) => void,
): Promise<string[]> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  onSpawn?.(child.pid);
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(lines);
      else reject(new Error(`${args.join(' ')}: exited with ${code ?? signal}`));
    });
  });
}
