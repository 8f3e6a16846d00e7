/**
 * The self-signed certificate for HTTPS/WSS (src/security/self-signed.ts): made only when asked, with the
 * configured names in subjectAltName, stored and reused across restarts, loudly logged; files that are not a
 * usable pair are refused, never overwritten. The last test runs the real `src/main.ts` twice on loopback and
 * connects over TLS and WSS.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { WebSocket } from 'ws';
import { CertificateError, SELF_SIGNED_CN, ensureSelfSignedCertificate, selfSignedNames, selfSignedTempPath } from '../../src/security/self-signed.ts';
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

  it('refuses a cert path that is the key path', async () => {
    const dir = tempDir();
    const path = join(dir, 'both.pem');
    await expect(ensureSelfSignedCertificate({ certPath: path, keyPath: path, names: ['localhost'] })).rejects.toThrow(/same file/);
    expect(existsSync(path)).toBe(false);
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

// ---- file modes and interrupted writes -----------------------------------------------------------------------

const modeOf = (path: string): number => statSync(path).mode & 0o777;

/** Runs `fn` under `mask` (vitest runs this file in a forked process, where the umask can be set). */
async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

/** A finished pair made elsewhere, to lay out by hand the states a crash in the middle of a write leaves. */
async function scratchPair(now?: Date): Promise<{ cert: string; key: string; fingerprint256: string }> {
  const dir = tempDir();
  const paths = { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') };
  const made = await ensureSelfSignedCertificate({ ...paths, names: ['localhost'], ...(now ? { now: () => now } : {}) });
  return { cert: readFileSync(paths.certPath, 'utf8'), key: readFileSync(paths.keyPath, 'utf8'), fingerprint256: made.fingerprint256 };
}

describe('self-signed certificate file modes', () => {
  it('--self-signed-cert layout: the directory it creates is 0700, key 0600 and certificate 0644 whatever the umask', async () => {
    for (const mask of [0o022, 0o077, 0o277]) {
      const dir = tempDir();
      const certDir = join(dir, 'state', 'certs');
      const paths = { certPath: join(certDir, 'cert.pem'), keyPath: join(certDir, 'key.pem') };
      await withUmask(mask, () => ensureSelfSignedCertificate({ ...paths, names: ['localhost'] }));
      expect(modeOf(certDir), `umask ${mask.toString(8)}`).toBe(0o700);
      expect(modeOf(paths.keyPath), `umask ${mask.toString(8)}`).toBe(0o600);
      expect(modeOf(paths.certPath), `umask ${mask.toString(8)}`).toBe(0o644);
      expect(readdirSync(certDir).sort()).toEqual(['cert.pem', 'key.pem']);
    }
  });

  it('separate directories: the key’s is created 0700, the certificate’s with the default mode', async () => {
    const dir = tempDir();
    const paths = { certPath: join(dir, 'public', 'cert.pem'), keyPath: join(dir, 'private', 'key.pem') };
    await withUmask(0o022, () => ensureSelfSignedCertificate({ ...paths, names: ['localhost'] }));
    expect(modeOf(join(dir, 'private'))).toBe(0o700);
    expect(modeOf(join(dir, 'public'))).toBe(0o755);
  });

  it('leaves the mode of an existing directory alone (it may be shared, like /etc/ssl)', async () => {
    const dir = tempDir();
    const shared = join(dir, 'ssl');
    mkdirSync(shared);
    chmodSync(shared, 0o755);
    const paths = { certPath: join(shared, 'cert.pem'), keyPath: join(shared, 'key.pem') };
    await ensureSelfSignedCertificate({ ...paths, names: ['localhost'] });
    expect(modeOf(shared)).toBe(0o755);
    expect(modeOf(paths.keyPath)).toBe(0o600);
  });

  it('replacing its expired certificate writes new files: key 0600 and certificate 0644 whatever the old ones had', async () => {
    const dir = tempDir();
    const paths = { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') };
    const first = await ensureSelfSignedCertificate({ ...paths, names: ['localhost'] });
    chmodSync(paths.keyPath, 0o644); // e.g. copied around with a lax umask
    chmodSync(paths.certPath, 0o600);
    const later = new Date(Date.now() + 400 * 86_400_000);
    const renewed = await withUmask(0o077, () => ensureSelfSignedCertificate({ ...paths, names: ['localhost'], now: () => later }));
    expect(renewed.created).toBe(true);
    expect(renewed.fingerprint256).not.toBe(first.fingerprint256);
    expect(modeOf(paths.keyPath)).toBe(0o600);
    expect(modeOf(paths.certPath)).toBe(0o644);
    expect(readdirSync(dir).sort()).toEqual(['cert.pem', 'key.pem']);
  });

  it('does not follow a symlink planted at the temporary key path', async () => {
    const dir = tempDir();
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep me');
    const paths = { certPath: join(dir, 'tls', 'cert.pem'), keyPath: join(dir, 'tls', 'key.pem') };
    mkdirSync(join(dir, 'tls'));
    symlinkSync(victim, selfSignedTempPath(paths.keyPath));
    await ensureSelfSignedCertificate({ ...paths, names: ['localhost'] });
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    expect(lstatSync(paths.keyPath).isFile()).toBe(true);
    expect(modeOf(paths.keyPath)).toBe(0o600);
  });
});

describe('self-signed certificate written crash-safely', () => {
  it('finishes a first write interrupted between the renames: key in place, certificate still under its temporary name', async () => {
    const pair = await scratchPair();
    const dir = tempDir();
    const paths = { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') };
    writeFileSync(paths.keyPath, pair.key, { mode: 0o600 });
    writeFileSync(selfSignedTempPath(paths.certPath), pair.cert, { mode: 0o644 });

    const result = await ensureSelfSignedCertificate({ ...paths, names: ['localhost'] });
    expect(result).toMatchObject({ created: false, recovered: true, fingerprint256: pair.fingerprint256 });
    expect(readFileSync(paths.certPath, 'utf8')).toBe(pair.cert);
    expect(readdirSync(dir).sort()).toEqual(['cert.pem', 'key.pem']);
  });

  it('does not adopt a symlink planted at the temporary certificate name, even one pointing at a matching certificate', async () => {
    const pair = await scratchPair();
    const dir = tempDir();
    const elsewhere = join(tempDir(), 'planted.pem');
    writeFileSync(elsewhere, pair.cert);
    const paths = { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') };
    writeFileSync(paths.keyPath, pair.key, { mode: 0o600 });
    symlinkSync(elsewhere, selfSignedTempPath(paths.certPath));

    await expect(ensureSelfSignedCertificate({ ...paths, names: ['localhost'] })).rejects.toThrow(CertificateError);
    expect(readdirSync(dir).sort()).toEqual(['key.pem']); // the link removed, nothing moved into place
    expect(readFileSync(elsewhere, 'utf8')).toBe(pair.cert);
  });

  it('finishes a replacement interrupted between the renames: new key beside the expired certificate', async () => {
    const expired = await scratchPair(new Date(Date.now() - 400 * 86_400_000));
    const fresh = await scratchPair();
    const dir = tempDir();
    const paths = { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') };
    writeFileSync(paths.certPath, expired.cert);
    writeFileSync(paths.keyPath, fresh.key, { mode: 0o600 });
    writeFileSync(selfSignedTempPath(paths.certPath), fresh.cert, { mode: 0o644 });

    const result = await ensureSelfSignedCertificate({ ...paths, names: ['localhost'] });
    expect(result).toMatchObject({ created: false, recovered: true, fingerprint256: fresh.fingerprint256 });
    expect(readdirSync(dir).sort()).toEqual(['cert.pem', 'key.pem']);
    // And the finished pair is reused as any other on the start after.
    const again = await ensureSelfSignedCertificate({ ...paths, names: ['localhost'] });
    expect(again).toMatchObject({ created: false, recovered: false, fingerprint256: fresh.fingerprint256 });
  });

  it('discards the temporary files of a write that never reached a rename, and keeps the pair in place', async () => {
    const dir = tempDir();
    const paths = { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') };
    const first = await ensureSelfSignedCertificate({ ...paths, names: ['localhost'] });
    const fresh = await scratchPair();
    // Crashed while writing the temporary certificate: a whole temporary key, half a certificate.
    writeFileSync(selfSignedTempPath(paths.keyPath), fresh.key, { mode: 0o600 });
    writeFileSync(selfSignedTempPath(paths.certPath), fresh.cert.slice(0, 100));
    const reused = await ensureSelfSignedCertificate({ ...paths, names: ['localhost'] });
    expect(reused).toMatchObject({ created: false, recovered: false, fingerprint256: first.fingerprint256 });
    expect(readdirSync(dir).sort()).toEqual(['cert.pem', 'key.pem']);

    // Crashed after both temporary files were synced, before the key's rename: the old pair is what counts.
    writeFileSync(selfSignedTempPath(paths.keyPath), fresh.key, { mode: 0o600 });
    writeFileSync(selfSignedTempPath(paths.certPath), fresh.cert);
    const still = await ensureSelfSignedCertificate({ ...paths, names: ['localhost'] });
    expect(still).toMatchObject({ created: false, recovered: false, fingerprint256: first.fingerprint256 });
    expect(readdirSync(dir).sort()).toEqual(['cert.pem', 'key.pem']);
  });

  it('does not adopt a temporary certificate that is not the key’s: a lone key stays an error', async () => {
    const stranger = await scratchPair();
    const dir = tempDir();
    const paths = { certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') };
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    writeFileSync(paths.keyPath, other);
    writeFileSync(selfSignedTempPath(paths.certPath), stranger.cert);
    await expect(ensureSelfSignedCertificate({ ...paths, names: ['localhost'] })).rejects.toThrow(/cert\.pem is missing while .*key\.pem exists/);
    expect(readFileSync(paths.keyPath, 'utf8')).toBe(other);
    expect(existsSync(paths.certPath)).toBe(false);
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
