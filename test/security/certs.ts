import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM text of a certificate and its key, plus where both are on disk (servers read files). */
export interface Issued {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

/** A throwaway PKI for one test file: generated with openssl in a temp dir, never committed. */
export interface TestPki {
  readonly dir: string;
  /** The CA clients trust. */
  readonly ca: Issued;
  /** A second CA nobody trusts. */
  readonly otherCa: Issued;
  /** Server certificate for `localhost` / 127.0.0.1, signed by `ca`. */
  readonly server: Issued;
  /** Server certificate for `localhost` / 127.0.0.1, signed by `otherCa` (untrusted). */
  readonly untrustedServer: Issued;
  /** Server certificate for `wrong.example.test` only, signed by `ca` (hostname mismatch). */
  readonly wrongHostServer: Issued;
  /** Client certificate signed by `ca`, for mutual TLS. */
  readonly client: Issued;
  /** Deletes the directory and every key in it. */
  dispose(): void;
}

/** True when an `openssl` binary can be run. */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Generates the test PKI: two CAs and four leaf certificates (EC P-256, valid one day).
 *
 * @example
 * ```ts
 * const pki = createTestPki();
 * try { tls.connect({ port, ca: pki.ca.cert }); } finally { pki.dispose(); }
 * ```
 */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pki-'));
  const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const read = (name: string): Issued => ({
    cert: readFileSync(join(dir, `${name}.crt`), 'utf8'),
    key: readFileSync(join(dir, `${name}.key`), 'utf8'),
    certFile: join(dir, `${name}.crt`),
    keyFile: join(dir, `${name}.key`),
  });
  const newKey = (name: string): void => run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
  const makeCa = (name: string, cn: string): void => {
    newKey(name);
    run(['req', '-x509', '-new', '-key', `${name}.key`, '-sha256', '-days', '1', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', `${name}.crt`]);
  };
  const makeLeaf = (name: string, ca: string, cn: string, san: string, usage: string): void => {
    newKey(name);
    run(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`]);
    writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=${usage}\n${san ? `subjectAltName=${san}\n` : ''}`);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  };
  try {
    makeCa('ca', 'Switchyard Test CA');
    makeCa('other-ca', 'Untrusted Test CA');
    makeLeaf('server', 'ca', 'localhost', 'DNS:localhost,IP:127.0.0.1', 'serverAuth');
    makeLeaf('untrusted-server', 'other-ca', 'localhost', 'DNS:localhost,IP:127.0.0.1', 'serverAuth');
    makeLeaf('wrong-host-server', 'ca', 'wrong.example.test', 'DNS:wrong.example.test', 'serverAuth');
    makeLeaf('client', 'ca', 'switchyard-test-client', '', 'clientAuth');
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    ca: read('ca'),
    otherCa: read('other-ca'),
    server: read('server'),
    untrustedServer: read('untrusted-server'),
    wrongHostServer: read('wrong-host-server'),
    client: read('client'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
