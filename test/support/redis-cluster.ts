import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './redis-server';

// ---------------------------------------------------------------------------------------------
// Process and polling helpers, shared with redis-sentinel.ts.
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

// ---------------------------------------------------------------------------------------------
// The cluster.
// ---------------------------------------------------------------------------------------------

const SLOT_COUNT = 16384;

/** What ioredis's `new Cluster(nodes)` takes. */
export interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

export interface RedisClusterOptions {
  /** Failover needs a majority of masters to agree, so at least 3 for failover tests. @default 3 */
  masters?: number;
  /** @default 1 */
  replicasPerMaster?: number;
  /**
   * How long a node may not answer before it counts as failing; shorter fails over sooner.
   * @default 1000
   */
  nodeTimeoutMs?: number;
  /** The whole start, after which it cleans up and throws. @default 30000 */
  startTimeoutMs?: number;
}

type SlotRange = readonly [first: number, last: number];

/** A node's role in the topology the serving nodes agree on. */
type NodeRole =
  | { readonly role: 'master'; readonly slots: readonly SlotRange[] }
  | { readonly role: 'replica'; readonly masterPort: number };

/** One line of CLUSTER NODES. */
interface ClusterNodesLine {
  readonly id: string;
  readonly port: number;
  readonly flags: readonly string[];
  readonly masterId: string | undefined;
  readonly connected: boolean;
  readonly slots: readonly SlotRange[];
}

function parseClusterNodes(reply: string): ClusterNodesLine[] {
  return reply
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, masterId, , , , link, ...slots] = line.trim().split(' ');
      return {
        id,
        port: Number(address.split('@')[0].split(':').pop()),
        flags: flags.split(','),
        masterId: masterId === '-' ? undefined : masterId,
        connected: link === 'connected',
        slots: slots
          .filter((slot) => !slot.startsWith('[')) // slots being migrated, which we never do
          .map((slot): SlotRange => {
            const [first, last = first] = slot.split('-').map(Number);
            return [first, last];
          }),
      };
    });
}

const slotCount = (slots: readonly SlotRange[]) =>
  slots.reduce((sum, [first, last]) => sum + last - first + 1, 0);

/**
 * A Redis Cluster of redis-server processes this test started on free loopback ports, each node
 * in its own temp dir with its own nodes.conf, so a restarted node rejoins as the same node.
 */
export class RedisClusterProcess {
  /** How long `start()` took, in ms. */
  startupMs = 0;
  private readonly processes = new Map<number, RedisNodeProcess>();
  private topology = new Map<number, NodeRole>();

  private constructor(processes: RedisNodeProcess[]) {
    for (const node of processes) this.processes.set(node.port, node);
  }

  /**
   * Starts `masters * (1 + replicasPerMaster)` nodes, forms the cluster, and resolves once every
   * node says cluster_state:ok, all 16384 slots are served, and every replica is in sync.
   */
  static async start(options: RedisClusterOptions = {}): Promise<RedisClusterProcess> {
    const { masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 1000 } = options;
    ensure(
      Number.isInteger(masters) && masters >= 1,
      `masters must be an integer >= 1, got ${masters}`,
    );
    ensure(
      Number.isInteger(replicasPerMaster) && replicasPerMaster >= 0,
      `replicasPerMaster must be an integer >= 0, got ${replicasPerMaster}`,
    );
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    const startedAt = performance.now();
    requireRedisServer7();
    const total = masters * (1 + replicasPerMaster);
    const ports = await distinctFreePorts(2 * total);
    const launched = await Promise.allSettled(
      ports
        .slice(0, total)
        .map((port, i) => startClusterNode(port, ports[total + i], nodeTimeoutMs)),
    );
    const cluster = new RedisClusterProcess(
      launched.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
    );
    try {
      const failed = launched.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      await cluster.form(masters, ports.slice(total), deadline);
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
    cluster.startupMs = performance.now() - startedAt;
    return cluster;
  }

  /** Every node, whatever its state; what ioredis's `new Cluster(nodes)` takes. */
  get nodes(): NodeAddress[] {
    return [...this.processes.keys()].map((port) => ({ host: '127.0.0.1', port }));
  }

  /** Ports of the masters serving slots, as last seen ok; killed or frozen nodes are in no list. */
  masters(): number[] {
    return this.portsWithRole('master');
  }

  replicas(): number[] {
    return this.portsWithRole('replica');
  }

  replicasOf(masterPort: number): number[] {
    return [...this.topology]
      .filter(([, node]) => node.role === 'replica' && node.masterPort === masterPort)
      .map(([port]) => port);
  }

  nodeFor(port: number): RedisNodeProcess {
    const node = this.processes.get(port);
    if (!node) throw new Error(`${port} is not a node of this cluster`);
    return node;
  }

  /** The port of the master serving `key`'s slot. */
  async masterForKey(key: string): Promise<number> {
    const slot = await withRedis(this.anyServingPort(), (redis) => redis.cluster('KEYSLOT', key));
    const owner = [...this.topology].find(
      ([, node]) =>
        node.role === 'master' && node.slots.some(([first, last]) => slot >= first && slot <= last),
    );
    if (!owner) throw new Error(`no serving master known for slot ${slot}`);
    return owner[0];
  }

  /** SIGKILL by pid: a crash, with no goodbye to the other nodes. */
  async kill(port: number): Promise<void> {
    await this.nodeFor(port).stop();
    this.topology.delete(port);
  }

  /** Starts it again on the same port and nodes.conf; resolves once it is back and all is ok. */
  async restart(port: number, timeoutMs = 20_000): Promise<void> {
    await this.nodeFor(port).restart();
    await this.waitForClusterOk(timeoutMs);
  }

  freeze(port: number): void {
    this.nodeFor(port).freeze();
    this.topology.delete(port);
  }

  /** SIGCONT; `waitForClusterOk` then waits for it to rejoin (if failed over, as a replica). */
  thaw(port: number): void {
    this.nodeFor(port).thaw();
  }

  /**
   * Resolves once every serving node says cluster_state:ok, knows every node, sees every other
   * serving node connected, agrees with the others on roles and slots, all slots are served by
   * serving masters, and every serving replica's link to its master is up.
   */
  async waitForClusterOk(timeoutMs = 20_000): Promise<void> {
    this.topology = await waitFor('the cluster to be ok', timeoutMs, () => this.agreedTopology());
  }

  /**
   * Resolves with the port of the replica of `oldMasterPort` (killed or frozen) that took over
   * its slots, once the cluster is ok again.
   */
  async waitForFailover(oldMasterPort: number, timeoutMs = 20_000): Promise<number> {
    const candidates = this.replicasOf(oldMasterPort);
    if (candidates.length === 0) throw new Error(`${oldMasterPort} has no replica to promote`);
    return waitFor(`a replica of ${oldMasterPort} to take over`, timeoutMs, async () => {
      const topology = await this.agreedTopology();
      const promoted = candidates.find((port) => topology.get(port)?.role === 'master');
      ensure(promoted, `none of ${candidates.join(', ')} is a master yet`);
      this.topology = topology;
      return promoted;
    });
  }

  /** Stops every node by its pid and removes their dirs. */
  async dispose(): Promise<void> {
    await Promise.all([...this.processes.values()].map((node) => node.dispose()));
  }

  private portsWithRole(role: NodeRole['role']): number[] {
    return [...this.topology].filter(([, node]) => node.role === role).map(([port]) => port);
  }

  private anyServingPort(): number {
    const node = [...this.processes.values()].find((candidate) => candidate.isServing);
    if (!node) throw new Error('no node of this cluster is serving');
    return node.port;
  }

  /**
   * Builds the cluster from blank nodes, as `redis-cli --cluster create` does but without its
   * one-second sleeps: distinct config epochs, slot ranges, MEET, then REPLICATE.
   */
  private async form(masters: number, busPorts: number[], deadline: number): Promise<void> {
    const ports = [...this.processes.keys()];
    const ids = await Promise.all(ports.map((port) => withRedis(port, (r) => r.cluster('MYID'))));
    await Promise.all(
      ports.map((port, i) =>
        withRedis(port, async (redis) => {
          // Distinct epochs up front: no epoch collisions for the nodes to settle later.
          await redis.cluster('SET-CONFIG-EPOCH', i + 1);
          if (i >= masters) return;
          const first = Math.floor((i * SLOT_COUNT) / masters);
          const last = Math.floor(((i + 1) * SLOT_COUNT) / masters) - 1;
          await redis.call('CLUSTER', 'ADDSLOTSRANGE', first, last);
        }),
      ),
    );
    await Promise.all(
      ports
        .slice(1)
        .map((port) =>
          withRedis(port, (r) => r.call('CLUSTER', 'MEET', '127.0.0.1', ports[0], busPorts[0])),
        ),
    );
    await waitFor('every node to know every other', deadline - Date.now(), () =>
      Promise.all(
        ports.map(async (port) => {
          const lines = parseClusterNodes(String(await withRedis(port, (r) => r.cluster('NODES'))));
          ensure(lines.length === ports.length, `${port} knows ${lines.length} nodes`);
          ensure(
            lines.every((line) => line.connected && !line.flags.includes('handshake')),
            `${port} is still shaking hands`,
          );
        }),
      ),
    );
    // Replica k replicates master k % masters: replicas of one master are spread evenly.
    await Promise.all(
      ports
        .slice(masters)
        .map((port, k) => withRedis(port, (r) => r.cluster('REPLICATE', ids[k % masters]))),
    );
    await this.waitForClusterOk(deadline - Date.now());
    const replicas = ports.length - masters;
    ensure(
      this.masters().length === masters && this.replicas().length === replicas,
      `expected ${masters} masters, ${replicas} replicas: ${describeTopology(this.topology)}`,
    );
  }

  /** One look at every serving node; throws what is not ok yet, else returns the agreed roles. */
  private async agreedTopology(): Promise<Map<number, NodeRole>> {
    const serving = [...this.processes.values()]
      .filter((node) => node.isServing)
      .map((n) => n.port);
    const reports = await Promise.all(
      serving.map((port) =>
        withRedis(port, async (redis) => ({
          port,
          info: await redis.cluster('INFO'),
          nodes: parseClusterNodes(String(await redis.cluster('NODES'))),
          replication: await redis.info('replication'),
        })),
      ),
    );
    let agreed: { topology: Map<number, NodeRole>; text: string } | undefined;
    for (const { port, info, nodes } of reports) {
      ensure(infoField(info, 'cluster_state') === 'ok', `${port}: cluster_state is not ok`);
      const known = Number(infoField(info, 'cluster_known_nodes'));
      ensure(known === this.processes.size, `${port} knows ${known} of ${this.processes.size}`);
      const topology = rolesAsSeen(port, nodes, serving);
      const text = describeTopology(topology);
      ensure(!agreed || agreed.text === text, `nodes disagree: ${agreed?.text} vs ${text}`);
      agreed ??= { topology, text };
    }
    ensure(agreed, 'no node is serving');
    const served = [...agreed.topology.values()].reduce(
      (sum, node) => sum + (node.role === 'master' ? slotCount(node.slots) : 0),
      0,
    );
    ensure(served === SLOT_COUNT, `serving masters hold ${served} of ${SLOT_COUNT} slots`);
    for (const { port, replication } of reports) {
      const node = agreed.topology.get(port);
      if (node?.role !== 'replica') continue;
      ensure(
        infoField(replication, 'master_port') === String(node.masterPort) &&
          infoField(replication, 'master_link_status') === 'up',
        `replica ${port} is not in sync with ${node.masterPort}`,
      );
    }
    return agreed.topology;
  }
}

function startClusterNode(
  port: number,
  busPort: number,
  nodeTimeoutMs: number,
): Promise<RedisNodeProcess> {
  return RedisNodeProcess.start({
    port,
    args: (dir) => [
      ...standaloneArgs(port, dir),
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      // An explicit bus port: port + 10000 would overflow for the high ports freePort() returns.
      '--cluster-port',
      String(busPort),
      '--cluster-node-timeout',
      String(nodeTimeoutMs),
    ],
  });
}

/** Loopback, no persistence, a log in its own dir, and replicas synced without waiting. */
export function standaloneArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--logfile',
    join(dir, 'redis.log'),
    // 7.0 waits 5 s by default for more replicas before a diskless full sync.
    '--repl-diskless-sync-delay',
    '0',
  ];
}

/** The roles of the serving nodes as `seenBy` reports them; throws if it sees one failing. */
function rolesAsSeen(
  seenBy: number,
  lines: ClusterNodesLine[],
  serving: number[],
): Map<number, NodeRole> {
  const portOf = new Map(lines.map((line) => [line.id, line.port]));
  const roles = new Map<number, NodeRole>();
  for (const port of serving) {
    const line = lines.find((candidate) => candidate.port === port);
    ensure(line, `${seenBy} does not know ${port}`);
    const trouble = line.flags.filter((flag) => ['fail', 'fail?', 'handshake'].includes(flag));
    ensure(trouble.length === 0, `${seenBy} sees ${port} as ${trouble.join(',')}`);
    ensure(line.connected, `${seenBy} is not connected to ${port}`);
    if (line.flags.includes('slave')) {
      const masterPort = line.masterId ? portOf.get(line.masterId) : undefined;
      ensure(masterPort && serving.includes(masterPort), `${port}'s master is not serving`);
      roles.set(port, { role: 'replica', masterPort });
    } else {
      // A master without slots is one between roles, such as a returning master being demoted.
      ensure(line.slots.length > 0, `${seenBy} sees ${port} as a master without slots`);
      roles.set(port, { role: 'master', slots: line.slots });
    }
  }
  return roles;
}

function describeTopology(topology: Map<number, NodeRole>): string {
  return [...topology]
    .sort(([a], [b]) => a - b)
    .map(([port, node]) =>
      node.role === 'master'
        ? `${port}:master[${node.slots.map((range) => range.join('-')).join(',')}]`
        : `${port}:replica-of-${node.masterPort}`,
    )
    .join(' ');
}
