/**
 * Signed tokens for embedded pages: a site's backend (or `npm run token`, or `POST /api/token`) mints a short-lived
 * JWT (RFC 7519) naming a user and the destinations it may call; the page hands it to JsSIP, and the gateway
 * accepts it instead of a password. The page never holds a password, and a token lifted from it is good for a few
 * minutes and a few destinations only.
 *
 * HS256 (RFC 7518 §3.2) with a server-side secret of at least 256 bits (§3.2: "a key of the same size as the hash
 * output … or larger MUST be used"). Claims: `sub` (user name), `dst` (destination patterns, the syntax of a user's
 * dialPatterns: anchored regular expressions or `@users` / `@services`), `iat`, `exp`, `aud`.
 *
 * How a token arrives:
 * - In the WebSocket URL, `wss://gw/sip?token=<jwt>`: verified at the upgrade; the flow is bound to the identity for
 *   its lifetime (`exp` bounds when a token may be presented, not how long a connection it opened lives).
 * - In SIP, `Authorization: Bearer <jwt>` (RFC 8898 §3.2's scheme). JsSIP's `authorization_jwt` option puts its
 *   value into Authorization verbatim on every request (jssip/lib/RequestSender.js), so pages set
 *   `authorization_jwt: 'Bearer ' + token`; a bare JWT is accepted as well.
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { GatewayError } from '../../errors.ts';

export const TOKEN_AUDIENCE = 'webrtc-sip-gateway';
export const DEFAULT_TOKEN_TTL_SECONDS = 300;
export const DEFAULT_TOKEN_MAX_TTL_SECONDS = 3600;
/** RFC 7518 §3.2: an HS256 key of at least the hash size. */
export const MIN_SECRET_BYTES = 32;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 10;
const USER_NAME = /^[A-Za-z0-9._~+-]{1,64}$/;
const MAX_DESTINATIONS = 64;
const MAX_PATTERN_LENGTH = 256;
/** A JWS compact serialization: three base64url parts (RFC 7515 §7.1). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 4096;

export type TokenErrorCode = 'TOKEN_EXPIRED' | 'TOKEN_INVALID' | 'TOKEN_REQUEST_INVALID' | 'TOKEN_SECRET_INVALID';

/** TOKEN_EXPIRED and TOKEN_INVALID → 401; a bad mint request → 400; an unusable secret → 500 (our configuration). */
export class TokenError extends GatewayError {
  declare readonly code: TokenErrorCode;

  constructor(code: TokenErrorCode, message: string, options?: { cause?: unknown }) {
    const status = code === 'TOKEN_REQUEST_INVALID' ? 400 : code === 'TOKEN_SECRET_INVALID' ? 500 : 401;
    super(code, message, { status, cause: options?.cause });
  }
}

/** Who a verified token speaks for. Times are milliseconds since the epoch. */
export interface TokenIdentity {
  readonly user: string;
  readonly destinations: readonly string[];
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export interface TokenOptions {
  /** The shared secret (`security.tokenSecret`): a string (its UTF-8 bytes) or bytes, at least 32 bytes. */
  secret: string | Uint8Array;
  /** Longest lifetime a token may have (`exp - iat`), minted or presented. Default 3600 s. */
  maxTtlSeconds?: number;
  /** Lifetime when a mint request names none. Default 300 s. */
  defaultTtlSeconds?: number;
  /** Wall clock, ms. Default Date.now. */
  now?: () => number;
  /** Allowed clock skew for exp/iat. Default 10 s. */
  clockToleranceSeconds?: number;
}

export interface MintRequest {
  user: string;
  /** Destination patterns; an empty list lets the token register and receive calls only. */
  destinations: readonly string[];
  ttlSeconds?: number;
}

/** The secret as key bytes; throws TOKEN_SECRET_INVALID when it is too short to be an HS256 key. */
export function tokenKey(secret: string | Uint8Array): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new TokenError('TOKEN_SECRET_INVALID', `the token secret must be at least ${MIN_SECRET_BYTES} bytes (e.g. \`openssl rand -base64 48\`)`);
  }
  return bytes;
}

/** A destination pattern: `@users`, `@services`, or a regular expression matched against the whole destination. */
export function isValidDestinationPattern(pattern: unknown): pattern is string {
  if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) return false;
  if (pattern === '@users' || pattern === '@services') return true;
  if (pattern.startsWith('@')) return false;
  try {
    new RegExp(`^(?:${pattern})$`);
    return true;
  } catch {
    return false;
  }
}

function checkRequest(request: MintRequest, options: TokenOptions): number {
  const maxTtl = options.maxTtlSeconds ?? DEFAULT_TOKEN_MAX_TTL_SECONDS;
  const ttl = request.ttlSeconds ?? Math.min(options.defaultTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS, maxTtl);
  if (typeof request.user !== 'string' || !USER_NAME.test(request.user)) {
    throw new TokenError('TOKEN_REQUEST_INVALID', 'user must be a SIP user name (1–64 of letters, digits, . _ ~ + -)');
  }
  if (!Array.isArray(request.destinations) || request.destinations.length > MAX_DESTINATIONS) {
    throw new TokenError('TOKEN_REQUEST_INVALID', `destinations must be a list of at most ${MAX_DESTINATIONS} patterns`);
  }
  for (const pattern of request.destinations) {
    if (!isValidDestinationPattern(pattern)) {
      throw new TokenError('TOKEN_REQUEST_INVALID', `not a destination pattern (a regular expression, @users or @services): ${JSON.stringify(pattern)}`);
    }
  }
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > maxTtl) {
    throw new TokenError('TOKEN_REQUEST_INVALID', `ttl must be a whole number of seconds from 1 to ${maxTtl}`);
  }
  return ttl;
}

/** Mints a token. Throws TOKEN_REQUEST_INVALID for a bad request, TOKEN_SECRET_INVALID for a short secret. */
export async function mintToken(request: MintRequest, options: TokenOptions): Promise<{ token: string; identity: TokenIdentity }> {
  const key = tokenKey(options.secret);
  const ttl = checkRequest(request, options);
  const iat = Math.floor((options.now ?? Date.now)() / 1000);
  const token = await new SignJWT({ dst: [...request.destinations] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(request.user)
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .sign(key);
  return { token, identity: { user: request.user, destinations: [...request.destinations], issuedAt: iat * 1000, expiresAt: (iat + ttl) * 1000 } };
}

function invalid(message: string, cause?: unknown): TokenError {
  return new TokenError('TOKEN_INVALID', message, { cause });
}

/**
 * Verifies a token: HS256 only (no `none`, no algorithm confusion), our audience, a signature by our secret, not
 * expired, `iat` present and not in the future, a lifetime within `maxTtlSeconds`, and well-formed `sub`/`dst`.
 * Rejects with TokenError TOKEN_EXPIRED or TOKEN_INVALID (both 401) — never anything else for bad input.
 */
export async function verifyToken(token: string, options: TokenOptions): Promise<TokenIdentity> {
  const key = tokenKey(options.secret);
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw invalid('not a JWT');
  const nowMs = (options.now ?? Date.now)();
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  let payload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      audience: TOKEN_AUDIENCE,
      currentDate: new Date(nowMs),
      clockTolerance: tolerance,
      requiredClaims: ['sub', 'exp', 'iat', 'aud'],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new TokenError('TOKEN_EXPIRED', 'token expired', { cause: error });
    throw invalid(error instanceof joseErrors.JOSEError ? `token rejected (${error.code})` : 'token rejected', error);
  }
  const { sub, exp, iat, dst } = payload;
  if (typeof sub !== 'string' || !USER_NAME.test(sub)) throw invalid('token subject is not a user name');
  if (typeof exp !== 'number' || typeof iat !== 'number') throw invalid('token lacks exp or iat');
  const maxTtl = options.maxTtlSeconds ?? DEFAULT_TOKEN_MAX_TTL_SECONDS;
  if (exp - iat > maxTtl) throw invalid(`token lifetime ${exp - iat} s exceeds the maximum of ${maxTtl} s`);
  if (iat * 1000 > nowMs + tolerance * 1000) throw invalid('token issued in the future');
  if (dst !== undefined && (!Array.isArray(dst) || dst.length > MAX_DESTINATIONS || !dst.every(isValidDestinationPattern))) {
    throw invalid('token destinations are malformed');
  }
  return { user: sub, destinations: (dst as string[] | undefined) ?? [], issuedAt: iat * 1000, expiresAt: exp * 1000 };
}

/**
 * The token in SIP Authorization/Proxy-Authorization values: `Bearer <jwt>` (RFC 8898 §3.2 / RFC 6750 §2.1), or a
 * bare JWT as JsSIP sends `authorization_jwt` when the page did not prefix it. Undefined when there is none.
 */
export function bearerToken(values: readonly string[]): string | undefined {
  for (const raw of values) {
    const value = raw.trim();
    const match = /^bearer[ \t]+(\S+)$/i.exec(value);
    if (match) return match[1];
    if (COMPACT_JWS.test(value)) return value;
  }
  return undefined;
}

/** `?token=` of a WebSocket request target (`/sip?token=eyJ…`). */
export function tokenFromUrl(url: string | undefined): string | undefined {
  if (url === undefined || !url.includes('token=')) return undefined;
  try {
    const value = new URL(url, 'http://localhost').searchParams.get('token');
    return value === null || value === '' ? undefined : value;
  } catch {
    return undefined;
  }
}

/** What `@users` and `@services` stand for. */
export interface DestinationDirectory {
  isUser(name: string): boolean;
  isService(name: string): boolean;
}

/** As the router does (src/sip-bridge/router.ts): visual separators are removed only from things that look like numbers. */
function normalizeDialled(dialled: string): string {
  const compact = dialled.replace(/[\s().-]/g, '');
  return /^\+?[0-9*#]+$/.test(compact) ? compact : dialled;
}

/** Compiled token patterns; bounded because tokens (and their patterns) keep arriving. */
const compiled = new Map<string, RegExp>();
const COMPILED_LIMIT = 1024;

function matches(pattern: string, value: string): boolean {
  let re = compiled.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${pattern})$`);
    } catch {
      return false;
    }
    if (compiled.size >= COMPILED_LIMIT) compiled.clear();
    compiled.set(pattern, re);
  }
  return re.test(value);
}

/**
 * Whether a token's identity may call `dialled` (the Request-URI user part). Same rules as a user's dialPatterns:
 * a configured user needs `@users` or a matching pattern, a built-in service `@services` or a matching pattern,
 * anything else a matching pattern. A token only narrows: the B2BUA still routes the call as for `identity.user`.
 */
export function authorizeDestination(identity: Pick<TokenIdentity, 'destinations'>, dialled: string, directory: DestinationDirectory): boolean {
  const target = normalizeDialled(dialled);
  const patterns = identity.destinations;
  const byPattern = (): boolean => patterns.some((p) => !p.startsWith('@') && matches(p, target));
  if (directory.isUser(target)) return patterns.includes('@users') || byPattern();
  if (directory.isService(target)) return patterns.includes('@services') || byPattern();
  return byPattern();
}
