/**
 * One call of the test phone, what both directions share: the dialog and its in-dialog requests in either
 * direction, hold/resume, session-timer refreshes, INFO, BYE, and the werift media behind it. The initial INVITE
 * lives in the subclasses (outgoing-call.ts as UAC, incoming-call.ts as UAS). The behaviour is JsSIP 3.x's
 * RTCSession.js, re-stated; the RFC 3261 / 4028 / 3264 sections are cited where they decide a branch.
 *
 * Every public operation resolves on the final response (or the ACK it waits for) and rejects with a
 * TestPhoneError: PHONE_REJECTED with `status`/`reason`, PHONE_TIMEOUT, PHONE_STATE, PHONE_CLOSED.
 */
import type { SipRequest, SipResponse } from '../../src/signaling/message.ts';
import { contentType, cseq, topVia } from '../../src/signaling/header-accessors.ts';
import { buildReply, dtmfRelayBody, parseDtmfRelay, T2, type HeaderList, type ReplySpec } from './jssip-wire.ts';
import { SessionTimer } from './session-timer.ts';
import { AckWaiter } from './ack-waiter.ts';
import { MediaEndpoint, type SendOptions, type Sending } from './media-endpoint.ts';
import type { AudioStats } from './audio-meter.ts';
import type { PhoneContext } from './phone-context.ts';
import { DialogRequests } from './dialog-requests.ts';
import { PhoneEvents } from './phone-events.ts';
import { contactUri, type SipDialog } from './sip-dialog.ts';
import { isHoldOffer, mangleOffer } from './sdp-hold.ts';
import { deferred, rejected, TestPhoneError, withTimeout } from './phone-errors.ts';

export type CallState = 'calling' | 'early' | 'incoming' | 'waiting-ack' | 'confirmed' | 'ended';
export type EndedBy = 'local' | 'remote' | 'system';

export type CallEvents = {
  /** A provisional response (outgoing) or one we sent (incoming). */
  progress: [status: number, response: SipResponse | undefined];
  /** The 2xx to the initial INVITE was received (outgoing) or sent (incoming). */
  accepted: [];
  /** The ACK for it was sent (outgoing) or received (incoming). */
  confirmed: [];
  ended: [by: EndedBy, reason: string];
  reinvite: [request: SipRequest];
  update: [request: SipRequest];
  info: [info: { contentType: string | undefined; body: string; request: SipRequest }];
  dtmf: [dtmf: { tone: string; duration: number | undefined }];
  hold: [originator: 'local' | 'remote'];
  unhold: [originator: 'local' | 'remote'];
};

export interface CallEnd {
  by: EndedBy;
  reason: string;
}

export abstract class TestCall extends PhoneEvents<CallEvents> {
  abstract readonly direction: 'outgoing' | 'incoming';
  readonly callId: string;
  readonly media: MediaEndpoint;
  /** Resolves (never rejects) when the call ended, after its media closed. */
  readonly ended: Promise<CallEnd>;
  readonly infoReceived: Array<{ contentType: string | undefined; body: string }> = [];
  readonly dtmfReceived: string[] = [];
  readonly counters = { okRetransmissionsReceived: 0, okRetransmissionsSent: 0 };
  /** werift errors behind a 488 we answered (for diagnosing a test). */
  readonly mediaErrors: unknown[] = [];
  state: CallState;
  dialog: SipDialog | undefined;
  localHold = false;
  remoteHold = false;
  /** RFC 4028 session interval and whether this side refreshes. */
  readonly sessionTimer = new SessionTimer();
  endedBy: CallEnd | undefined;
  protected readonly phone: PhoneContext;
  /** Requests we send inside the dialog (dialog-requests.ts). */
  protected readonly requests: DialogRequests;
  /** Our Contact for this call: with `;ob` when we call (RTCSession.connect), without when called. */
  protected readonly contact: string;
  readonly #ended = deferred<CallEnd>();
  #awaitingAck: AckWaiter | undefined;
  #uacPending = false;
  #uasPending = false;
  #lastInviteBranch: string | null | undefined;

  protected constructor(phone: PhoneContext, media: MediaEndpoint, callId: string, state: CallState, contact: string) {
    super();
    this.phone = phone;
    this.media = media;
    this.callId = callId;
    this.state = state;
    this.contact = contact;
    this.ended = this.#ended.promise;
    this.requests = new DialogRequests(phone, () => this.dialog);
  }

  /** The key the phone files the call under: Call-ID and our tag. */
  abstract get key(): string;

  get audio(): AudioStats {
    return this.media.audio;
  }

  /** Waits until `check(audio)` holds; a number means "at least that many packets received in total". */
  waitForAudio(check: number | ((audio: AudioStats) => boolean), timeoutMs = 5000): Promise<void> {
    const predicate = typeof check === 'number' ? (a: AudioStats) => a.packetsReceived >= check : check;
    return this.media.meter.until(predicate, timeoutMs, 'audio');
  }

  /** Resolves once no RTP arrived for `quietMs` (the peer holds or stopped). */
  waitForSilence(quietMs = 200, timeoutMs = 5000): Promise<void> {
    return this.media.meter.silence(quietMs, timeoutMs);
  }

  startSending(options?: SendOptions): Sending {
    return this.media.startSending(options);
  }

  stopSending(): void {
    this.media.stopSending();
  }

  /** re-INVITE with `a=sendonly` (RFC 3264 §8.4); resolves on the 2xx. */
  hold(): Promise<SipResponse> {
    return this.#reoffer(true);
  }

  /** re-INVITE with `a=sendrecv`; resolves on the 2xx. */
  resume(): Promise<SipResponse> {
    return this.#reoffer(false);
  }

  /** RFC 4028 refresh: UPDATE without SDP (JsSIP's refreshMethod default) or a re-INVITE with a fresh offer. */
  async refresh(method: 'UPDATE' | 'INVITE' = 'UPDATE'): Promise<SipResponse> {
    if (method === 'INVITE') return this.#reoffer(this.localHold);
    this.#requireState(['confirmed'], 'refresh');
    const response = await this.requests.send('UPDATE', [['Contact', this.contact], this.sessionTimer.header()]);
    if (response.status >= 300) throw rejected(response.status, response.reason, 'UPDATE');
    this.sessionTimer.fromResponse(response);
    return response;
  }

  /** INFO application/dtmf-relay as RTCSession.sendDTMF({ transportType: 'INFO' }) sends it. */
  async sendInfoDtmf(tone: string, options: { duration?: number } = {}): Promise<SipResponse> {
    const signal = tone.toUpperCase();
    if (!/^[0-9A-DR#*]$/.test(signal)) throw new TestPhoneError('PHONE_STATE', `invalid DTMF tone "${tone}"`);
    return this.sendInfo('application/dtmf-relay', dtmfRelayBody(signal, options.duration ?? 160));
  }

  async sendInfo(type: string, body: string): Promise<SipResponse> {
    this.#requireState(['early', 'waiting-ack', 'confirmed'], 'INFO');
    const response = await this.requests.send('INFO', [['Content-Type', type]], body);
    if (response.status >= 300) throw rejected(response.status, response.reason, 'INFO');
    return response;
  }

  /**
   * Ends the call: BYE once confirmed (after the ACK when our 2xx still waits for it, RFC 3261 §15), CANCEL or
   * a final response before (subclasses). The call counts as ended at once, as in JsSIP; the promise resolves
   * with the BYE's final response.
   */
  async hangup(): Promise<SipResponse | undefined> {
    this.#requireState(['waiting-ack', 'confirmed'], 'hangup');
    if (this.state === 'waiting-ack' && this.#awaitingAck) {
      await withTimeout(this.#awaitingAck.done.promise, this.phone.timeoutMs, 'ACK before BYE').catch(() => {});
      if ((this.state as CallState) === 'ended') return undefined;
    }
    const bye = this.requests.send('BYE', []);
    this.finish('local', 'BYE');
    return bye;
  }

  /** Ends the call locally without signalling (phone closed, transport lost). */
  destroy(by: EndedBy, reason: string): void {
    this.finish(by, reason);
  }

  /** An in-dialog request routed here by the phone (dialog ID matched, §12.2.2). */
  handleRequest(request: SipRequest): void {
    if (this.dialog && !this.dialog.acceptRemoteCseq(request)) {
      if (request.method !== 'ACK') this.reply(request, 500);
      return;
    }
    if (request.method === 'INVITE') this.#lastInviteBranch = topVia(request).params.get('branch');
    switch (request.method) {
      case 'ACK': return this.#onAck(request);
      case 'BYE': return this.onBye(request);
      case 'INVITE': return void this.#onReinvite(request).catch((error) => this.#internalError(request, error));
      case 'UPDATE': return void this.#onUpdate(request).catch((error) => this.#internalError(request, error));
      case 'INFO': return this.#onInfo(request);
      // §9.2: a CANCEL of a re-INVITE; ours are answered at once, so it only gets its 200 (481 if unknown).
      case 'CANCEL': return this.reply(request, topVia(request).params.get('branch') === this.#lastInviteBranch ? 200 : 481);
      default: return this.reply(request, 501);
    }
  }

  protected onBye(request: SipRequest): void {
    if (this.state === 'confirmed' || this.state === 'waiting-ack') {
      this.reply(request, 200);
      this.finish('remote', 'BYE');
    } else {
      this.reply(request, 403, { reason: 'Wrong Status' });
    }
  }

  protected reply(request: SipRequest, status: number, spec: ReplySpec = {}): void {
    try {
      this.phone.send(buildReply(request, status, { ...spec, ...(this.dialog ? { toTag: this.dialog.localTag } : {}) }));
    } catch {
      // The transport closed; the phone ends the call.
    }
  }

  /** Sends our 2xx to an INVITE and keeps sending it until the ACK (ack-waiter.ts); resolves on the ACK. */
  protected send2xxUntilAck(request: SipRequest, spec: ReplySpec, lateOffer: boolean): Promise<void> {
    const response = buildReply(request, 200, { ...spec, ...(this.dialog ? { toTag: this.dialog.localTag } : {}) });
    this.phone.send(response);
    this.state = 'waiting-ack';
    this.#awaitingAck?.stop();
    const waiter = new AckWaiter(cseq(request).seq, lateOffer, () => {
      this.phone.send(response);
      this.counters.okRetransmissionsSent++;
    }, () => {
      this.#awaitingAck = undefined;
      void this.requests.send('BYE', []).catch(() => {});
      this.finish('remote', 'no ACK');
    });
    this.#awaitingAck = waiter;
    return waiter.done.promise;
  }

  protected finish(by: EndedBy, reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endedBy = { by, reason };
    if (this.#awaitingAck) this.#awaitingAck.done.reject(new TestPhoneError('PHONE_CLOSED', `call ended (${reason}) before the ACK`));
    this.#clearAwaitingAck();
    this.phone.release(this.key);
    this.media.stopSending();
    this.emit('ended', by, reason);
    // INVITE transactions stay open a little: a late 2xx retransmission must still be ACKed (§13.2.2.4).
    setTimeout(() => this.requests.closeTransactions(), 2 * T2).unref();
    void this.media.close().then(() => this.#ended.resolve({ by, reason }));
  }

  #requireState(allowed: CallState[], what: string): void {
    if (!allowed.includes(this.state)) throw new TestPhoneError('PHONE_STATE', `${what} not allowed in state ${this.state}`);
  }

  #clearAwaitingAck(): void {
    this.#awaitingAck?.stop();
    this.#awaitingAck = undefined;
  }

  async #reoffer(hold: boolean): Promise<SipResponse> {
    this.#requireState(['confirmed'], hold ? 'hold' : 'resume');
    if (this.#uacPending || this.#uasPending) throw new TestPhoneError('PHONE_STATE', 'another offer/answer exchange is in progress');
    this.#uacPending = true;
    const previous = this.localHold;
    try {
      this.localHold = hold;
      const offer = mangleOffer(await this.media.createOffer(), this.localHold, this.remoteHold);
      const response = await this.requests.reinvite(offer, [['Contact', this.contact], ['Content-Type', 'application/sdp'], this.sessionTimer.header()]);
      if (response.status >= 300) {
        this.localHold = previous;
        await this.media.rollback();
        throw rejected(response.status, response.reason, 're-INVITE');
      }
      this.sessionTimer.fromResponse(response);
      if (response.body.length === 0) throw new TestPhoneError('PHONE_PROTOCOL', '2xx to our re-INVITE offer has no SDP answer');
      await this.media.applyAnswer(response.body.toString('utf8'));
      if (hold !== previous) this.emit(hold ? 'hold' : 'unhold', 'local');
      return response;
    } catch (error) {
      this.localHold = previous;
      throw error;
    } finally {
      this.#uacPending = false;
    }
  }

  #onAck(request: SipRequest): void {
    const waiting = this.#awaitingAck;
    if (!waiting || cseq(request).seq !== waiting.seq) return; // an ACK for a non-2xx, or a duplicate
    this.#clearAwaitingAck();
    this.state = 'confirmed';
    if (waiting.lateOffer) {
      // §13.2.1: the answer to the offer in our 2xx comes in the ACK.
      if (request.body.length === 0) {
        waiting.done.reject(new TestPhoneError('PHONE_PROTOCOL', 'ACK without the SDP answer to our offer'));
        void this.requests.send('BYE', [['Reason', 'SIP ;cause=400; text="Missing SDP"']]).catch(() => {});
        this.finish('local', 'missing SDP in ACK');
        return;
      }
      this.media.applyAnswer(request.body.toString('utf8')).then(() => waiting.done.resolve(), (error) => waiting.done.reject(error));
    } else {
      waiting.done.resolve();
    }
    this.emit('confirmed');
  }

  /** §14.2 UAS side of a re-INVITE; JsSIP answers 403 outside the confirmed state and 491 on glare. */
  async #onReinvite(request: SipRequest): Promise<void> {
    if (this.state !== 'confirmed') return this.reply(request, 403, { reason: 'Wrong Status' });
    if (this.#uacPending) return this.reply(request, 491);
    if (this.#uasPending) return this.reply(request, 500, { headers: [['Retry-After', String(1 + Math.floor(Math.random() * 10))]] });
    this.#uasPending = true;
    try {
      this.emit('reinvite', request);
      const sdp = await this.#answerInDialogOffer(request);
      if (sdp === undefined) return;
      const headers: HeaderList = [['Contact', this.contact], this.sessionTimer.fromRequest(request)];
      if (request.headers.has('contact')) this.dialog!.remoteTarget = contactUri(request);
      const acked = this.send2xxUntilAck(request, { headers, body: sdp.body }, sdp.late);
      this.#uasPending = false;
      await acked.catch(() => {});
    } finally {
      this.#uasPending = false;
    }
  }

  async #onUpdate(request: SipRequest): Promise<void> {
    if (this.state !== 'confirmed') return this.reply(request, 403, { reason: 'Wrong Status' });
    const withSdp = request.body.length > 0;
    if (withSdp && this.#uacPending) return this.reply(request, 491);
    if (withSdp && this.#uasPending) return this.reply(request, 500, { headers: [['Retry-After', String(1 + Math.floor(Math.random() * 10))]] });
    this.#uasPending = withSdp;
    try {
      this.emit('update', request);
      const sdp = withSdp ? await this.#answerInDialogOffer(request) : { body: '', late: false };
      if (sdp === undefined) return;
      const headers: HeaderList = [['Contact', this.contact], this.sessionTimer.fromRequest(request)];
      this.reply(request, 200, { headers, ...(sdp.body ? { body: sdp.body } : {}) });
    } finally {
      this.#uasPending = false;
    }
  }

  /**
   * The SDP for our 2xx to an in-dialog offer (JsSIP _processInDialogSdpOffer), or undefined when the request
   * was answered with an error already. No body: a re-INVITE asking for our offer (§14.2).
   */
  async #answerInDialogOffer(request: SipRequest): Promise<{ body: string; late: boolean } | undefined> {
    if (request.body.length === 0) {
      if (this.remoteHold) {
        this.remoteHold = false;
        this.emit('unhold', 'remote');
      }
      return { body: mangleOffer(await this.media.createOffer(), this.localHold, this.remoteHold), late: true };
    }
    const type = contentType(request);
    if (type === undefined || `${type.type}/${type.subtype}` !== 'application/sdp') {
      this.reply(request, 415);
      return undefined;
    }
    const offer = request.body.toString('utf8');
    let answer: string;
    try {
      answer = await this.media.createAnswer(offer);
    } catch (error) {
      this.mediaErrors.push(error);
      this.reply(request, 488);
      return undefined;
    }
    const hold = isHoldOffer(offer);
    if (hold !== this.remoteHold) {
      this.remoteHold = hold;
      this.emit(hold ? 'hold' : 'unhold', 'remote');
    }
    return { body: answer, late: false };
  }

  #onInfo(request: SipRequest): void {
    if (this.state === 'ended' || this.state === 'calling') return this.reply(request, 403, { reason: 'Wrong Status' });
    const type = contentType(request);
    if (type === undefined) return this.reply(request, 415);
    const mime = `${type.type}/${type.subtype}`;
    const body = request.body.toString('utf8');
    this.reply(request, 200);
    this.infoReceived.push({ contentType: mime, body });
    this.emit('info', { contentType: mime, body, request });
    if (mime === 'application/dtmf-relay') {
      const dtmf = parseDtmfRelay(body);
      if (dtmf) {
        this.dtmfReceived.push(dtmf.tone);
        this.emit('dtmf', dtmf);
      }
    }
  }

  #internalError(request: SipRequest, error: unknown): void {
    if (this.state !== 'ended') this.reply(request, 500, { reason: (error as Error).message.replace(/[\r\n]/g, ' ').slice(0, 80) });
  }
}
