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
 * ECDSA P-256 with SHA-256 (every browser; small), subjectAltName with every name and address the configuration
 * says browsers reach the gateway by, serverAuth only, not a CA, 397 days (what browsers accept for a server
 * certificate, CA/Browser Forum ballot SC22).
 */
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import type { GatewayConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';

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

function describe(certPath: string, keyPath: string, cert: X509Certificate, created: boolean, names: readonly string[]): SelfSignedResult {
  const entries = sanEntries(cert);
  return {
    created,
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

/**
 * Reuses the pair at certPath/keyPath, or creates it when neither file exists (or when it is our own expired
 * self-signed certificate). Throws CertificateError when only one file exists or they do not form a valid pair.
 */
export async function ensureSelfSignedCertificate(options: SelfSignedOptions): Promise<SelfSignedResult> {
  const { certPath, keyPath } = options;
  const now = (options.now ?? (() => new Date()))();
  const haveCert = existsSync(certPath);
  const haveKey = existsSync(keyPath);
  if (haveCert !== haveKey) {
    throw new CertificateError(`${haveCert ? keyPath : certPath} is missing while ${haveCert ? certPath : keyPath} exists: remove it to have a new self-signed pair made, or supply both`);
  }
  if (haveCert) {
    const found = inspect(certPath, keyPath, now);
    if ('cert' in found) return describe(certPath, keyPath, found.cert, false, options.names);
    if (!found.replaceable) throw new CertificateError(`http.tls: ${found.problem}`);
  }
  const generated = await generate(options.names, now);
  try {
    mkdirSync(dirname(certPath), { recursive: true });
    mkdirSync(dirname(keyPath), { recursive: true, mode: 0o700 });
    writeFileSync(keyPath, generated.key, { mode: 0o600 });
    writeFileSync(certPath, generated.cert, { mode: 0o644 });
  } catch (err) {
    throw new CertificateError(`cannot write the self-signed certificate: ${(err as Error).message}`, err);
  }
  return describe(certPath, keyPath, new X509Certificate(generated.cert), true, options.names);
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
