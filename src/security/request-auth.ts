/**
 * Who sent a SIP request, for the B2BUA: the token the flow was opened with (`?token=`), a Bearer token in
 * Authorization/Proxy-Authorization (JsSIP's `authorization_jwt`), or digest credentials — in that order — with
 * every failure reported to the ban list and one answer for all of them.
 *
 * One answer: a missing credential, an unknown user, a wrong password, a bad or expired token all get the same
 * 401/407 with a fresh digest challenge (RFC 3261 §22.2/§22.3), so a scanner learns nothing about which user
 * names exist (the digest server already computes a response for unknown users, so the timing is the same too).
 * A stale nonce with the right password gets `stale=true` (RFC 7616 §3.3) — only someone who knows the password
 * can tell it apart.
 */
import { createResponseTo, type SipRequest, type SipResponse } from '../signaling/message.ts';
import type { DigestServer, Ha1Lookup } from '../signaling/auth/digest-server.ts';
import { TokenError, bearerToken, verifyToken, type TokenIdentity, type TokenOptions } from '../signaling/auth/token.ts';
import { newTag } from '../signaling/transaction/branch.ts';
import type { FailureReason } from './ban-list.ts';

export type AuthHeader = 'authorization' | 'proxy-authorization';

export type RequestAuth =
  | { ok: true; user: string; by: 'flow-token' | 'token' | 'digest'; identity?: TokenIdentity }
  | {
      ok: false;
      /** For logs only: never let it change the answer. */
      reason: 'missing' | 'stale' | 'bad-credentials' | 'malformed' | 'replay' | 'unsupported-algorithm' | 'wrong-realm' | 'token-expired' | 'token-invalid';
      stale: boolean;
    };

export interface RequestAuthenticatorOptions {
  digest: DigestServer;
  lookup: Ha1Lookup;
  /** Token verification; undefined when tokens are not enabled (a Bearer token then fails like a wrong password). */
  token?: TokenOptions;
  /** Where failures go (SipGuard.recordFailure / BanList.recordFailure). */
  recordFailure?: (source: string, reason: FailureReason) => void;
}

export interface RequestContext {
  /** The source address (the channel's remote address). */
  source: string;
  /** The identity the flow was opened with (`stack.transport.flowIdentity(channel.flowId)`). */
  flowIdentity?: TokenIdentity;
  /** `authorization` for REGISTER and requests to us as a registrar/UAS (401), `proxy-authorization` for INVITE … (407). */
  header: AuthHeader;
}

export class RequestAuthenticator {
  readonly #o: RequestAuthenticatorOptions;

  constructor(options: RequestAuthenticatorOptions) {
    this.#o = options;
  }

  /** Flow token, else Bearer token, else digest. */
  async authenticate(request: SipRequest, ctx: RequestContext): Promise<RequestAuth> {
    const byToken = await this.authenticateToken(request, ctx);
    if (byToken !== undefined) return byToken;
    const verdict = this.#o.digest.verify(request.method, request.headers.getAll(ctx.header), this.#o.lookup, request.body);
    if (verdict.ok) return { ok: true, user: verdict.username, by: 'digest' };
    if (verdict.reason !== 'missing' && verdict.reason !== 'stale') this.#o.recordFailure?.(ctx.source, 'auth');
    return { ok: false, reason: verdict.reason, stale: verdict.reason === 'stale' };
  }

  /**
   * Only the token paths: undefined when the request carries no token and its flow has none, so the caller goes
   * on with digest — for REGISTER, the Registrar's own (it verifies and reports digest failures itself; verifying
   * here as well would count each failure twice and trip the nonce-count replay check).
   */
  async authenticateToken(request: SipRequest, ctx: RequestContext): Promise<RequestAuth | undefined> {
    if (ctx.flowIdentity !== undefined) return { ok: true, user: ctx.flowIdentity.user, by: 'flow-token', identity: ctx.flowIdentity };
    // JsSIP's authorization_jwt always rides in Authorization, for INVITE too: look in both headers.
    const bearer = bearerToken([...request.headers.getAll('authorization'), ...request.headers.getAll('proxy-authorization')]);
    return bearer === undefined ? undefined : this.#token(bearer, ctx.source);
  }

  /** The challenge for a failed authentication: 401 + WWW-Authenticate or 407 + Proxy-Authenticate, same for every reason. */
  challenge(request: SipRequest, auth: Extract<RequestAuth, { ok: false }>, header: AuthHeader): SipResponse {
    const proxy = header === 'proxy-authorization';
    const response = createResponseTo(request, proxy ? 407 : 401, undefined, newTag());
    for (const value of this.#o.digest.challenges(auth.stale)) response.headers.append(proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate', value);
    return response;
  }

  async #token(token: string, source: string): Promise<RequestAuth> {
    if (this.#o.token === undefined) {
      this.#o.recordFailure?.(source, 'token');
      return { ok: false, reason: 'token-invalid', stale: false };
    }
    try {
      const identity = await verifyToken(token, this.#o.token);
      return { ok: true, user: identity.user, by: 'token', identity };
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      if (error.code === 'TOKEN_EXPIRED') return { ok: false, reason: 'token-expired', stale: false };
      this.#o.recordFailure?.(source, 'token');
      return { ok: false, reason: 'token-invalid', stale: false };
    }
  }
}
