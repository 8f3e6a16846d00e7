/**
 * One call's media: two sides, each known by its tag and served by one leg (the leg that faces that side's peer),
 * the relay between the legs, the SDP state of each leg, and the offer waiting for its answer.
 *
 * The first offer names the session's sides: side A sent it (its leg kind read from its SDP), side B will receive
 * what we make of it (kind from the `to` flag; its tag is learned from the answer). Both legs are bound then, so
 * the SDP we send can name our port. Later offers may come from either side (re-INVITEs: hold/resume, codec
 * change, ICE restart, a new address); they reuse the legs, their SDP state (RFC 3264 §8: same o= session id,
 * m-line layout, payload type numbers) and the relay, whose StreamRewriters keep each receiver's SSRC, sequence
 * and timestamp continuous across all of it.
 *
 * An offer only computes: translateOffer is pure, so a failing offer (SdpError, NoCommonCodecError → 488) leaves
 * the session exactly as it was. The answer applies: remote parameters to both legs (plain: SDP address, which
 * restarts latching only when it changed; WebRTC: ICE credentials, fingerprints, a=setup), the negotiated
 * directions (hold), the payload type tables of both relay directions, and the new SDP states.
 *
 * A side may also answer an SDP of ours that no offer of the other side's asked for — the offer in a 2xx to an
 * INVITE without SDP, answered in the ACK: `subscribeAnswer` applies it to that side's leg and the relay and
 * produces nothing, so the o= state of each leg stays what its peer last saw (RFC 3264 §8).
 *
 * Everything here runs at signalling rate; the per-packet path is relay.ts and the legs.
 */
import { randomBytes } from 'node:crypto';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { DtlsSetup, RemoteParameters } from '../webrtc/index.ts';
import { digitEvent, DtmfPlayer, eventDigit } from './dtmf.ts';
import type { LegStats, OfferFlags, AnswerFlags } from './media-api.ts';
import { PlainMediaLeg, WebRtcMediaLeg, type MediaLeg } from './media-leg.ts';
import { Relay, type RelayPath } from './relay.ts';
import {
  createLegState,
  isTelephoneEvent,
  NoCommonCodecError,
  readPeerAnswer,
  translateAnswer,
  translateOffer,
  type Codec,
  type EndpointDescription,
  type LegKind,
  type LegSdpState,
  type NegotiatedLeg,
  type PayloadTypeRoute,
  type RemoteMedia,
  type TranslatedOffer,
} from './sdp/index.ts';

export type MediaSessionErrorCode = 'UNKNOWN_CALL' | 'UNKNOWN_TAG' | 'NO_PENDING_OFFER' | 'KIND_MISMATCH';

export class MediaSessionError extends GatewayError {
  constructor(code: MediaSessionErrorCode, message: string) {
    // 481: the signalling refers to a call or dialog side the media plane does not know.
    super(code, message, { status: code === 'KIND_MISMATCH' ? 488 : 481 });
  }
}

/** What a session needs from the service that owns it. */
export interface SessionContext {
  readonly advertisedAddress: string;
  readonly relayCodecs: readonly string[];
  readonly logger: Logger;
  /** Starts the media-timeout watch of a leg (after the first answer). */
  watch(leg: MediaLeg, onTimeout: () => void): void;
  unwatch(leg: MediaLeg): void;
  onTimeout(callId: string, tag: string): void;
  onDtmf(callId: string, tag: string, digit: string): void;
  onFailed(callId: string, tag: string, reason: string): void;
}

interface Side {
  /** undefined until the answer names the side that received the first offer. */
  tag: string | undefined;
  readonly kind: LegKind;
  readonly leg: MediaLeg;
  /** What the gateway last sent this side, as the side saw it (RFC 3264 §8): moved only by SDP that is sent. */
  sdp: LegSdpState;
  /** The side's media as its last SDP described it (undefined before its first). */
  remote: RemoteMedia | undefined;
  /** RTP/RTCP this side sends, on its way to the other side. */
  readonly inbound: RelayPath;
  /** What this side receives: the other side's inbound path; its rewriter's SSRC is what this side sees. */
  readonly outbound: RelayPath;
  /** Plays DTMF towards this side (into `outbound`). */
  readonly player: DtmfPlayer;
}

interface PendingOffer {
  readonly offerer: Side;
  readonly answerer: Side;
  readonly offer: TranslatedOffer;
  /** The offerer's tag as the offer named it (the answerer may still be untagged). */
  readonly offererTag: string;
}

/** A random numeric o= session id (RFC 4566 §5.2 suggests an NTP timestamp; any unique number will do). */
function sessionId(): string {
  return String(Math.floor(Math.random() * 9e15) + 1e15);
}

export class MediaSession {
  readonly callId: string;
  readonly createdAt = Date.now();
  readonly #ctx: SessionContext;
  readonly #log: Logger;
  readonly #a: Side;
  readonly #b: Side;
  readonly #relay: Relay;
  #pending: PendingOffer | undefined;
  #established = false;
  #timedOut = false;
  #closed = false;
  readonly #cname: string;

  /** `a` faces the first offerer, `b` the side the first offer goes to. The session owns both legs from now on. */
  constructor(ctx: SessionContext, callId: string, offererTag: string, a: MediaLeg, b: MediaLeg) {
    this.callId = callId;
    this.#ctx = ctx;
    this.#log = ctx.logger.child({ callId });
    this.#relay = new Relay(a, b, (from, event, duration) => this.#onDtmf(from === 'a' ? this.#a : this.#b, event, duration));
    const { aToB, bToA } = this.#relay;
    this.#a = { tag: offererTag, kind: a.kind, leg: a, sdp: createLegState(sessionId()), remote: undefined, inbound: aToB, outbound: bToA, player: new DtmfPlayer(bToA) };
    this.#b = { tag: undefined, kind: b.kind, leg: b, sdp: createLegState(sessionId()), remote: undefined, inbound: bToA, outbound: aToB, player: new DtmfPlayer(aToB) };
    this.#cname = randomBytes(12).toString('base64url');
    for (const side of [this.#a, this.#b]) {
      if (side.leg instanceof WebRtcMediaLeg) side.leg.onFailed = (reason) => this.#onLegFailed(side, reason);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  get packetsRelayed(): number {
    return this.#relay.relayedRtp;
  }

  /**
   * `fromTag` sent an offer of kind `kind`; returns the SDP for the other side. Pure until it returns: nothing
   * changes when it throws.
   */
  offer(fromTag: string, sdp: string, kind: LegKind, flags: OfferFlags, codecsFrom: readonly string[] | undefined): string {
    const offerer = this.#sideForOffer(fromTag);
    const answerer = offerer === this.#a ? this.#b : this.#a;
    if (offerer.kind !== kind) {
      throw new MediaSessionError('KIND_MISMATCH', `side ${fromTag} has a ${offerer.kind} leg; its new offer is ${kind}`);
    }
    if (flags.to !== answerer.kind) {
      this.#log.debug({ to: flags.to, kind: answerer.kind }, 'offer flags name another leg kind than the existing leg; kept');
    }
    const offer = translateOffer({
      sdp,
      from: kind,
      local: this.#endpoint(answerer, 'offer'),
      state: answerer.sdp,
      codecs: {
        relay: this.#ctx.relayCodecs,
        ...(codecsFrom === undefined ? {} : { from: codecsFrom }),
        ...(flags.codecs?.allow === undefined ? {} : { to: flags.codecs.allow }),
      },
    });
    if (offerer.tag === undefined) offerer.tag = fromTag;
    this.#pending = { offerer, answerer, offer, offererTag: fromTag };
    this.#log.info({ from: fromTag, kind, to: answerer.kind, label: flags.label, direction: offer.remote.direction }, 'media offer');
    return this.#withSsrc(answerer, offer.sdp);
  }

  /** The other side answered the pending offer; returns the SDP for the offerer. Answering again is allowed
   * (a 183 then a 200, RFC 3262 early media): the same offer is answered anew. */
  answer(fromTag: string, toTag: string, sdp: string, flags: AnswerFlags | undefined): string {
    const pending = this.#pending;
    if (pending === undefined) throw new MediaSessionError('NO_PENDING_OFFER', `call ${this.callId} has no offer to answer`);
    const { offerer, answerer, offer } = pending;
    // rtpengine's answer names the offerer in from-tag; accept the tags swapped as well.
    let answererTag: string;
    if (fromTag === pending.offererTag) answererTag = toTag;
    else if (toTag === pending.offererTag) answererTag = fromTag;
    else throw new MediaSessionError('UNKNOWN_TAG', `neither ${fromTag} nor ${toTag} sent the pending offer of call ${this.callId}`);

    // RFC 8445 §9: an offerer that restarted ICE gets new credentials from us too, in this answer.
    if (offerer.leg instanceof WebRtcMediaLeg && offer.remote.kind === 'webrtc' && offerer.leg.applied !== undefined) {
      const before = offerer.leg.applied;
      if (before.iceUfrag !== offer.remote.ice.ufrag || before.icePwd !== offer.remote.ice.pwd) offerer.leg.leg.restartIce();
    }
    const answer = translateAnswer({ sdp, pending: offer.pending, local: this.#endpoint(offerer, 'answer'), state: offerer.sdp });
    if (flags?.codecs !== undefined || flags?.strictSource !== undefined || flags?.trustAddress !== undefined) {
      // The answerer's leg was bound (with its latching mode) when the offer was made, and the answer's codecs
      // are a subset of what the offer allowed: these flags only take effect in an offer.
      this.#log.debug({ flags }, 'answer flags not applied (they apply to offers)');
    }

    // The answer's own parameters first: if they are unusable nothing else has changed.
    this.#applyRemote(answerer, answer.remote, answer.answerer);
    this.#applyRemote(offerer, offer.remote, answer.offerer);
    offerer.inbound.setRoutes(answer.payloadTypes.offererToAnswerer);
    answerer.inbound.setRoutes(answer.payloadTypes.answererToOfferer);
    for (const side of [offerer, answerer]) {
      // Jitter in ms needs the clock of what the side sends (RFC 3550 A.8).
      const audio = side.inbound.routes.find((r) => r.encoding.toLowerCase() !== 'telephone-event');
      if (audio !== undefined) side.leg.stats.clockRate = audio.clockRate;
    }
    offerer.sdp = answer.state;
    answerer.sdp = offer.state;
    if (answerer.tag !== answererTag) {
      if (answerer.tag !== undefined) this.#log.info({ was: answerer.tag, now: answererTag }, 'answer from another tag');
      answerer.tag = answererTag;
    }
    if (!this.#established) {
      this.#established = true;
      for (const side of [this.#a, this.#b]) this.#ctx.watch(side.leg, () => this.#onTimeout(side));
    }
    this.#log.info(
      { from: answererTag, offerer: answer.offerer.direction, answerer: answer.answerer.direction, codecs: answer.payloadTypes.offererToAnswerer.map((r) => r.encoding) },
      'media answer',
    );
    return this.#withSsrc(offerer, answer.sdp);
  }

  /**
   * The side `tag` answered the SDP last sent to it, an SDP that was not an offer of the other side's (rtpengine's
   * `subscribe answer`): our offer in the 2xx to an INVITE or re-INVITE without SDP, answered in the ACK (RFC 3261
   * §13.2.1, §14.2). The side's leg takes the answer's address, ICE/DTLS parameters and direction; the relay
   * carries only the codecs it kept, in each direction with the numbers the receiver expects. Nothing is produced
   * for either side, so neither leg's o= state moves. A pending offer stays pending.
   *
   * Refused (NoCommonCodecError, nothing changed) when the answer kept none of our codecs, or dropped the codec
   * the other side sends — its first one, as JSEP (RFC 8829 §5.3.1) and common practice have it: the relay
   * does not transcode, so that side's audio would be dropped.
   */
  subscribeAnswer(tag: string, sdp: string): void {
    const side = this.#side(tag);
    const other = side === this.#a ? this.#b : this.#a;
    const got = readPeerAnswer({ sdp, kind: side.kind, state: side.sdp });
    const keeps = (route: PayloadTypeRoute, pt: number, codec: Codec): boolean =>
      route.in === pt && route.encoding.toLowerCase() === codec.name.toLowerCase() && route.clockRate === codec.clockRate;
    // What the side sends: our numbers (or, as many peers do, its own), only for codecs it kept.
    const fromSide = side.inbound.routes.filter((r) => got.kept.some((k) => keeps(r, k.ours.pt, k.ours) || keeps(r, k.theirs.pt, k.ours)));
    for (const k of got.kept) {
      const route = fromSide.find((r) => keeps(r, k.ours.pt, k.ours));
      if (route !== undefined && !fromSide.some((r) => r.in === k.theirs.pt)) fromSide.push({ ...route, in: k.theirs.pt });
    }
    // What the side receives: renumbered to what its answer expects (RFC 3264 §5.1), only for codecs it kept.
    const toSide: PayloadTypeRoute[] = [];
    for (const r of other.inbound.routes) {
      const kept = got.kept.find((k) => r.out === k.ours.pt && r.encoding.toLowerCase() === k.ours.name.toLowerCase());
      if (kept !== undefined) toSide.push({ ...r, out: kept.theirs.pt });
    }
    const sending = other.remote?.codecs.find((c) => !isTelephoneEvent(c) && other.inbound.routes.some((r) => r.in === c.pt));
    if (sending !== undefined && !toSide.some((r) => r.in === sending.pt)) {
      throw new NoCommonCodecError(`the answer of ${tag} dropped ${sending.name}/${sending.clockRate}, which the other side sends; the relay does not transcode`);
    }
    this.#applyRemote(side, got.remote, got.negotiated);
    side.inbound.setRoutes(fromSide);
    other.inbound.setRoutes(toSide);
    this.#log.info({ from: tag, direction: got.negotiated.direction, codecs: got.kept.map((k) => k.ours.name) }, 'media answer to our SDP');
  }

  blockMedia(tag: string | undefined, blocked: boolean): void {
    const sides = tag === undefined ? [this.#a, this.#b] : [this.#side(tag)];
    for (const side of sides) side.inbound.blocked = blocked;
  }

  playDtmf(toTag: string, digit: string, durationMs: number): void {
    const event = digitEvent(digit);
    this.#side(toTag).player.play(event, durationMs);
  }

  stats(): LegStats[] {
    return [this.#a, this.#b].map((side) => this.#legStats(side));
  }

  /** Idempotent: stops DTMF playout, the relay and the timeout watch, closes both legs (their ports go back). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const side of [this.#a, this.#b]) {
      side.player.close();
      this.#ctx.unwatch(side.leg);
    }
    this.#relay.close();
    this.#a.leg.close();
    this.#b.leg.close();
    this.#log.info({ relayed: this.#relay.relayedRtp }, 'media session closed');
  }

  #sideForOffer(fromTag: string): Side {
    if (this.#a.tag === fromTag) return this.#a;
    if (this.#b.tag === fromTag) return this.#b;
    // The side that received the first offer re-offers before its answer named it (glare, or a B2BUA that
    // sends the callee's first SDP as an offer): it is the untagged one.
    if (this.#b.tag === undefined) return this.#b;
    throw new MediaSessionError('UNKNOWN_TAG', `tag ${fromTag} is not a side of call ${this.callId}`);
  }

  #side(tag: string): Side {
    if (this.#a.tag === tag) return this.#a;
    if (this.#b.tag === tag || (tag === '' && this.#b.tag === undefined)) return this.#b;
    throw new MediaSessionError('UNKNOWN_TAG', `tag ${tag} is not a side of call ${this.callId}`);
  }

  /**
   * Our side of a leg as the SDP describes it. `role` is the SDP's role: in an offer we send a=rtcp-mux to a
   * plain peer only if it already muxes (trunks rarely do); in an answer we accept it when offered.
   */
  #endpoint(side: Side, role: 'offer' | 'answer'): EndpointDescription {
    const address = this.#ctx.advertisedAddress;
    const leg = side.leg;
    if (leg instanceof PlainMediaLeg) {
      return { kind: 'plain', address, port: leg.port, rtcpPort: leg.leg.rtcpPort, rtcpMux: role === 'answer' || leg.leg.rtcpMux };
    }
    const webrtc = leg as WebRtcMediaLeg;
    const local = webrtc.leg.localParameters();
    const setup = webrtc.leg.localSetup();
    return {
      kind: 'webrtc',
      address,
      port: webrtc.port,
      ice: { ufrag: local.iceUfrag, pwd: local.icePwd },
      fingerprints: [local.fingerprint],
      candidates: local.candidates.map((c) => ({ address: c.ip, port: c.port, foundation: c.foundation, priority: c.priority })),
      // Keep the DTLS role of an established association when the peer re-offers actpass (RFC 8842 §5.5).
      ...(setup === 'actpass' ? {} : { setup }),
    };
  }

  /**
   * RFC 5576 a=ssrc for the stream a WebRTC side receives: the relay sends it one SSRC for the whole call, so
   * signalling it is true for every later packet, and receivers that route RTP by signalled SSRC (werift, Plan B
   * era stacks) find the track without guessing; browsers that handle unsignalled SSRCs lose nothing. The SDP
   * module leaves SSRCs out of what it writes, so the line is added to its bridged m-line here.
   */
  #withSsrc(side: Side, sdp: string): string {
    if (side.kind !== 'webrtc') return sdp;
    const lines = sdp.split('\r\n');
    const start = lines.findIndex((l) => l.startsWith('m=audio ') && !l.startsWith('m=audio 0 '));
    if (start < 0) return sdp;
    let end = start + 1;
    while (end < lines.length && !lines[end]!.startsWith('m=') && lines[end] !== '') end++;
    lines.splice(end, 0, `a=ssrc:${side.outbound.rewriter.outSsrc} cname:${this.#cname}`);
    return lines.join('\r\n');
  }

  #applyRemote(side: Side, remote: RemoteMedia, negotiated: NegotiatedLeg): void {
    const leg = side.leg;
    if (leg instanceof PlainMediaLeg && remote.kind === 'plain') {
      const moved = leg.setRemote({
        address: remote.address,
        port: remote.port,
        ...(remote.rtcpAddress === undefined ? {} : { rtcpAddress: remote.rtcpAddress }),
        ...(remote.rtcpPort === undefined ? {} : { rtcpPort: remote.rtcpPort }),
        rtcpMux: negotiated.rtcpMux,
      });
      if (moved) this.#log.debug({ tag: side.tag, address: remote.address, port: remote.port }, 'plain leg remote set; latching afresh');
    } else if (leg instanceof WebRtcMediaLeg && remote.kind === 'webrtc') {
      const params: RemoteParameters = {
        iceUfrag: remote.ice.ufrag,
        icePwd: remote.ice.pwd,
        fingerprints: remote.fingerprints,
        setup: remote.setup as DtlsSetup,
        candidates: remote.ice.candidates.map((c) => ({ ip: c.address, port: c.port, priority: c.priority, type: c.type })),
      };
      leg.leg.setRemoteParameters(params);
      leg.applied = params;
      const setup = leg.leg.localSetup();
      const role = setup === 'passive' ? 'server' : setup === 'active' ? 'client' : undefined;
      if (negotiated.dtlsRole !== undefined && role !== undefined && role !== negotiated.dtlsRole) {
        this.#log.warn({ tag: side.tag, sdp: negotiated.dtlsRole, leg: role }, 'DTLS role of the leg differs from the SDP');
      }
    } else {
      throw new MediaSessionError('KIND_MISMATCH', `a ${remote.kind} description for a ${leg.kind} leg`);
    }
    side.remote = remote;
    leg.setDirection(negotiated.direction);
  }

  #legStats(side: Side): LegStats {
    const leg = side.leg;
    const s = leg.stats;
    const path = side.inbound;
    return {
      tag: side.tag ?? '',
      kind: side.kind,
      local: { address: this.#ctx.advertisedAddress, port: leg.port },
      remote: leg.remote(),
      state: leg.state(),
      direction: leg.direction,
      packetsIn: s.packetsReceived,
      packetsOut: s.packetsSent,
      bytesIn: s.bytesReceived,
      bytesOut: s.bytesSent,
      lost: s.lost,
      jitterMs: s.jitterMs,
      rttMs: s.remote?.rttMs,
      dropped: leg.counters().dropped + path.payloadTypeDrops + path.blockedDrops,
      lastPacketAgoMs: leg.lastRtpAt === 0 ? undefined : performance.now() - leg.lastRtpAt,
    };
  }

  #onDtmf(side: Side, event: number, _durationUnits: number): void {
    const digit = eventDigit(event);
    if (digit !== undefined && !this.#closed) this.#ctx.onDtmf(this.callId, side.tag ?? '', digit);
  }

  #onTimeout(side: Side): void {
    if (this.#closed || this.#timedOut) return;
    this.#timedOut = true;
    this.#log.info({ tag: side.tag }, 'media timeout');
    this.#ctx.onTimeout(this.callId, side.tag ?? '');
  }

  #onLegFailed(side: Side, reason: GatewayError): void {
    if (this.#closed) return;
    this.#ctx.onFailed(this.callId, side.tag ?? '', `${reason.code}: ${reason.message}`);
  }
}
