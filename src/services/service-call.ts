/**
 * One call to the services peer: the UAS side of one INVITE dialog and its media. It answers the INVITE (after
 * ringing, when configured), retransmits its 2xx until the ACK (RFC 3261 §13.3.1.4), answers re-INVITEs (hold,
 * resume, new address or codec; an empty re-INVITE gets our offer, answered in the ACK, §14.2), CANCEL (§9.2),
 * BYE (§15.1.2) and ends with a BYE of its own when asked (media timeout, no ACK, shutdown).
 *
 * States: early (INVITE pending) → answered (2xx sent) → confirmed (ACK received) → ended; any → ended.
 * `end()` is idempotent and releases everything the call owns (ring timer, 2xx retransmitter, media ports).
 */
import { GatewayError } from '../errors.ts';
import { logger, type Logger } from '../log.ts';
import type { PortPool } from '../rtp-bridge/port-pool.ts';
import { NoCommonCodecError, parseSdp, type MediaSection, type ParsedSession } from '../rtp-bridge/sdp/index.ts';
import { contentType, cseq } from '../signaling/header-accessors.ts';
import type { SipRequest, SipResponse } from '../signaling/message.ts';
import type { SipStack } from '../signaling/sip-stack.ts';
import type { InviteServerTransaction } from '../signaling/transaction/invite-server-transaction.ts';
import type { NonInviteServerTransaction } from '../signaling/transaction/non-invite-server-transaction.ts';
import type { ServerTransaction } from '../signaling/transaction/transaction-layer.ts';
import type { TwoXxRetransmitter } from '../signaling/transaction/2xx-retransmitter.ts';
import type { Channel } from '../signaling/transport.ts';
import { CallMedia, type CallMediaCounters } from './call-media.ts';
import { buildInDialogRequest, contactUri, nextHop, type UasDialog } from './dialog.ts';
import { buildResponse, warning, type ResponseOptions } from './responses.ts';
import {
  acceptAnswer,
  createSdpVersion,
  negotiateOffer,
  renderAnswer,
  renderOffer,
  renderVersioned,
  type LocalAudio,
  type NegotiatedAudio,
  type ServiceKind,
} from './sdp-answer.ts';
import type { DtmfDigit } from './telephone-event.ts';
import type { ToneSegment } from './tone.ts';

export type CallState = 'early' | 'answered' | 'confirmed' | 'ended';

/** Why a call ended: the caller's BYE or CANCEL, our own decisions, or the peer closing. */
export type CallEndReason = 'bye' | 'cancel' | 'media-timeout' | 'no-ack' | 'bad-answer' | 'no-ports' | 'closed';

/** What a call needs from the peer that owns it. */
export interface CallHost {
  readonly stack: SipStack;
  readonly pool: PortPool;
  /** Server / User-Agent value. */
  readonly server: string;
  /** warn-agent of Warning headers (our host:port). */
  readonly warnAgent: string;
  readonly ringMs: number;
  readonly tonePattern: readonly ToneSegment[];
  readonly allow: string;
  contact(user: string, channel: Channel): string;
  answered(call: ServiceCall): void;
  ended(call: ServiceCall, reason: CallEndReason): void;
  dtmf(call: ServiceCall, digit: DtmfDigit): void;
}

export interface CallInit {
  readonly service: ServiceKind;
  /** The Request-URI user the caller dialled (our Contact user). */
  readonly user: string;
  readonly transaction: InviteServerTransaction;
  readonly dialog: UasDialog;
  readonly offer: ParsedSession;
  readonly section: MediaSection;
  readonly audio: NegotiatedAudio;
}

export interface ServiceCallInfo {
  readonly callId: string;
  readonly service: ServiceKind;
  readonly state: CallState;
  readonly codec: string;
  readonly payloadType: number;
  readonly telephoneEventPayloadType: number | undefined;
  /** Our direction (RFC 3264). */
  readonly direction: string;
  /** Our RTP port (RTCP on port + 1). */
  readonly localPort: number | undefined;
  readonly ssrc: number | undefined;
  readonly media: CallMediaCounters | undefined;
}

const SDP_TYPE = 'application/sdp';

export class ServiceCall {
  readonly service: ServiceKind;
  readonly callId: string;
  readonly dialog: UasDialog;
  /** The INVITE transaction that created the call. */
  readonly transaction: InviteServerTransaction;
  /** performance.now() of the last offer/answer: the media timeout counts silence from here at the earliest. */
  mediaSince = performance.now();

  readonly #host: CallHost;
  readonly #user: string;
  readonly #log: Logger;
  #state: CallState = 'early';
  #invite: InviteServerTransaction | undefined;
  #media: CallMedia | undefined;
  #layout: ParsedSession;
  #section: MediaSection;
  #audio: NegotiatedAudio;
  #sdp = createSdpVersion();
  /** CSeq of the INVITE whose 2xx carried our offer; its ACK must carry the answer. */
  #offerInSeq: number | undefined;
  #retransmitter: TwoXxRetransmitter | undefined;
  #ringTimer: ReturnType<typeof setTimeout> | undefined;
  #bye: Promise<void> | undefined;

  constructor(host: CallHost, init: CallInit) {
    this.#host = host;
    this.service = init.service;
    this.#user = init.user;
    this.#invite = init.transaction;
    this.transaction = init.transaction;
    this.dialog = init.dialog;
    this.callId = init.dialog.callId;
    this.#layout = init.offer;
    this.#section = init.section;
    this.#audio = init.audio;
    this.#log = logger.child({ module: 'services-peer', callId: this.callId, service: this.service });
  }

  get state(): CallState {
    return this.#state;
  }

  get media(): CallMedia | undefined {
    return this.#media;
  }

  info(): ServiceCallInfo {
    const media = this.#media;
    return {
      callId: this.callId,
      service: this.service,
      state: this.#state,
      codec: this.#audio.codec.name,
      payloadType: this.#audio.codec.pt,
      telephoneEventPayloadType: this.#audio.telephoneEvent?.pt,
      direction: media?.direction ?? this.#audio.direction,
      localPort: media?.leg.port,
      ssrc: media?.ssrc,
      media: media?.counters,
    };
  }

  /** Allocates the media, then rings or answers. Never throws: failures answer the INVITE and end the call. */
  async start(): Promise<void> {
    let media: CallMedia;
    try {
      media = await CallMedia.create(this.#host.pool, {
        service: this.service,
        callId: this.callId,
        tonePattern: this.#host.tonePattern,
        onDtmf: (digit) => this.#host.dtmf(this, digit),
      });
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'no media ports for a services call');
      this.#rejectInvite(503, { headers: [['Retry-After', '5']] });
      this.end('no-ports');
      return;
    }
    if (this.#state === 'ended') {
      media.close(); // CANCEL or shutdown while the ports were being bound
      return;
    }
    this.#media = media;
    try {
      media.apply(this.#audio);
    } catch (err) {
      // RemoteAddressError: an address the media socket cannot reach (IPv6 to an IPv4 peer).
      this.#rejectInvite(488, { headers: [warning(399, this.#host.warnAgent, (err as Error).message)] });
      this.end('bad-answer');
      return;
    }
    if (this.#host.ringMs > 0) {
      const ringing = this.#response(this.#invite!.request, 180, { headers: this.#dialogHeaders(this.#invite!) });
      this.#invite!.respond(ringing);
      this.#ringTimer = setTimeout(() => this.#answer(), this.#host.ringMs);
    } else {
      this.#answer();
    }
  }

  #answer(): void {
    this.#ringTimer = undefined;
    const tx = this.#invite;
    if (this.#state !== 'early' || tx === undefined || tx.finalResponse !== undefined || tx.terminated) return;
    const rendered = renderVersioned(this.#sdp, (origin) => renderAnswer(this.#layout, this.#section, this.#audio, this.#local(), origin));
    this.#sdp = rendered.state;
    const ok = this.#response(tx.request, 200, { headers: this.#dialogHeaders(tx), sdp: rendered.sdp });
    this.#invite = undefined;
    this.#state = 'answered';
    tx.respond(ok);
    this.#retransmit(tx, ok);
    this.#log.info({ codec: this.#audio.codec.name, port: this.#media?.leg.port, direction: this.#audio.direction }, 'services call answered');
    this.#host.answered(this);
  }

  /** §9.2: 200 to the CANCEL; if the INVITE is still pending, 487 to it and the call ends. */
  cancel(cancelTx: NonInviteServerTransaction): void {
    cancelTx.respond(this.#response(cancelTx.request, 200));
    const tx = this.#invite;
    if (this.#state !== 'early' || tx === undefined || tx.finalResponse !== undefined) return;
    this.#rejectInvite(487);
    this.end('cancel');
  }

  /** The ACK of one of our 2xx (the transaction layer has already stopped its retransmission). */
  ack(ack: SipRequest): void {
    if (this.#state === 'ended') return;
    if (this.#state === 'answered') this.#state = 'confirmed';
    if (this.#offerInSeq === undefined || cseq(ack).seq !== this.#offerInSeq) return;
    this.#offerInSeq = undefined;
    // §13.2.1: our offer was in the 2xx, so the ACK carries the answer. Without a usable one there is no agreed
    // media, and the ACK cannot be refused: like a UAC given an offer it cannot accept (§13.2.2.4), end with BYE.
    try {
      if (ack.body.length === 0) throw new Error('the ACK carries no answer to our offer');
      const audio = acceptAnswer(parseSdp(ack.body.toString('utf8')), this.#layout, this.#audio);
      this.#media?.apply(audio);
      this.#audio = audio;
      this.mediaSince = performance.now();
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'unusable answer in the ACK; ending the call');
      void this.end('bad-answer', true);
    }
  }

  /** A re-INVITE (§14.2): new SDP to answer, or none (we offer), with the target refresh of §12.2. */
  reInvite(request: SipRequest, tx: InviteServerTransaction): void {
    if (this.#state === 'early' || this.#state === 'ended') {
      // §14.2: a second INVITE before the final response to the first: 500 with a random Retry-After of 0–10 s.
      tx.respond(this.#response(request, 500, { headers: [['Retry-After', String(Math.floor(Math.random() * 11))]] }));
      return;
    }
    if (this.#offerInSeq !== undefined) {
      // Our offer (in the last 2xx) is not answered yet — the ACK has not come — so a new offer would cross it:
      // 491 Request Pending, after which the caller retries (the glare handling of §14.1).
      tx.respond(this.#response(request, 491));
      return;
    }
    let contact: string | undefined;
    try {
      if (request.headers.has('contact')) contact = contactUri(request);
    } catch (err) {
      tx.respond(this.#response(request, 400, { reason: `Bad Contact (${(err as Error).message.slice(0, 80)})` }));
      return;
    }
    let sdp: string;
    if (request.body.length === 0) {
      const rendered = renderVersioned(this.#sdp, (origin) => renderOffer(this.#layout, this.#section, this.#audio, this.#local(), origin));
      this.#sdp = rendered.state;
      sdp = rendered.sdp;
      this.#offerInSeq = cseq(request).seq;
    } else {
      try {
        if (contentType(request)?.type !== 'application' || contentType(request)?.subtype !== 'sdp') {
          tx.respond(this.#response(request, 415, { headers: [['Accept', SDP_TYPE]] }));
          return;
        }
        const offer = parseSdp(request.body.toString('utf8'));
        const { section, audio } = negotiateOffer(offer, this.service, this.#audio.codec);
        this.#media?.apply(audio);
        this.#layout = offer;
        this.#section = section;
        this.#audio = audio;
        this.mediaSince = performance.now();
      } catch (err) {
        // §14.2: a re-INVITE the UAS cannot accept leaves the session as it was. SDP and media-address errors map
        // to 488, a malformed Content-Type to 400; anything else is ours (500).
        const status = err instanceof GatewayError && err.status !== undefined ? err.status : 500;
        const code = err instanceof NoCommonCodecError ? 305 : 399;
        tx.respond(this.#response(request, status, { headers: [warning(code, this.#host.warnAgent, (err as Error).message)] }));
        return;
      }
      const rendered = renderVersioned(this.#sdp, (origin) => renderAnswer(this.#layout, this.#section, this.#audio, this.#local(), origin));
      this.#sdp = rendered.state;
      sdp = rendered.sdp;
    }
    if (contact !== undefined) this.dialog.remoteTarget = contact;
    const ok = this.#response(request, 200, { headers: [['Contact', this.#host.contact(this.#user, tx.channel)], ['Allow', this.#host.allow]], sdp });
    tx.respond(ok);
    this.#retransmit(tx, ok);
    this.#log.info({ direction: this.#audio.direction, codec: this.#audio.codec.name, offerInAck: this.#offerInSeq !== undefined }, 're-INVITE answered');
  }

  /** §15.1.2: 200 to the BYE; a still-pending INVITE gets 487. */
  bye(request: SipRequest, tx: ServerTransaction): void {
    tx.respond(this.#response(request, 200));
    this.#rejectInvite(487);
    this.end('bye');
  }

  /** An OPTIONS inside the dialog (a keep-alive some endpoints send): the dialog is alive. */
  options(request: SipRequest, tx: ServerTransaction): void {
    tx.respond(this.#response(request, 200, { headers: [['Allow', this.#host.allow], ['Accept', SDP_TYPE]] }));
  }

  /**
   * Ends the call: idempotent, releases everything at once, and with `sendBye` (a dialog we end ourselves) sends a
   * BYE whose completion (final response, timeout or transport error) the returned promise waits for.
   */
  end(reason: CallEndReason, sendBye = false): Promise<void> {
    if (this.#state === 'ended') return this.#bye ?? Promise.resolve();
    const established = this.#state !== 'early';
    this.#state = 'ended';
    if (this.#ringTimer !== undefined) clearTimeout(this.#ringTimer);
    this.#ringTimer = undefined;
    this.#retransmitter?.stop();
    this.#retransmitter = undefined;
    // A shutdown while ringing: the pending INVITE still gets its final response.
    if (reason === 'closed') this.#rejectInvite(503);
    this.#media?.close();
    this.#log.info({ reason, established }, 'services call ended');
    this.#host.ended(this, reason);
    if (sendBye && established) this.#bye = this.#sendBye();
    return this.#bye ?? Promise.resolve();
  }

  /** RTP silence (ms) the media timeout should judge, and whether media is expected at all (not on hold). */
  silence(now: number): { expecting: boolean; silentMs: number } {
    const leg = this.#media?.leg;
    if (leg === undefined) return { expecting: false, silentMs: 0 };
    const expecting = leg.direction === 'sendrecv' || leg.direction === 'recvonly';
    return { expecting, silentMs: now - Math.max(leg.lastRtpAt, this.mediaSince) };
  }

  async #sendBye(): Promise<void> {
    const { stack, server } = this.#host;
    let bye: SipRequest;
    let channel: Channel;
    try {
      bye = buildInDialogRequest(this.dialog, 'BYE', server);
      channel = await stack.channelFor(nextHop(bye));
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'cannot send BYE');
      return;
    }
    await new Promise<void>((resolve) => {
      try {
        stack.transactions.sendRequest(bye, channel, {
          onResponse: (response: SipResponse) => {
            if (response.status >= 200) resolve();
          },
          onTimeout: () => {
            this.#log.warn('BYE timed out');
            resolve();
          },
          onTransportError: (error) => {
            this.#log.warn({ err: error.message }, 'BYE transport error');
            resolve();
          },
          onTerminated: () => resolve(),
        });
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'cannot send BYE');
        resolve();
      }
    });
  }

  #retransmit(tx: InviteServerTransaction, ok: SipResponse): void {
    this.#retransmitter?.stop();
    // §13.3.1.4: no ACK after 64*T1 — "the dialog is confirmed, but the session SHOULD be terminated … with a BYE".
    this.#retransmitter = this.#host.stack.transactions.retransmit2xx(tx, ok, {
      onTimeout: () => {
        this.#log.warn('no ACK for our 2xx; ending the call');
        void this.end('no-ack', true);
      },
    });
  }

  /** A final non-2xx to the pending INVITE, if it still has none. */
  #rejectInvite(status: number, options: ResponseOptions = {}): void {
    const tx = this.#invite;
    this.#invite = undefined;
    if (tx === undefined || tx.finalResponse !== undefined || tx.terminated) return;
    tx.respond(this.#response(tx.request, status, options));
  }

  /** Contact, and the Record-Route rows a dialog-creating response copies (§12.1.1). */
  #dialogHeaders(tx: InviteServerTransaction): Array<[string, string]> {
    const headers: Array<[string, string]> = [];
    for (const value of tx.request.headers.getAll('record-route')) headers.push(['Record-Route', value]);
    headers.push(['Contact', this.#host.contact(this.#user, tx.channel)], ['Allow', this.#host.allow]);
    return headers;
  }

  #response(request: SipRequest, status: number, options: ResponseOptions = {}): SipResponse {
    return buildResponse(request, status, this.#host.server, { ...options, toTag: this.dialog.localTag });
  }

  #local(): LocalAudio {
    const leg = this.#media!.leg;
    return { address: leg.localAddress, port: leg.port, rtcpPort: leg.rtcpPort };
  }
}
