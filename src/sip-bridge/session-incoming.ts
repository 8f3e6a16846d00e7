/**
 * The peer's requests inside a session's dialog, after the dialog table routed them and the Dialog accepted their
 * CSeq: glare rules, the session timer's 422, automatic answers (BYE, bodyless UPDATE refreshes, requests nobody
 * listens for), and the owner's answers through `respond()` with the offer/answer and timer bookkeeping they imply.
 * Every request taken here is answered exactly once — by the owner, by a default, or with 487 when the session
 * ends first (§15.1.2) — so no server transaction is left without a final response.
 */
import type { SipRequest } from '../signaling/message.ts';
import type { InviteServerTransaction } from '../signaling/transaction/invite-server-transaction.ts';
import type { NonInviteServerTransaction } from '../signaling/transaction/non-invite-server-transaction.ts';
import type { ServerTransaction } from '../signaling/transaction/transaction-layer.ts';
import type { Dialog } from './dialog.ts';
import type { InviteSession, SessionRespondOptions } from './invite-session.ts';
import { SessionError } from './session-error.ts';
import { sdpOf } from './session-body.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'session-incoming' });

/** §14.2: "a Retry-After header field with a randomly chosen value of between 0 and 10 seconds". */
function retryAfter(): [string, string] {
  return ['Retry-After', String(Math.floor(Math.random() * 11))];
}

/** RFC 3264 §8: "If the session description does not change, the version … MUST NOT change" — the o= line says it. */
function sameVersion(offer: string, previous: string | undefined): boolean {
  if (previous === undefined) return false;
  const origin = (sdp: string): string | undefined => /^o=.*$/m.exec(sdp)?.[0]?.trim();
  const o = origin(offer);
  return o !== undefined && o === origin(previous);
}

export class IncomingRequests {
  readonly #session: InviteSession;
  readonly #pending = new Set<ServerTransaction>();
  #pendingInvite: InviteServerTransaction | undefined;

  constructor(session: InviteSession) {
    this.#session = session;
  }

  /** The peer's re-INVITE we have not answered yet. */
  get pendingInvite(): InviteServerTransaction | undefined {
    return this.#pendingInvite;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  receive(request: SipRequest, transaction: ServerTransaction, dialog: Dialog): void {
    const session = this.#session;
    switch (request.method) {
      case 'BYE': {
        // §15.1.2: "the UAS MUST generate a 2xx response to the BYE".
        transaction.respond(session.buildResponse(request, 200));
        if (session.acceptBye(request, dialog)) {
          session.emitSession('bye', request, transaction as NonInviteServerTransaction);
          session.endSession('remote-bye');
        }
        return;
      }
      case 'INVITE':
        this.#reinvite(request, transaction as InviteServerTransaction);
        return;
      case 'UPDATE':
        this.#update(request, transaction as NonInviteServerTransaction);
        return;
      case 'INFO':
        this.#toOwner('info', request, transaction as NonInviteServerTransaction, () =>
          // A bodyless INFO asks nothing; a body we have no handler for is a type we cannot take (§21.4.13).
          request.body.length === 0 ? this.respond(transaction, 200) : this.respond(transaction, 415, { headers: [['Accept', 'application/sdp']] }),
        );
        return;
      case 'OPTIONS':
        this.#toOwner('options', request, transaction as NonInviteServerTransaction, () =>
          this.respond(transaction, 200, {
            headers: [['Allow', session.stack.allow.join(', ')], ['Accept', 'application/sdp'], ['Supported', session.supportedTags().join(', ')]],
          }),
        );
        return;
      case 'MESSAGE':
      case 'NOTIFY':
      case 'REFER': {
        const event = request.method === 'MESSAGE' ? 'message' : request.method === 'NOTIFY' ? 'notify' : 'refer';
        this.#toOwner(event, request, transaction as NonInviteServerTransaction, () => {
          const allow = session.stack.allow.filter((m) => m !== request.method);
          this.respond(transaction, 405, { headers: [['Allow', allow.join(', ')]] });
        });
        return;
      }
      case 'PRACK':
        // RFC 3262 §7.2: a PRACK matching no unacknowledged reliable provisional gets 481 — we never send any.
        transaction.respond(session.buildResponse(request, 481));
        return;
      default:
        transaction.respond(session.buildResponse(request, 501, { headers: [['Allow', session.stack.allow.join(', ')]] }));
    }
  }

  /**
   * §14.2: "A UAS that receives a second INVITE before it sends the final response to a first INVITE with a lower
   * CSeq sequence number on the same dialog MUST return a 500 … with a Retry-After" and "A UAS that receives an
   * INVITE on a dialog while an INVITE it had sent on that dialog is in progress MUST return a 491". An offer
   * while ours waits for its answer is glare too (RFC 3264 §4: one offer at a time).
   */
  #reinvite(request: SipRequest, transaction: InviteServerTransaction): void {
    const session = this.#session;
    const progress = session.inviteInProgress();
    const sdp = sdpOf(request);
    if (progress === 'outgoing' || (sdp !== undefined && session.pendingOffer === 'local')) {
      transaction.respond(session.buildResponse(request, 491));
      return;
    }
    if (progress === 'incoming' || (sdp !== undefined && session.pendingOffer === 'remote')) {
      transaction.respond(session.buildResponse(request, 500, { headers: [retryAfter()] }));
      return;
    }
    if (this.#timerRejected(request, transaction)) return;
    const previousRemote = session.remoteSdp;
    this.#pending.add(transaction);
    this.#pendingInvite = transaction;
    session.noteAllow(request);
    if (sdp !== undefined) {
      session.noteOffer('remote');
      session.noteSdp(undefined, sdp);
    }
    if (session.listens('reinvite')) {
      session.emitSession('reinvite', request, transaction, sdp);
    } else if (session.localSdp !== undefined && (sdp === undefined || sameVersion(sdp, previousRemote))) {
      // Nobody handles re-INVITEs and this one changes nothing: a session refresh (RFC 4028 §7.4) — offerless,
      // or re-offering the same session description (RFC 3264 §8: unchanged o= line). Answer with what we have.
      this.respond(transaction, 200, { sdp: session.localSdp });
    } else {
      this.respond(transaction, 488);
    }
  }

  /**
   * RFC 3311 §5.2: "If an UPDATE is received that contains an offer, and the UAS has generated an offer … to
   * which it has not yet received an answer, the UAS MUST reject the UPDATE with a 491 … if … the UAS has received
   * an offer … on which it has not yet generated an answer, the UAS MUST reject the UPDATE with a 500 … and MUST
   * include a Retry-After". A bodyless UPDATE is a session refresh (RFC 4028 §7.4, JsSIP's every 45 s) or a
   * target refresh: answered here, 200 with the session timer.
   */
  #update(request: SipRequest, transaction: NonInviteServerTransaction): void {
    const session = this.#session;
    const sdp = sdpOf(request);
    if (sdp !== undefined && session.pendingOffer === 'local') {
      transaction.respond(session.buildResponse(request, 491));
      return;
    }
    if (sdp !== undefined && session.pendingOffer === 'remote') {
      transaction.respond(session.buildResponse(request, 500, { headers: [retryAfter()] }));
      return;
    }
    if (this.#timerRejected(request, transaction)) return;
    this.#pending.add(transaction);
    if (sdp === undefined) {
      this.respond(transaction, 200);
      return;
    }
    session.noteOffer('remote');
    session.noteSdp(undefined, sdp);
    if (session.listens('update')) session.emitSession('update', request, transaction, sdp);
    else this.respond(transaction, 488);
  }

  #timerRejected(request: SipRequest, transaction: ServerTransaction): boolean {
    const rejection = this.#session.timerRejection(request);
    if (rejection === undefined) return false;
    transaction.respond(this.#session.buildResponse(request, rejection.status ?? 400, { headers: rejection.headers }));
    return true;
  }

  #toOwner(
    event: 'info' | 'options' | 'message' | 'notify' | 'refer',
    request: SipRequest,
    transaction: NonInviteServerTransaction,
    fallback: () => void,
  ): void {
    this.#pending.add(transaction);
    if (this.#session.listens(event)) this.#session.emitSession(event, request, transaction);
    else fallback();
  }

  /** See InviteSession.respond. Throws SessionError (SIP_SESSION_STATE / SIP_SESSION_OPTIONS) on misuse. */
  respond(transaction: ServerTransaction, status: number, options: SessionRespondOptions = {}): void {
    if (!this.#pending.has(transaction)) {
      throw new SessionError('SIP_SESSION_STATE', 'not a pending request of this session (answered already?)', { status: 500 });
    }
    const session = this.#session;
    const request = transaction.request;
    const method = request.method;
    const success = status >= 200 && status < 300;
    const final = status >= 200;
    const offered = sdpOf(request) !== undefined;
    if (success && method === 'INVITE' && options.sdp === undefined) {
      throw new SessionError('SIP_SESSION_OPTIONS', 'a 2xx to a re-INVITE carries SDP: the answer, or our offer when it had none (§13.2.1)');
    }
    if (success && method === 'UPDATE' && offered && options.sdp === undefined) {
      throw new SessionError('SIP_SESSION_OPTIONS', 'a 2xx to an UPDATE with an offer carries the answer (RFC 3311 §5.2)');
    }
    const response = session.buildResponse(request, status, options);
    if (success && (method === 'INVITE' || method === 'UPDATE')) session.applyUasTimer(request, response);
    if (final) {
      this.#pending.delete(transaction);
      if (transaction === this.#pendingInvite) this.#pendingInvite = undefined;
    }
    if ((method === 'INVITE' || method === 'UPDATE') && final) {
      if (success && offered) {
        session.noteOffer(undefined);
        session.noteSdp(options.sdp, undefined);
      } else if (success && method === 'INVITE') {
        // Our offer in the 2xx; the answer comes in the ACK.
        session.noteOffer('local');
        session.noteSdp(options.sdp, undefined);
      } else if (offered) {
        // §14.2: a rejected re-INVITE leaves the session as it was; the offer is gone.
        session.noteOffer(undefined);
      }
    }
    transaction.respond(response);
    if (success && method === 'INVITE') session.expectAck(transaction as InviteServerTransaction, response, false);
    if (success && (method === 'INVITE' || method === 'UPDATE') && session.sessionTimer !== undefined) {
      session.emitSession('refreshed', 'incoming');
    }
  }

  /** §15.1.2: "The UAS MUST still respond to any pending requests received for that dialog … 487". */
  abandon(): void {
    for (const transaction of [...this.#pending]) {
      this.#pending.delete(transaction);
      if (transaction.terminated || transaction.finalResponse !== undefined) continue;
      try {
        transaction.respond(this.#session.buildResponse(transaction.request, 487));
      } catch (err) {
        log.warn({ err, callId: this.#session.callId }, 'could not answer a pending request');
      }
    }
    this.#pendingInvite = undefined;
  }
}
