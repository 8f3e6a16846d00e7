/**
 * What a call needs of its phone: identity, the transport, the client-transaction layer and digest credentials.
 * TestPhone implements it; calls get it from their factory, so a call never reaches into the phone otherwise.
 */
import type { SipRequest, SipResponse } from '../../src/signaling/message.ts';
import type { AudioCodec } from './media-endpoint.ts';

export interface PhoneIdentity {
  user: string;
  domain: string;
  /** `sip:user@domain`. */
  aor: string;
  displayName: string | undefined;
  /** `<random>.invalid`: Via sent-by and Contact host, as JsSIP's via_host. */
  viaHost: string;
  /** `sip:<random>@<viaHost>;transport=ws`. */
  contactUri: string;
  userAgent: string;
}

export interface InviteTransaction {
  readonly branch: string;
  /** Stops delivering responses (retransmitted non-2xx finals are still ACKed until the phone closes). */
  close(): void;
}

export interface PhoneContext {
  readonly identity: PhoneIdentity;
  readonly codecs: readonly AudioCodec[];
  /** Limit for one transaction (a request's final response, an ACK). */
  readonly timeoutMs: number;
  /** `SIP/2.0/WS <viaHost>;branch=z9hG4bK…` with a branch unused by this phone. */
  newVia(): { via: string; branch: string };
  send(msg: SipRequest | SipResponse): void;
  /** A non-INVITE client transaction: resolves with the final response, rejects on timeout or close. */
  sendRequest(request: SipRequest): Promise<SipResponse>;
  /**
   * An INVITE client transaction: every response is handed to `onResponse` (retransmitted 2xx included, for
   * the TU to re-ACK, §13.2.2.4); non-2xx finals are ACKed by the transaction (§17.1.1.3) before delivery.
   */
  sendInvite(request: SipRequest, onResponse: (response: SipResponse) => void): InviteTransaction;
  /** Credentials answering a 401/407 for `method` to `uri`, or undefined when the challenge cannot be answered. */
  credentials(response: SipResponse, method: string, uri: string): { header: [string, string]; stale: boolean } | undefined;
  /** The call ended: forget it. */
  release(callKey: string): void;
}
