import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect as connectTls } from 'node:tls';
import { inspect } from 'node:util';
import type { ConnectionOptions } from 'node:tls';
import type { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { CacheUnavailableError, RedisCache, RedisCacheModule } from '../../src';
import type { ContextualCache, RedisCacheModuleOptions } from '../../src';
import { captureLogs } from './capture-logger';
import { NO_REDIS_MESSAGE, freePort, noPersistenceArgs, redisServerBinary } from './redis-server';
import type { TlsCertificates } from './tls-certificates';
import { uniqueId } from './unique';

/** Who a connection authenticates as: the `default` user when `username` is left out. */
export interface RedisCredentials {
  username?: string;
  password?: string;
}

export interface SecureRedisOptions {
  /** Password of the `default` user (`--requirepass`). */
  requirePass?: string;
  /** ACL users, one `--user` rule list each: `['renderer', 'on', '>pw', '~/*', '+get']`. */
  users?: string[][];
  /** Serve TLS only (`--port 0 --tls-port P`), with these certificates and client-auth policy. */
  tls?: { certificates: TlsCertificates; authClients: 'yes' | 'optional' | 'no' };
}

/** Replies that show the server is up, whether or not this connection may run commands. */
const ALIVE_REPLY = /^(\+PONG|-NOAUTH|-NOPERM)/;

/**
 * A redis-server this test started with a password, ACL users and/or TLS. `RedisServerProcess`
 * cannot do this: its readiness check expects `+PONG` to a plain PING, which a server with
 * `requirepass` answers `-NOAUTH`, and it cannot reach a TLS-only port. This launcher counts any
 * reply (PONG, NOAUTH, NOPERM) as "up" and speaks TLS to a TLS port, so the plain port stays closed
 * and nothing can reach the server without TLS.
 */
export class SecureRedisServer {
  readonly host = '127.0.0.1';
  private child: ChildProcess | undefined;
  private readonly output: string[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'redis-cache-secure-'));

  private constructor(
    readonly port: number,
    private readonly options: SecureRedisOptions,
  ) {}

  static async start(options: SecureRedisOptions = {}): Promise<SecureRedisServer> {
    const binary = redisServerBinary();
    if (!binary) throw new Error(NO_REDIS_MESSAGE);
    const server = new SecureRedisServer(await freePort(), options);
    try {
      await server.launch(binary);
    } catch (error) {
      await server.dispose();
      throw error;
    }
    return server;
  }

  get tls(): boolean {
    return this.options.tls !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** `host:port`, as `REDIS_ADDR` takes it. */
  get addr(): string {
    return `${this.host}:${this.port}`;
  }

  /** `redis://` (or `rediss://` for TLS) with the credentials, percent-encoded, when given. */
  url(credentials: RedisCredentials = {}): string {
    const scheme = this.tls ? 'rediss' : 'redis';
    const { username = '', password } = credentials;
    const auth =
      password === undefined
        ? ''
        : `${encodeURIComponent(username)}:${encodeURIComponent(password)}@`;
    return `${scheme}://${auth}${this.host}:${this.port}`;
  }

  /** TLS options that let a client in: the test CA and the trusted client certificate. */
  clientTls(): ConnectionOptions | undefined {
    const certificates = this.options.tls?.certificates;
    if (!certificates) return undefined;
    return {
      ca: certificates.ca.cert,
      cert: certificates.client.cert,
      key: certificates.client.key,
    };
  }

  /**
   * Runs one command on a fresh connection: as the `default` user with `requirePass` unless `as`
   * names other credentials, on database `db` (default 0). For ACL LOG, INFO, GET of what the cache
   * stored and the like, which the cache's own user may not run.
   */
  async command(
    args: (string | number)[],
    { as, db }: { as?: RedisCredentials; db?: number } = {},
  ): Promise<unknown> {
    // The harness's own connection: a handshake the busy server garbled once ("tlsv1 alert decode
    // error", while a test's client was being refused) is tried again; what a command answers is not.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.commandOnce(args, { as, db });
      } catch (error) {
        if (
          attempt === 3 ||
          !(error instanceof Error) ||
          !/SSL|TLS|ECONNRESET/i.test(error.message)
        ) {
          throw error;
        }
      }
    }
  }

  private async commandOnce(
    args: (string | number)[],
    { as, db }: { as?: RedisCredentials; db?: number },
  ): Promise<unknown> {
    const { username, password } = as ?? { password: this.options.requirePass };
    const client = new Redis({
      host: this.host,
      port: this.port,
      ...(username !== undefined && { username }),
      ...(password !== undefined && { password }),
      ...(db !== undefined && { db }),
      ...(this.tls && { tls: this.clientTls() }),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      // Only the command asked for: no INFO ready check, no CLIENT SETINFO.
      enableReadyCheck: false,
      disableClientInfo: true,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const [name, ...rest] = args;
      return await client.call(String(name), ...rest);
    } finally {
      client.disconnect();
    }
  }

  /** Stops the process (by its own pid) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.child = undefined;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(binary: string): Promise<void> {
    const { requirePass, users = [], tls } = this.options;
    const listen = tls
      ? [
          '--port',
          '0',
          '--tls-port',
          String(this.port),
          '--tls-cert-file',
          tls.certificates.server.certFile,
          '--tls-key-file',
          tls.certificates.server.keyFile,
          '--tls-ca-cert-file',
          tls.certificates.ca.certFile,
          '--tls-auth-clients',
          tls.authClients,
        ]
      : ['--port', String(this.port)];
    const args = [
      ...listen,
      '--bind',
      this.host,
      ...noPersistenceArgs(this.dir),
      '--logfile',
      '',
      ...(requirePass === undefined ? [] : ['--requirepass', requirePass]),
      ...users.flatMap((rules) => ['--user', ...rules]),
    ];
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.output.push(line);
        if (this.output.length > 50) this.output.shift();
      });
    }
    const deadline = Date.now() + 10_000;
    while (!(await this.answers())) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `redis-server on ${this.addr} did not come up (exit code ${child.exitCode}):\n${this.output.join('\n')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Whether the server replies to a PING, over TLS for a TLS server. */
  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const address = { host: this.host, port: this.port };
      const socket: Socket = this.tls
        ? connectTls({ ...address, ...this.clientTls() }, () => socket.write('PING\r\n'))
        : connectTcp(address, () => socket.write('PING\r\n'));
      const done = (up: boolean) => {
        socket.destroy();
        resolve(up);
      };
      socket.setTimeout(1000, () => done(false));
      socket.on('error', () => done(false));
      socket.on('data', (data) => done(ALIVE_REPLY.test(data.toString())));
    });
  }
}

// What the secrets tests look for, and where.

/**
 * A secret for one test run: characters a URL must encode, then 24 random hex digits. The hex tail
 * survives any encoding (percent, JSON, RESP), so finding it finds the secret in whatever form.
 */
export function makeSecret(label: string): string {
  return `${label}:@/%-${randomBytes(12).toString('hex')}`;
}

/** The secrets whose hex tail (or, for other secrets, whole text) appears in `text`. */
export function secretsIn(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((secret) => {
    const tail = /[0-9a-f]{24}$/.exec(secret)?.[0] ?? secret;
    return text.includes(tail) || text.includes(secret);
  });
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

/** Everything this process logs while a test runs. */
export interface WatchedOutput {
  /** For `TestingModuleBuilder.setLogger()` and `createNestApplication({ logger })`. */
  readonly logger: LoggerService;
  /** Nest Logger lines, console calls (ioredis warns through `console`) and stdout/stderr writes. */
  text(): string;
  restore(): void;
}

/**
 * Captures Nest's Logger (as `captureLogs`), every `console` method and every write to stdout and
 * stderr (still passed through), so a test can assert that no secret reached any of them.
 */
export function watchOutput(): WatchedOutput {
  const logs = captureLogs();
  const other: string[] = [];
  const restorers: (() => void)[] = [];
  for (const method of CONSOLE_METHODS) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      other.push(`console.${method}: ${args.map((arg) => inspect(arg, { depth: 10 })).join(' ')}`);
    };
    restorers.push(() => (console[method] = original));
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    const passThrough = original.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = (chunk: unknown, ...rest: unknown[]) => {
      other.push(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
      return passThrough(chunk, ...rest);
    };
    restorers.push(() => (stream.write = original));
  }
  return {
    logger: logs.logger,
    text: () => [logs.text(), ...other].join('\n'),
    restore: () => {
      logs.restore();
      for (const restore of restorers.reverse()) restore();
    },
  };
}

// The cache under test: built as an app builds it, and what it must do with good and bad access.

/** `RedisCacheModule.forRoot(options)` compiled and initialised (so background key counts start). */
export async function startCacheModule(
  options: RedisCacheModuleOptions,
  output: WatchedOutput,
): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [RedisCacheModule.forRoot({ metrics: { enabled: false }, ...options })],
  })
    .setLogger(output.logger)
    .compile();
  return moduleRef.init();
}

/** Runs `test` on a cache module built from `options`; resolves everything output meanwhile. */
export async function withCache(
  options: RedisCacheModuleOptions,
  test: (cache: RedisCache, output: WatchedOutput) => Promise<void>,
): Promise<string> {
  const output = watchOutput();
  try {
    const moduleRef = await startCacheModule(options, output);
    try {
      await test(moduleRef.get(RedisCache), output);
    } finally {
      await moduleRef.close();
    }
    return output.text();
  } finally {
    output.restore();
  }
}

/** The error `promise` rejects with; throws if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Everything an error could show when logged: message, stack, own properties, causes. */
export const everything = (error: unknown): string =>
  inspect(error, { depth: null, showHidden: true });

/**
 * A set, read back through the cache and straight from Redis (as the default user, on `db`), and
 * a ping: the cache reached this server. Resolves the context it used.
 */
export async function expectRoundTrip(
  cache: RedisCache,
  server: SecureRedisServer,
  value: string,
  db?: number,
): Promise<ContextualCache> {
  const ctx = cache.withContext(uniqueId('app'), 'device-1');
  await ctx.set('greeting', value);
  const lookup = await ctx.get('greeting');
  expect(lookup.value?.toString()).toBe(value);
  expect(await server.command(['GET', ctx.keyFor('greeting')], { db })).toBe(value);
  await expect(cache.ping()).resolves.toBeGreaterThanOrEqual(0);
  return ctx;
}

/**
 * The cache cut off from the server (refused credentials or certificates): get misses, set and
 * delete go on, ping, flushes and stats reject with CacheUnavailableError, nothing reaches Redis,
 * and no error shows any of `secrets`.
 */
export async function expectFailsOpen(
  cache: RedisCache,
  server: SecureRedisServer,
  value: string,
  secrets: readonly string[],
): Promise<void> {
  const ctx = cache.withContext(uniqueId('app'), 'device-1');
  await expect(ctx.get('greeting')).resolves.toEqual({ found: false, value: null });
  await expect(ctx.set('greeting', value)).resolves.toBeUndefined();
  await expect(ctx.delete('greeting')).resolves.toBe(false);
  const errors = await Promise.all(
    [cache.ping(), ctx.flushApp(), ctx.flushDevice(), ctx.stats()].map(rejectionOf),
  );
  for (const error of errors) {
    expect(error).toBeInstanceOf(CacheUnavailableError);
    expect(secretsIn(everything(error), secrets)).toEqual([]);
  }
  expect(errors.map((error) => (error as CacheUnavailableError).operation)).toEqual([
    'ping',
    'flush_app',
    'flush_device',
    'stats',
  ]);
  expect(await server.command(['EXISTS', ctx.keyFor('greeting')])).toBe(0);
  expect(cache.errorCounts().get?.connection).toBe(1);
}
