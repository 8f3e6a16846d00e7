/**
 * The gateway as digest client towards trunks and registrars that challenge it (401 WWW-Authenticate,
 * 407 Proxy-Authenticate). Picks the strongest algorithm offered that it supports (RFC 8760 §2.4) and keeps a
 * nonce count per nonce so a re-used nonce gets nc=00000002, 00000003 …
 */
import { randomBytes } from 'node:crypto';
import {
  computeDigestResponse,
  computeHa1,
  parseAlgorithm,
  parseAuthHeader,
  serializeAuthHeader,
  type DigestAlgorithm,
} from './digest.ts';

export interface DigestCredentials {
  username: string;
  password: string;
  /** Only answer challenges for this realm; any realm when absent. */
  realm?: string;
}

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque: string | undefined;
  algorithm: DigestAlgorithm;
  qop: 'auth' | 'auth-int' | undefined;
  stale: boolean;
}

const PREFERENCE: readonly DigestAlgorithm[] = ['SHA-256', 'SHA-256-sess', 'MD5', 'MD5-sess'];
const UNQUOTED = new Set(['algorithm', 'nc', 'qop']);

/** The best challenge among the WWW-/Proxy-Authenticate values we can answer, or undefined. */
export function selectChallenge(values: readonly string[], realm?: string): DigestChallenge | undefined {
  const usable: DigestChallenge[] = [];
  for (const value of values) {
    let parsed;
    try {
      parsed = parseAuthHeader(value);
    } catch {
      continue;
    }
    if (parsed.scheme.toLowerCase() !== 'digest') continue;
    const p = parsed.params;
    const r = p.get('realm');
    const nonce = p.get('nonce');
    const algorithm = parseAlgorithm(p.get('algorithm'));
    if (r === undefined || nonce === undefined || algorithm === undefined) continue;
    if (realm !== undefined && r !== realm) continue;
    const qops = (p.get('qop') ?? '').split(',').map((q) => q.trim());
    const qop = qops.includes('auth') ? 'auth' : qops.includes('auth-int') ? 'auth-int' : undefined;
    usable.push({ realm: r, nonce, opaque: p.get('opaque'), algorithm, qop, stale: p.get('stale')?.toLowerCase() === 'true' });
  }
  usable.sort((a, b) => PREFERENCE.indexOf(a.algorithm) - PREFERENCE.indexOf(b.algorithm));
  return usable[0];
}

export class DigestClient {
  readonly #credentials: DigestCredentials;
  readonly #counts = new Map<string, number>();

  constructor(credentials: DigestCredentials) {
    this.#credentials = credentials;
  }

  /** The Authorization / Proxy-Authorization value answering `challenge` for this request. */
  authorize(challenge: DigestChallenge, method: string, uri: string, body?: Buffer): string {
    const { username, password } = this.#credentials;
    const base: DigestAlgorithm = challenge.algorithm.startsWith('SHA-256') ? 'SHA-256' : 'MD5';
    const ha1 = computeHa1(base, username, challenge.realm, password);
    const params: Array<[string, string]> = [
      ['username', username],
      ['realm', challenge.realm],
      ['nonce', challenge.nonce],
      ['uri', uri],
    ];
    let response: string;
    if (challenge.qop !== undefined) {
      if (this.#counts.size > 64) this.#counts.clear();
      const count = (this.#counts.get(challenge.nonce) ?? 0) + 1;
      this.#counts.set(challenge.nonce, count);
      const nc = count.toString(16).padStart(8, '0');
      const cnonce = randomBytes(12).toString('hex');
      response = computeDigestResponse({ algorithm: challenge.algorithm, ha1, method, uri, nonce: challenge.nonce, qop: challenge.qop, nc, cnonce, ...(body ? { body } : {}) });
      params.push(['response', response], ['algorithm', challenge.algorithm], ['cnonce', cnonce], ['qop', challenge.qop], ['nc', nc]);
    } else {
      response = computeDigestResponse({ algorithm: challenge.algorithm, ha1, method, uri, nonce: challenge.nonce });
      params.push(['response', response], ['algorithm', challenge.algorithm]);
    }
    if (challenge.opaque !== undefined) params.push(['opaque', challenge.opaque]);
    return serializeAuthHeader('Digest', params, UNQUOTED);
  }
}
