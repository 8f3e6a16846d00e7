/**
 * The vocabulary of the INVITE session layer: states, termination reasons, the events every session emits, and
 * the options shared by both kinds of session. Kept apart so that owners (the B2BUA) can import types without the
 * classes.
 */
import type { SipRequest } from '../signaling/message.ts';
import type { DigestCredentials } from '../signaling/auth/digest-client.ts';
import type { InviteServerTransaction } from '../signaling/transaction/invite-server-transaction.ts';
import type { NonInviteServerTransaction } from '../signaling/transaction/non-invite-server-transaction.ts';
import type { DialogTable } from './dialog-table.ts';
import type { SessionTimerConfig } from './session-timer.ts';

export type SessionRole = 'uac' | 'uas';

/**
 * UAC: idle → calling → early → confirmed → terminated. UAS: incoming → early → accepted (2xx sent, no ACK yet)
 * → confirmed → terminated. Any state may end in terminated.
 */
export type SessionState = 'idle' | 'calling' | 'incoming' | 'early' | 'accepted' | 'confirmed' | 'terminated';

export type TerminationReason =
  | 'remote-bye'
  | 'local-bye'
  /** A final 3xx–6xx to the initial INVITE (sent or received). */
  | 'rejected'
  /** CANCEL, sent or received (also a 2xx that crossed our CANCEL: ACKed and BYEd). */
  | 'cancelled'
  /** Timer B: no final response to our INVITE. */
  | 'timeout'
  | 'transport-error'
  /** §12.2.1.2: an in-dialog request got 481 or 408 or timed out — the dialog is gone. */
  | 'dialog-failed'
  /** `close()` with nothing else to say. */
  | 'closed';

export type InviteSessionEvents = {
  /** The peer hung up; the BYE is already answered 200. */
  bye: [request: SipRequest, transaction: NonInviteServerTransaction];
  /** A re-INVITE (offer or offerless): answer with `respond(tx, status, { sdp })`. */
  reinvite: [request: SipRequest, transaction: InviteServerTransaction, sdp: string | undefined];
  /** An UPDATE with an offer (bodyless refreshes are answered by the session): answer with `respond()`. */
  update: [request: SipRequest, transaction: NonInviteServerTransaction, sdp: string | undefined];
  info: [request: SipRequest, transaction: NonInviteServerTransaction];
  options: [request: SipRequest, transaction: NonInviteServerTransaction];
  message: [request: SipRequest, transaction: NonInviteServerTransaction];
  notify: [request: SipRequest, transaction: NonInviteServerTransaction];
  refer: [request: SipRequest, transaction: NonInviteServerTransaction];
  /** The ACK for one of our 2xx to an INVITE (initial or re-INVITE); `sdp` is the answer to an offer we made in the 2xx. */
  ack: [ack: SipRequest, sdp: string | undefined];
  /** §13.3.1.4: no ACK for our 2xx within 64*T1. Nobody listening: the session sends BYE itself. */
  ackTimeout: [];
  /** A session refresh (any 2xx to a re-INVITE/UPDATE while the session timer runs). */
  refreshed: [direction: 'incoming' | 'outgoing'];
  /** RFC 4028 §10: the peer did not refresh in time, or our refresh failed. Nobody listening: the session sends BYE. */
  expired: [reason: 'no-refresh' | 'refresh-failed'];
  terminated: [reason: TerminationReason];
};

export interface SessionRespondOptions {
  /** An SDP body (offer or answer). */
  sdp?: string;
  /** Another body; with `contentType`. */
  body?: string | Buffer;
  contentType?: string;
  reason?: string;
  headers?: ReadonlyArray<readonly [string, string]>;
}

export interface SessionOptions {
  table: DialogTable;
  /** Digest credentials for requests the peer challenges (a trunk challenging BYE or re-INVITE). */
  credentials?: DigestCredentials;
  /** RFC 4028; `false` turns session timers off for this session. */
  sessionTimer?: Partial<SessionTimerConfig> | false;
  /**
   * Where in-dialog requests go. `channel` (default): the session's channel (a browser's flow, or the trunk target
   * resolved again each time). `dialog`: the next hop of each request (first loose route or Request-URI, §8.1.2).
   */
  nextHop?: 'channel' | 'dialog';
  /** Server / User-Agent header on what the session sends. */
  userAgent?: string;
}
