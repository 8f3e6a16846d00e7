/**
 * Tokens over HTTP: the WebSocket upgrade hook that verifies `?token=` (401 before any SIP when it is bad or
 * required and missing), and `POST /api/token`, where a site's backend mints a token for its page with the admin
 * secret (`Authorization: Bearer <security.adminSecret>`).
 *
 * The endpoint is for servers, not pages: it sends no CORS headers, so a browser's cross-origin call with an
 * Authorization header fails its preflight. Without an admin secret it refuses every request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpRoute, HttpRouteResponse, UpgradeAuthorizer } from '../signaling/http-server.ts';
import { TokenError, mintToken, tokenFromUrl, verifyToken, type TokenOptions } from '../signaling/auth/token.ts';
import type { FailureReason } from './ban-list.ts';

export const TOKEN_ENDPOINT_PATH = '/api/token';

/** Compares secrets without leaking where they differ or how long the expected one is. */
export function constantTimeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

export type FailureReporter = (source: string, reason: FailureReason) => void;

export interface TokenUpgradeOptions {
  /** Undefined when no token secret is configured: a presented token is then refused. */
  token: TokenOptions | undefined;
  /** Refuse upgrades that carry no token (embed-only deployments). */
  requireToken?: boolean;
  /** Bad signatures and malformed tokens are reported ('token'); expired ones are not (a stale page is no attack). */
  onFailure?: FailureReporter;
}

/** The `authorizeUpgrade` hook for HttpConfig: verifies `?token=` and binds the identity to the flow. */
export function tokenUpgradeAuthorizer(options: TokenUpgradeOptions): UpgradeAuthorizer {
  return async (request, source) => {
    const token = tokenFromUrl(request.url);
    if (token === undefined) {
      return options.requireToken ? { ok: false, status: 401, reason: 'A token is required' } : { ok: true };
    }
    if (options.token === undefined) return { ok: false, status: 401, reason: 'Tokens are not enabled on this gateway' };
    try {
      return { ok: true, identity: await verifyToken(token, options.token) };
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      if (error.code === 'TOKEN_INVALID') options.onFailure?.(source, 'token');
      return { ok: false, status: 401, reason: error.code === 'TOKEN_EXPIRED' ? 'Token expired' : 'Invalid token' };
    }
  };
}

export interface TokenRouteOptions {
  /** `security.adminSecret`; undefined disables the endpoint (403 to everyone). */
  adminSecret: string | undefined;
  /** Undefined when no token secret is configured (the endpoint is disabled too). */
  token: TokenOptions | undefined;
  /** A wrong admin secret is reported ('admin-auth'): guessing it gets the source banned. */
  onFailure?: FailureReporter;
}

function json(status: number, body: unknown, headers?: Record<string, string>): HttpRouteResponse {
  return { status, body, ...(headers === undefined ? {} : { headers }) };
}

/**
 * `POST /api/token` with `{"user": "alice", "destinations": ["echo", "@users"], "ttl": 300}` →
 * `200 {"token", "user", "destinations", "expiresAt"}`. 401 without the right admin secret, 415 for a body that is
 * not JSON, 400 for a bad request, 403 when the endpoint is disabled.
 */
export function tokenRoute(options: TokenRouteOptions): HttpRoute {
  return {
    method: 'POST',
    path: TOKEN_ENDPOINT_PATH,
    maxBodyBytes: 4096,
    async handle(request) {
      const { adminSecret, token } = options;
      if (adminSecret === undefined || token === undefined) {
        return json(403, { error: 'TOKEN_ENDPOINT_DISABLED', message: 'set security.adminSecret and security.tokenSecret to enable token minting' });
      }
      const authorization = request.headers.authorization ?? '';
      const match = /^Bearer[ \t]+(\S+)$/i.exec(authorization.trim());
      if (match === null || !constantTimeEqual(match[1]!, adminSecret)) {
        options.onFailure?.(request.source, 'admin-auth');
        return json(401, { error: 'UNAUTHORIZED', message: 'a valid admin bearer secret is required' }, { 'WWW-Authenticate': 'Bearer realm="webrtc-sip-gateway"' });
      }
      const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') return json(415, { error: 'UNSUPPORTED_MEDIA_TYPE', message: 'send application/json' });
      let body: unknown;
      try {
        body = JSON.parse(request.body.toString('utf8'));
      } catch {
        return json(400, { error: 'TOKEN_REQUEST_INVALID', message: 'the body is not JSON' });
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        return json(400, { error: 'TOKEN_REQUEST_INVALID', message: 'expected {"user", "destinations", "ttl"}' });
      }
      const { user, destinations, ttl } = body as Record<string, unknown>;
      if (ttl !== undefined && typeof ttl !== 'number') return json(400, { error: 'TOKEN_REQUEST_INVALID', message: 'ttl must be a number of seconds' });
      try {
        const minted = await mintToken({ user: user as string, destinations: (destinations ?? []) as string[], ttlSeconds: ttl }, token);
        return json(200, {
          token: minted.token,
          user: minted.identity.user,
          destinations: minted.identity.destinations,
          expiresAt: new Date(minted.identity.expiresAt).toISOString(),
        });
      } catch (error) {
        if (error instanceof TokenError && error.code === 'TOKEN_REQUEST_INVALID') return json(400, { error: error.code, message: error.message });
        throw error;
      }
    },
  };
}
