import { join } from 'node:path';
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

// ---------------------------------------------------------------------------------------------
// The cluster.
// ---------------------------------------------------------------------------------------------

const SLOT_COUNT = 16384;

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
