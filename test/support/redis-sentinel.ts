import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import {
  RedisNodeProcess,
  distinctFreePorts,
  ensure,
  infoField,
  requireRedisServer7,
  standaloneArgs,
  waitFor,
  withRedis,
} from './redis-process';
import type { NodeAddress } from './redis-process';

export interface RedisSentinelOptions {
  /** The master group name clients ask the sentinels for. @default 'harness-primary' */
  name?: string;
  /** How long the master may not answer before a sentinel thinks it down. @default 1000 */
  downAfterMs?: number;
  /** Bounds each failover step; a failed attempt is retried after twice this. @default 3000 */
  failoverTimeoutMs?: number;
  /** The whole start, after which it cleans up and throws. @default 30000 */
  startTimeoutMs?: number;
}

const SENTINEL_COUNT = 3;
const QUORUM = 2;

/**
 * One master, one replica and three sentinels watching them, all redis-server processes this test
 * started on free loopback ports, each in its own temp dir.
 */
export class RedisSentinelSet {
  /** How long `start()` took, in ms. */
  startupMs = 0;
  /** The data node last killed or stopped, which `restartOldMaster` brings back. */
  private downMaster: RedisNodeProcess | undefined;

  private constructor(
    readonly name: string,
    private readonly dataNodes: RedisNodeProcess[],
    private readonly sentinelNodes: RedisNodeProcess[],
  ) {}

  /**
   * Starts the master and its replica, waits for the replica to sync, then starts the sentinels
   * (so their first look at the master already lists the replica) and waits until each knows the
   * master, the replica and the other two sentinels.
   */
  static async start(options: RedisSentinelOptions = {}): Promise<RedisSentinelSet> {
    const { name = 'harness-primary', downAfterMs = 1000, failoverTimeoutMs = 3000 } = options;
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    const startedAt = performance.now();
    requireRedisServer7();
    const [masterPort, replicaPort, ...sentinelPorts] = await distinctFreePorts(2 + SENTINEL_COUNT);
    const set = new RedisSentinelSet(name, [], []);
    try {
      set.dataNodes.push(
        await RedisNodeProcess.start({
          port: masterPort,
          args: (dir) => standaloneArgs(masterPort, dir),
        }),
      );
      set.dataNodes.push(
        await RedisNodeProcess.start({
          port: replicaPort,
          args: (dir) => [
            ...standaloneArgs(replicaPort, dir),
            '--replicaof',
            '127.0.0.1',
            String(masterPort),
          ],
        }),
      );
      await waitFor('the replica to sync', deadline - Date.now(), () =>
        replicaInSync(replicaPort, masterPort),
      );
      const monitor = { name, masterPort, downAfterMs, failoverTimeoutMs };
      const sentinels = await Promise.allSettled(
        sentinelPorts.map((port) => startSentinel(port, monitor)),
      );
      for (const result of sentinels)
        if (result.status === 'fulfilled') set.sentinelNodes.push(result.value);
      const failed = sentinels.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      await waitFor('every sentinel to know the whole set', deadline - Date.now(), () =>
        Promise.all(
          sentinelPorts.map((port) => withRedis(port, (redis) => set.knowsWholeSet(redis))),
        ),
      );
    } catch (error) {
      await set.dispose();
      throw error;
    }
    set.startupMs = performance.now() - startedAt;
    return set;
  }

  /** The sentinels: what ioredis's `new Redis({ sentinels, name })` takes. */
  get sentinels(): NodeAddress[] {
    return this.sentinelNodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  }

  /** The ports of the master and the replica as started; which is master changes on failover. */
  get dataPorts(): number[] {
    return this.dataNodes.map((node) => node.port);
  }

  /** The master's port, as the first sentinel that answers reports it. */
  async masterPort(): Promise<number> {
    for (const sentinel of this.sentinelNodes) {
      try {
        return await withRedis(sentinel.port, (redis) => this.masterPortAsSeen(redis));
      } catch {
        // try the next sentinel
      }
    }
    throw new Error(`no sentinel answers for ${this.name}`);
  }

  /** SIGKILL to the current master: a crash. Resolves with its port. */
  async killMaster(): Promise<number> {
    return this.takeDownMaster('SIGKILL');
  }

  /**
   * SIGTERM to the current master: a clean shutdown (Redis 7 first lets the replica catch up,
   * for up to its 10 s shutdown-timeout). Resolves with its port.
   */
  async stopMaster(): Promise<number> {
    return this.takeDownMaster('SIGTERM');
  }

  /**
   * Resolves with the new master's port once every sentinel reports a master other than
   * `oldMasterPort` (the same one) and it answers INFO with role:master.
   */
  async waitForPromotion(oldMasterPort: number, timeoutMs = 20_000): Promise<number> {
    return waitFor(`sentinels to promote a replica of ${oldMasterPort}`, timeoutMs, async () => {
      const reported = await Promise.all(
        this.sentinelNodes.map((node) =>
          withRedis(node.port, (redis) => this.masterPortAsSeen(redis)),
        ),
      );
      const [newMasterPort] = reported;
      ensure(
        newMasterPort !== oldMasterPort && reported.every((port) => port === newMasterPort),
        `sentinels report ${reported.join(', ')}`,
      );
      const role = await withRedis(newMasterPort, async (redis) =>
        infoField(await redis.info('replication'), 'role'),
      );
      ensure(role === 'master', `${newMasterPort} says role:${role}`);
      return newMasterPort;
    });
  }

  /**
   * Starts the last killed or stopped master again, as it was started (no persistence, so empty),
   * and resolves with its port once the set has healed: one master, the other node its in-sync
   * replica. Sentinel waits about 8 s after it returns before it reconfigures it.
   */
  async restartOldMaster(timeoutMs = 30_000): Promise<number> {
    const node = this.downMaster;
    if (!node) throw new Error('no master was killed or stopped, so none can come back');
    await node.restart();
    this.downMaster = undefined;
    // Normally it comes back as the new master's replica. On a starved machine the sentinels may
    // have failed over once more, back to it: the set has healed either way once one node is the
    // master every sentinel reports and the other its replica, in sync.
    await waitFor(`${node.port} to rejoin the set`, timeoutMs, async () => {
      const masterPort = await this.masterPort();
      const replicaPort = this.dataNodes.find((other) => other.port !== masterPort)!.port;
      await replicaInSync(replicaPort, masterPort);
    });
    return node.port;
  }

  /** Stops every process by its pid and removes their dirs. */
  async dispose(): Promise<void> {
    await Promise.all([...this.sentinelNodes, ...this.dataNodes].map((node) => node.dispose()));
  }

  private async takeDownMaster(signal: 'SIGKILL' | 'SIGTERM'): Promise<number> {
    const port = await this.masterPort();
    const node = this.dataNodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`sentinels report ${port}, which is not a data node of this set`);
    await node.stop(signal);
    this.downMaster = node;
    return port;
  }

  private async masterPortAsSeen(sentinel: Redis): Promise<number> {
    const address = await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name);
    ensure(Array.isArray(address), `a sentinel does not know ${this.name}`);
    return Number(address[1]);
  }

  /** Throws unless this sentinel knows the master, an in-sync replica, and the other sentinels. */
  private async knowsWholeSet(sentinel: Redis): Promise<void> {
    const master = fieldsOf(await sentinel.call('SENTINEL', 'MASTER', this.name));
    ensure(master.flags === 'master', `a sentinel sees the master as ${master.flags}`);
    ensure(master['num-slaves'] === '1', `a sentinel knows ${master['num-slaves']} replicas`);
    const others = master['num-other-sentinels'];
    ensure(others === String(SENTINEL_COUNT - 1), `a sentinel knows ${others} other sentinels`);
    const replicas = await sentinel.call('SENTINEL', 'REPLICAS', this.name);
    ensure(Array.isArray(replicas) && replicas.length === 1, 'a sentinel lists no replica');
    const replica = fieldsOf(replicas[0]);
    ensure(
      replica.flags === 'slave' && replica['master-link-status'] === 'ok',
      `a sentinel sees the replica as ${replica.flags}, link ${replica['master-link-status']}`,
    );
    // Errors unless enough sentinels are reachable to authorise a failover.
    await sentinel.call('SENTINEL', 'CKQUORUM', this.name);
  }
}

interface MonitorSettings {
  name: string;
  masterPort: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
}

/** A sentinel needs a writable config file of its own: it records what it learns there. */
function startSentinel(port: number, monitor: MonitorSettings): Promise<RedisNodeProcess> {
  const configFile = (dir: string) => join(dir, 'sentinel.conf');
  return RedisNodeProcess.start({
    port,
    prepare: (dir) =>
      writeFileSync(
        configFile(dir),
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `logfile ${join(dir, 'redis.log')}`,
          `sentinel monitor ${monitor.name} 127.0.0.1 ${monitor.masterPort} ${QUORUM}`,
          `sentinel down-after-milliseconds ${monitor.name} ${monitor.downAfterMs}`,
          `sentinel failover-timeout ${monitor.name} ${monitor.failoverTimeoutMs}`,
          `sentinel parallel-syncs ${monitor.name} 1`,
          '',
        ].join('\n'),
      ),
    args: (dir) => [configFile(dir), '--sentinel'],
  });
}

/** Throws unless `replicaPort` replicates `masterPort` with its link up. */
async function replicaInSync(replicaPort: number, masterPort: number): Promise<void> {
  const replication = await withRedis(replicaPort, (redis) => redis.info('replication'));
  const role = infoField(replication, 'role');
  const following = infoField(replication, 'master_port');
  const link = infoField(replication, 'master_link_status');
  ensure(
    role === 'slave' && following === String(masterPort) && link === 'up',
    `${replicaPort} is role:${role} of ${following}, link ${link}; want a replica of ${masterPort}`,
  );
}

/** A sentinel's flat [field, value, ...] reply as an object. */
function fieldsOf(reply: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  if (!Array.isArray(reply)) return fields;
  for (let i = 0; i + 1 < reply.length; i += 2) fields[String(reply[i])] = String(reply[i + 1]);
  return fields;
}
