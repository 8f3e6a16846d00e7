/**
 * Errors of the INVITE session layer. Each has a stable `code` and the SIP status an owner (the B2BUA) would
 * answer the other side with: a request that timed out maps to 408, a transport failure to 503, glare to 491.
 */
import { GatewayError } from '../errors.ts';

export type SessionErrorCode =
  /** The method cannot be used in the session's state (no dialog yet, already terminated, answered twice). */
  | 'SIP_SESSION_STATE'
  /** §14.1: an INVITE (or an offer) is already in progress on this dialog. */
  | 'SIP_SESSION_PENDING'
  /** Timer B / Timer F: no final response. */
  | 'SIP_SESSION_TIMEOUT'
  /** The request could not be sent (connection refused, flow closed, name not resolved). */
  | 'SIP_SESSION_TRANSPORT'
  /** The session ended before the request could be (re)sent. */
  | 'SIP_SESSION_TERMINATED'
  /** A request the session cannot build (ACK/CANCEL through request(), an unusable INVITE …). */
  | 'SIP_SESSION_REQUEST'
  /** Bad options given by the owner. */
  | 'SIP_SESSION_OPTIONS';

export class SessionError extends GatewayError {
  /** Header fields the answer to the peer should carry (Min-SE with a 422, Retry-After with a 500 …). */
  readonly headers: ReadonlyArray<readonly [string, string]>;

  constructor(code: SessionErrorCode, message: string, options: { status?: number; cause?: unknown; headers?: ReadonlyArray<readonly [string, string]> } = {}) {
    super(code, message, { status: options.status, cause: options.cause });
    this.headers = options.headers ?? [];
  }
}
