// Checks a booted app over real HTTP: a miss then a hit for each injection path, another device's
// miss, and the key the module wrote in Redis. Exits non-zero on any difference.
import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS_CACHE_CLIENT } from 'nestjs-redis-app-cache';

export async function checkApp(app: INestApplication): Promise<void> {
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const run = `${process.pid}-${Date.now()}`;
  const failures: string[] = [];
  const get = async (path: string) => (await fetch(`${base}${path}`)).json();
  const expectBody = (what: string, actual: unknown, expected: unknown) => {
    const same = JSON.stringify(actual) === JSON.stringify(expected);
    console.log(`${same ? 'ok  ' : 'FAIL'} ${what}: ${JSON.stringify(actual)}`);
    if (!same) failures.push(what);
  };

  for (const via of ['constructor', 'param']) {
    const device = `device-${via}-${run}`;
    const path = `/${via}/consumer/${device}/greeting`;
    expectBody(`${via}: first request misses`, await get(path), { found: false, value: null });
    expectBody(`${via}: second request hits`, await get(path), {
      found: true,
      value: `${via}:${device}`,
    });
    expectBody(
      `${via}: another device misses`,
      await get(`/${via}/consumer/other-${device}/greeting`),
      {
        found: false,
        value: null,
      },
    );
    const client = app.get<Redis>(REDIS_CACHE_CLIENT);
    const stored = await client.get(`/consumer/${device}/greeting`);
    expectBody(`${via}: the key in Redis`, stored, `${via}:${device}`);
    await client.del(`/consumer/${device}/greeting`, `/consumer/other-${device}/greeting`);
  }
  const health = (await get('/health')) as {
    status: string;
    info?: { cache?: { status: string; redis?: string; latencyMs?: unknown } };
  };
  const cache = health.info?.cache;
  expectBody(
    'health: the terminus indicator',
    {
      status: health.status,
      cache: cache?.status,
      redis: cache?.redis,
      latency: typeof cache?.latencyMs,
    },
    { status: 'ok', cache: 'up', redis: 'up', latency: 'number' },
  );
  await app.close();
  if (failures.length > 0) {
    console.error(`consumer check failed: ${failures.join('; ')}`);
    process.exit(1);
  }
}
