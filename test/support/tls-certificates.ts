import {
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  X509CertificateGenerator,
} from '@peculiar/x509';
import type { Extension } from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its private key, as PEM files and as their text. */
export interface CertificatePair {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * Certificates made for one test run, in their own temp dir: a CA, a server certificate for
 * 127.0.0.1 and localhost, a client certificate, and a client certificate from a second CA the
 * server does not trust. All valid for one day; `dispose()` removes them.
 */
export interface TlsCertificates {
  readonly dir: string;
  /** The CA that signed `server` and `client`: what both sides trust. */
  readonly ca: CertificatePair;
  readonly server: CertificatePair;
  readonly client: CertificatePair;
  /** Another CA, trusted by nobody here. */
  readonly untrustedCa: CertificatePair;
  /** A client certificate signed by `untrustedCa`: the server must refuse it. */
  readonly untrustedClient: CertificatePair;
  dispose(): void;
}

/**
 * Makes the certificates in process with @peculiar/x509 over Node's WebCrypto (ECDSA P-256 keys:
 * fast to generate), and writes them as PEM files for redis-server.
 */
export async function createTlsCertificates(): Promise<TlsCertificates> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-cache-tls-'));
  try {
    const ca = await selfSignedCa(dir, 'ca', 'redis-cache-test-ca');
    const untrustedCa = await selfSignedCa(dir, 'untrusted-ca', 'redis-cache-untrusted-ca');
    const server = await signed(dir, 'server', ca, 'localhost', [
      new SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
      new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth]),
    ]);
    const clientUsage = () => [new ExtendedKeyUsageExtension([ExtendedKeyUsage.clientAuth])];
    const client = await signed(dir, 'client', ca, 'renderer-client', clientUsage());
    const untrustedClient = await signed(
      dir,
      'untrusted-client',
      untrustedCa,
      'renderer-client',
      clientUsage(),
    );
    return {
      dir,
      ca: ca.pair,
      server: server.pair,
      client: client.pair,
      untrustedCa: untrustedCa.pair,
      untrustedClient: untrustedClient.pair,
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

// Node's WebCrypto, passed to @peculiar/x509 explicitly rather than installed as its global provider.
const crypto = webcrypto;
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** A pair, and its private key for signing others. */
interface Issued {
  readonly pair: CertificatePair;
  readonly name: string;
  readonly keys: webcrypto.CryptoKeyPair;
}

function validity() {
  const now = Date.now();
  // A minute back: the server's clock reads the same, but a certificate valid "from now" can be
  // rejected by a check that rounds down to the second.
  return { notBefore: new Date(now - 60_000), notAfter: new Date(now + DAY_MS) };
}

async function selfSignedCa(dir: string, file: string, commonName: string): Promise<Issued> {
  const keys = await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  const name = `CN=${commonName}`;
  const cert = await X509CertificateGenerator.createSelfSigned(
    {
      name,
      keys,
      serialNumber: serial(),
      signingAlgorithm: EC_P256,
      ...validity(),
      extensions: [
        new BasicConstraintsExtension(true, undefined, true),
        new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      ],
    },
    crypto,
  );
  return { pair: await write(dir, file, cert.toString('pem'), keys.privateKey), name, keys };
}

async function signed(
  dir: string,
  file: string,
  issuer: Issued,
  commonName: string,
  extensions: Extension[],
): Promise<Issued> {
  const keys = await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  const cert = await X509CertificateGenerator.create(
    {
      subject: `CN=${commonName}`,
      issuer: issuer.name,
      publicKey: keys.publicKey,
      signingKey: issuer.keys.privateKey,
      serialNumber: serial(),
      signingAlgorithm: EC_P256,
      ...validity(),
      extensions: [
        new BasicConstraintsExtension(false),
        new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
        ...extensions,
      ],
    },
    crypto,
  );
  return {
    pair: await write(dir, file, cert.toString('pem'), keys.privateKey),
    name: `CN=${commonName}`,
    keys,
  };
}

/** A positive serial number (the first byte's top bit clear). */
function serial(): string {
  const bytes = randomBytes(8);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

async function write(
  dir: string,
  file: string,
  cert: string,
  privateKey: webcrypto.CryptoKey,
): Promise<CertificatePair> {
  const key = PemConverter.encode(
    await crypto.subtle.exportKey('pkcs8', privateKey),
    'PRIVATE KEY',
  );
  const certFile = join(dir, `${file}.crt`);
  const keyFile = join(dir, `${file}.key`);
  writeFileSync(certFile, `${cert}\n`);
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  return { certFile, keyFile, cert: `${cert}\n`, key: `${key}\n` };
}
