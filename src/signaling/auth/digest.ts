/**
 * HTTP Digest as SIP uses it (RFC 3261 §22.4, RFC 7616 for SHA-256, RFC 8760 for SIP's algorithm agility),
 * as pure functions: the challenge/credential header grammar and the response computation. The stateful parts
 * (nonces, nonce-count replay) live in digest-server.ts; the trunk-side client in digest-client.ts.
 */
import { createHash } from 'node:crypto';
import { SipParseError } from '../parse-error.ts';

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';

export interface DigestParams {
  scheme: string;
  /** Parameter names lower case; values unquoted. */
  params: Map<string, string>;
}

const TOKEN = /[A-Za-z0-9.!%*_+`'~-]/;

/** Parses `Digest realm="x", nonce="y", qop="auth,auth-int", algorithm=MD5` (quoted values may hold commas). */
export function parseAuthHeader(value: string): DigestParams {
  const text = value.trim();
  const sp = text.search(/\s/);
  if (sp <= 0) throw new SipParseError('malformed authentication header');
  const scheme = text.slice(0, sp);
  const params = new Map<string, string>();
  let i = sp;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ',' || text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    let j = i;
    while (j < n && TOKEN.test(text[j]!)) j++;
    const name = text.slice(i, j).toLowerCase();
    if (name.length === 0) throw new SipParseError('malformed authentication parameter');
    while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
    if (text[j] !== '=') throw new SipParseError(`authentication parameter "${name}" has no value`);
    j++;
    while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
    let val: string;
    if (text[j] === '"') {
      let k = j + 1;
      let out = '';
      while (k < n && text[k] !== '"') {
        if (text[k] === '\\' && k + 1 < n) k++;
        out += text[k];
        k++;
      }
      if (k >= n) throw new SipParseError(`unterminated quoted value for "${name}"`);
      val = out;
      i = k + 1;
    } else {
      let k = j;
      while (k < n && text[k] !== ',' && text[k] !== ' ' && text[k] !== '\t') k++;
      val = text.slice(j, k);
      i = k;
    }
    if (params.has(name)) throw new SipParseError(`duplicate authentication parameter "${name}"`);
    params.set(name, val);
  }
  return { scheme, params };
}

function quote(value: string): string {
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

/** Serializes parameters; `unquoted` lists those written as tokens (algorithm, nc, qop in credentials, stale). */
export function serializeAuthHeader(scheme: string, params: ReadonlyArray<readonly [string, string]>, unquoted: ReadonlySet<string>): string {
  return `${scheme} ${params.map(([k, v]) => `${k}=${unquoted.has(k) ? v : quote(v)}`).join(', ')}`;
}

export function parseAlgorithm(value: string | undefined): DigestAlgorithm | undefined {
  if (value === undefined) return 'MD5'; // RFC 2617 §3.2.1: absent means MD5
  switch (value.toUpperCase()) {
    case 'MD5': return 'MD5';
    case 'MD5-SESS': return 'MD5-sess';
    case 'SHA-256': return 'SHA-256';
    case 'SHA-256-SESS': return 'SHA-256-sess';
    default: return undefined;
  }
}

export function digestHash(algorithm: DigestAlgorithm, data: string | Buffer): string {
  return createHash(algorithm.startsWith('SHA-256') ? 'sha256' : 'md5').update(data).digest('hex');
}

export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

export interface DigestInput {
  algorithm: DigestAlgorithm;
  /** H(username:realm:password) for the algorithm's hash; -sess variants are derived here. */
  ha1: string;
  method: string;
  uri: string;
  nonce: string;
  qop?: 'auth' | 'auth-int';
  nc?: string;
  cnonce?: string;
  body?: Buffer;
}

/** RFC 7616 §3.4.1: response = KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2)), or RFC 2069 without qop. */
export function computeDigestResponse(input: DigestInput): string {
  const { algorithm, method, uri, nonce, qop } = input;
  let ha1 = input.ha1;
  if (algorithm.endsWith('-sess')) ha1 = digestHash(algorithm, `${ha1}:${nonce}:${input.cnonce ?? ''}`);
  const a2 = qop === 'auth-int' ? `${method}:${uri}:${digestHash(algorithm, input.body ?? Buffer.alloc(0))}` : `${method}:${uri}`;
  const ha2 = digestHash(algorithm, a2);
  if (qop === undefined) return digestHash(algorithm, `${ha1}:${nonce}:${ha2}`);
  return digestHash(algorithm, `${ha1}:${nonce}:${input.nc ?? ''}:${input.cnonce ?? ''}:${qop}:${ha2}`);
}
