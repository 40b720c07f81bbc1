/**
 * Certificates made at start: the emulator must speak HTTPS because MSAL refuses an `http://`
 * authority host, and the Graph client only attaches tokens to https hosts. The server certificate
 * is self-signed (it is its own CA) with SAN IP:127.0.0.1 and DNS:localhost; its PEM goes to a temp
 * file that the printed connector config names in `tls.caFile`. Nothing disables TLS checks.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

export interface Pem {
  cert: string;
  key: string;
}

/** A fresh self-signed certificate and key (server: CA + SAN for 127.0.0.1/localhost; else a client cert). */
export function makeCert(commonName: string, server: boolean): Pem {
  // node:crypto makes the key (fast); selfsigned (node-forge) only builds and signs the certificate.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const extensions: unknown[] = server
    ? [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ]
    : [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true },
        { name: 'extKeyUsage', clientAuth: true },
      ];
  const opts = { days: 30, algorithm: 'sha256', extensions, keyPair: { privateKey, publicKey } };
  const made = selfsigned.generate([{ name: 'commonName', value: commonName }], opts as never);
  return { cert: made.cert, key: privateKey };
}

export interface EmulatorTls {
  server: Pem;
  /** The server certificate (its own CA) as a PEM file, for `tls.caFile`. */
  caFile: string;
  /** A client certificate registered on the emulated app registration, for certificate auth. */
  client: Pem & { file: string; x509: X509Certificate };
  cleanup(): void;
}

/** Key pairs are costly to make; one process reuses the same certificates for all its emulators. */
let made: { server: Pem; client: Pem } | null = null;

export function makeEmulatorTls(): EmulatorTls {
  made ??= { server: makeCert('localhost', true), client: makeCert('dirsync-graph-client', false) };
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-graph-'));
  const { server, client } = made;
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, server.cert);
  const file = join(dir, 'client.pem');
  // What Azure's ClientCertificateCredential reads: the certificate and its private key in one PEM.
  writeFileSync(file, `${client.cert}${client.key}`, { mode: 0o600 });
  return {
    server,
    caFile,
    client: { ...client, file, x509: new X509Certificate(client.cert) },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
