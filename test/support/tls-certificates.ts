import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The openssl CLI on PATH (OPENSSL names another); .ci/run installs Debian's when it is missing. */
const OPENSSL = process.env.OPENSSL ?? 'openssl';

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

/** Makes the certificates with the openssl CLI (EC P-256 keys: fast to generate). */
export function createTlsCertificates(): TlsCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'redis-cache-tls-'));
  try {
    const ca = selfSignedCa(dir, 'ca', 'redis-cache-test-ca');
    const untrustedCa = selfSignedCa(dir, 'untrusted-ca', 'redis-cache-untrusted-ca');
    const server = signed(dir, 'server', ca, 'localhost', [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'extendedKeyUsage=serverAuth',
    ]);
    const clientExtensions = ['extendedKeyUsage=clientAuth'];
    const client = signed(dir, 'client', ca, 'renderer-client', clientExtensions);
    const untrustedClient = signed(
      dir,
      'untrusted-client',
      untrustedCa,
      'renderer-client',
      clientExtensions,
    );
    return {
      dir,
      ca,
      server,
      client,
      untrustedCa,
      untrustedClient,
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function openssl(args: string[]): void {
  try {
    execFileSync(OPENSSL, args, { stdio: 'pipe' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `The TLS tests make their certificates with the openssl CLI, and "${OPENSSL}" was not found: install openssl (apt-get install openssl) or set OPENSSL to its path.`,
      );
    }
    throw error;
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function selfSignedCa(dir: string, name: string, commonName: string): CertificatePair {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return pair(certFile, keyFile);
}

function signed(
  dir: string,
  name: string,
  issuer: CertificatePair,
  commonName: string,
  extensions: string[],
): CertificatePair {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(
    extFile,
    ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', ...extensions].join('\n'),
  );
  openssl([
    'req',
    '-new',
    ...EC_KEY,
    '-keyout',
    keyFile,
    '-out',
    csrFile,
    '-subj',
    `/CN=${commonName}`,
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    issuer.certFile,
    '-CAkey',
    issuer.keyFile,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '1',
    '-extfile',
    extFile,
    '-out',
    certFile,
  ]);
  return pair(certFile, keyFile);
}

function pair(certFile: string, keyFile: string): CertificatePair {
  return {
    certFile,
    keyFile,
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
  };
}
