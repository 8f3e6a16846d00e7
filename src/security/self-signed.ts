/**
 * A self-signed certificate for HTTPS/WSS, made only when the operator asks (`http.tls.selfSigned: true`, or
 * `npm start -- --self-signed-cert <dir>`): browsers refuse getUserMedia and mixed content without TLS off
 * localhost, and a test box needs something before a real certificate (docs/security.md) exists.
 *
 * The pair is written once to the configured cert/key paths and reused on every later start, so a browser that
 * accepted it keeps working after a restart. It is never made silently: each start with a self-signed
 * certificate logs a warning, and files that exist but do not form a usable pair are an error, never overwritten
 * — unless they are our own self-signed certificate and it expired.
 *
 * Writing is crash-safe (writePair): both files are written in full under temporary names beside their
 * targets, synced, and renamed key first, so a certificate at certPath always has its key at keyPath; a start
 * after a crash between the two renames finishes the job (recoverInterruptedWrite).
 *
 * ECDSA P-256 with SHA-256 (every browser; small), subjectAltName with every name and address the configuration
 * says browsers reach the gateway by, serverAuth only, not a CA, 397 days (what browsers accept for a server
 * certificate, CA/Browser Forum ballot SC22).
 */
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import type { GatewayConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';

/** Appended to certPath and keyPath for the files being written; a file by that name is ours to finish or remove. */
const TEMP_SUFFIX = '.self-signed-tmp';
/** Where the pair for `path` is written before it is renamed into place (exported for tests). */
export function selfSignedTempPath(path: string): string {
  return path + TEMP_SUFFIX;
}

/** The subject CN that marks a certificate as ours (so an expired one may be replaced). */
export const SELF_SIGNED_CN = 'webrtc-sip-gateway self-signed';
const VALIDITY_DAYS = 397;
/** An existing certificate this close to its end is replaced (ours) or refused (someone else's). */
const MIN_REMAINING_MS = 24 * 3600 * 1000;

export class CertificateError extends GatewayError {
  constructor(message: string, cause?: unknown) {
    super('TLS_CERTIFICATE', message, cause === undefined ? undefined : { cause });
  }
}

export interface SelfSignedOptions {
  certPath: string;
  keyPath: string;
  /** DNS names and IP addresses for subjectAltName (the first DNS name is also the CN's suffix). */
  names: readonly string[];
  now?: () => Date;
}

export interface SelfSignedResult {
  /** True when the files were written now; false when an existing pair was reused. */
  created: boolean;
  /** True when a write interrupted on an earlier start (key renamed, certificate not yet) was finished now. */
  recovered: boolean;
  certPath: string;
  keyPath: string;
  /** SHA-256 fingerprint, colon-separated hex (what a browser's certificate viewer shows). */
  fingerprint256: string;
  validTo: Date;
  /** The subjectAltName entries of the certificate in use. */
  subjectAltNames: readonly string[];
  /** Names asked for that the (reused) certificate does not cover. */
  missingNames: readonly string[];
}

const WILDCARDS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]']);

/**
 * The names browsers may reach this gateway by: loopback, http.host (the machine's host name when that is a
 * wildcard), http.advertisedHost, sip.domain, the SIP listeners' advertised and bound hosts.
 */
export function selfSignedNames(config: GatewayConfig): string[] {
  const names = new Set<string>(['localhost', '127.0.0.1', '::1']);
  const add = (name: string | undefined): void => {
    if (name === undefined || name === '') return;
    const bare = name.replace(/^\[|\]$/g, '');
    if (WILDCARDS.has(bare)) names.add(osHostname());
    else names.add(bare);
  };
  add(config.http.host);
  add(config.http.advertisedHost);
  add(config.sip.domain);
  for (const l of config.sip.listeners) {
    add(l.advertise);
    add(l.host);
  }
  return [...names];
}

function sanEntries(cert: X509Certificate): string[] {
  // Node's format: "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1".
  return (cert.subjectAltName ?? '').split(', ').filter((s) => s.length > 0);
}

function covers(entries: readonly string[], name: string): boolean {
  if (isIP(name) === 0) return entries.includes(`DNS:${name}`);
  return entries.some((e) => e.startsWith('IP Address:') && sameIp(e.slice('IP Address:'.length), name));
}

function sameIp(listed: string, name: string): boolean {
  if (listed === name) return true;
  return isIP(listed) === 6 && isIP(name) === 6 && expandV6(listed) === expandV6(name);
}

function expandV6(address: string): string {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const middle = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((p) => p.toLowerCase().replace(/^0+(?=.)/, '')).join(':');
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1]>;
type X509Keys = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];

async function generate(names: readonly string[], now: Date): Promise<{ cert: string; key: string }> {
  const crypto = webcrypto;
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const notBefore = new Date(now.getTime() - 5 * 60_000); // a little clock skew between here and the browser
  const notAfter = new Date(now.getTime() + VALIDITY_DAYS * 24 * 3600 * 1000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
      name: [{ CN: [SELF_SIGNED_CN] }],
      notBefore,
      notAfter,
      keys: keys as unknown as X509Keys,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIP(n) === 0 ? ('dns' as const) : ('ip' as const), value: n }))),
        await x509.SubjectKeyIdentifierExtension.create((keys as unknown as X509Keys).publicKey, false, crypto as unknown as X509Crypto),
      ],
    },
    crypto as unknown as X509Crypto,
  );
  const key = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: cert.toString('pem') + '\n', key: pem('PRIVATE KEY', key) };
}

function describe(certPath: string, keyPath: string, cert: X509Certificate, created: boolean, recovered: boolean, names: readonly string[]): SelfSignedResult {
  const entries = sanEntries(cert);
  return {
    created,
    recovered,
    certPath,
    keyPath,
    fingerprint256: cert.fingerprint256,
    validTo: new Date(cert.validTo),
    subjectAltNames: entries,
    missingNames: names.filter((n) => !covers(entries, n)),
  };
}

/** The existing pair, or why it cannot be used ('expired-ours' may be replaced). */
function inspect(certPath: string, keyPath: string, now: Date): { cert: X509Certificate } | { problem: string; replaceable: boolean } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certPath));
  } catch (err) {
    return { problem: `${certPath} is not a readable PEM certificate (${(err as Error).message})`, replaceable: false };
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(readFileSync(keyPath)));
  } catch (err) {
    return { problem: `${keyPath} is not a readable PEM private key (${(err as Error).message})`, replaceable: false };
  }
  if (!matches) return { problem: `${keyPath} is not the private key of ${certPath}`, replaceable: false };
  const ours = cert.subject === `CN=${SELF_SIGNED_CN}` && cert.issuer === cert.subject;
  if (new Date(cert.validTo).getTime() - now.getTime() < MIN_REMAINING_MS) {
    return { problem: `${certPath} expired or expires within a day (${cert.validTo})`, replaceable: ours };
  }
  return { cert };
}

/** True when the certificate at certPath is our self-signed one and keyPath holds its private key. */
function isOurPair(certPath: string, keyPath: string): boolean {
  try {
    const cert = new X509Certificate(readFileSync(certPath));
    return cert.subject === `CN=${SELF_SIGNED_CN}` && cert.issuer === cert.subject && cert.checkPrivateKey(createPrivateKey(readFileSync(keyPath)));
  } catch {
    return false;
  }
}

/**
 * A start after a crash in writePair. Both temporary files are complete and synced before the first rename,
 * and the key is renamed first, so: a temporary certificate whose private key is already at keyPath means
 * the crash fell between the two renames, and renaming the certificate finishes the pair (the new key
 * proves the file ours: no one else holds the key of a certificate we just made). Any other temporary file
 * is from a write that never reached a rename — the files in place are untouched — and is removed.
 * Returns true when it finished a pair.
 */
function isOwnRegularFile(path: string): boolean {
  try {
    const st = lstatSync(path);
    return st.isFile() && (process.getuid === undefined || st.uid === process.getuid());
  } catch {
    return false;
  }
}

function recoverInterruptedWrite(certPath: string, keyPath: string): boolean {
  const tempCert = selfSignedTempPath(certPath);
  const tempKey = selfSignedTempPath(keyPath);
  if (!existsSync(tempCert) && !existsSync(tempKey)) return false;
  try {
    // Only a regular file of ours is adopted: a symlink planted in a shared directory is removed, not followed.
    if (!existsSync(tempKey) && existsSync(keyPath) && isOwnRegularFile(tempCert) && isOurPair(tempCert, keyPath)) {
      renameSync(tempCert, certPath);
      syncDirectory(dirname(certPath));
      return true;
    }
    rmSync(tempCert, { force: true });
    rmSync(tempKey, { force: true });
  } catch (err) {
    throw new CertificateError(`cannot clean up an interrupted self-signed certificate write (${tempCert}, ${tempKey}): ${(err as Error).message}`, err);
  }
  return false;
}

/**
 * The directory for the private key: created 0700 when it does not exist (with its missing parents, which
 * get the default mode, as `mkdir -p -m 700` does). An existing directory keeps its mode: it may be shared
 * (/etc/ssl, a home directory) and is the operator's; the key file's own 0600 is what protects the key.
 */
function ensureKeyDirectory(dir: string): void {
  if (existsSync(dir)) return;
  mkdirSync(dirname(dir), { recursive: true });
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return; // made meanwhile by someone else: theirs
    throw err;
  }
  // mkdir's mode is masked by the umask (0o277 would leave it unwritable); this directory is ours to set.
  chmodSync(dir, 0o700);
}

/**
 * Writes `contents` to a new file at `path` with exactly `mode` (umask notwithstanding) and syncs it. 'wx'
 * refuses to follow or reuse whatever is at the path, so a planted symlink cannot redirect the key.
 */
function writeSynced(path: string, contents: string, mode: number): void {
  rmSync(path, { force: true });
  const fd = openSync(path, 'wx', mode);
  try {
    fchmodSync(fd, mode);
    const data = Buffer.from(contents);
    for (let at = 0; at < data.length; ) at += writeSync(fd, data, at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes renames in `dir` durable (a no-op where directories cannot be synced, as on Windows). */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // EINVAL/EPERM on file systems and platforms that do not sync directories: nothing more can be done.
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the pair so that a crash at any point leaves either the previous files (or none) or the new pair,
 * or, between the two renames, the new key in place and the new certificate beside it under its temporary
 * name, which recoverInterruptedWrite finishes. Key first: a certificate at certPath then never lacks its
 * key, and the file left to rename is the public one.
 */
function writePair(certPath: string, keyPath: string, generated: { cert: string; key: string }): void {
  const tempCert = selfSignedTempPath(certPath);
  const tempKey = selfSignedTempPath(keyPath);
  ensureKeyDirectory(dirname(keyPath));
  mkdirSync(dirname(certPath), { recursive: true });
  let keyInPlace = false;
  try {
    // Written beside their targets: a rename within one file system is atomic.
    writeSynced(tempKey, generated.key, 0o600);
    writeSynced(tempCert, generated.cert, 0o644);
    renameSync(tempKey, keyPath);
    keyInPlace = true;
    syncDirectory(dirname(keyPath));
    renameSync(tempCert, certPath);
    syncDirectory(dirname(certPath));
  } catch (err) {
    // Before the key's rename the temporary files are litter; after it, the certificate's is what the next
    // start needs to finish the pair.
    if (!keyInPlace) {
      rmSync(tempKey, { force: true });
      rmSync(tempCert, { force: true });
    }
    throw err;
  }
}

/**
 * Reuses the pair at certPath/keyPath, or creates it when neither file exists (or when it is our own expired
 * self-signed certificate). Throws CertificateError when only one file exists or they do not form a valid pair.
 */
export async function ensureSelfSignedCertificate(options: SelfSignedOptions): Promise<SelfSignedResult> {
  const { certPath, keyPath } = options;
  if (resolve(certPath) === resolve(keyPath)) {
    throw new CertificateError(`http.tls: cert and key are the same file (${certPath}); a self-signed pair needs two`);
  }
  const now = (options.now ?? (() => new Date()))();
  const recovered = recoverInterruptedWrite(certPath, keyPath);
  const haveCert = existsSync(certPath);
  const haveKey = existsSync(keyPath);
  if (haveCert !== haveKey) {
    throw new CertificateError(`${haveCert ? keyPath : certPath} is missing while ${haveCert ? certPath : keyPath} exists: remove it to have a new self-signed pair made, or supply both`);
  }
  if (haveCert) {
    const found = inspect(certPath, keyPath, now);
    if ('cert' in found) return describe(certPath, keyPath, found.cert, false, recovered, options.names);
    if (!found.replaceable) throw new CertificateError(`http.tls: ${found.problem}`);
  }
  const generated = await generate(options.names, now);
  try {
    writePair(certPath, keyPath, generated);
  } catch (err) {
    throw new CertificateError(`cannot write the self-signed certificate: ${(err as Error).message}`, err);
  }
  return describe(certPath, keyPath, new X509Certificate(generated.cert), true, recovered, options.names);
}

/**
 * What start-up does with `http.tls.selfSigned`: nothing when it is not set; otherwise ensure the pair and say
 * loudly, on every start, that browsers will not trust it. Returns what is in use.
 */
export async function prepareSelfSignedTls(config: GatewayConfig, log: SelfSignedLog): Promise<SelfSignedResult | undefined> {
  const tls = config.http.tls;
  if (tls === undefined || !tls.selfSigned) return undefined;
  const result = await ensureSelfSignedCertificate({ certPath: tls.cert, keyPath: tls.key, names: selfSignedNames(config) });
  const host = config.http.advertisedHost ?? (WILDCARDS.has(config.http.host) ? osHostname() : config.http.host);
  const page = `https://${isIP(host) === 6 ? `[${host}]` : host}:${config.http.advertisedPort ?? config.http.port}/`;
  log.warn(
    {
      cert: result.certPath,
      key: result.keyPath,
      created: result.created,
      recovered: result.recovered,
      fingerprint256: result.fingerprint256,
      validTo: result.validTo.toISOString(),
      subjectAltNames: result.subjectAltNames,
    },
    `SELF-SIGNED TLS CERTIFICATE ${result.created ? 'created' : 'reused'} for HTTPS/WSS: browsers will warn — open ${page} once and accept it ` +
      'before the softphone can connect; for anything but testing use a real certificate (docs/security.md)',
  );
  if (result.missingNames.length > 0) {
    log.warn({ cert: result.certPath, missing: result.missingNames }, 'the self-signed certificate does not cover these configured names: delete both files to have a new one made');
  }
  return result;
}

/** The logger surface prepareSelfSignedTls needs (pino's). */
export interface SelfSignedLog {
  warn(fields: Record<string, unknown>, message: string): void;
}
