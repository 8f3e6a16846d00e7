/**
 * One call through the B2BUA: the A side (the INVITE we received, an InviteServerSession) paired with the B side
 * (the INVITE(s) we sent, InviteClientSessions — several when a user's contacts are forked in parallel), and the
 * media session that anchors their audio. Each side is its own dialog (own Call-ID, tags, CSeq, Contact); the
 * call translates between them: provisional and final responses, re-INVITE/UPDATE offers through the media API
 * (in-dialog-offers.ts, with answers in ACKs), INFO DTMF into RFC 4733, BYE and CANCEL. A trunk's INVITE without
 * SDP is a late offer (late-offer.ts). `end()` is idempotent and releases everything the call owns.
 *
 * Media API tags: the A side is 'a', the B side 'b' (whatever fork wins: the media leg towards B is one).
 */
import { randomBytes } from 'node:crypto';
import type { SipRequest, SipResponse } from '../signaling/message.ts';
import type { SipStack } from '../signaling/sip-stack.ts';
import type { Channel } from '../signaling/transport.ts';
import type { ChannelTarget } from '../signaling/transport-layer.ts';
import type { DigestCredentials } from '../signaling/auth/digest-client.ts';
import type { NonInviteServerTransaction } from '../signaling/transaction/non-invite-server-transaction.ts';
import type { MediaApi } from '../rtp-bridge/media-api.ts';
import type { LegKind } from '../rtp-bridge/sdp/index.ts';
import { GatewayError } from '../errors.ts';
import type { DialogTable } from './dialog-table.ts';
import { tagOf } from './dialog.ts';
import type { InviteServerSession } from './invite-server-session.ts';
import { InviteClientSession } from './invite-client-session.ts';
import type { SessionTimerConfig } from './session-timer.ts';
import { sdpOf } from './session-body.ts';
import { parseInfoDtmf } from './dtmf-info.ts';
import { mapFailure, pickBestFailure, type FailureAnswer } from './failure-mapping.ts';
import { DEFAULT_TRUNK_CODECS, placeholderOffer } from './late-offer.ts';
import { InDialogOffers, type CallSide, type SideSession } from './in-dialog-offers.ts';
import { logger, type Logger } from '../log.ts';

export type CallState = 'routing' | 'proceeding' | 'early' | 'confirmed' | 'ended';

/** Where one fork of the B side goes. */
export interface CallTarget {
  /** What the receiving side speaks: browsers are WebRTC, trunks and the built-in services plain RTP. */
  legKind: LegKind;
  requestUri: string;
  from: string;
  to: string;
  contact: string;
  channel?: Channel;
  target?: ChannelTarget;
  credentials?: DigestCredentials;
  codecs?: readonly string[];
  /** Free text for logs: `trunk:carrier`, `user:bob`, `service:echo`. */
  label: string;
}

export interface CallContext {
  stack: SipStack;
  table: DialogTable;
  media: MediaApi;
  userAgent: string;
  sessionTimer: Partial<SessionTimerConfig> | false;
  /** Longest a call may last once answered (toll-fraud limit). */
  maxDurationMs: number;
  /** No response at all (not even 100) from the B side within this → 408 to A; a dead trunk fails fast. */
  noResponseTimeoutMs: number;
  /** Ringing this long without an answer → CANCEL the B side, 480 to A (the INVITE transaction has no timer then). */
  noAnswerTimeoutMs: number;
  onEnded(call: Call): void;
}

export interface CallInfo {
  /** Who placed the call (user name or trunk name), for per-user/per-trunk limits. */
  caller: { kind: 'user' | 'trunk'; name: string; codecs?: readonly string[] };
  callee: { kind: 'user' | 'trunk' | 'service'; name: string };
}

/** A failure to set the call up, answered to A with this status. */
class CallSetupError extends GatewayError {
  constructor(status: number, reason: string) {
    super('CALL_SETUP', reason, { status });
  }
}

export class Call {
  readonly id = randomBytes(10).toString('hex');
  readonly info: CallInfo;
  readonly a: InviteServerSession;
  readonly createdAt = Date.now();
  readonly #ctx: CallContext;
  readonly #log: Logger;
  readonly #forks: InviteClientSession[] = [];
  /** What each failed fork would answer the caller, in the order they failed. */
  readonly #failures: FailureAnswer[] = [];
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #bKind: LegKind = 'plain';
  #aKind: LegKind = 'webrtc';
  #b: InviteClientSession | undefined;
  #state: CallState = 'routing';
  #earlyAnswer: { toTag: string | undefined; sdp: string } | undefined;
  /** Late offer (A's INVITE had no SDP, §13.2.1): the B side was offered a placeholder of the A side. */
  #lateOffer = false;
  #ringing = false;
  #answeredAt: number | undefined;
  readonly #offers: InDialogOffers;
  /** Forks that answered anything: the no-response timer only fires when none has. */
  readonly #heardFrom = new WeakSet<InviteClientSession>();

  constructor(ctx: CallContext, a: InviteServerSession, info: CallInfo) {
    this.#ctx = ctx;
    this.a = a;
    this.info = info;
    this.#log = logger.child({ module: 'call', callId: a.callId, call: this.id });
    this.#offers = new InDialogOffers({
      media: ctx.media,
      mediaId: this.id,
      log: this.#log,
      session: (side) => (side === 'a' ? this.a : this.#b),
      kind: (side) => (side === 'a' ? this.#aKind : this.#bKind),
      confirmed: () => this.#state === 'confirmed',
      over: () => this.#over(),
      end: (why) => this.end(why),
    });
    this.#offers.remember('a', a.offer);
    this.#wireA();
  }

  get state(): CallState {
    return this.#state;
  }

  /** A method, not a field read: checks after an await must not be narrowed away by the compiler. */
  #over(): boolean {
    return this.#state === 'ended';
  }

  get b(): InviteClientSession | undefined {
    return this.#b;
  }

  /** Every session of the call (for flow-closed lookups). */
  sessions(): SideSession[] {
    return [this.a, ...this.#forks];
  }

  /** Sends the B side INVITE(s) with the offer translated by the media layer. */
  async start(targets: readonly CallTarget[]): Promise<void> {
    let offer = this.a.offer;
    if (targets.length === 0) return this.end('no targets', { status: 480, reason: 'Temporarily Unavailable' });
    if (offer === undefined) {
      // Browsers always offer (JSEP); a caller without SDP is a trunk doing late offer (§13.2.1).
      if (this.info.caller.kind !== 'trunk') return this.end('offerless INVITE from a browser', { status: 488, reason: 'Offerless INVITE not supported' });
      offer = placeholderOffer(this.a.channel?.remote.address ?? '127.0.0.1', this.info.caller.codecs ?? DEFAULT_TRUNK_CODECS);
      this.#lateOffer = true;
      this.#log.info('late offer: the B side is offered for a placeholder of the A side');
    }
    this.#aKind = /UDP\/TLS\/RTP\/SAVPF/.test(offer) ? 'webrtc' : 'plain';
    this.#bKind = targets[0]!.legKind;
    let bOffer: string;
    try {
      bOffer = await this.#ctx.media.offer(this.id, 'a', offer, {
        to: this.#bKind,
        ...(targets[0]!.codecs ? { codecs: { allow: targets[0]!.codecs } } : {}),
        label: `${this.info.caller.kind}:${this.info.caller.name}→${targets[0]!.label}`,
      });
    } catch (err) {
      return this.end('media offer failed', this.#errorAnswer(err, 488));
    }
    if (this.#over()) return; // cancelled while the media layer worked
    this.#state = 'proceeding';
    for (const target of targets) this.#startFork(target, bOffer);
    this.#timer(this.#ctx.noResponseTimeoutMs, () => {
      if (this.#state === 'proceeding' && this.#forks.every((f) => f.state === 'calling' && !this.#heardFrom.has(f))) {
        this.end('no response from the far end', { status: 408, reason: 'No response from destination' });
      }
    });
    this.#timer(this.#ctx.noAnswerTimeoutMs, () => {
      if (this.#state !== 'confirmed') this.end('no answer', { status: 480, reason: 'No answer' });
    });
  }

  #startFork(target: CallTarget, sdp: string): void {
    const fork = new InviteClientSession(this.#ctx.stack, {
      table: this.#ctx.table,
      requestUri: target.requestUri,
      from: target.from,
      to: target.to,
      contact: target.contact,
      sdp,
      userAgent: this.#ctx.userAgent,
      sessionTimer: this.#ctx.sessionTimer,
      ...(target.channel ? { channel: target.channel } : {}),
      ...(target.target ? { target: target.target } : {}),
      ...(target.credentials ? { credentials: target.credentials } : {}),
    });
    this.#forks.push(fork);
    fork.on('provisional', (res) => {
      this.#heardFrom.add(fork);
      void this.#onProvisional(fork, res);
    });
    fork.on('accepted', (res) => {
      this.#heardFrom.add(fork);
      void this.#onAccepted(fork, res);
    });
    fork.on('rejected', (res) => {
      this.#heardFrom.add(fork);
      this.#failures.push(mapFailure(res.status, res.reason));
      if (res.status >= 600 && this.#b === undefined) {
        // RFC 3261 §16.7 step 5: a 6xx (the callee declined, on any of its devices) cancels every other branch —
        // the other phones stop ringing — and is the answer (RFC 3326 Reason says why on the CANCELs).
        for (const other of this.#forks) if (other !== fork) other.cancel({ cause: res.status, text: res.reason });
        this.end('declined by the callee', mapFailure(res.status, res.reason));
        return;
      }
      this.#maybeAllFailed();
    });
    fork.on('failed', (reason, error) => {
      this.#log.info({ target: target.label, reason, err: error.message }, 'fork failed');
      this.#maybeAllFailed(reason === 'timeout' ? { status: 408, reason: 'Destination did not answer' } : { status: 503, reason: 'Destination unreachable' });
    });
    fork.on('terminated', (reason) => {
      if (fork === this.#b) this.end(`B side ended (${reason})`);
      else this.#maybeAllFailed();
    });
    this.#wireInDialog(fork, 'b');
    this.#log.info({ target: target.label, uri: target.requestUri }, 'calling');
    fork.start();
  }

  /**
   * A browser's WebSocket under one of the call's sessions closed. A fork that is not the answered one just drops
   * out — the callee's other devices keep ringing, an answered call goes on; a CANCEL or BYE cannot reach it any
   * more, so the session is closed, not cancelled. The caller's flow, or the answered callee's, ends the call.
   */
  flowClosed(session: unknown): void {
    const fork = this.#forks.find((f) => f === session);
    if (fork !== undefined && fork !== this.#b) {
      this.#heardFrom.add(fork);
      if (this.#b === undefined && !this.#over()) this.#failures.push({ status: 480, reason: 'Connection closed' });
      fork.close();
      return;
    }
    this.end('browser connection closed', { status: 480, reason: 'Connection closed' });
  }

  #pendingForks(): InviteClientSession[] {
    return this.#forks.filter((f) => !f.terminated && f.state !== 'confirmed' && f.state !== 'accepted');
  }

  /** Every fork ended without a 2xx: answer A with the best failure (RFC 3261 §16.7 spirit). */
  #maybeAllFailed(extra?: FailureAnswer): void {
    if (this.#b !== undefined || this.#state === 'ended') return;
    if (this.#pendingForks().length > 0) {
      if (extra) this.#failures.push(extra);
      return;
    }
    const answer = extra ?? pickBestFailure(this.#failures) ?? { status: 480, reason: 'Temporarily Unavailable' };
    this.end('all forks failed', answer);
  }

  async #onProvisional(fork: InviteClientSession, res: SipResponse): Promise<void> {
    if (this.#state === 'ended' || this.#b !== undefined || res.status === 100) return;
    const sdp = sdpOf(res);
    if (sdp !== undefined && this.#earlyAnswer === undefined) {
      // Early media (183 with SDP): answer the media layer now so the browser hears ringback or announcements.
      try {
        const answer = await this.#ctx.media.answer(this.id, 'a', 'b', sdp);
        this.#earlyAnswer = { toTag: toTagOf(res), sdp: answer };
        this.#offers.remember('b', sdp);
        if (this.#over() || this.#b !== undefined || this.a.terminated) return;
        this.#state = 'early';
        if (this.#lateOffer) {
          // Our offer to an offerless A side can only go in a reliable response: the 2xx (no 100rel here).
          if (!this.#ringing) this.a.provisional(180);
          this.#ringing = true;
          // Nothing of B's early media reaches A before A has answered our offer.
          await this.#ctx.media.blockMedia(this.id, 'b', true);
          return;
        }
        this.a.provisional(183, { sdp: answer });
      } catch (err) {
        this.#log.warn({ err }, 'early media answer refused');
      }
      return;
    }
    if ((res.status === 180 || res.status === 183) && !this.#ringing && this.#earlyAnswer === undefined && !this.a.terminated) {
      this.#ringing = true;
      this.#state = 'early';
      this.a.provisional(180);
    }
  }

  async #onAccepted(fork: InviteClientSession, res: SipResponse): Promise<void> {
    if (this.#b !== undefined && this.#b !== fork) {
      // §13.2.2.4: a second fork answered too; it is ACKed by its session, and we hang it up.
      void fork.bye();
      return;
    }
    if (this.#state === 'ended') {
      // The CANCEL/200 race: A is gone, the B side answered anyway — hang it up.
      void fork.bye();
      return;
    }
    this.#b = fork;
    for (const other of this.#forks) if (other !== fork) other.cancel({ cause: 200, text: 'Call completed elsewhere' });
    const sdp = sdpOf(res);
    let answer: string;
    try {
      if (this.#earlyAnswer !== undefined && (this.#earlyAnswer.toTag === toTagOf(res) || sdp === undefined)) {
        // §13.2.1: the 2xx repeats the answer already given in the reliable-or-not early dialog.
        answer = this.#earlyAnswer.sdp;
      } else {
        if (sdp === undefined) throw new CallSetupError(488, 'Answer without SDP');
        answer = await this.#ctx.media.answer(this.id, 'a', 'b', sdp);
      }
      // Late offer: B's media waits for A's answer (until then A's address is a placeholder).
      if (this.#lateOffer) await this.#ctx.media.blockMedia(this.id, 'b', true);
    } catch (err) {
      return this.end('media answer failed', this.#errorAnswer(err, 488));
    }
    this.#offers.remember('b', sdp);
    if (this.#over() || this.a.terminated) {
      void fork.bye();
      return;
    }
    // Late offer: what the media layer answered for A's placeholder is our offer to A — plain RTP/AVP, the codecs
    // B accepted (with telephone-event if kept) at our address; A answers in the ACK.
    if (this.#lateOffer) this.#offers.awaitLateOfferAck();
    this.a.accept({ sdp: answer });
    this.#state = 'confirmed';
    this.#answeredAt = Date.now();
    this.#log.info({ uri: fork.invite?.uri }, 'call answered');
    this.#timer(this.#ctx.maxDurationMs, () => this.end('maximum call duration reached'));
  }

  #wireA(): void {
    const a = this.a;
    a.on('cancelled', () => this.end('caller cancelled'));
    a.on('terminated', (reason) => this.end(`A side ended (${reason})`));
    a.on('ackTimeout', () => this.end('no ACK from the caller'));
    a.on('ack', (_ack, sdp) => this.#offers.onAck('a', sdp));
    this.#wireInDialog(a, 'a');
  }

  /** In-dialog traffic from one side, translated to the other. */
  #wireInDialog(session: SideSession, side: CallSide): void {
    session.on('expired', () => this.end(`session timer expired on ${side.toUpperCase()} side`));
    session.on('reinvite', (_req, tx, sdp) => this.#offers.onOffer(side, session, tx, sdp, 'INVITE'));
    session.on('update', (_req, tx, sdp) => this.#offers.onOffer(side, session, tx, sdp, 'UPDATE'));
    session.on('info', (req, tx) => this.#info(side, session, req, tx));
    if (side === 'b') session.on('ack', (_ack, sdp) => this.#offers.onAck('b', sdp));
  }

  /** INFO: DTMF (JsSIP's default) becomes RFC 4733 towards the other side; other packages are not supported. */
  #info(side: CallSide, session: SideSession, req: SipRequest, tx: NonInviteServerTransaction): void {
    const dtmf = parseInfoDtmf(req.headers.get('Content-Type'), req.body);
    if (dtmf === undefined) {
      session.respond(tx, 415, { headers: [['Accept', 'application/dtmf-relay, application/dtmf']] });
      return;
    }
    session.respond(tx, 200);
    if (this.#state !== 'confirmed') return;
    this.#ctx.media.playDtmf(this.id, side === 'a' ? 'b' : 'a', dtmf.digit, dtmf.durationMs).catch((err: unknown) => {
      this.#log.warn({ err, digit: dtmf.digit }, 'DTMF not played');
    });
    this.#log.info({ from: side, digit: dtmf.digit }, 'INFO DTMF relayed as RFC 4733');
  }

  #errorAnswer(err: unknown, fallback: number): FailureAnswer {
    if (err instanceof GatewayError && err.status !== undefined && err.status >= 400 && err.status < 700) {
      return { status: err.status, reason: err.message.replace(/[\r\n]/g, ' ').slice(0, 100) };
    }
    this.#log.error({ err }, 'call setup failed');
    return { status: fallback, reason: fallback === 488 ? 'Not Acceptable Here' : 'Server Internal Error' };
  }

  #timer(ms: number, fire: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fire();
    }, ms);
    t.unref?.();
    this.#timers.add(t);
  }

  /**
   * Ends the call: A rejected (with `answer`) or hung up, every fork cancelled or hung up, media deleted.
   * Idempotent; events from sessions ending because of it come back here and stop at the first line.
   */
  end(why: string, answer: FailureAnswer = { status: 480, reason: 'Temporarily Unavailable' }): void {
    if (this.#state === 'ended') return;
    const was = this.#state;
    this.#state = 'ended';
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    // Each side is ended on its own: a side that cannot be ended (A already answered 487 by the CANCEL that is
    // ending us) must not leave the forks ringing, the media allocated or the call counted.
    if (!this.a.terminated && !this.#aAnsweredBy487()) this.#safely('end A', () => this.a.terminate({ status: answer.status, reason: answer.reason }));
    for (const fork of this.#forks) if (!fork.terminated) this.#safely('end a fork', () => fork.terminate());
    this.#ctx.media.delete(this.id).catch((err: unknown) => this.#log.warn({ err }, 'media delete failed'));
    const duration = this.#answeredAt === undefined ? 0 : Math.round((Date.now() - this.#answeredAt) / 1000);
    this.#log.info({ why, was, status: was === 'confirmed' ? undefined : answer.status, durationSec: duration }, 'call ended');
    this.#ctx.onEnded(this);
  }

  /** §9.2: a CANCEL answers the INVITE 487 before the session reports `cancelled`; nothing is left to answer. */
  #aAnsweredBy487(): boolean {
    return this.a.transaction.finalResponse !== undefined && this.a.state !== 'accepted' && this.a.state !== 'confirmed';
  }

  #safely(what: string, work: () => void): void {
    try {
      work();
    } catch (err) {
      this.#log.error({ err }, `${what} failed`);
    }
  }
}

function toTagOf(res: SipResponse): string | undefined {
  return tagOf(res.headers.get('To'));
}
