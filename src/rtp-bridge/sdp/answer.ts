/**
 * translateAnswer: B's answer to the gateway's offer → the answer the gateway sends to A (rtpengine's ng `answer`),
 * with the relay's payload type tables and what each leg negotiated.
 *
 * The answer to A has exactly A's m-lines in A's order (RFC 3264 §6): the bridged audio one describes the
 * gateway's endpoint on A's leg with the codecs both A and B have (in A's order, A's numbers, B's fmtp — B's
 * receive parameters are what A must honour when sending through the relay), B's direction made compatible with
 * A's offer (RFC 3264 §6.1), and B's ptime; every other m-line is rejected with port 0.
 */
import { plainAudioSection, rejectedSection, webrtcAudioSection } from './build.ts';
import type { AudioContent, PlainMux } from './build.ts';
import { isTelephoneEvent, sameCodec } from './codecs.ts';
import { answerDirection, intersectDirections, reverseDirection } from './direction.ts';
import { checkEndpoint, familyOf } from './endpoint.ts';
import type { EndpointDescription } from './endpoint.ts';
import { NoCommonCodecError, SdpError } from './errors.ts';
import type { PendingOffer } from './offer.ts';
import { parseSdp } from './parse.ts';
import { buildPayloadTypeMap, recordPayloadTypes } from './payload-types.ts';
import type { NegotiatedCodec, PayloadTypeMap } from './payload-types.ts';
import { inBundle, remoteMedia } from './remote.ts';
import type { RemoteMedia } from './remote.ts';
import { originFor } from './state.ts';
import type { LegSdpState, MediaSlot } from './state.ts';
import type { Direction, DtlsRole, MediaSection, SetupRole } from './types.ts';
import { renderBody, renderSdp } from './write.ts';
import type { OutMedia } from './write.ts';

export interface TranslateAnswerInput {
  /** The answer received from B. */
  readonly sdp: string;
  readonly pending: PendingOffer;
  /** The gateway's endpoint on A's leg (its kind must be A's). */
  readonly local: EndpointDescription;
  /** SDP state of A's leg. */
  readonly state: LegSdpState;
  readonly forceNewVersion?: boolean;
}

/** The outcome of the offer/answer for one leg, from the gateway's side. */
export interface NegotiatedLeg {
  /** What the gateway sends and accepts on this leg (RFC 3264 §6.1), as the leg's RTP endpoint applies it. */
  readonly direction: Direction;
  /** RTCP on the RTP port (always on a WebRTC leg; on a plain leg only if offered and accepted, RFC 5761). */
  readonly rtcpMux: boolean;
  /** WebRTC legs: the gateway's DTLS role (RFC 5763 §5: setup active = DTLS client). */
  readonly dtlsRole?: DtlsRole;
}

export interface TranslatedAnswer {
  /** The answer to send to A. */
  readonly sdp: string;
  /** A's leg state once this answer is sent. */
  readonly state: LegSdpState;
  /** B's media parameters for B's leg. */
  readonly remote: RemoteMedia;
  readonly payloadTypes: PayloadTypeMap;
  readonly offerer: NegotiatedLeg;
  readonly answerer: NegotiatedLeg;
}

function invalid(message: string): SdpError {
  return new SdpError('SDP_INVALID', message);
}

/** RFC 8842 §5.3 / RFC 4145 §4.1: the answerer's a=setup given the offer's. */
function answerSetup(offered: SetupRole, preferred: 'active' | 'passive'): 'active' | 'passive' {
  if (offered === 'active') return 'passive';
  if (offered === 'passive') return 'active';
  return preferred;
}

/** Codecs of A's offer that B accepted, A's order; telephone-event only at a rate some audio codec kept has. */
function negotiate(pending: PendingOffer, offered: MediaSection, answered: MediaSection): NegotiatedCodec[] {
  const pairs: NegotiatedCodec[] = [];
  for (const { codec: sent, sourcePt } of pending.sent) {
    const offerer = offered.codecs.find((c) => c.pt === sourcePt);
    const answerer = answered.codecs.find((c) => sameCodec(c, sent));
    if (offerer !== undefined && answerer !== undefined) pairs.push({ offerer, sent, answerer });
  }
  const rates = new Set(pairs.filter((p) => !isTelephoneEvent(p.sent)).map((p) => p.sent.clockRate));
  if (rates.size === 0) {
    const names = answered.codecs.map((c) => `${c.name}/${c.clockRate}`).join(', ') || 'none';
    throw new NoCommonCodecError(`the answer accepted none of the offered codecs (answered: ${names})`);
  }
  return pairs.filter((p) => !isTelephoneEvent(p.sent) || rates.has(p.sent.clockRate));
}

export function translateAnswer(input: TranslateAnswerInput): TranslatedAnswer {
  const { pending, local, state } = input;
  checkEndpoint(local);
  if (local.kind !== pending.from) {
    throw new SdpError('SDP_LOCAL_INVALID', `the offerer's leg is ${pending.from}, the endpoint given is ${local.kind}`);
  }
  const answer = parseSdp(input.sdp);
  if (answer.media.length !== pending.sentSlots.length) {
    throw invalid(`the answer has ${answer.media.length} m-lines, the offer had ${pending.sentSlots.length} (RFC 3264 §6)`);
  }
  const answered = answer.media[pending.sentIndex]!;
  if (answered.type.toLowerCase() !== 'audio') throw invalid(`m-line ${pending.sentIndex} of the answer is not audio`);
  if (answered.port === 0) throw new SdpError('SDP_UNSUPPORTED', 'the answerer rejected the audio stream (port 0)');
  // RFC 3264 §6: the answer's transport is the offer's (an RTP/SAVP + a=crypto answer to RTP/AVP is SDES).
  const sentProto = pending.sentSlots[pending.sentIndex]!.proto;
  if (answered.proto.toUpperCase() !== sentProto.toUpperCase()) {
    throw new SdpError('SDP_UNSUPPORTED', `the answer switched the transport to ${answered.proto} (offered ${sentProto})`);
  }
  const remote = remoteMedia(answer, answered, pending.to, 'answer');
  const offered = pending.offer.media[pending.offerIndex]!;
  const negotiated = negotiate(pending, offered, answered);

  // Directions: what B does (remote.direction) made compatible with A's offer; and the gateway's own view of
  // each leg — towards A what the answer says, towards B what our offer said narrowed by B's answer.
  const toOfferer = answerDirection(pending.sentDirection, remote.direction);
  const towardsAnswerer = intersectDirections(pending.sentDirection, reverseDirection(remote.direction));

  const slots: MediaSlot[] = pending.offer.media.map((m) => ({
    type: m.type,
    proto: m.proto,
    formats: m.formats,
    ...(m.mid === undefined ? {} : { mid: m.mid }),
    bridged: m.index === pending.offerIndex,
  }));
  const codecs = negotiated.map((n) => ({
    pt: n.offerer.pt,
    name: n.offerer.name,
    clockRate: n.offerer.clockRate,
    channels: n.offerer.channels,
    ...(n.answerer.fmtp === undefined ? {} : { fmtp: n.answerer.fmtp }),
    rtcpFb: [],
  }));
  const content: AudioContent = {
    codecs,
    direction: toOfferer,
    ...(answered.ptime === undefined ? {} : { ptime: answered.ptime }),
    ...(answered.maxptime === undefined ? {} : { maxptime: answered.maxptime }),
  };
  const bridged = slots[pending.offerIndex]!;
  let offererMux: boolean;
  let offererRole: DtlsRole | undefined;
  const sessionAttributes: string[] = [];
  let section: OutMedia;
  if (local.kind === 'plain') {
    offererMux = offered.rtcpMux && local.rtcpMux === true;
    const mux: PlainMux = offererMux ? 'accept' : 'none';
    section = plainAudioSection(bridged, local, content, mux);
  } else {
    offererMux = true;
    const setup = answerSetup(offered.setup ?? 'active', local.setup ?? 'passive');
    offererRole = setup === 'active' ? 'client' : 'server';
    sessionAttributes.push('ice-lite');
    // RFC 8843 §7.3: a BUNDLE offer is answered with a BUNDLE group of the accepted m-lines; browsers using
    // max-bundle reject an answer without it.
    if (inBundle(pending.offer, bridged.mid)) sessionAttributes.push(`group:BUNDLE ${bridged.mid}`);
    section = webrtcAudioSection(bridged, local, content, setup);
  }
  const media = slots.map((s, i) => (i === pending.offerIndex ? section : rejectedSection(s)));
  const out = { family: familyOf(local.address), address: local.address, sessionAttributes, media };
  const body = renderBody(out);
  const origin = originFor(state, body, input.forceNewVersion === true);

  const answererMux = remote.kind === 'webrtc' || (pending.sentRtcpMux && remote.rtcpMux);
  const answererRole: DtlsRole | undefined =
    remote.kind === 'webrtc' ? (remote.setup === 'active' ? 'server' : 'client') : undefined;
  return {
    sdp: renderSdp(out, origin),
    state: { origin, lastBody: body, slots, payloadTypes: recordPayloadTypes(state.payloadTypes, codecs) },
    remote,
    payloadTypes: buildPayloadTypeMap(negotiated),
    offerer: { direction: toOfferer, rtcpMux: offererMux, ...(offererRole === undefined ? {} : { dtlsRole: offererRole }) },
    answerer: { direction: towardsAnswerer, rtcpMux: answererMux, ...(answererRole === undefined ? {} : { dtlsRole: answererRole }) },
  };
}
