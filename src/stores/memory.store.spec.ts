import { MemoryStore } from './memory.store';

describe('MemoryStore', () => {
  let now = 1_000_000;
  let store: MemoryStore;

  beforeEach(() => {
    now = 1_000_000;
    store = new MemoryStore(60_000, () => now);
  });
  afterEach(() => store.close());

  it('expires an entry at its TTL, not before', async () => {
    await store.set('/a/d/k', 'v', 10);
    now += 9_999;
    expect(await store.get('/a/d/k')).toEqual(Buffer.from('v'));
    now += 1;
    expect(await store.get('/a/d/k')).toBeNull();
  });

  it('drops expired entries that are never read, so they do not accumulate', async () => {
    for (let i = 0; i < 100; i++) await store.set(`/a/d/k${i}`, 'v', 1 + (i % 2));
    expect(store.size).toBe(100);
    now += 1_000;
    expect(store.size).toBe(50);
    now += 1_000;
    expect(store.size).toBe(0);
  });

  it('holds a lease for one owner at a time, renewable by its holder, free once it runs out', async () => {
    expect(await store.holdLease('lease', 'a', 300)).toBe(true);
    expect(await store.holdLease('lease', 'b', 300)).toBe(false);
    now += 200;
    expect(await store.holdLease('lease', 'a', 300)).toBe(true);
    now += 299;
    expect(await store.holdLease('lease', 'b', 300)).toBe(false);
    now += 1;
    expect(await store.holdLease('lease', 'b', 300)).toBe(true);
    expect(await store.holdLease('lease', 'a', 300)).toBe(false);
  });

  it('returns copies, so changing a returned or stored Buffer leaves the cache as it was', async () => {
    const value = Buffer.from('abc');
    await store.set('/a/d/k', value, 10);
    value[0] = 0x7a;
    const read = await store.get('/a/d/k');
    expect(read?.toString()).toBe('abc');
    read![1] = 0x7a;
    expect((await store.get('/a/d/k'))?.toString()).toBe('abc');
  });

  it('neither counts nor flushes nor deletes an expired key', async () => {
    await store.set('/a/d/old', 'v', 1);
    await store.set('/a/d/new', 'v', 100);
    now += 1_000;
    expect(await store.countNamespace({ appId: 'a', deviceId: 'd' })).toBe(1);
    expect(await store.delete('/a/d/old')).toBe(false);
    expect(await store.deleteNamespace({ deviceId: 'd' })).toBe(1);
  });
});
