import { redisStatementSerializer } from './redis-statement';

describe('redisStatementSerializer', () => {
  const args = ['/clock/device-42/render:abc', Buffer.from('secret value'), 'EX', 60];

  it('shows the command and a placeholder per argument, nothing of keys, ids or values', () => {
    expect(redisStatementSerializer()('set', args)).toBe('set ? ? ? ?');
    expect(redisStatementSerializer()('scan', ['0', 'MATCH', '/*/device-42/*'])).toBe('scan ? ? ?');
    expect(redisStatementSerializer()('ping', [])).toBe('ping');
  });

  it('shows the key, and only the key, when asked to', () => {
    const text = redisStatementSerializer({ recordKeys: true })('set', args);
    expect(text).toBe('set /clock/device-42/render:abc ? ? ?');
    expect(redisStatementSerializer({ recordKeys: true })('get', [Buffer.from('/a/d/k')])).toBe(
      'get /a/d/k',
    );
  });
});
