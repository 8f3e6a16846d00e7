/**
 * A call the test phone places: the initial INVITE as a UAC, as JsSIP's RTCSession.connect and
 * _receiveInviteResponse do it — the offer gathered before sending, provisional responses with a To tag opening an
 * early dialog, an SDP in a 1xx applied as the answer (early media), the 2xx applied and ACKed (its
 * retransmissions re-ACKed, a 2xx from another fork ACKed and BYEd), one 401/407 answered with credentials
 * (the 4xx ACKed by the transaction, CSeq + 1), and CANCEL before answer (sent on the first 1xx if none came yet).
 */
import type { SipRequest, SipResponse } from '../../src/signaling/message.ts';
import { cseq, fromTag, toTag } from '../../src/signaling/header-accessors.ts';
import { buildRequest, newTag, randomToken, SESSION_EXPIRES, type HeaderList } from './jssip-wire.ts';
import type { MediaEndpoint } from './media-endpoint.ts';
import type { PhoneContext } from './phone-context.ts';
import { SipDialog } from './sip-dialog.ts';
import { TestCall } from './test-call.ts';
import { deferred, rejected, TestPhoneError, withTimeout } from './phone-errors.ts';

export interface CallOptions {
  /** Resolve `phone.call()` at the first 1xx carrying SDP (early media) instead of at the 2xx. */
  early?: boolean;
  /** Limit for the 2xx (or the early answer); then the call is cancelled and `answered` rejects. Default 15 s. */
  answerTimeoutMs?: number;
  /** Extra headers after Session-Expires, e.g. [['X-Test', '1']]. */
  extraHeaders?: HeaderList;
  /** Replace the SDP offer before sending (mangling tests). */
  mangleOffer?: (sdp: string) => string;
}

/** `echo` → `sip:echo@<domain>`; a full SIP URI is kept. */
export function targetUri(target: string, domain: string): string {
  if (/^sips?:/i.test(target)) return target;
  return target.includes('@') ? `sip:${target}` : `sip:${target}@${domain}`;
}

export class OutgoingCall extends TestCall {
  readonly direction = 'outgoing' as const;
  readonly target: string;
  readonly localTag = newTag();
  /** Resolves on the 2xx (after the ACK went out); rejects with the final status or PHONE_TIMEOUT. */
  readonly answered: Promise<SipResponse>;
  /** Resolves at the first provisional response carrying SDP (early media). */
  readonly earlyMedia: Promise<SipResponse>;
  /** Every response to the initial INVITE, in arrival order. */
  readonly responses: SipResponse[] = [];
  /** The INVITE as last sent (after authentication, the second one). */
  invite: SipRequest | undefined;
  readonly #answered = deferred<SipResponse>();
  readonly #early = deferred<SipResponse>();
  readonly #final = deferred<SipResponse>();
  readonly #options: CallOptions;
  #challenged = false;
  #provisional = false;
  #cancelRequested = false;
  #cancelSent = false;

  private constructor(phone: PhoneContext, media: MediaEndpoint, target: string, options: CallOptions) {
    super(phone, media, randomToken(5) + randomToken(15), 'calling', `<${phone.identity.contactUri};ob>`);
    this.target = target;
    this.#options = options;
    this.answered = this.#answered.promise;
    this.earlyMedia = this.#early.promise;
  }

  /** Made by TestPhone.invite: gathers the offer, sends the INVITE, returns at once. */
  static start(phone: PhoneContext, media: MediaEndpoint, target: string, options: CallOptions = {}): OutgoingCall {
    const call = new OutgoingCall(phone, media, targetUri(target, phone.identity.domain), options);
    const limit = options.answerTimeoutMs ?? 15_000;
    const timer = setTimeout(() => call.#giveUp(limit), limit).unref();
    call.#answered.promise.finally(() => clearTimeout(timer)).catch(() => {});
    call.media.createOffer().then(
      (sdp) => call.#sendInvite((options.mangleOffer ?? ((s: string) => s))(sdp), undefined),
      (error) => call.#fail(error),
    );
    return call;
  }

  get key(): string {
    return `${this.callId}|${this.localTag}`;
  }

  /** Before the final response: CANCEL (§9.1), resolving with the INVITE's final response (487 normally). */
  override async hangup(): Promise<SipResponse | undefined> {
    if (this.state !== 'calling' && this.state !== 'early') return super.hangup();
    if (this.#cancelRequested) throw new TestPhoneError('PHONE_STATE', 'CANCEL already requested');
    this.#cancelRequested = true;
    // JsSIP: a CANCEL may only follow a provisional response (§9.1); without one it is sent when the first arrives.
    if (this.#provisional) this.#sendCancel();
    const final = await withTimeout(this.#final.promise, this.phone.timeoutMs + 2000, 'final response after CANCEL');
    this.finish('local', 'CANCEL');
    return final;
  }

  #sendInvite(offer: string, credentials: [string, string] | undefined): void {
    if (this.state === 'ended') return;
    const identity = this.phone.identity;
    const headers: HeaderList = [
      ...(credentials ? [credentials] : []),
      ['Contact', this.contact],
      ['Content-Type', 'application/sdp'],
      ['Session-Expires', String(SESSION_EXPIRES)],
      ...(this.#options.extraHeaders ?? []),
    ];
    const from = identity.displayName === undefined ? `<${identity.aor}>` : `"${identity.displayName}" <${identity.aor}>`;
    const request = buildRequest({
      method: 'INVITE', uri: this.target, via: this.phone.newVia().via, to: `<${this.target}>`, from: `${from};tag=${this.localTag}`,
      callId: this.callId,
      cseq: this.invite ? cseq(this.invite).seq + 1 : Math.floor(Math.random() * 10000),
      headers, body: offer, userAgent: identity.userAgent,
    });
    this.invite = request;
    try {
      this.requests.track(this.phone.sendInvite(request, (response) => this.#onResponse(request, offer, response)));
    } catch (error) {
      this.#fail(error);
    }
  }

  #onResponse(request: SipRequest, offer: string, response: SipResponse): void {
    if (request !== this.invite) return; // a late response to the challenged INVITE
    this.responses.push(response);
    const status = response.status;
    // A 2xx once the dialog is confirmed: a retransmission (re-ACK) or another fork (ACK and BYE).
    if (status >= 200 && status < 300 && this.dialog?.state === 'confirmed') {
      if (toTag(response) === this.dialog.remoteTag) {
        this.counters.okRetransmissionsReceived++;
        this.#sendAck(request);
      } else {
        this.#ackAndByeFork(request, response);
      }
      return;
    }
    if ((status === 401 || status === 407) && !this.#challenged && !this.#cancelRequested) {
      const answer = this.phone.credentials(response, 'INVITE', request.uri);
      if (answer) {
        this.#challenged = true;
        this.#provisional = false;
        this.#sendInvite(offer, answer.header);
        return;
      }
    }
    if (status >= 200) this.#final.resolve(response);
    if (this.#cancelRequested) return this.#onResponseWhileCancelling(request, response);
    if (status < 200) return this.#onProvisional(request, response);
    if (status < 300) return void this.#onSuccess(request, response);
    this.#fail(rejected(status, response.reason, 'INVITE'), 'remote', `${status} ${response.reason}`);
  }

  #onProvisional(request: SipRequest, response: SipResponse): void {
    this.#provisional = true;
    if (response.status === 100) return;
    // JsSIP ignores a 1xx without a To tag; one with a Contact opens (or refreshes) the early dialog.
    if (toTag(response) === undefined) return;
    if (response.headers.has('contact') && (!this.dialog || this.dialog.remoteTag !== toTag(response))) {
      this.dialog = SipDialog.asUac(request, response);
    }
    this.state = 'early';
    if (response.body.length === 0) {
      this.emit('progress', response.status, response);
      return;
    }
    this.media.applyAnswer(response.body.toString('utf8')).then(
      () => {
        this.emit('progress', response.status, response);
        this.#early.resolve(response);
      },
      (error) => this.#early.reject(error),
    );
  }

  async #onSuccess(request: SipRequest, response: SipResponse): Promise<void> {
    try {
      if (!this.dialog || this.dialog.remoteTag !== toTag(response)) this.dialog = SipDialog.asUac(request, response);
      else this.dialog.confirm(response);
      this.dialog.state = 'confirmed';
    } catch (error) {
      return this.#fail(error);
    }
    this.state = 'confirmed';
    if (response.body.length === 0) {
      // JsSIP _acceptAndTerminate: ACK, then BYE with the reason.
      this.#sendAck(request);
      void this.requests.send('BYE', [['Reason', 'SIP ;cause=400; text="Missing SDP"']]).catch(() => {});
      return this.#fail(new TestPhoneError('PHONE_PROTOCOL', '2xx to INVITE without SDP'), 'remote', 'missing SDP');
    }
    try {
      await this.media.applyAnswer(response.body.toString('utf8'));
    } catch (error) {
      this.#sendAck(request);
      void this.requests.send('BYE', [['Reason', 'SIP ;cause=488; text="Not Acceptable Here"']]).catch(() => {});
      return this.#fail(error, 'remote', 'bad SDP answer');
    }
    this.sessionTimer.fromResponse(response);
    this.emit('accepted');
    this.#sendAck(request);
    this.emit('confirmed');
    this.#answered.resolve(response);
    this.#early.reject(new TestPhoneError('PHONE_STATE', 'answered without early media'));
  }

  #onResponseWhileCancelling(request: SipRequest, response: SipResponse): void {
    if (response.status < 200) {
      this.#provisional = true;
      this.#sendCancel();
    } else if (response.status < 300) {
      // §15 / JsSIP: the 2xx won the race with our CANCEL — ACK it and end with BYE.
      try {
        this.dialog = SipDialog.asUac(request, response);
        this.#sendAck(request);
        void this.requests.send('BYE').catch(() => {});
      } catch { /* no dialog can be made: nothing to end */ }
      this.#answered.reject(new TestPhoneError('PHONE_STATE', 'cancelled'));
    } else {
      this.#answered.reject(rejected(response.status, response.reason, 'INVITE'));
    }
  }

  #sendCancel(): void {
    if (this.#cancelSent || !this.invite) return;
    this.#cancelSent = true;
    const invite = this.invite;
    const cancel = buildRequest({
      method: 'CANCEL', uri: invite.uri, via: invite.headers.get('via')!, to: invite.headers.get('to')!,
      from: invite.headers.get('from')!, callId: this.callId, cseq: cseq(invite).seq,
      routes: invite.headers.getAll('route'), userAgent: this.phone.identity.userAgent,
    });
    this.phone.sendRequest(cancel).catch(() => {});
  }

  /** §13.2.2.4: the ACK for a 2xx is built in the dialog, with the INVITE's CSeq number and a new branch. */
  #sendAck(request: SipRequest): void {
    if (!this.dialog) return;
    const ack = this.dialog.request('ACK', { via: this.phone.newVia().via, cseq: cseq(request).seq, userAgent: this.phone.identity.userAgent });
    try {
      this.phone.send(ack);
    } catch { /* transport closed */ }
  }

  #ackAndByeFork(request: SipRequest, response: SipResponse): void {
    try {
      const fork = SipDialog.asUac(request, response);
      const userAgent = this.phone.identity.userAgent;
      this.phone.send(fork.request('ACK', { via: this.phone.newVia().via, cseq: cseq(request).seq, userAgent }));
      this.phone.sendRequest(fork.request('BYE', { via: this.phone.newVia().via, userAgent })).catch(() => {});
    } catch { /* a fork without Contact or To tag cannot be ended */ }
  }

  #giveUp(limitMs: number): void {
    if (this.#answered.settled || this.state === 'ended') return;
    // Cancelled like hangup(): now if a provisional came, else on the first one.
    this.#cancelRequested = true;
    if (this.#provisional) this.#sendCancel();
    this.#fail(new TestPhoneError('PHONE_TIMEOUT', `INVITE to ${this.target}: no answer within ${limitMs} ms`), 'system', 'answer timeout');
  }

  #fail(error: unknown, by: 'local' | 'remote' | 'system' = 'system', reason?: string): void {
    this.#answered.reject(error);
    this.#early.reject(error);
    this.#final.reject(error);
    this.finish(by, reason ?? (error as Error).message);
  }

  protected override finish(by: 'local' | 'remote' | 'system', reason: string): void {
    // Whoever still waits for the answer learns the call is over (phone closed, transport lost, BYE early…).
    const error = new TestPhoneError('PHONE_CLOSED', `call ended before it was answered (${by}: ${reason})`);
    this.#answered.reject(error);
    this.#early.reject(error);
    this.#final.reject(error);
    super.finish(by, reason);
  }

  /** The From tag (ours) — for tests that build in-dialog requests by hand. */
  get fromTag(): string | undefined {
    return this.invite ? fromTag(this.invite) : undefined;
  }
}
