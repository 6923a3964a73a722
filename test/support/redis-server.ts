import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why there is no Redis, and how to get one; the suites fail with this rather than skip. */
export const NO_REDIS_MESSAGE =
  'No Redis for the tests: set REDIS_URL=redis://host:port, run a Docker engine (testcontainers), ' +
  'or install the redis-server binary (Debian/Ubuntu: apt-get install redis-server).';

export function redisServerBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** A free TCP port on loopback (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** Resolves once `host:port` answers PING, or rejects after `timeoutMs`. */
export async function waitForPing(
  port: number,
  timeoutMs = 5000,
  host = '127.0.0.1',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pingOnce(host, port)) return;
    if (Date.now() > deadline)
      throw new Error(`redis-server on ${host}:${port} did not answer PING`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function pingOnce(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/**
 * A redis-server process this test started: on a free loopback port, in its own temp dir, with no
 * persistence. Tests may stop, freeze or restart it; they never touch a server they did not start.
 */
/** No snapshots and no append-only file, in a scratch dir: a test server keeps nothing on disk. */
export function noPersistenceArgs(dir: string): string[] {
  return ['--save', '', '--appendonly', 'no', '--dir', dir];
}

export class RedisServerProcess {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'redis-cache-test-'));

  private constructor(
    readonly port: number,
    private readonly binary: string,
    private readonly extraArgs: string[],
  ) {}

  static async start(extraArgs: string[] = [], port?: number): Promise<RedisServerProcess> {
    const binary = redisServerBinary();
    if (!binary) throw new Error(NO_REDIS_MESSAGE);
    const server = new RedisServerProcess(port ?? (await freePort()), binary, extraArgs);
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Stops the process (by its own pid) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.child = undefined;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts it again on the same port with an empty dataset. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** SIGSTOP: the process keeps its sockets but answers nothing. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      ...noPersistenceArgs(this.dir),
      '--logfile',
      '',
      ...this.extraArgs,
    ];
    this.child = spawn(this.binary, args, { stdio: 'ignore' });
    try {
      await waitForPing(this.port);
    } catch (error) {
      // A server that never answered is still a process of ours: stop it before giving up.
      await this.stop();
      throw error;
    }
  }
}
