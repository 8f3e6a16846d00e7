/**
 * The gateway as digest server: challenges and verifies REGISTER/INVITE/… credentials from browsers.
 * Nonces are stateless (timestamp + HMAC under a per-process secret), so a flood of unauthenticated requests
 * costs no memory; a nonce older than `nonceLifetime` is answered with `stale=true` (RFC 7616 §3.3), so a client
 * with the right password retries without asking the user. Nonce-count replay protection keeps only the nonces
 * that have been used with qop, bounded and expiring with them.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  computeDigestResponse,
  parseAlgorithm,
  parseAuthHeader,
  serializeAuthHeader,
  type DigestAlgorithm,
} from './digest.ts';

export interface DigestServerOptions {
  realm: string;
  /**
   * Algorithms offered, one challenge each, preferred first (RFC 8760 §2.4). MD5 must stay LAST: JsSIP 3.x keeps
   * only the last WWW-/Proxy-Authenticate header it parses (Parser.js uses setHeader) and aborts on anything but
   * MD5 — with MD5 last, JsSIP answers MD5 while SHA-256-capable clients pick the first.
   */
  algorithms?: readonly DigestAlgorithm[];
  nonceLifetimeMs?: number;
  secret?: Buffer;
  now?: () => number;
  maxTrackedNonces?: number;
}

/** What the verifier needs to know of a user: the HA1 for the algorithm the client chose, if it can be had. */
export type Ha1Lookup = (username: string, realm: string, algorithm: DigestAlgorithm) => string | undefined;

export type DigestVerdict =
  | { ok: true; username: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'wrong-realm' | 'bad-credentials' | 'replay' | 'unsupported-algorithm'; username?: string };

const UNQUOTED = new Set(['algorithm', 'stale']);

export class DigestServer {
  readonly realm: string;
  readonly #algorithms: readonly DigestAlgorithm[];
  readonly #lifetime: number;
  readonly #secret: Buffer;
  readonly #now: () => number;
  readonly #maxTracked: number;
  /** nonce → highest nonce-count seen. */
  readonly #nonceCounts = new Map<string, number>();

  constructor(options: DigestServerOptions) {
    this.realm = options.realm;
    this.#algorithms = options.algorithms ?? ['SHA-256', 'MD5'];
    this.#lifetime = options.nonceLifetimeMs ?? 5 * 60_000;
    this.#secret = options.secret ?? randomBytes(32);
    this.#now = options.now ?? Date.now;
    this.#maxTracked = options.maxTrackedNonces ?? 100_000;
  }

  #sign(stamp: string): string {
    return createHmac('sha256', this.#secret).update(`${stamp}:${this.realm}`).digest('base64url').slice(0, 22);
  }

  createNonce(): string {
    const stamp = `${this.#now().toString(36)}.${randomBytes(6).toString('base64url')}`;
    return `${stamp}.${this.#sign(stamp)}`;
  }

  /** The WWW-Authenticate / Proxy-Authenticate values, one per algorithm, sharing one nonce. */
  challenges(stale = false): string[] {
    const nonce = this.createNonce();
    return this.#algorithms.map((algorithm) => {
      const params: Array<[string, string]> = [
        ['realm', this.realm],
        ['nonce', nonce],
        ['qop', 'auth'],
        ['algorithm', algorithm],
      ];
      if (stale) params.push(['stale', 'true']);
      return serializeAuthHeader('Digest', params, UNQUOTED);
    });
  }

  /** 'valid', 'stale' (well-formed and ours but expired) or 'invalid'. */
  #checkNonce(nonce: string): 'valid' | 'stale' | 'invalid' {
    const dot = nonce.lastIndexOf('.');
    if (dot <= 0) return 'invalid';
    const stamp = nonce.slice(0, dot);
    const mac = Buffer.from(nonce.slice(dot + 1));
    const expected = Buffer.from(this.#sign(stamp));
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return 'invalid';
    const issued = parseInt(stamp.split('.')[0] ?? '', 36);
    if (!Number.isFinite(issued)) return 'invalid';
    const age = this.#now() - issued;
    if (age < -60_000) return 'invalid';
    return age > this.#lifetime ? 'stale' : 'valid';
  }

  /**
   * Verifies every Authorization/Proxy-Authorization value for our realm (a request may carry credentials for
   * several realms, RFC 3261 §22.3). `body` is needed only for qop=auth-int.
   */
  verify(method: string, credentials: readonly string[], lookup: Ha1Lookup, body?: Buffer): DigestVerdict {
    if (credentials.length === 0) return { ok: false, reason: 'missing' };
    let sawOurRealm = false;
    let last: DigestVerdict = { ok: false, reason: 'wrong-realm' };
    for (const value of credentials) {
      let parsed;
      try {
        parsed = parseAuthHeader(value);
      } catch {
        last = { ok: false, reason: 'malformed' };
        continue;
      }
      if (parsed.scheme.toLowerCase() !== 'digest') continue;
      const p = parsed.params;
      if (p.get('realm') !== this.realm) continue;
      sawOurRealm = true;
      last = this.#verifyOne(method, p, lookup, body);
      if (last.ok) return last;
    }
    return sawOurRealm ? last : last.reason === 'malformed' ? last : { ok: false, reason: 'wrong-realm' };
  }

  #verifyOne(method: string, p: Map<string, string>, lookup: Ha1Lookup, body: Buffer | undefined): DigestVerdict {
    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    if (username === undefined || nonce === undefined || uri === undefined || response === undefined) {
      return { ok: false, reason: 'malformed' };
    }
    const algorithm = parseAlgorithm(p.get('algorithm'));
    if (algorithm === undefined || !this.#algorithms.some((a) => a === algorithm || `${a}-sess` === algorithm)) {
      return { ok: false, reason: 'unsupported-algorithm', username };
    }
    const qopValue = p.get('qop');
    const qop = qopValue === undefined ? undefined : qopValue === 'auth' || qopValue === 'auth-int' ? qopValue : null;
    if (qop === null) return { ok: false, reason: 'malformed', username };
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    if (qop !== undefined && (nc === undefined || !/^[0-9a-fA-F]{8}$/.test(nc) || cnonce === undefined)) {
      return { ok: false, reason: 'malformed', username };
    }
    const nonceState = this.#checkNonce(nonce);
    if (nonceState === 'invalid') return { ok: false, reason: 'bad-credentials', username };
    const ha1 = lookup(username, this.realm, algorithm.startsWith('SHA-256') ? 'SHA-256' : 'MD5');
    // Compute even for an unknown user so the timing and the answer are the same as for a wrong password.
    const expected = computeDigestResponse({
      algorithm,
      ha1: ha1 ?? '0'.repeat(algorithm.startsWith('SHA-256') ? 64 : 32),
      method,
      uri,
      nonce,
      ...(qop === undefined ? {} : { qop, nc: nc!, cnonce: cnonce! }),
      ...(body === undefined ? {} : { body }),
    });
    const a = Buffer.from(expected);
    const b = Buffer.from(response.toLowerCase());
    const match = a.length === b.length && timingSafeEqual(a, b);
    if (!match || ha1 === undefined) return { ok: false, reason: 'bad-credentials', username };
    // The password is right: an expired nonce only asks the client to retry with a fresh one.
    if (nonceState === 'stale') return { ok: false, reason: 'stale', username };
    if (qop !== undefined) {
      const count = parseInt(nc!, 16);
      const seen = this.#nonceCounts.get(nonce) ?? 0;
      if (count <= seen) return { ok: false, reason: 'replay', username };
      this.#remember(nonce, count);
    }
    return { ok: true, username };
  }

  #remember(nonce: string, count: number): void {
    if (!this.#nonceCounts.has(nonce) && this.#nonceCounts.size >= this.#maxTracked) {
      // Oldest first (Map keeps insertion order): expired nonces go before live ones.
      const oldest = this.#nonceCounts.keys().next().value;
      if (oldest !== undefined) this.#nonceCounts.delete(oldest);
    }
    this.#nonceCounts.set(nonce, count);
  }

  /** Drops nonce-count state for nonces past their lifetime; call from a periodic sweep. */
  sweep(): void {
    for (const nonce of this.#nonceCounts.keys()) if (this.#checkNonce(nonce) !== 'valid') this.#nonceCounts.delete(nonce);
  }
}
