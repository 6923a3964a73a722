// The renderer service (apps/renderer), as bench/overload and bench/observability run it: `node
// main.js` on a free loopback port, with only the environment the benchmark chooses.
import { freePort } from '../../test/support/redis-server';
import { Child } from './child';
import type { ChildOptions } from './child';
import { pinnedCommand } from './pin';
import { sleep } from './stats';

/** Variables of the parent environment that would change what is measured. */
function isMeasurementVariable(name: string): boolean {
  return (
    /^(OTEL_|CACHE_|REDIS_)/.test(name) ||
    ['PORT', 'HOST', 'LOG_LEVEL', 'NODE_OPTIONS', 'NODE_ENV'].includes(name)
  );
}

export interface RunningRenderer {
  child: Child;
  port: number;
  base: string;
  /** Requests sent to /health/live before it answered. */
  probes: number;
}

/** Starts the renderer and resolves once GET /health/live answers 200. */
export async function startRenderer(
  binary: string,
  args: readonly string[],
  pin: boolean,
  env: (port: number) => Record<string, string>,
  options: ChildOptions = {},
  timeoutMs = 30_000,
): Promise<RunningRenderer> {
  const port = await freePort();
  const parent = Object.entries(process.env).filter(([name]) => !isMeasurementVariable(name));
  const child = new Child(...pinnedCommand(pin, binary, args), {
    ...options,
    env: { ...Object.fromEntries(parent), HOST: '127.0.0.1', PORT: String(port), ...env(port) },
    stderr: true,
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + timeoutMs;
  // Polled: the "listening" line is not logged at every LOG_LEVEL.
  for (let probes = 1; ; probes++) {
    if (!child.running) throw new Error(`renderer exited:\n${child.lines.join('\n')}`);
    const live = await fetch(`${base}/health/live`, { signal: AbortSignal.timeout(5000) }).then(
      async (response) => (await response.arrayBuffer(), response.ok),
      () => false,
    );
    if (live) return { child, port, base, probes };
    if (performance.now() > deadline) {
      await child.kill();
      throw new Error(`renderer did not answer /health/live in ${timeoutMs} ms`);
    }
    await sleep(100);
  }
}

/** Sums the Prometheus series of `name` whose labels include all of `labels`, by `by`'s value. */
export function metricTotals(
  text: string,
  name: string,
  labels: readonly string[],
  by: string,
): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || !match[1].endsWith(name) || !labels.every((l) => match[2].includes(l))) continue;
    const value = new RegExp(`${by}="([^"]*)"`).exec(match[2])?.[1] ?? '';
    sums[value] = (sums[value] ?? 0) + Number(match[3]);
  }
  return sums;
}
