import { Cluster, Redis } from 'ioredis';
import { RedisClusterProcess } from './support/redis-cluster';
import {
  NO_REDIS_SERVER_FOR_TOPOLOGIES,
  ensure,
  infoField,
  waitFor,
  withRedis,
} from './support/redis-process';
import { RedisSentinelSet } from './support/redis-sentinel';
import { uniqueId } from './support/unique';

// Hooks outlast the harness's own start timeout, so a slow start cleans up after itself before
// jest gives up on the hook (and runs afterAll with nothing to dispose).
const START_TIMEOUT_MS = 45_000;
const HOOK_TIMEOUT_MS = 60_000;
// Bounds the tests assert, generous for a shared 2-core machine: typical starts and failovers
// take 2-3.5 s each (Redis waits 2 s before a new cluster master says ok).
const CLUSTER_START_BOUND_MS = 15_000;
const SENTINEL_START_BOUND_MS = 15_000;
const FAILOVER_BOUND_MS = 15_000;

const timings: Record<string, number> = {};

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  timings[label] = Math.round(performance.now() - started);
  return result;
}

// Quiet by default; TOPOLOGY_TIMINGS=1 prints how long starts and failovers took.
afterAll(() => {
  if (process.env.TOPOLOGY_TIMINGS) {
    console.info(`topology harness timings (ms): ${JSON.stringify(timings)}`);
  }
});

/**
 * Waits until `replica` has applied everything `master` had written when this was called. Not
 * WAIT on a connection of its own: WAIT counts acknowledgements of that connection's writes, and a
 * fresh connection has none, so it answers at once whatever the replica has.
 */
async function replicated(master: number, replica: number): Promise<void> {
  const offset = Number(
    infoField(await withRedis(master, (r) => r.info('replication')), 'master_repl_offset'),
  );
  await waitFor(`replica ${replica} to reach offset ${offset} of ${master}`, 5_000, async () => {
    const info = await withRedis(replica, (r) => r.info('replication'));
    const applied = Number(infoField(info, 'slave_repl_offset'));
    ensure(applied >= offset, `replica ${replica} is at ${applied}`);
  });
}

/** The error a start fails with; a start that succeeds anyway is disposed, not left running. */
async function startError(start: () => Promise<{ dispose(): Promise<void> }>): Promise<string> {
  try {
    await (await start()).dispose();
    return 'it started';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

describe('the topology harness without redis-server', () => {
  it('fails, saying how to get redis-server, instead of skipping', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(await startError(() => RedisClusterProcess.start())).toBe(
        NO_REDIS_SERVER_FOR_TOPOLOGIES,
      );
      expect(await startError(() => RedisSentinelSet.start())).toBe(NO_REDIS_SERVER_FOR_TOPOLOGIES);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('a Redis Cluster of 3 masters with 1 replica each', () => {
  let cluster: RedisClusterProcess;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await RedisClusterProcess.start({ startTimeoutMs: START_TIMEOUT_MS });
    timings.clusterStart = Math.round(cluster.startupMs);
    client = new Cluster(cluster.nodes);
    client.on('error', () => undefined); // expected while nodes die; the tests assert outcomes
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    client?.disconnect();
    await cluster?.dispose();
  }, HOOK_TIMEOUT_MS);

  it('starts every node and forms the cluster quickly', () => {
    expect(cluster.nodes).toHaveLength(6);
    expect(cluster.masters()).toHaveLength(3);
    expect(cluster.replicas()).toHaveLength(3);
    for (const master of cluster.masters()) expect(cluster.replicasOf(master)).toHaveLength(1);
    expect(cluster.startupMs).toBeLessThan(CLUSTER_START_BOUND_MS);
  });

  it('spreads 300 keys over all three masters, and every replica acknowledges them', async () => {
    const prefix = uniqueId('spread');
    await Promise.all(Array.from({ length: 300 }, (_, i) => client.set(`${prefix}:${i}`, i)));

    const masters = cluster.masters();
    const sizes = await Promise.all(masters.map((port) => withRedis(port, (r) => r.dbsize())));
    expect(sizes).toHaveLength(3);
    for (const size of sizes) expect(size).toBeGreaterThan(0);
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(300);
    await Promise.all(masters.map((port) => replicated(port, cluster.replicasOf(port)[0])));
  }, 20_000);

  it('promotes the replica of a killed master, serves again, takes the master back', async () => {
    const key = uniqueId('killed');
    const oldMaster = await cluster.masterForKey(key);
    const [replica] = cluster.replicasOf(oldMaster);
    await client.set(key, 'before');
    await replicated(oldMaster, replica);

    const newMaster = await timed('clusterFailoverAfterKill', async () => {
      await cluster.kill(oldMaster);
      return cluster.waitForFailover(oldMaster, FAILOVER_BOUND_MS);
    });
    expect(newMaster).toBe(replica);
    expect(cluster.masters()).toHaveLength(3);
    expect(cluster.masters()).not.toContain(oldMaster);
    expect(await timed('clusterClientFirstReadAfterFailover', () => client.get(key))).toBe(
      'before',
    );
    await client.set(key, 'after');
    expect(await withRedis(newMaster, (r) => r.get(key))).toBe('after');

    await timed('clusterRestartRejoin', () => cluster.restart(oldMaster));
    expect(cluster.replicasOf(newMaster)).toEqual([oldMaster]);
    expect(await withRedis(oldMaster, (r) => r.call('READONLY').then(() => r.get(key)))).toBe(
      'after',
    );
  }, 45_000);

  it('fails over a frozen master, and demotes it to a replica when it thaws', async () => {
    const key = uniqueId('frozen');
    const oldMaster = await cluster.masterForKey(key);
    const [replica] = cluster.replicasOf(oldMaster);

    const newMaster = await timed('clusterFailoverAfterFreeze', async () => {
      cluster.freeze(oldMaster);
      return cluster.waitForFailover(oldMaster, FAILOVER_BOUND_MS);
    });
    expect(newMaster).toBe(replica);
    // Directly, not through the cluster client: its in-flight commands to the frozen node would
    // hang (no command timeout), which is the client's business, not the harness's.
    await withRedis(newMaster, (r) => r.set(key, 'served'));
    expect(await withRedis(newMaster, (r) => r.get(key))).toBe('served');

    cluster.thaw(oldMaster);
    await timed('clusterThawRejoin', () => cluster.waitForClusterOk(20_000));
    expect(cluster.replicasOf(newMaster)).toEqual([oldMaster]);
    expect(cluster.masters()).toHaveLength(3);
  }, 45_000);
});

describe('a Sentinel set: master, replica and 3 sentinels', () => {
  let set: RedisSentinelSet;
  let client: Redis;

  beforeAll(async () => {
    set = await RedisSentinelSet.start({ startTimeoutMs: START_TIMEOUT_MS });
    timings.sentinelStart = Math.round(set.startupMs);
    client = new Redis({ sentinels: set.sentinels, name: set.name });
    client.on('error', () => undefined); // expected while the master is down
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    client?.disconnect();
    await set?.dispose();
  }, HOOK_TIMEOUT_MS);

  it('starts with every sentinel agreeing on the master', async () => {
    expect(set.sentinels).toHaveLength(3);
    expect(set.dataPorts).toContain(await set.masterPort());
    expect(set.startupMs).toBeLessThan(SENTINEL_START_BOUND_MS);
  });

  it('promotes the replica when the master dies; a sentinel client writes to it', async () => {
    const key = uniqueId('sentinel');
    await client.set(key, 'before');
    expect(await client.wait(1, 5000)).toBe(1);
    const oldMaster = await set.masterPort();
    const replica = set.dataPorts.find((port) => port !== oldMaster);

    const newMaster = await timed('sentinelFailoverAfterKill', async () => {
      expect(await set.killMaster()).toBe(oldMaster);
      return set.waitForPromotion(oldMaster, FAILOVER_BOUND_MS);
    });
    expect(newMaster).toBe(replica);
    await timed('sentinelClientFirstWriteAfterPromotion', () => client.set(key, 'after'));
    expect(await withRedis(newMaster, (r) => r.get(key))).toBe('after');
    expect(infoField(await client.info('server'), 'tcp_port')).toBe(String(newMaster));
  }, 30_000);

  it('brings the old master back as an in-sync replica of the new one', async () => {
    const master = await set.masterPort();
    const returned = await timed('sentinelOldMasterRejoin', () => set.restartOldMaster(30_000));
    expect(returned).not.toBe(master);
    await client.set(uniqueId('after-rejoin'), 'v');
    expect(await client.wait(1, 5000)).toBe(1);
  }, 40_000);

  // Runs after the rejoin above, which gave the set a replica again.
  it('promotes the rejoined replica after a clean shutdown of the master', async () => {
    const key = uniqueId('shutdown');
    await client.set(key, 'before');
    expect(await client.wait(1, 5000)).toBe(1);
    const oldMaster = await set.masterPort();

    const newMaster = await timed('sentinelFailoverAfterShutdown', async () => {
      expect(await set.stopMaster()).toBe(oldMaster);
      return set.waitForPromotion(oldMaster, FAILOVER_BOUND_MS);
    });
    expect(newMaster).not.toBe(oldMaster);
    expect(await client.get(key)).toBe('before');
    expect(infoField(await client.info('server'), 'tcp_port')).toBe(String(newMaster));
  }, 30_000);
});
