import { Redis } from 'ioredis';
import { Logger } from '@nestjs/common';
import { RedisCache } from '../src';
import { RedisStore } from '../src/stores/redis.store';
import { RedisServerProcess } from './support/redis-server';
import { uniqueId } from './support/unique';

/** What only a real Redis can show: the exact commands, bytes on the wire and expiries. */
describe('the Redis store against a redis-server of its own', () => {
  let server: RedisServerProcess;
  let client: Redis;
  let raw: Redis;
  let cache: RedisCache;

  beforeAll(async () => {
    server = await RedisServerProcess.start();
    client = new Redis(server.url);
    raw = new Redis(server.url);
    await Promise.all([client.ping(), raw.ping()]);
    cache = await RedisCache.fromClient(client, {
      defaultTtlSeconds: 60,
      maxTtlSeconds: 3600,
      operationTimeoutMs: 5000,
    });
  });

  afterAll(async () => {
    await cache.close();
    client.disconnect();
    raw.disconnect();
    await server.dispose();
  });

  /** Runs `work` while MONITOR records every command Redis receives. */
  async function monitored(work: () => Promise<void>): Promise<string[][]> {
    const monitor = await raw.monitor();
    const commands: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => commands.push(args));
    await work();
    await client.ping(); // MONITOR output is ordered: once this PING shows up, the work's commands have too.
    while (!commands.some((args) => args[0].toLowerCase() === 'ping')) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    monitor.disconnect();
    return commands.filter((args) => args[0].toLowerCase() !== 'ping');
  }

  it('reads bytes written by another client and writes bytes another client reads', async () => {
    const ctx = cache.withContext('clock', uniqueId('device'));
    const fromGo = Buffer.from([0x00, 0x01, 0xc3, 0x28, 0xff, 0x0a]);
    await raw.set(ctx.keyFor('weather_data'), fromGo);
    expect((await ctx.get('weather_data')).value).toEqual(fromGo);

    const ours = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]);
    await ctx.set('portfolio/AAPL', ours);
    expect(await raw.getBuffer(`/clock/${ctx.deviceId}/portfolio_AAPL`)).toEqual(ours);
    await ctx.set('text', 'plain');
    expect(await raw.get(ctx.keyFor('text'))).toBe('plain');
  });

  it('fromClient on another database resolves only once that database is confirmed', async () => {
    const onDb3 = new Redis(`${server.url}/3`);
    const db3 = new Redis(`${server.url}/3`);
    try {
      const ctx = (await RedisCache.fromClient(onDb3, { operationTimeoutMs: 5000 })).withContext(
        'db3',
        uniqueId('device'),
      );
      // The very first write, right after it resolved, lands in database 3 and nowhere else.
      await ctx.set('first', 'written');
      expect(await db3.get(ctx.keyFor('first'))).toBe('written');
      expect(await raw.exists(ctx.keyFor('first'))).toBe(0);
    } finally {
      onDb3.disconnect();
      db3.disconnect();
    }
  });

  it('writes every key with an expiry', async () => {
    const ctx = cache.withContext('ttl', uniqueId('device'));
    const commands = await monitored(async () => {
      await ctx.set('a', 'v');
      await ctx.set('b', 'v', 0);
      await ctx.set('c', 'v', 5);
      await ctx.setJson('d', { x: 1 });
    });
    const sets = commands.filter((args) => args[0].toLowerCase() === 'set');
    expect(sets.map((args) => args.slice(2))).toEqual([
      ['v', 'EX', '60'],
      ['v', 'EX', '60'],
      ['v', 'EX', '5'],
      ['{"x":1}', 'EX', '60'],
    ]);
    for (const key of ['a', 'b', 'c', 'd'])
      expect(await raw.ttl(ctx.keyFor(key))).toBeGreaterThan(0);
  });

  it('flushes with SCAN COUNT 1000 and UNLINK batches as it goes, never KEYS or DEL', async () => {
    const ctx = cache.withContext(uniqueId('bulk'), uniqueId('device'));
    const total = 6000;
    const pipeline = raw.pipeline();
    for (let i = 0; i < total; i++) pipeline.set(ctx.keyFor(`k${i}`), 'v', 'EX', 600);
    for (let i = 0; i < 20000; i++) pipeline.set(`/other/${i}/k`, 'v', 'EX', 600);
    await pipeline.exec();

    let deleted = 0;
    const commands = await monitored(async () => {
      deleted = await ctx.flushApp();
    });
    expect(deleted).toBe(total);
    const names = commands.map((args) => args[0].toLowerCase());
    expect(names).not.toContain('keys');
    expect(names).not.toContain('del');
    const scans = commands.filter((args) => args[0].toLowerCase() === 'scan');
    expect(scans.length).toBeGreaterThan(2);
    for (const scan of scans) {
      expect(scan.slice(2)).toEqual(['MATCH', `/${ctx.appId}/${ctx.deviceId}/*`, 'COUNT', '1000']);
    }
    const unlinkAt = names.map((name, i) => (name === 'unlink' ? i : -1)).filter((i) => i >= 0);
    expect(unlinkAt.length).toBeGreaterThan(1);
    // Streaming: the first batch is deleted before the scan finishes.
    expect(unlinkAt[0]).toBeLessThan(names.lastIndexOf('scan'));
    expect(await raw.exists(`/other/1/k`)).toBe(1);
  });

  it('escapes glob characters in SCAN patterns', async () => {
    const ctx = cache.withContext('a*[b]?\\', 'd*');
    const commands = await monitored(async () => {
      await ctx.flushApp();
      await ctx.flushDevice();
    });
    const patterns = commands
      .filter((args) => args[0].toLowerCase() === 'scan')
      .map((args) => args[3]);
    // MONITOR prints a backslash as two.
    const asMonitored = (pattern: string) => pattern.replaceAll('\\', '\\\\');
    expect(patterns).toContain(asMonitored('/a\\*\\[b\\]\\?\\\\/d\\*/*'));
    expect(patterns).toContain(asMonitored('/*/d\\*/*'));
  });

  it('leaves keys of another shape alone, even when MATCH lets them through', async () => {
    const device = uniqueId('d');
    const ctx = cache.withContext('app', device);
    await ctx.set('mine', 'v');
    const foreign = [
      `/x/y/${device}/k`, // app segment with a slash: not a cache key
      `//${device}/k`, // empty app
      `/app/${device}/a/b`, // key with a slash: the cache never writes one
      `app/${device}/k`, // the Go code's form without the leading slash
    ];
    for (const key of foreign) await raw.set(key, 'keep', 'EX', 600);
    expect(await ctx.stats()).toBe(1);
    expect(await ctx.flushDevice()).toBe(1);
    expect(await ctx.flushApp()).toBe(0);
    for (const key of foreign) expect(await raw.get(key)).toBe('keep');
  });

  it('counts each key once while Redis resizes its table under the scan', async () => {
    const ctx = cache.withContext(uniqueId('rehash'), uniqueId('device'));
    const total = 3000;
    const fill = raw.pipeline();
    for (let i = 0; i < total; i++) fill.set(ctx.keyFor(`k${i}`), 'v', 'EX', 600);
    await fill.exec();
    // Grow the keyspace while stats() scans, so Redis rehashes and SCAN may repeat keys.
    const grow = (async () => {
      for (let round = 0; round < 10; round++) {
        const p = raw.pipeline();
        for (let i = 0; i < 5000; i++) p.set(`/grow/${round}/${i}`, 'v', 'EX', 600);
        await p.exec();
      }
    })();
    const counts = await Promise.all([ctx.stats(), ctx.stats(), ctx.stats()]);
    await grow;
    expect(counts).toEqual([total, total, total]);
    expect(await ctx.stats()).toBe(total);
  });

  it('holds a lease for one owner at a time, renewable by its holder, free once it runs out', async () => {
    const store = await RedisStore.open(
      client,
      { operationTimeoutMs: 5000, ownsClient: false, logger: new Logger('test') },
      1000,
    );
    const lease = uniqueId('lease');
    try {
      expect(await store.holdLease(lease, 'a', 300)).toBe(true);
      expect(await store.holdLease(lease, 'b', 300)).toBe(false);
      expect(await store.holdLease(lease, 'a', 300)).toBe(true);
      expect(await raw.get(lease)).toBe('a');
      const ttl = await raw.pttl(lease);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(300);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await store.holdLease(lease, 'b', 300)).toBe(true);
      expect(await store.holdLease(lease, 'a', 300)).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('reports the round trip of ping in milliseconds', async () => {
    const ms = await cache.ping();
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(100);
  });

  it('sends the commands of one event-loop turn in one socket write, from separate callbacks too', async () => {
    const ctx = cache.withContext('batch', uniqueId('device'));
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((key) => ctx.set(key, `value ${key}`)));
    // What reaches the socket (ioredis writes each command to the stream; the stream hands the
    // kernel a chunk or a vector of chunks per _write/_writev): the GETs in each write.
    const socket = client.stream as unknown as Record<
      '_write' | '_writev',
      (...args: unknown[]) => void
    >;
    const getsPerWrite: number[] = [];
    const getsIn = (data: unknown[]) =>
      data.map((each) => String(each).split('\r\nget\r\n').length - 1).reduce((a, b) => a + b, 0);
    const counted = (name: '_write' | '_writev') => {
      const original = socket[name];
      socket[name] = function (this: unknown, ...args: unknown[]) {
        const data =
          name === '_write'
            ? [args[0]]
            : (args[0] as { chunk: unknown }[]).map(({ chunk }) => chunk);
        getsPerWrite.push(getsIn(data));
        return original.apply(this, args);
      };
      return () => (socket[name] = original);
    };
    const restore = [counted('_write'), counted('_writev')];
    try {
      // Five timers due at once run in one timers phase, each its own callback (as requests
      // arriving together are): their GETs still share one write.
      const pending = ['a', 'b', 'c', 'd', 'e'].map(
        (key) =>
          new Promise<string>((resolve) =>
            setTimeout(() => void ctx.get(key).then((hit) => resolve(String(hit.value))), 0),
          ),
      );
      // All five overdue before the loop turns: on a busy machine the clock could otherwise tick
      // between them and the first run a phase of its own.
      const until = performance.now() + 5;
      while (performance.now() < until);
      const reads = await Promise.all(pending);
      expect(reads).toEqual(['value a', 'value b', 'value c', 'value d', 'value e']);
      // Writes without a GET (none expected) would not be the batching's doing.
      expect(getsPerWrite.filter((gets) => gets > 0)).toEqual([5]);
    } finally {
      for (const undo of restore) undo();
    }
  });
});
