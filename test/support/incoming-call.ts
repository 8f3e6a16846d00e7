/**
 * A call the test phone receives: the initial INVITE as a UAS, as JsSIP's RTCSession.init_incoming / answer /
 * terminate do it — the dialog made with our
 * To tag, 180 on `ring()`, 200 with a werift answer on `answer()` retransmitted until the ACK, a late offer
 * (INVITE without SDP) answered with our offer and its answer taken from the ACK, `reject()` / hangup before
 * answer with a final response (JsSIP's default 480), CANCEL → 200 + 487, BYE before answer → 200 + 487.
 *
 * `ring({ status: 183, sdp: true })` is a test extension JsSIP lacks: early media from the called side, so a
 * phone can stand in for a gateway or trunk; the 200 then carries the same answer.
 */
import type { SipRequest, SipResponse } from '../../src/signaling/message.ts';
import { contentType, expires, fromTag, toTag, topVia } from '../../src/signaling/header-accessors.ts';
import { buildReply, newTag, type HeaderList } from './jssip-wire.ts';
import type { MediaEndpoint } from './media-endpoint.ts';
import type { PhoneContext } from './phone-context.ts';
import { SipDialog } from './sip-dialog.ts';
import { TestCall } from './test-call.ts';
import { TestPhoneError, withTimeout } from './phone-errors.ts';

export class IncomingCall extends TestCall {
  readonly direction = 'incoming' as const;
  readonly request: SipRequest;
  /** The offer of the INVITE, or undefined for a late-offer INVITE. */
  readonly offer: string | undefined;
  /** The answer sent in a 183, reused by the 200 (a promise, so an answer() right after ring() waits for it). */
  #earlyAnswer: Promise<string> | undefined;
  #expiresTimer: NodeJS.Timeout | undefined;

  private constructor(phone: PhoneContext, media: MediaEndpoint, request: SipRequest, dialog: SipDialog) {
    super(phone, media, dialog.callId, 'incoming', `<${phone.identity.contactUri}>`);
    this.request = request;
    this.dialog = dialog;
    this.offer = request.body.length > 0 ? request.body.toString('utf8') : undefined;
  }

  /**
   * Made by the phone for an INVITE without To tag, after its 100 Trying. Answers 415 (a body that is not SDP)
   * or 500 (no Contact) itself and returns undefined then.
   */
  static receive(phone: PhoneContext, makeMedia: () => MediaEndpoint, request: SipRequest): IncomingCall | undefined {
    const type = contentType(request);
    if (request.body.length > 0 && (type === undefined || `${type.type}/${type.subtype}` !== 'application/sdp')) {
      phone.send(buildReply(request, 415));
      return undefined;
    }
    const localTag = newTag();
    let dialog: SipDialog;
    try {
      dialog = SipDialog.asUas(request, localTag);
    } catch {
      phone.send(buildReply(request, 500, { reason: 'Missing Contact header field', toTag: localTag }));
      return undefined;
    }
    const call = new IncomingCall(phone, makeMedia(), request, dialog);
    // RFC 3261 §13.3.1: an INVITE with Expires is answered 487 when it runs out unanswered.
    const seconds = safe(() => expires(request));
    if (seconds !== undefined) {
      call.#expiresTimer = setTimeout(() => {
        if (call.state !== 'incoming') return;
        call.reply(request, 487);
        call.finish('system', 'Expires');
      }, seconds * 1000).unref();
    }
    return call;
  }

  get localTag(): string {
    return this.dialog!.localTag;
  }

  get key(): string {
    return `${this.callId}|${this.dialog!.localTag}`;
  }

  /** Same Call-ID, From tag and top-Via branch as our INVITE, no To tag: its CANCEL (§9.2) or a retransmission. */
  matchesTransaction(cancel: SipRequest): boolean {
    const branch = (msg: SipRequest): string | null | undefined => safe(() => topVia(msg).params.get('branch'));
    return cancel.headers.get('call-id') === this.callId && toTag(cancel) === undefined
      && safe(() => fromTag(cancel)) === this.dialog!.remoteTag && branch(cancel) === branch(this.request);
  }

  /** 180 Ringing with our Contact (JsSIP sends it by itself); `{ status: 183, sdp: true }` for early media. */
  async ring(options: { status?: 180 | 183; sdp?: boolean } = {}): Promise<void> {
    if (this.state !== 'incoming') throw new TestPhoneError('PHONE_STATE', `ring not allowed in state ${this.state}`);
    const status = options.status ?? 180;
    let body: string | undefined;
    if (options.sdp) {
      if (this.offer === undefined) throw new TestPhoneError('PHONE_STATE', 'early media needs an offer in the INVITE');
      this.#earlyAnswer ??= this.media.createAnswer(this.offer);
      body = await this.#earlyAnswer;
    }
    if (this.state !== 'incoming') return;
    this.reply(this.request, status, { headers: [['Contact', this.contact]], ...(body ? { body } : {}) });
    this.emit('progress', status, undefined);
  }

  /** 200 with a werift answer (or our offer, for a late offer); resolves when the ACK arrives. */
  async answer(options: { extraHeaders?: HeaderList } = {}): Promise<void> {
    if (this.state !== 'incoming') throw new TestPhoneError('PHONE_STATE', `answer not allowed in state ${this.state}`);
    this.state = 'waiting-ack';
    clearTimeout(this.#expiresTimer);
    let sdp: string;
    try {
      sdp = await (this.#earlyAnswer ?? (this.offer === undefined ? this.media.createOffer() : this.media.createAnswer(this.offer)));
    } catch (error) {
      this.reply(this.request, this.offer === undefined ? 500 : 488);
      this.finish('system', 'media');
      throw error;
    }
    if ((this.state as string) === 'ended') throw new TestPhoneError('PHONE_STATE', 'the call ended while answering');
    // JsSIP: Contact first, then the Session-Expires it chose (_handleSessionTimersInIncomingRequest).
    const headers: HeaderList = [['Contact', this.contact], this.sessionTimer.fromRequest(this.request), ...(options.extraHeaders ?? [])];
    this.dialog!.state = 'confirmed';
    const acked = this.send2xxUntilAck(this.request, { headers, body: sdp }, this.offer === undefined);
    this.emit('accepted');
    await withTimeout(acked, this.phone.timeoutMs, 'ACK for our 2xx');
  }

  /** A final non-2xx response (JsSIP terminate() before answer; default 486 here as a test would mean "busy"). */
  reject(status = 486, reason?: string): void {
    if (this.state !== 'incoming') throw new TestPhoneError('PHONE_STATE', `reject not allowed in state ${this.state}`);
    if (status < 300 || status > 699) throw new TestPhoneError('PHONE_STATE', `reject needs a final non-2xx status, not ${status}`);
    this.reply(this.request, status, reason === undefined ? {} : { reason });
    this.finish('local', `rejected ${status}`);
  }

  /** Before the answer: 480 as JsSIP's terminate(); after it: BYE. */
  override async hangup(): Promise<SipResponse | undefined> {
    if (this.state === 'incoming') {
      this.reject(480);
      return undefined;
    }
    return super.hangup();
  }

  /** §9.2: 200 to the CANCEL; 487 to the INVITE if it is still unanswered. */
  receiveCancel(cancel: SipRequest): void {
    this.phone.send(buildReply(cancel, 200));
    if (this.state !== 'incoming') return;
    this.reply(this.request, 487);
    this.finish('remote', 'CANCEL');
  }

  protected override onBye(request: SipRequest): void {
    if (this.state === 'incoming') {
      // JsSIP: BYE in the early dialog ends the call; the INVITE gets 487.
      this.reply(request, 200);
      this.reply(this.request, 487, { reason: 'BYE Received' });
      this.finish('remote', 'BYE');
      return;
    }
    super.onBye(request);
  }

  protected override finish(by: 'local' | 'remote' | 'system', reason: string): void {
    clearTimeout(this.#expiresTimer);
    super.finish(by, reason);
  }
}

function safe<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
