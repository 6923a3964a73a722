import { redactUrl } from './redis-cache.errors';

describe('redactUrl', () => {
  it.each([
    ['redis://cache:6379/0', 'redis://cache:6379/0'],
    ['redis://user:secret@cache:6379', 'redis://***@cache:6379'],
    ['redis://user:secret@host:notaport', 'redis://***@host:notaport'],
    ['rediss://:p@ss@cache:6380/1', 'rediss://***@cache:6380/1'],
    ['redis://cache:6379/?password=secret', 'redis://cache:6379/?***'],
    ['redis://u:secret@cache:6379/0?db=1#frag', 'redis://***@cache:6379/0?***'],
    ['redis://u:se?cret@cache:6379', 'redis://***'],
    ['redis://cache:6379/?password=se@cret', 'redis://***'],
    ['no scheme secret@host', '***@host'],
    ['', ''],
  ])('shows %j as %j', (text, shown) => {
    expect(redactUrl(text)).toBe(shown);
    if (text.includes('secret') || text.includes('se?cret') || text.includes('se@cret')) {
      expect(redactUrl(text)).not.toMatch(/secret|cret|se\?|p@ss/);
    }
  });
});
