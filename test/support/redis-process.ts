import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, noPersistenceArgs } from './redis-server';

// ---------------------------------------------------------------------------------------------
// Process and polling helpers, shared by redis-cluster.ts and redis-sentinel.ts.
// ---------------------------------------------------------------------------------------------

/** Why the topology suites cannot run; they fail with this rather than skip. */
export const NO_REDIS_SERVER_FOR_TOPOLOGIES =
  'The cluster and sentinel suites start their own topologies from the redis-server binary ' +
  '(7.0 or newer), and none is on PATH: install it ' +
  '(Debian/Ubuntu: apt-get install redis-server). REDIS_URL and Docker do not help here.';

/** Where `command` is on PATH, or undefined. */
function commandPath(command: string): string | undefined {
  // An explicit env: under jest, process.env is the test's copy, which children do not inherit.
  const found = spawnSync('sh', ['-c', `command -v ${command}`], {
    encoding: 'utf8',
    env: process.env,
  });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** The path of redis-server 7.0+ (for cluster-port and ADDSLOTSRANGE), or throws why not. */
export function requireRedisServer7(): string {
  const binary = commandPath('redis-server');
  if (!binary) throw new Error(NO_REDIS_SERVER_FOR_TOPOLOGIES);
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  const major = Number(/v=(\d+)\./.exec(version)?.[1]);
  if (!(major >= 7)) throw new Error(`${NO_REDIS_SERVER_FOR_TOPOLOGIES} Found: ${version.trim()}`);
  return binary;
}

/**
 * How to run `binary` so the kernel kills it if the test process dies without disposing it (a
 * crash, a SIGKILL, a jest timeout): util-linux's setpriv sets PR_SET_PDEATHSIG, then execs, so
 * the pid stays redis-server's. Without setpriv, dispose() is the only cleanup.
 */
function diesWithParent(binary: string, args: string[]): [string, string[]] {
  const setpriv = commandPath('setpriv');
  return setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', binary, ...args]] : [binary, args];
}

/** `count` distinct free loopback ports (two quick `freePort()` calls may return the same one). */
export async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Thrown inside a `waitFor` attempt to give up at once instead of polling on. */
export class StopWaiting extends Error {
  override name = 'StopWaiting';
}

/** Throws `problem` unless `condition` holds; inside `waitFor`, it says what is not ready yet. */
export function ensure(condition: unknown, problem: string): asserts condition {
  if (!condition) throw new Error(problem);
}

/**
 * Retries `attempt` every 100 ms until it returns; after `timeoutMs` throws, saying what it
 * waited for and the last problem seen. Polling, not fixed sleeps: this machine's load varies.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let problem: string;
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      problem = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms. Last seen: ${problem}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Runs `work` on a fresh connection to 127.0.0.1:`port`, then closes it. It fails fast (no
 * retries, no offline queue, 2 s per command) so a dead or frozen node shows up as an error.
 */
export async function withRedis<T>(port: number, work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined); // failures reach the caller as rejected commands
  try {
    await redis.connect();
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

/** One `name:value` line of an INFO reply. */
export function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** What ioredis's `new Cluster(nodes)` takes. */
export interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

export interface RedisNodeSpec {
  port: number;
  /** The redis-server arguments; `dir` is the process's own temp dir, kept across restarts. */
  args: (dir: string) => string[];
  /** Writes what the first launch needs (a sentinel's config file) into `dir`. */
  prepare?: (dir: string) => void;
  /** @default 15000 */
  readyTimeoutMs?: number;
}

/**
 * A redis-server (or sentinel) process a harness started, in its own temp dir, logging to
 * `redis.log` there. Stopped by its own pid only; restarts reuse the port, args and dir.
 */
export class RedisNodeProcess {
  readonly dir = mkdtempSync(join(tmpdir(), 'redis-topology-'));
  private child: ChildProcess | undefined;
  private frozen = false;

  private constructor(
    private readonly binary: string,
    private readonly spec: RedisNodeSpec,
  ) {}

  static async start(spec: RedisNodeSpec): Promise<RedisNodeProcess> {
    const node = new RedisNodeProcess(requireRedisServer7(), spec);
    try {
      spec.prepare?.(node.dir);
      await node.launch();
    } catch (error) {
      await node.dispose();
      throw error;
    }
    return node;
  }

  get port(): number {
    return this.spec.port;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get logFile(): string {
    return join(this.dir, 'redis.log');
  }

  /** Running and not frozen: it should answer. */
  get isServing(): boolean {
    const child = this.child;
    return !!child && child.exitCode === null && child.signalCode === null && !this.frozen;
  }

  /** Sends `signal` (SIGKILL: a crash; SIGTERM: a clean shutdown) and waits for the exit. */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT'); // a frozen process would not act on SIGTERM
    child.kill(signal);
    await exited;
  }

  /** SIGSTOP: the process keeps its sockets open but answers nothing, like a hung host. */
  freeze(): void {
    if (this.child?.kill('SIGSTOP')) this.frozen = true;
  }

  thaw(): void {
    if (this.child?.kill('SIGCONT')) this.frozen = false;
  }

  /** Starts it again (stopping it first if needed) on the same port with the same dir. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The end of the log, for error messages. */
  logTail(lines = 8): string {
    if (!existsSync(this.logFile)) return '';
    return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  private async launch(): Promise<void> {
    const [command, args] = diesWithParent(this.binary, this.spec.args(this.dir));
    // Output is kept for errors: a bad argument is reported there, before the log file opens.
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    this.frozen = false;
    let exit: string | undefined;
    child.once('exit', (code, signal) => {
      exit = `exited with ${signal ?? `code ${code}`}`;
    });
    const pid = String(child.pid);
    const readyTimeoutMs = this.spec.readyTimeoutMs ?? 15_000;
    try {
      await waitFor(`redis-server (pid ${pid}) to answer on ${this.port}`, readyTimeoutMs, () => {
        if (exit) {
          const said = [output.trim(), this.logTail()].filter(Boolean).join('\n');
          throw new StopWaiting(`redis-server on ${this.port} ${exit}:\n${said}`);
        }
        // The pid check makes sure it is ours, not another process that took the port meanwhile.
        return withRedis(this.port, async (redis) => {
          const server = await redis.info('server');
          ensure(infoField(server, 'process_id') === pid, `${this.port} is not answered by ${pid}`);
        });
      });
    } catch (error) {
      await this.stop();
      throw error;
    }
  }
}

/** Loopback, no persistence, a log in its own dir, and replicas synced without waiting. */
export function standaloneArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    ...noPersistenceArgs(dir),
    '--logfile',
    join(dir, 'redis.log'),
    // 7.0 waits 5 s by default for more replicas before a diskless full sync.
    '--repl-diskless-sync-delay',
    '0',
  ];
}
