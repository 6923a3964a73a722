import { readFileSync } from 'node:fs';
import type { LoadControl } from './run-control';
import { sleep } from './stats';

/**
 * CPU accounting, to tell a clean measurement from one that shared the 2 cores with something
 * else (another test run, a build): the host's busy time minus the time of the benchmark's own
 * processes is load from elsewhere.
 */

/**
 * Busy CPU time of the host so far, in ms summed over cores, from /proc/stat (Linux; busy includes
 * steal: time the hypervisor gave our vCPUs to someone else). Undefined elsewhere: no accounting.
 */
function hostBusyMs(): number | undefined {
  try {
    // cpu user nice system idle iowait irq softirq steal …, in USER_HZ (100) ticks
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]
      .split(/\s+/)
      .slice(1, 9)
      .map(Number);
    return (user + nice + system + irq + softirq + steal) * 10;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used, in ms; undefined when it cannot be read. */
export function processCpuMs(pid: number): number | undefined {
  if (pid === process.pid) {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at state: utime is 14th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

export interface CpuWindow {
  /**
   * Cores busy with other work than the benchmark's processes, averaged over the window.
   * `exitedOwnMs`: CPU time of own processes that have exited (and so cannot be read any more).
   */
  foreignCores(exitedOwnMs?: number): number;
}

/** Starts measuring; `foreignCores()` reports for the time since (0 where it cannot tell). */
export function cpuWindow(ownPids: readonly (number | undefined)[]): CpuWindow {
  const pids = [...new Set([process.pid, ...ownPids.filter((p): p is number => p !== undefined)])];
  const startHost = hostBusyMs();
  const startOwn = pids.map(processCpuMs);
  const startWall = performance.now();
  return {
    foreignCores(exitedOwnMs = 0) {
      const host = hostBusyMs();
      if (host === undefined || startHost === undefined) return 0;
      const own = pids.reduce((sum, pid, i) => {
        const now = processCpuMs(pid);
        const before = startOwn[i];
        return now === undefined || before === undefined ? sum : sum + (now - before);
      }, exitedOwnMs);
      // Clamp the small negative noise of tick resolution.
      return Math.max(0, (host - startHost - own) / (performance.now() - startWall));
    },
  };
}

/**
 * Waits until other work uses less than `thresholdCores` (sampled over `sampleMs`), at most
 * `maxWaitMs`.
 * Returns the last sample, so a run can say it started under load when the wait ran out.
 */
export async function waitForQuiet(
  ownPids: readonly (number | undefined)[],
  thresholdCores: number,
  maxWaitMs: number,
  onWait: (foreign: number) => void,
  sampleMs = 500,
): Promise<number> {
  const deadline = performance.now() + maxWaitMs;
  let warned = false;
  for (;;) {
    const window = cpuWindow(ownPids);
    await sleep(sampleMs);
    const foreign = window.foreignCores();
    if (foreign < thresholdCores || performance.now() > deadline) return foreign;
    if (!warned) onWait(foreign);
    warned = true;
  }
}

/**
 * Measures once other work has quietened (`wait`), and again, up to `load.retries` times, when
 * other work took more than `load.maxForeignCores` meanwhile: it would have slowed the measurement.
 */
export async function measureQuietly<T extends { foreignCores: number }>(
  load: LoadControl,
  ownPids: readonly (number | undefined)[],
  what: string,
  measure: () => Promise<T>,
  { log = console.log, wait = true, retries = load.retries } = {},
): Promise<T & { attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    if (wait) {
      await waitForQuiet(ownPids, load.quietCores, load.maxWaitS * 1000, (cores) =>
        log(`  waiting: other work is using ${cores.toFixed(2)} cores`),
      );
    }
    const value = await measure();
    if (value.foreignCores <= load.maxForeignCores || attempt > retries) {
      return { ...value, attempts: attempt };
    }
    log(
      `  ${what}: other work took ${value.foreignCores.toFixed(2)} cores meanwhile; measuring again`,
    );
  }
}
