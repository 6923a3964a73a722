// TLS against a TLS-only redis-server this test starts (no plain port) with certificates it makes:
// a CA, a server certificate for 127.0.0.1 and localhost, client certificates. The cache verifies
// the server, presents its certificate where one is required, and fails open when either side's
// certificate is not trusted, without ever showing a password or a private key.
import { RedisCacheConfigError, redisCacheOptionsFromEnv } from '../src';
import type { RedisCacheModuleOptions } from '../src';
import {
  SecureRedisServer,
  everything,
  expectFailsOpen,
  expectRoundTrip,
  makeSecret,
  secretsIn,
  withCache,
} from './support/redis-secure-server';
import { createTlsCertificates } from './support/tls-certificates';
import type { TlsCertificates } from './support/tls-certificates';

const PASSWORD = makeSecret('requirepass');
const WRONG_PASSWORD = makeSecret('wrong');
const VALUE = makeSecret('cached-value');

let certificates: TlsCertificates;
/** The passwords, the value, and a line from the middle of each private key. */
let secrets: string[];

const keyLine = (pem: string) => pem.split('\n')[2];

beforeAll(async () => {
  certificates = await createTlsCertificates();
  secrets = [
    PASSWORD,
    WRONG_PASSWORD,
    VALUE,
    keyLine(certificates.client.key),
    keyLine(certificates.untrustedClient.key),
    keyLine(certificates.server.key),
  ];
});
afterAll(() => certificates?.dispose());

/** The error a cache logs when it cannot connect, once, at start. */
function unreachableLine(text: string): string {
  const lines = text.match(/Redis at rediss?:\/\/127\.0\.0\.1:\d+\/0 is unreachable.*/g) ?? [];
  expect(lines).toHaveLength(1);
  return lines[0] ?? '';
}

describe('TLS without client certificates (--tls-auth-clients no)', () => {
  let server: SecureRedisServer;

  beforeAll(async () => {
    server = await SecureRedisServer.start({ tls: { certificates, authClients: 'no' } });
  }, 30_000);
  afterAll(async () => {
    await server?.dispose();
  });

  it('has no plain port: the launcher waited for a TLS PING', () => {
    expect(server.url()).toBe(`rediss://127.0.0.1:${server.port}`);
  });

  it.each<[string, () => RedisCacheModuleOptions]>([
    [
      'a rediss:// url and tls: { ca }',
      () => ({ url: server.url(), tls: { ca: certificates.ca.cert } }),
    ],
    [
      'host, port and tls: { ca, servername: "localhost" }',
      () => ({
        host: server.host,
        port: server.port,
        tls: { ca: certificates.ca.cert, servername: 'localhost' },
      }),
    ],
    [
      'REDIS_URL=rediss://... and REDIS_TLS_CA_FILE',
      () =>
        redisCacheOptionsFromEnv({
          REDIS_URL: server.url(),
          REDIS_TLS_CA_FILE: certificates.ca.certFile,
        }),
    ],
    [
      'REDIS_ADDR and REDIS_TLS_CA_FILE alone (a CA file turns TLS on)',
      () =>
        redisCacheOptionsFromEnv({
          REDIS_ADDR: server.addr,
          REDIS_TLS_CA_FILE: certificates.ca.certFile,
        }),
    ],
    [
      'REDIS_ADDR, REDIS_TLS=true and REDIS_TLS_CA_FILE',
      () =>
        redisCacheOptionsFromEnv({
          REDIS_ADDR: server.addr,
          REDIS_TLS: 'true',
          REDIS_TLS_CA_FILE: certificates.ca.certFile,
        }),
    ],
  ])('connects with %s', async (_, options) => {
    const text = await withCache(options(), async (cache, output) => {
      await expectRoundTrip(cache, server, VALUE);
      expect(cache.storeDescription).toBe(`rediss://127.0.0.1:${server.port}/0`);
      expect(output.text()).toContain(`Using Redis at rediss://127.0.0.1:${server.port}/0.`);
    });
    expect(secretsIn(text, secrets)).toEqual([]);
  });

  it.each<[string, RegExp, () => RedisCacheModuleOptions]>([
    // Node's default CAs do not include the test CA: verification is on.
    [
      'no CA (rediss:// with Node defaults)',
      /self-signed certificate in certificate chain/,
      () => ({ url: server.url() }),
    ],
    [
      'REDIS_TLS=true without a CA file',
      /self-signed certificate in certificate chain/,
      () => redisCacheOptionsFromEnv({ REDIS_ADDR: server.addr, REDIS_TLS: 'true' }),
    ],
    [
      'another CA',
      /self-signed certificate in certificate chain/,
      () => ({ url: server.url(), tls: { ca: certificates.untrustedCa.cert } }),
    ],
    [
      'a server name the certificate does not hold',
      /Hostname\/IP does not match certificate's altnames/,
      () => ({
        url: server.url(),
        tls: { ca: certificates.ca.cert, servername: 'not-the-server.example' },
      }),
    ],
  ])('does not connect with %s, and fails open', async (_, reason, options) => {
    const text = await withCache({ ...options(), startupWaitMs: 500 }, async (cache, output) => {
      await expectFailsOpen(cache, server, VALUE, secrets);
      expect(unreachableLine(output.text())).toMatch(reason);
    });
    expect(secretsIn(text, secrets)).toEqual([]);
  });

  it('does not speak plain Redis on the TLS port: a redis:// client fails open', async () => {
    const text = await withCache(
      { url: `redis://127.0.0.1:${server.port}`, startupWaitMs: 500 },
      async (cache, output) => {
        await expectFailsOpen(cache, server, VALUE, secrets);
        expect(unreachableLine(output.text())).toMatch(/not ready after 500 ms/);
      },
    );
    expect(secretsIn(text, secrets)).toEqual([]);
  });
});

describe('TLS with client certificates required and a password (--tls-auth-clients yes)', () => {
  let server: SecureRedisServer;

  beforeAll(async () => {
    server = await SecureRedisServer.start({
      requirePass: PASSWORD,
      tls: { certificates, authClients: 'yes' },
    });
  }, 30_000);
  afterAll(async () => {
    await server?.dispose();
  });

  it.each<[string, () => RedisCacheModuleOptions]>([
    [
      'tls: { ca, cert, key } and the password option',
      () => ({
        url: server.url(),
        password: PASSWORD,
        tls: {
          ca: certificates.ca.cert,
          cert: certificates.client.cert,
          key: certificates.client.key,
        },
      }),
    ],
    [
      'REDIS_URL with the password and the three REDIS_TLS_*_FILE variables',
      () =>
        redisCacheOptionsFromEnv({
          REDIS_URL: server.url({ password: PASSWORD }),
          REDIS_TLS_CA_FILE: certificates.ca.certFile,
          REDIS_TLS_CERT_FILE: certificates.client.certFile,
          REDIS_TLS_KEY_FILE: certificates.client.keyFile,
        }),
    ],
    [
      'REDIS_ADDR, REDIS_PASSWORD and the three REDIS_TLS_*_FILE variables',
      () =>
        redisCacheOptionsFromEnv({
          REDIS_ADDR: server.addr,
          REDIS_PASSWORD: PASSWORD,
          REDIS_TLS_CA_FILE: certificates.ca.certFile,
          REDIS_TLS_CERT_FILE: certificates.client.certFile,
          REDIS_TLS_KEY_FILE: certificates.client.keyFile,
        }),
    ],
  ])('connects with %s', async (_, options) => {
    const text = await withCache(options(), async (cache) => {
      await expectRoundTrip(cache, server, VALUE);
    });
    expect(secretsIn(text, secrets)).toEqual([]);
  });

  it.each<[string, () => RedisCacheModuleOptions]>([
    [
      'no client certificate',
      () => ({ url: server.url(), password: PASSWORD, tls: { ca: certificates.ca.cert } }),
    ],
    [
      'a client certificate from a CA the server does not trust',
      () => ({
        url: server.url(),
        password: PASSWORD,
        tls: {
          ca: certificates.ca.cert,
          cert: certificates.untrustedClient.cert,
          key: certificates.untrustedClient.key,
        },
      }),
    ],
    [
      'the right certificate but a wrong password',
      () =>
        redisCacheOptionsFromEnv({
          REDIS_URL: server.url({ password: WRONG_PASSWORD }),
          REDIS_TLS_CA_FILE: certificates.ca.certFile,
          REDIS_TLS_CERT_FILE: certificates.client.certFile,
          REDIS_TLS_KEY_FILE: certificates.client.keyFile,
        }),
    ],
  ])(
    'is refused with %s, and fails open without a secret in errors or logs',
    async (_, options) => {
      const text = await withCache({ ...options(), startupWaitMs: 500 }, async (cache, output) => {
        await expectFailsOpen(cache, server, VALUE, secrets);
        unreachableLine(output.text());
      });
      expect(secretsIn(text, secrets)).toEqual([]);
    },
  );
});

describe('REDIS_TLS_*_FILE mistakes', () => {
  it.each<[string, Record<string, string>, RegExp]>([
    [
      'a certificate without its key',
      { REDIS_TLS_CERT_FILE: 'client.crt' },
      /REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together/,
    ],
    [
      'a key without its certificate',
      { REDIS_TLS_KEY_FILE: 'client.key' },
      /REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together/,
    ],
    [
      'a file that does not exist',
      { REDIS_TLS_CA_FILE: '/nonexistent/ca.crt' },
      /REDIS_TLS_CA_FILE: cannot read "\/nonexistent\/ca.crt" \(ENOENT\)/,
    ],
    [
      'REDIS_TLS=false beside a file',
      { REDIS_TLS: 'false', REDIS_TLS_CA_FILE: 'ca.crt' },
      /REDIS_TLS is "false" but REDIS_TLS_\*_FILE/,
    ],
  ])('refuses %s at start, naming the variables, without the key', (_, files, message) => {
    const env: Record<string, string> = {
      REDIS_URL: `rediss://:${encodeURIComponent(PASSWORD)}@127.0.0.1:6390`,
      ...Object.fromEntries(
        Object.entries(files).map(([name, file]) => [
          name,
          file.startsWith('/') || !name.endsWith('_FILE') ? file : `${certificates.dir}/${file}`,
        ]),
      ),
    };
    let error: unknown;
    try {
      redisCacheOptionsFromEnv(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RedisCacheConfigError);
    expect((error as Error).message).toMatch(message);
    expect(secretsIn(everything(error), secrets)).toEqual([]);
  });
});
