import { classifyStoreError, CommandTimeoutError, StoreUnavailableError } from './store-errors';

const withCode = (code: string, message = 'boom') =>
  Object.assign(new Error(message), { code }) as NodeJS.ErrnoException;

describe('classifyStoreError', () => {
  it('classifies a command timeout as timeout', () => {
    expect(classifyStoreError(new CommandTimeoutError(200))).toBe('timeout');
  });

  it('classifies a refused send as connection', () => {
    expect(classifyStoreError(new StoreUnavailableError('Redis is not answering'))).toBe(
      'connection',
    );
  });

  it.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'EPIPE',
    'ETIMEDOUT',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EHOSTUNREACH',
    'ENETUNREACH',
  ])('classifies an error with code %s as connection', (code) => {
    expect(classifyStoreError(withCode(code))).toBe('connection');
  });

  it.each([
    'Connection is closed.',
    "Stream isn't writeable and enableOfflineQueue options is false",
    'Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.',
    'Connection in subscriber mode, only subscriber commands may be used',
  ])('classifies the ioredis message %j as connection', (message) => {
    expect(classifyStoreError(new Error(message))).toBe('connection');
  });

  it('classifies Redis reply errors and unknown codes as other', () => {
    expect(classifyStoreError(new Error('WRONGTYPE Operation against a key'))).toBe('other');
    expect(classifyStoreError(new Error('OOM command not allowed'))).toBe('other');
    expect(classifyStoreError(withCode('EACCES'))).toBe('other');
    expect(classifyStoreError(new TypeError('x is not a function'))).toBe('other');
  });

  it('classifies things that are not Errors as other', () => {
    expect(classifyStoreError('Connection is closed')).toBe('other');
    expect(classifyStoreError({ code: 'ECONNREFUSED' })).toBe('other');
    expect(classifyStoreError(undefined)).toBe('other');
    expect(classifyStoreError(null)).toBe('other');
  });

  it('gives the timeout error its name and message', () => {
    const error = new CommandTimeoutError(150);
    expect(error.name).toBe('CommandTimeoutError');
    expect(error.timeoutMs).toBe(150);
    expect(error.message).toBe('Redis did not answer within 150 ms');
    expect(new StoreUnavailableError('x').name).toBe('StoreUnavailableError');
  });
});
