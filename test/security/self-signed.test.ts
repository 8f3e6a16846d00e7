/**
 * The self-signed certificate for HTTPS/WSS (src/security/self-signed.ts): made only when asked, with the
 * configured names in subjectAltName, stored and reused across restarts, loudly logged; files that are not a
 * usable pair are refused, never overwritten. The last test runs the real `src/main.ts` twice on loopback and
 * connects over TLS and WSS.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { WebSocket } from 'ws';
import { CertificateError, SELF_SIGNED_CN, ensureSelfSignedCertificate, selfSignedNames } from '../../src/security/self-signed.ts';
import { parseConfig } from '../../src/config/load.ts';
import { freePort } from '../gateway/harness.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-selfsigned-'));
  dirs.push(dir);
  return dir;
}

describe('self-signed certificate files', () => {
  it('creates an ECDSA server certificate with the names in subjectAltName, key readable by the owner only', async () => {
    const dir = tempDir();
    const paths = { certPath: join(dir, 'tls', 'cert.pem'), keyPath: join(dir, 'tls', 'key.pem') };
    const result = await ensureSelfSignedCertificate({ ...paths, names: ['localhost', '127.0.0.1', '::1', 'phone.example.com', '203.0.113.10'] });
    expect(result.created).toBe(true);
    const cert = new X509Certificate(readFileSync(paths.certPath));
    expect(cert.subject).toBe(`CN=${SELF_SIGNED_CN}`);
    expect(cert.subjectAltName?.split(', ')).toEqual(['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1', 'DNS:phone.example.com', 'IP Address:203.0.113.10']);
    expect(cert.ca).toBe(false);
    expect(cert.checkHost('phone.example.com')).toBe('phone.example.com');
    expect(cert.checkIP('203.0.113.10')).toBe('203.0.113.10');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(390);
    expect(days).toBeLessThanOrEqual(398);
    expect(Date.parse(cert.validFrom)).toBeLessThanOrEqual(Date.now());
    expect(cert.fingerprint256).toBe(result.fingerprint256);
    expect(result.missingNames).toEqual([]);
  });

  it('reuses an existing pair, and reports configured names it does not cover', async () => {
    const dir = tempDir();
    const paths = { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') };
    const first = await ensureSelfSignedCertificate({ ...paths, names: ['localhost', '127.0.0.1'] });
    const pem = readFileSync(paths.certPath, 'utf8');
    const again = await ensureSelfSignedCertificate({ ...paths, names: ['localhost', '127.0.0.1', 'new.example.com'] });
    expect(again.created).toBe(false);
    expect(again.fingerprint256).toBe(first.fingerprint256);
    expect(readFileSync(paths.certPath, 'utf8')).toBe(pem);
    expect(again.missingNames).toEqual(['new.example.com']);
  });

  it('replaces its own certificate once expired, but refuses (and keeps) files that are not a usable pair', async () => {
    const dir = tempDir();
    const paths = { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') };
    const first = await ensureSelfSignedCertificate({ ...paths, names: ['localhost'] });
    const later = new Date(Date.now() + 400 * 86_400_000);
    const renewed = await ensureSelfSignedCertificate({ ...paths, names: ['localhost'], now: () => later });
    expect(renewed.created).toBe(true);
    expect(renewed.fingerprint256).not.toBe(first.fingerprint256);

    // Only one of the two files: an error naming the missing one.
    const lonely = { certPath: join(dir, 'only-cert.pem'), keyPath: join(dir, 'only-key.pem') };
    writeFileSync(lonely.certPath, readFileSync(paths.certPath));
    await expect(ensureSelfSignedCertificate({ ...lonely, names: ['localhost'] })).rejects.toThrow(CertificateError);
    expect(existsSync(lonely.keyPath)).toBe(false);

    // A key that is not the certificate's: refused, nothing written.
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    writeFileSync(lonely.keyPath, other);
    await expect(ensureSelfSignedCertificate({ ...lonely, names: ['localhost'] })).rejects.toThrow(/not the private key/);
    expect(readFileSync(lonely.keyPath, 'utf8')).toBe(other);

    // Not PEM at all.
    writeFileSync(lonely.certPath, 'hello');
    await expect(ensureSelfSignedCertificate({ ...lonely, names: ['localhost'] })).rejects.toThrow(/not a readable PEM certificate/);
    expect(readFileSync(lonely.certPath, 'utf8')).toBe('hello');
  });

  it('names loopback, http.host, advertisedHost, sip.domain and the SIP listeners’ addresses', () => {
    const config = parseConfig(
      `http: { host: 192.0.2.80, advertisedHost: phone.example.com }
sip:
  domain: sip.example.com
  listeners: [{ protocol: udp, host: 127.0.0.1, port: 5060, advertise: 203.0.113.10 }]
`,
      'test',
      {},
    );
    expect(selfSignedNames(config)).toEqual(['localhost', '127.0.0.1', '::1', '192.0.2.80', 'phone.example.com', 'sip.example.com', '203.0.113.10']);
  });
});

// ---- the real process --------------------------------------------------------------------------------------

interface Running {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
}

async function startMain(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const child = spawn(process.execPath, ['src/main.ts', ...args], { cwd: join(import.meta.dirname, '../..'), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`main.ts did not start in 20 s\n${stderr}\n${JSON.stringify(lines)}`)), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`main.ts exited with ${code}\n${stderr}`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === 'sip stack started') {
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
  return { child, lines };
}

async function stop(running: Running): Promise<void> {
  if (running.child.exitCode !== null) return;
  const exited = new Promise((resolve) => running.child.once('exit', resolve));
  running.child.kill('SIGTERM');
  await exited;
}

function peerCertificate(port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.once('error', reject);
  });
}

function openWss(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/sip`, 'sip', { rejectUnauthorized: false });
    ws.once('open', () => {
      resolve(ws.protocol);
      ws.close();
    });
    ws.once('error', reject);
  });
}

describe('npm start with a self-signed certificate', () => {
  it('--self-signed-cert serves WSS with a certificate naming the host, warns, and a restart (config key) reuses it', async () => {
    const dir = tempDir();
    const certDir = join(dir, 'certs');
    const [httpPort, sipPort] = [await freePort(), await freePort()];
    const base = `http: { host: 127.0.0.1, port: ${httpPort}, advertisedHost: gw.test.example }
sip: { listeners: [{ protocol: udp, host: 127.0.0.1, port: ${sipPort} }] }
media: { bindAddress: 127.0.0.1, ports: { min: 47000, max: 47099 } }
services: { enabled: false }
users: [{ name: alice, password: demo }]
logLevel: info
`;
    writeFileSync(join(dir, 'flag.yaml'), base);
    const first = await startMain(['--config', join(dir, 'flag.yaml'), '--self-signed-cert', certDir], { LOG_LEVEL: 'info' });
    const warning = first.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('SELF-SIGNED TLS CERTIFICATE created'));
    expect(warning, JSON.stringify(first.lines)).toBeDefined();
    expect(warning!.level).toBe(40); // pino warn
    expect(warning!.msg).toContain('https://gw.test.example:');

    const cert = await peerCertificate(httpPort);
    expect(cert.subject.CN).toBe(SELF_SIGNED_CN);
    expect((cert.subjectaltname ?? '').split(', ')).toEqual(expect.arrayContaining(['DNS:localhost', 'IP Address:127.0.0.1', 'DNS:gw.test.example']));
    expect(Date.parse(cert.valid_from)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(cert.valid_to)).toBeGreaterThan(Date.now() + 365 * 86_400_000);
    expect(cert.fingerprint256).toBe(new X509Certificate(readFileSync(join(certDir, 'cert.pem'))).fingerprint256);
    expect(await openWss(httpPort)).toBe('sip');
    await stop(first);

    // Restart, now with the configuration key instead of the option: the same certificate, not a new one.
    writeFileSync(join(dir, 'key.yaml'), base.replace('advertisedHost: gw.test.example }', `advertisedHost: gw.test.example, tls: { cert: ${join(certDir, 'cert.pem')}, key: ${join(certDir, 'key.pem')}, selfSigned: true } }`));
    const second = await startMain(['--config', join(dir, 'key.yaml')], { LOG_LEVEL: 'info' });
    expect(second.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('SELF-SIGNED TLS CERTIFICATE reused'))).toBe(true);
    const again = await peerCertificate(httpPort);
    expect(again.fingerprint256).toBe(cert.fingerprint256);
    expect(await openWss(httpPort)).toBe('sip');
    await stop(second);
  }, 60_000);

  it('refuses --self-signed-cert next to a real http.tls, and never makes a certificate unasked', async () => {
    const dir = tempDir();
    const [httpPort, sipPort] = [await freePort(), await freePort()];
    writeFileSync(
      join(dir, 'real.yaml'),
      `http: { host: 127.0.0.1, port: ${httpPort}, tls: { cert: ${join(dir, 'c.pem')}, key: ${join(dir, 'k.pem')} } }
sip: { listeners: [{ protocol: udp, host: 127.0.0.1, port: ${sipPort} }] }
services: { enabled: false }
`,
    );
    await expect(startMain(['--config', join(dir, 'real.yaml'), '--self-signed-cert', join(dir, 'certs')])).rejects.toThrow(/conflicts with http\.tls/);
    // Without the option the missing files are an error of the configuration, and nothing is generated.
    await expect(startMain(['--config', join(dir, 'real.yaml')])).rejects.toThrow(/cannot read TLS files/);
    expect(existsSync(join(dir, 'c.pem'))).toBe(false);
    expect(existsSync(join(dir, 'certs'))).toBe(false);
  }, 30_000);
});
