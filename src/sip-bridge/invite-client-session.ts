/**
 * The gateway sending an INVITE (RFC 3261 §13.2): early dialogs per fork (§12.1.2), the 2xx ACKed by us — again
 * for each retransmission (§13.2.2.4) — and a second fork's 2xx ACKed and BYEd at once; 401/407 answered with
 * credentials and 422 with a longer Session-Expires (same Call-ID and From tag, CSeq + 1, new branch); CANCEL held
 * until a provisional arrived (§9.1), the CANCEL/2xx race (the 2xx ACKed, then BYE, the session `cancelled`);
 * Timer B and transport errors reported as `failed` so the owner can answer its own side 408/503 at once.
 */
import { createRequest, type SipRequest, type SipResponse } from '../signaling/message.ts';
import { Headers } from '../signaling/headers.ts';
import type { SipStack } from '../signaling/sip-stack.ts';
import type { Channel, TransportError } from '../signaling/transport.ts';
import type { ChannelTarget } from '../signaling/transport-layer.ts';
import type { InviteClientTransaction } from '../signaling/transaction/invite-client-transaction.ts';
import { buildCancel } from '../signaling/transaction/cancel.ts';
import { Dialog, newCallId, newTag, tagOf } from './dialog.ts';
import { InviteSession, type InviteSessionEvents, type SessionOptions } from './invite-session.ts';
import { SessionError } from './session-error.ts';
import { sdpOf } from './session-body.ts';
import { Challenges, mergeHeaders } from './session-request.ts';
import { formatSessionExpires, negotiatedFromResponse, readMinSE } from './session-timer.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'invite-client-session' });

export type ClientSessionEvents = InviteSessionEvents & {
  /** A 101–199 (with a To tag: an early dialog; 183 with SDP: early media). Not emitted after cancel(). */
  provisional: [response: SipResponse];
  /** The 2xx: the dialog is confirmed and ACKed (offerless INVITE: with the owner's `ackSdp` answer). */
  accepted: [response: SipResponse];
  /** A final 3xx–6xx (after any auth/422 retry). Not emitted after cancel(): the session ends `cancelled`. */
  rejected: [response: SipResponse];
  /** No final response (Timer B) or the INVITE could not be sent: answer the other side 408 / 503. */
  failed: [reason: 'timeout' | 'transport', error: SessionError];
};

export interface ClientSessionOptions extends SessionOptions {
  requestUri: string;
  /** From without tag (`"Alice" <sip:alice@gw.example>`); the session adds its tag. */
  from: string;
  to: string;
  /** Our Contact (name-addr). */
  contact: string;
  /** A flow to send over (a browser's WebSocket); or `target`, resolved through `stack.channelFor`. */
  channel?: Channel;
  target?: ChannelTarget;
  /** The offer; without it the INVITE is offerless and `ackSdp` must answer the 2xx's offer. */
  sdp?: string;
  headers?: ReadonlyArray<readonly [string, string]>;
  callId?: string;
  fromTag?: string;
  ackSdp?: (response: SipResponse) => string | Promise<string>;
}

/** RFC 3326 Reason for the CANCEL: `SIP;cause=200;text="Call completed elsewhere"` (RFC 3326 §2). */
export interface CancelReason {
  protocol?: 'SIP' | 'Q.850';
  cause: number;
  text?: string;
}

export function formatReason(reason: CancelReason): string {
  const text = reason.text === undefined ? '' : `;text="${reason.text.replace(/["\\\r\n]/g, ' ')}"`;
  return `${reason.protocol ?? 'SIP'};cause=${reason.cause}${text}`;
}

export class InviteClientSession extends InviteSession<ClientSessionEvents> {
  readonly role = 'uac' as const;
  readonly #options: ClientSessionOptions;
  readonly #challenges: Challenges | undefined;
  readonly #early = new Map<string, Dialog>();
  /** ACKs sent to 2xx of other forks (their retransmissions get the same ACK, not another BYE). */
  readonly #forkAcks = new Map<string, SipRequest>();
  #cseq = 0;
  #invite: SipRequest | undefined;
  #tx: InviteClientTransaction | undefined;
  #inviteChannel: Channel | undefined;
  #provisional = false;
  #confirmedTag: string | undefined;
  #ack: SipRequest | undefined;
  #cancel: { reason: string | undefined; sent: boolean } | undefined;
  #replace: Array<readonly [string, string]> = [];
  #tooSmallRetried = false;

  constructor(stack: SipStack, options: ClientSessionOptions) {
    super(stack, { callId: options.callId ?? newCallId(), localTag: options.fromTag ?? newTag(), localContact: options.contact, state: 'idle', options });
    if ((options.channel === undefined) === (options.target === undefined)) {
      throw new SessionError('SIP_SESSION_OPTIONS', 'give exactly one of channel or target');
    }
    if (options.sdp === undefined && options.ackSdp === undefined) {
      throw new SessionError('SIP_SESSION_OPTIONS', 'an offerless INVITE needs ackSdp to answer the offer in the 2xx');
    }
    this.#options = options;
    this.fixedChannel = options.channel;
    this.target = options.target;
    this.#challenges = options.credentials === undefined ? undefined : new Challenges(options.credentials);
  }

  /** The INVITE last sent (after an auth or 422 retry: the retry). */
  get invite(): SipRequest | undefined {
    return this.#invite;
  }

  /** Early dialogs, one per fork that sent a 1xx with a To tag. */
  get earlyDialogs(): readonly Dialog[] {
    return [...this.#early.values()];
  }

  /** Sends the INVITE; everything that follows is reported through events. */
  start(): void {
    if (this.state !== 'idle') throw new SessionError('SIP_SESSION_STATE', `start() in state ${this.state}`);
    this.setState('calling');
    this.table.addUac(this.callId, this.localTag, this);
    if (this.#options.sdp !== undefined) {
      this.noteOffer('local');
      this.noteSdp(this.#options.sdp, undefined);
    }
    const channel = this.fixedChannel !== undefined ? Promise.resolve(this.fixedChannel) : this.stack.channelFor(this.target!);
    channel.then(
      (resolved) => {
        if (this.terminated) return; // cancelled or closed while resolving
        this.#inviteChannel = resolved;
        this.#send();
      },
      (error: unknown) => this.#failed('transport', new SessionError('SIP_SESSION_TRANSPORT', `no channel for the INVITE: ${(error as Error).message}`, { status: 503, cause: error })),
    ).catch((err: unknown) => log.error({ err, callId: this.callId }, 'starting the INVITE failed'));
  }

  /**
   * §9.1: a CANCEL for the pending INVITE — now if a provisional arrived, else when one does ("the client MUST
   * wait for the arrival of a provisional response before sending the request"). The session ends `cancelled`
   * with the 487 (or with the 2xx that crossed the CANCEL, which is ACKed and BYEd). Nothing to do once confirmed.
   */
  cancel(reason?: CancelReason): void {
    if (this.terminated || this.#confirmedTag !== undefined || this.#cancel !== undefined) return;
    this.#cancel = { reason: reason === undefined ? undefined : formatReason(reason), sent: false };
    if (this.#tx === undefined) {
      this.endSession('cancelled');
      return;
    }
    if (this.#provisional) this.#sendCancel();
  }

  terminate(options: { status?: number; reason?: string } = {}): void {
    if (this.terminated) return;
    if (this.state === 'idle' || this.state === 'calling' || this.state === 'early') {
      this.cancel(options.status === undefined ? undefined : { cause: options.status, ...(options.reason === undefined ? {} : { text: options.reason }) });
    } else {
      void this.bye();
    }
  }

  // ---- the INVITE ------------------------------------------------------------------------------------------

  #buildInvite(): SipRequest {
    const o = this.#options;
    const headers: Array<readonly [string, string]> = [
      ['Max-Forwards', '70'],
      ['From', `${o.from};tag=${this.localTag}`],
      ['To', o.to],
      ['Call-ID', this.callId],
      ['CSeq', `${++this.#cseq} INVITE`],
      ['Contact', o.contact],
      ['Allow', this.stack.allow.join(', ')],
      ['Supported', this.supportedTags().join(', ')],
    ];
    const timer = this.timerConfig;
    if (timer !== undefined) {
      // RFC 4028 §7.1: ask for a session timer; the UAS may lower it (not below Min-SE) and pick the refresher.
      headers.push(['Session-Expires', formatSessionExpires(timer.interval, timer.refresher)], ['Min-SE', String(timer.minSE)]);
    }
    if (this.userAgent !== undefined) headers.push(['User-Agent', this.userAgent]);
    const merged = mergeHeaders(mergeHeaders(headers, o.headers ?? []), this.#replace);
    const body = o.sdp === undefined ? Buffer.alloc(0) : Buffer.from(o.sdp, 'utf8');
    if (body.length > 0) merged.push(['Content-Type', 'application/sdp']);
    const invite = createRequest('INVITE', o.requestUri, new Headers(merged), body);
    if (this.#challenges) for (const [name, value] of this.#challenges.headersFor(invite)) invite.headers.append(name, value);
    return invite;
  }

  #send(): void {
    let invite: SipRequest;
    try {
      invite = this.#buildInvite();
    } catch (error) {
      this.#failed('transport', new SessionError('SIP_SESSION_REQUEST', `cannot build the INVITE: ${(error as Error).message}`, { status: 500, cause: error }));
      return;
    }
    this.#invite = invite;
    this.#provisional = false;
    let tx: InviteClientTransaction | undefined;
    try {
      tx = this.stack.transactions.sendRequest(invite, this.#inviteChannel!, {
        onResponse: (response) => this.#onResponse(response, invite, tx),
        onTimeout: () => this.#onTimeout(tx),
        onTransportError: (error) => this.#onTransportError(tx, error),
      }) as InviteClientTransaction;
    } catch (error) {
      this.#failed('transport', new SessionError('SIP_SESSION_TRANSPORT', `the INVITE could not be sent: ${(error as Error).message}`, { status: 503, cause: error }));
      return;
    }
    // A synchronous transport failure may have ended things inside sendRequest.
    if (!this.terminated) this.#tx = tx;
  }

  #onResponse(response: SipResponse, invite: SipRequest, tx: InviteClientTransaction | undefined): void {
    if (response.status < 200) this.#onProvisional(response, invite, tx);
    else if (response.status < 300) this.#on2xx(response, invite);
    else this.#onFinalFailure(response, tx);
  }

  #onProvisional(response: SipResponse, invite: SipRequest, tx: InviteClientTransaction | undefined): void {
    if (tx !== undefined && this.#tx !== undefined && tx !== this.#tx) return;
    this.#provisional = true;
    if (this.#cancel !== undefined && !this.#cancel.sent) this.#sendCancel();
    if (response.status === 100 || this.terminated || this.#confirmedTag !== undefined) return;
    const tag = tagOf(response.headers.get('to'));
    if (tag !== undefined) {
      const key = tag.toLowerCase();
      const existing = this.#early.get(key);
      try {
        if (existing === undefined) {
          const dialog = Dialog.fromUac(invite, response, this.localContact);
          this.#early.set(key, dialog);
          this.table.addDialog(this.callId, this.localTag, tag, this);
        } else {
          existing.updateFromResponse(response);
        }
      } catch (error) {
        log.info({ err: error, callId: this.callId }, 'provisional response without a usable dialog');
      }
      this.setState('early');
    }
    if (this.#cancel !== undefined) return;
    this.emit('provisional', response);
  }

  /** §13.2.2.4: every 2xx is ACKed; the first confirms the session, the others are other forks (ACK + BYE). */
  #on2xx(response: SipResponse, invite: SipRequest): void {
    const tag = tagOf(response.headers.get('to'))?.toLowerCase();
    if (tag === undefined) {
      log.warn({ callId: this.callId }, '2xx to INVITE without a To tag: dropped');
      return;
    }
    if (this.#confirmedTag === tag) {
      if (this.#ack !== undefined) this.outgoing.sendAck(this.#ack);
      return;
    }
    if (this.#confirmedTag !== undefined || this.terminated || this.#cancel !== undefined) {
      // Another fork, a 2xx after we gave up, or the CANCEL/2xx race (§9.1: "the CANCEL … has no effect" on an
      // answered INVITE): the UAS holds a confirmed dialog we do not want — ACK it and end it.
      this.#ackAndBye(response, invite, tag);
      if (!this.terminated && this.#confirmedTag === undefined) this.endSession('cancelled');
      return;
    }
    let dialog = this.#early.get(tag);
    try {
      if (dialog === undefined) dialog = Dialog.fromUac(invite, response, this.localContact);
      else dialog.updateFromResponse(response);
    } catch (error) {
      log.warn({ err: error, callId: this.callId }, 'unusable 2xx (no Contact): ACK and BYE it');
      this.#ackAndBye(response, invite, tag);
      this.emit('rejected', response);
      this.endSession('rejected');
      return;
    }
    this.#confirmedTag = tag;
    for (const [key, early] of this.#early) {
      if (key !== tag) this.table.deleteDialog(this.callId, this.localTag, early.remoteTag, this);
    }
    this.#early.clear();
    this.table.addDialog(this.callId, this.localTag, dialog.remoteTag, this);
    this.setDialog(dialog);
    this.setState('confirmed');
    this.noteAllow(response);
    const offered = this.#options.sdp !== undefined;
    this.noteOffer(undefined);
    this.noteSdp(undefined, sdpOf(response));
    if (this.timerConfig !== undefined) this.restartTimer(negotiatedFromResponse(response));
    const seq = this.#seqOf(invite);
    const sendAck = (answer: string | undefined): void => {
      const ack = dialog.createRequest('ACK', { cseq: seq, ...(answer === undefined ? {} : { body: answer }) });
      this.#ack = ack;
      this.outgoing.sendAck(ack, dialog);
    };
    if (offered) {
      sendAck(undefined);
      this.emit('accepted', response);
      return;
    }
    Promise.resolve()
      .then(() => this.#options.ackSdp!(response))
      .then(
        (answer) => {
          sendAck(answer);
          this.noteSdp(answer, undefined);
          if (!this.terminated) this.emit('accepted', response);
        },
        (error: unknown) => {
          // RFC 3264 leaves no way to refuse an offer in a 2xx but to ACK and then BYE.
          log.warn({ err: error, callId: this.callId }, 'no answer for the offer in the 2xx: ACK without one, then BYE');
          sendAck(undefined);
          void this.bye();
        },
      )
      .catch((err: unknown) => log.error({ err, callId: this.callId }, 'ACK for the 2xx failed'));
  }

  #ackAndBye(response: SipResponse, invite: SipRequest, tag: string): void {
    const previous = this.#forkAcks.get(tag);
    if (previous !== undefined) {
      this.outgoing.sendAck(previous, this.#early.get(tag));
      return;
    }
    let dialog: Dialog;
    try {
      dialog = Dialog.fromUac(invite, response, this.localContact);
    } catch {
      // No Contact: the ACK and BYE go to the Request-URI, the only target we know.
      const patched = { ...response, headers: response.headers.clone().set('Contact', `<${invite.uri}>`) };
      dialog = Dialog.fromUac(invite, patched, this.localContact);
    }
    // §13.2.2.4: "The ACK MUST contain the same credentials as the INVITE" (as late-fork.ts does after release).
    const credentials = ['Authorization', 'Proxy-Authorization'].flatMap((name) => invite.headers.getAll(name).map((value) => [name, value] as const));
    const ack = dialog.createRequest('ACK', { cseq: this.#seqOf(invite), headers: credentials });
    this.#forkAcks.set(tag, ack);
    this.outgoing.sendAck(ack, dialog);
    const bye = dialog.createRequest('BYE', this.userAgent === undefined ? {} : { headers: [['User-Agent', this.userAgent]] });
    this.channelForRequest(bye, dialog).then(
      (channel) => {
        try {
          this.stack.transactions.sendRequest(bye, channel, { onResponse: () => {}, onTimeout: () => {}, onTransportError: () => {} });
        } catch (err) {
          log.warn({ err, callId: this.callId }, 'could not BYE an unwanted 2xx');
        }
      },
      (err: unknown) => log.warn({ err, callId: this.callId }, 'no channel to BYE an unwanted 2xx'),
    );
  }

  #onFinalFailure(response: SipResponse, tx: InviteClientTransaction | undefined): void {
    if (tx !== undefined && tx !== this.#tx) return;
    this.#dropEarly();
    if (this.terminated || this.#confirmedTag !== undefined) return;
    if (this.#cancel !== undefined) {
      this.endSession('cancelled');
      return;
    }
    const status = response.status;
    if ((status === 401 || status === 407) && this.#challenges?.accept(response)) {
      this.#send();
      return;
    }
    if (status === 422 && this.timerConfig !== undefined && !this.#tooSmallRetried) {
      let min: number | undefined;
      try {
        min = readMinSE(response);
      } catch {
        min = undefined;
      }
      if (min !== undefined) {
        // RFC 4028 §7.4 (for the initial INVITE as for refreshes): retry with the Min-SE the 422 names.
        this.#tooSmallRetried = true;
        const interval = Math.max(min, this.timerConfig.interval);
        this.#replace = mergeHeaders(this.#replace, [['Session-Expires', formatSessionExpires(interval, this.timerConfig.refresher)], ['Min-SE', String(min)]]);
        this.#send();
        return;
      }
    }
    this.emit('rejected', response);
    this.endSession('rejected');
  }

  #onTimeout(tx: InviteClientTransaction | undefined): void {
    if (tx !== this.#tx || this.terminated || this.#confirmedTag !== undefined) return;
    if (this.#cancel !== undefined) this.endSession('cancelled');
    else this.#failed('timeout', new SessionError('SIP_SESSION_TIMEOUT', 'no final response to the INVITE (Timer B)', { status: 408 }));
  }

  #onTransportError(tx: InviteClientTransaction | undefined, error: TransportError): void {
    if ((tx !== undefined && tx !== this.#tx) || this.terminated || this.#confirmedTag !== undefined) return;
    if (this.#cancel !== undefined) this.endSession('cancelled');
    else this.#failed('transport', new SessionError('SIP_SESSION_TRANSPORT', `the INVITE could not be sent: ${error.message}`, { status: 503, cause: error }));
  }

  #failed(reason: 'timeout' | 'transport', error: SessionError): void {
    if (this.terminated) return;
    if (this.#cancel !== undefined) {
      this.endSession('cancelled');
      return;
    }
    this.emit('failed', reason, error);
    this.endSession(reason === 'timeout' ? 'timeout' : 'transport-error');
  }

  #sendCancel(): void {
    const tx = this.#tx;
    if (tx === undefined || this.#cancel === undefined || this.#cancel.sent) return;
    if (tx.state !== 'Calling' && tx.state !== 'Proceeding') return;
    this.#cancel.sent = true;
    const cancel = buildCancel(tx.request);
    if (this.#cancel.reason !== undefined) cancel.headers.append('Reason', this.#cancel.reason);
    try {
      // The CANCEL's own responses (200, or 481 when the INVITE is gone) change nothing: the INVITE's final does.
      this.stack.transactions.sendRequest(cancel, tx.channel, { onResponse: () => {}, onTimeout: () => {}, onTransportError: () => {} });
      // §9.1: no final response within 64*T1 after the CANCEL → the INVITE transaction is given up (our onTimeout).
      tx.cancelSent();
    } catch (err) {
      log.warn({ err, callId: this.callId }, 'could not send CANCEL');
    }
  }

  #dropEarly(): void {
    for (const early of this.#early.values()) this.table.deleteDialog(this.callId, this.localTag, early.remoteTag, this);
    this.#early.clear();
  }

  #seqOf(invite: SipRequest): number {
    return Number.parseInt(invite.headers.get('cseq') ?? '0', 10);
  }

  // ---- InviteSession hooks ---------------------------------------------------------------------------------

  protected override dialogFor(request: SipRequest): Dialog | undefined {
    const confirmed = super.dialogFor(request);
    if (confirmed !== undefined) return confirmed;
    const tag = tagOf(request.headers.get('from'))?.toLowerCase();
    const early = tag === undefined ? undefined : this.#early.get(tag);
    return early?.matchesRequest(request) ? early : undefined;
  }

  /** A BYE on one fork's early dialog (not allowed to the callee, §15, but seen) ends that dialog only. */
  override acceptBye(_request: SipRequest, dialog: Dialog): boolean {
    if (dialog === this.dialog) return true;
    this.table.deleteDialog(this.callId, this.localTag, dialog.remoteTag, this);
    this.#early.delete(dialog.remoteTag.toLowerCase());
    return false;
  }

  override receiveStrayResponse(response: SipResponse): void {
    const seq = Number.parseInt(response.headers.get('cseq') ?? '', 10);
    if (this.#invite !== undefined && seq === this.#seqOf(this.#invite) && response.status >= 200 && response.status < 300) {
      this.#on2xx(response, this.#invite);
      return;
    }
    super.receiveStrayResponse(response);
  }

  /** A sent INVITE must not stay in Proceeding (no timer there): CANCEL it. Not sent yet: nothing will be. */
  protected closePending(): void {
    if ((this.state === 'calling' || this.state === 'early') && this.#tx !== undefined) this.cancel();
  }

  protected releaseEntries(): void {
    this.table.deleteUac(this.callId, this.localTag, this);
    this.#dropEarly();
    const dialog = this.dialog;
    if (dialog !== undefined) this.table.deleteDialog(this.callId, this.localTag, dialog.remoteTag, this);
  }
}
