import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedCertificate {
  /** PEM of the certificate (also the CA a client must trust), and where it was written. */
  cert: string;
  certFile: string;
  /** PEM of its private key, and where it was written. */
  key: string;
  keyFile: string;
}

/**
 * A throwaway self-signed certificate for `localhost` and `127.0.0.1` (EC P-256, valid one day), written to a
 * fresh temp dir: for TLS tests of servers and clients on loopback. Needs the `openssl` binary on the `PATH`.
 */
export function selfSignedCertificate(): SelfSignedCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1']
      .concat(['-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost'])
      .concat(['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']),
    { stdio: 'pipe' },
  );
  return { cert: readFileSync(certFile, 'utf8'), certFile, key: readFileSync(keyFile, 'utf8'), keyFile };
}
