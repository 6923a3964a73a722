import { adminWaitFrom, DEFAULT_ADMIN_WAIT_MS, MAX_ADMIN_WAIT_MS } from './prefer-wait';

describe('adminWaitFrom (RFC 7240 Prefer)', () => {
  it('waits the default without a preference it knows', () => {
    expect(adminWaitFrom(undefined)).toEqual({ waitMs: DEFAULT_ADMIN_WAIT_MS });
    expect(adminWaitFrom('return=minimal')).toEqual({ waitMs: DEFAULT_ADMIN_WAIT_MS });
    expect(adminWaitFrom('wait=soon')).toEqual({ waitMs: DEFAULT_ADMIN_WAIT_MS });
  });

  it('answers at once for respond-async alone, after wait=N seconds with it', () => {
    expect(adminWaitFrom('respond-async')).toEqual({ waitMs: 0, applied: 'respond-async' });
    expect(adminWaitFrom(['return=minimal', 'respond-async'])).toMatchObject({ waitMs: 0 });
    expect(adminWaitFrom('wait=10, Respond-Async')).toEqual({
      waitMs: 10_000,
      applied: 'respond-async, wait=10',
    });
  });

  it('waits what wait=N asks, up to a minute', () => {
    expect(adminWaitFrom('wait=5')).toEqual({ waitMs: 5000, applied: 'wait=5' });
    expect(adminWaitFrom('handling=lenient, wait="0"')).toEqual({ waitMs: 0, applied: 'wait=0' });
    expect(adminWaitFrom('wait=3600')).toEqual({
      waitMs: MAX_ADMIN_WAIT_MS,
      applied: `wait=${MAX_ADMIN_WAIT_MS / 1000}`,
    });
  });
});
