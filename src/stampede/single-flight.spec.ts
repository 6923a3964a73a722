import { SingleFlight } from './single-flight';

describe('SingleFlight', () => {
  it('runs the work once for callers that arrive while it runs, and again after it settles', async () => {
    const flight = new SingleFlight<number>();
    let calls = 0;
    let finish!: (value: number) => void;
    const work = () => {
      calls++;
      return new Promise<number>((resolve) => (finish = resolve));
    };
    const callers = [flight.run('k', work), flight.run('k', work), flight.run('k', work)];
    expect(calls).toBe(1);
    expect(flight.size).toBe(1);
    finish(42);
    expect(await Promise.all(callers)).toEqual([42, 42, 42]);
    expect(flight.size).toBe(0);
    const again = flight.run('k', work);
    finish(43);
    expect(await again).toBe(43);
    expect(calls).toBe(2);
  });

  it('keeps keys apart', async () => {
    const flight = new SingleFlight<string>();
    const results = await Promise.all([
      flight.run('a', () => Promise.resolve('A')),
      flight.run('b', () => Promise.resolve('B')),
    ]);
    expect(results).toEqual(['A', 'B']);
  });

  it('gives every caller the same error, and forgets it (a failed load is not cached)', async () => {
    const flight = new SingleFlight<number>();
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new Error('loader broke'));
    };
    const callers = [flight.run('k', failing), flight.run('k', failing)];
    for (const caller of callers) await expect(caller).rejects.toThrow('loader broke');
    expect(calls).toBe(1);
    expect(flight.size).toBe(0);
    // A synchronous throw is a rejection too, not an exception in the caller's frame.
    const throwing = () => {
      throw new Error('sync');
    };
    await expect(flight.run('k', throwing)).rejects.toThrow('sync');
    expect(flight.size).toBe(0);
  });
});
