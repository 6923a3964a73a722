import { Command } from 'ioredis';
import { flatArguments } from './flat-arguments';

describe('flatArguments', () => {
  it('holds the values as a plain array would, Buffers and numbers included', () => {
    const value = Buffer.from([0, 255]);
    const args = flatArguments('/app/dev/k', value, 'EX', 60);
    expect(Array.isArray(args)).toBe(true);
    expect([...args]).toEqual(['/app/dev/k', value, 'EX', 60]);
    expect(args).toHaveLength(4);
  });

  it('is taken by ioredis as it is, without the per-command copy', () => {
    const args = flatArguments('/app/dev/k');
    const command = new Command('get', args);
    // If ioredis stops calling flat() (or copies some other way), this shows the shim no longer saves anything.
    expect(command.args).toBe(args);
    expect(command.toWritable(undefined as never)).toBe('*2\r\n$3\r\nget\r\n$10\r\n/app/dev/k\r\n');
  });
});

describe('the ioredis these guards run against', () => {
  it('is the major under test (5 by default; 6 under test/ioredis-6/jest.config.js)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the version of the copy that resolves here
    const { version } = require('ioredis/package.json') as { version: string };
    expect(version.split('.')[0]).toBe(process.env.IOREDIS_MAJOR_UNDER_TEST ?? '5');
  });
});
