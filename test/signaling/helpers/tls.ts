/**
 * A self-signed certificate for loopback TLS/WSS tests: generated with openssl when it is installed (a fresh key
 * per run), otherwise the committed TEST-ONLY pair under test/fixtures/tls/.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCert {
  cert: string;
  key: string;
}

let cached: TestCert | undefined;

export function testCert(): TestCert {
  if (cached) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sip-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      ],
      { stdio: 'ignore' },
    );
    cached = {
      cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
      key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'),
    };
  } catch {
    const fixtures = new URL('../../fixtures/tls/', import.meta.url);
    cached = {
      cert: fs.readFileSync(new URL('cert.pem', fixtures), 'utf8'),
      key: fs.readFileSync(new URL('key.pem', fixtures), 'utf8'),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return cached;
}

/** Whether ::1 can be bound (some CI kernels have IPv6 disabled on lo). */
export function hasIPv6Loopback(): boolean {
  const lo = os.networkInterfaces()['lo'] ?? Object.values(os.networkInterfaces()).flat();
  return (lo ?? []).some((i) => i?.family === 'IPv6' && i.address === '::1');
}
