import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';

// CPU pinning with taskset (Linux, 2+ cores): the measured process (an app or a worker) gets core 0
// to itself; the orchestrator (the load generator) and redis-server share core 1. That keeps the
// scheduler from moving the three CPU-bound processes around, on 2 cores the largest source of
// noise, and makes the measured process's throughput that of one core.
const MEASURED_CPU = 0;
export const SUPPORT_CPU = 1;

export function pinningAvailable(): boolean {
  if (process.platform !== 'linux' || cpus().length < 2) return false;
  return spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/** Pins every thread of a running process (one of ours) to `cpu`. */
export function pinProcess(pid: number, cpu: number): void {
  const result = spawnSync('taskset', ['-a', '-cp', String(cpu), String(pid)], {
    stdio: 'ignore',
  });
  if (result.status !== 0) throw new Error(`taskset could not pin pid ${pid} to cpu ${cpu}`);
}

/** The command line that starts `binary args` pinned to `cpu` (taskset execs it: same pid). */
export function pinnedCommand(
  pin: boolean,
  binary: string,
  args: readonly string[],
  cpu = MEASURED_CPU,
): [string, string[]] {
  return pin ? ['taskset', ['-c', String(cpu), binary, ...args]] : [binary, [...args]];
}

export function describePinning(pin: boolean, measured: string): string {
  return pin
    ? `${measured} pinned to cpu ${MEASURED_CPU}; orchestrator and redis-server pinned to cpu ${SUPPORT_CPU} (taskset)`
    : 'not pinned';
}

/**
 * Pins this process (the orchestrator, the load generator) and the redis-server the benchmark
 * started to the support core; a server named by REDIS_URL is someone else's and is left as it is.
 */
export function pinSupport(pin: boolean, redis: { owned: boolean; pid: number | undefined }): void {
  if (!pin) return;
  pinProcess(process.pid, SUPPORT_CPU);
  if (redis.owned && redis.pid !== undefined) pinProcess(redis.pid, SUPPORT_CPU);
}
