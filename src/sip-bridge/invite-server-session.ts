/**
 * The gateway answering an INVITE (RFC 3261 §13.3): provisional responses that create the early dialog (no 100rel:
 * we never Require it), the 2xx retransmitted until its ACK (§13.3.1.4), rejection, CANCEL (§9.2) and an early
 * BYE (§15.1.2), then everything InviteSession does once the dialog is confirmed.
 *
 * Made by the owner from its `onRequest(INVITE)` with the server transaction and the channel the session is bound
 * to (the transaction's: a browser can only be reached over its own WebSocket flow). The constructor throws a
 * SessionError for an INVITE that cannot make a dialog (400) or asks for too short a session timer (422 with
 * Min-SE): answer it with `rejectInvite(transaction, error)`.
 */
import { createResponseTo, type SipRequest } from '../signaling/message.ts';
import type { SipStack } from '../signaling/sip-stack.ts';
import type { Channel } from '../signaling/transport.ts';
import type { InviteServerTransaction } from '../signaling/transaction/invite-server-transaction.ts';
import { Dialog, DialogError, newTag } from './dialog.ts';
import { InviteSession, type InviteSessionEvents, type SessionOptions } from './invite-session.ts';
import { SessionError } from './session-error.ts';
import { sdpOf } from './session-body.ts';

export type ServerSessionEvents = InviteSessionEvents & {
  /** §9.2: the caller cancelled; the INVITE is answered 487 (its CANCEL 200 by the dialog table). */
  cancelled: [cancel: SipRequest];
};

export interface ServerSessionOptions extends SessionOptions {
  /** Our Contact (name-addr) for this dialog: where the peer sends its in-dialog requests. */
  localContact: string;
  /** The To tag; a fresh one by default. */
  localTag?: string;
}

export interface ProvisionalOptions {
  /** Early media: the answer (or offer, for an offerless INVITE) previewed in a 183 (§13.2.1, RFC 3960). */
  sdp?: string;
  reason?: string;
  headers?: ReadonlyArray<readonly [string, string]>;
}

export interface AcceptOptions {
  /** The answer to the INVITE's offer, or our offer when the INVITE had none (the answer then comes in the ACK). */
  sdp: string;
  reason?: string;
  headers?: ReadonlyArray<readonly [string, string]>;
}

/** Answers an INVITE whose session could not be made (the SessionError from the constructor). */
export function rejectInvite(transaction: InviteServerTransaction, error: unknown, userAgent?: string): void {
  if (transaction.finalResponse !== undefined || transaction.terminated) return;
  const status = error instanceof SessionError || error instanceof DialogError ? (error.status ?? 500) : 500;
  const response = createResponseTo(transaction.request, status, undefined, newTag());
  if (error instanceof SessionError) for (const [name, value] of error.headers) response.headers.append(name, value);
  if (userAgent !== undefined) response.headers.append('Server', userAgent);
  transaction.respond(response);
}

export class InviteServerSession extends InviteSession<ServerSessionEvents> {
  readonly role = 'uas' as const;
  /** The INVITE that created the session. */
  readonly invite: SipRequest;
  readonly transaction: InviteServerTransaction;
  /** The INVITE's SDP offer, if it had one (undefined: offerless, we offer in the 2xx). */
  readonly offer: string | undefined;
  readonly #dialog: Dialog;

  constructor(stack: SipStack, request: SipRequest, transaction: InviteServerTransaction, channel: Channel, options: ServerSessionOptions) {
    const callId = request.headers.get('call-id');
    if (callId === undefined) throw new SessionError('SIP_SESSION_REQUEST', 'INVITE without Call-ID', { status: 400 });
    const localTag = options.localTag ?? newTag();
    super(stack, { callId, localTag, localContact: options.localContact, state: 'incoming', options });
    if (transaction.finalResponse !== undefined || transaction.terminated) {
      throw new SessionError('SIP_SESSION_STATE', 'the INVITE is already answered (cancelled?)', { status: 487 });
    }
    let dialog: Dialog;
    try {
      dialog = Dialog.fromUas(request, localTag, options.localContact, 'early');
    } catch (error) {
      throw new SessionError('SIP_SESSION_REQUEST', (error as Error).message, { status: 400, cause: error });
    }
    const rejection = this.timerRejection(request);
    if (rejection !== undefined) throw rejection;
    this.invite = request;
    this.transaction = transaction;
    this.fixedChannel = channel;
    this.offer = sdpOf(request);
    this.#dialog = dialog;
    this.setDialog(dialog);
    this.noteAllow(request);
    if (this.offer !== undefined) {
      this.noteOffer('remote');
      this.noteSdp(undefined, this.offer);
    }
    // The dialog's key exists from now on: the caller may send BYE (or UPDATE) in the early dialog once a
    // provisional carried our tag.
    this.table.addDialog(callId, localTag, dialog.remoteTag, this);
    this.table.addInvite(transaction, this);
  }

  /** 101–199 with our To tag: the early dialog (§12.1.1: Contact and Record-Route as in a 2xx). */
  provisional(status = 180, options: ProvisionalOptions = {}): void {
    if (status <= 100 || status >= 200) throw new SessionError('SIP_SESSION_OPTIONS', `provisional status must be 101–199, got ${status}`);
    this.#assertPending('provisional');
    const response = this.buildResponse(this.invite, status, options);
    copyRecordRoute(this.invite, response);
    if (options.sdp !== undefined) this.noteSdp(options.sdp, undefined);
    this.setState('early');
    this.transaction.respond(response);
  }

  /**
   * The 2xx (§13.3.1.4): Contact, Record-Route, Allow, Supported, the session timer (RFC 4028 §9), the SDP; sent
   * and retransmitted until the ACK — `ack` then, or `ackTimeout` after 64*T1. The dialog is confirmed now.
   */
  accept(options: AcceptOptions): void {
    this.#assertPending('accept');
    if (typeof options.sdp !== 'string' || options.sdp.length === 0) {
      throw new SessionError('SIP_SESSION_OPTIONS', 'accept() needs the SDP: the answer, or our offer for an offerless INVITE');
    }
    const response = this.buildResponse(this.invite, 200, { sdp: options.sdp, reason: options.reason, headers: options.headers });
    copyRecordRoute(this.invite, response);
    this.applyUasTimer(this.invite, response);
    this.#dialog.state = 'confirmed';
    this.setState('accepted');
    this.noteSdp(options.sdp, undefined);
    // Offer in the INVITE: answered now. Offerless: ours is out, the answer comes in the ACK.
    this.noteOffer(this.offer === undefined ? 'local' : undefined);
    this.table.deleteInvite(this.transaction, this);
    this.transaction.respond(response);
    this.expectAck(this.transaction, response, true);
  }

  /** A final 3xx–6xx; the session ends (`rejected`). The transaction absorbs the ACK (§17.2.1). */
  reject(status = 486, reason?: string, headers?: ReadonlyArray<readonly [string, string]>): void {
    if (status < 300 || status > 699) throw new SessionError('SIP_SESSION_OPTIONS', `reject status must be 300–699, got ${status}`);
    this.#assertPending('reject');
    const response = this.buildResponse(this.invite, status, { reason, headers });
    this.transaction.respond(response);
    this.endSession('rejected');
  }

  /** §9.2, from the dialog table: a pending INVITE is answered 487 and the session ends `cancelled`. */
  override receiveCancel(cancel: SipRequest): boolean {
    if (this.terminated || this.transaction.finalResponse !== undefined) return false;
    this.transaction.respond(this.buildResponse(this.invite, 487));
    this.emit('cancelled', cancel);
    this.endSession('cancelled');
    return true;
  }

  /** §15.1.2: a BYE in the early dialog also ends the INVITE: "a 487 (Request Terminated)". */
  override acceptBye(_request: SipRequest, _dialog: Dialog): boolean {
    if (this.transaction.finalResponse === undefined && !this.transaction.terminated) {
      this.transaction.respond(this.buildResponse(this.invite, 487));
    }
    return true;
  }

  protected override onInitialAck(): void {
    this.setState('confirmed');
  }

  /** Before the 2xx: reject (480 by default); after: BYE (once the ACK came or timed out, §15). */
  terminate(options: { status?: number; reason?: string } = {}): void {
    if (this.terminated) return;
    if (this.state === 'incoming' || this.state === 'early') this.reject(options.status ?? 480, options.reason);
    else void this.bye();
  }

  protected closePending(): void {
    if (!this.terminated && this.transaction.finalResponse === undefined && !this.transaction.terminated) {
      // An INVITE server transaction in Proceeding has no timer of its own: it must be answered.
      this.transaction.respond(this.buildResponse(this.invite, 480));
    }
  }

  protected releaseEntries(): void {
    this.table.deleteDialog(this.callId, this.localTag, this.#dialog.remoteTag, this);
    this.table.deleteInvite(this.transaction, this);
  }

  #assertPending(what: string): void {
    if (this.terminated || this.transaction.finalResponse !== undefined || this.transaction.terminated) {
      throw new SessionError('SIP_SESSION_STATE', `${what}(): the INVITE is already answered or the session ended`);
    }
  }
}

/** §12.1.1: "the UAS MUST copy all Record-Route header field values from the request into the response". */
function copyRecordRoute(request: SipRequest, response: { headers: { append(name: string, value: string): unknown } }): void {
  for (const field of request.headers) if (field.key === 'record-route') response.headers.append(field.name, field.value);
}
