/**
 * readPeerAnswer: a peer's answer to the SDP the gateway last sent on its leg, when that SDP was not the
 * translation of the other side's offer — the offer in a 2xx to an INVITE or re-INVITE without SDP, whose answer
 * comes in the ACK (RFC 3261 §13.2.1, §14.2). The other side has nothing to learn from it (no offer of theirs is
 * pending), so nothing is written: the answer only tells the leg where to send, in which direction, and which of
 * the offered codecs the peer kept (RFC 3264 §6.1: a subset of ours, ideally with our numbers). The leg's SDP state
 * — o= version and last body (RFC 3264 §8) — is the peer's view and stays as it is.
 *
 * This is what rtpengine's `subscribe answer` does with the answer to an SDP it generated: apply, return no SDP.
 */
import { isTelephoneEvent, keepTelephoneEventsForRates, sameCodec } from './codecs.ts';
import { intersectDirections, reverseDirection } from './direction.ts';
import { NoCommonCodecError, SdpError } from './errors.ts';
import type { NegotiatedLeg } from './answer.ts';
import { parseSdp } from './parse.ts';
import { remoteMedia } from './remote.ts';
import type { RemoteMedia } from './remote.ts';
import type { LegSdpState } from './state.ts';
import type { Codec, DtlsRole, LegKind, ParsedSession } from './types.ts';

export interface ReadPeerAnswerInput {
  /** The peer's answer. */
  readonly sdp: string;
  /** The kind of the peer's leg. */
  readonly kind: LegKind;
  /** The leg's SDP state: its lastBody is the SDP being answered. */
  readonly state: LegSdpState;
}

/** One codec the peer kept: as the gateway numbered it (what the peer sends us) and as the peer did (what it expects). */
export interface KeptCodec {
  readonly ours: Codec;
  readonly theirs: Codec;
}

export interface PeerAnswer {
  /** The peer's media parameters for its leg. */
  readonly remote: RemoteMedia;
  /** The gateway's direction, rtcp-mux and DTLS role on the leg. */
  readonly negotiated: NegotiatedLeg;
  /** The codecs of our SDP the answer kept, in our order; telephone-event only at a kept audio rate. */
  readonly kept: readonly KeptCodec[];
}

function invalid(message: string): SdpError {
  return new SdpError('SDP_INVALID', message);
}

/** The SDP the leg's state says was sent last (its body, with a stand-in o= line so that it parses). */
function lastSent(state: LegSdpState): ParsedSession {
  if (state.lastBody === undefined) throw new SdpError('SDP_LOCAL_INVALID', 'no SDP was sent on this leg: there is nothing to answer');
  return parseSdp(state.lastBody.replace(/^v=0\r\n/, `v=0\r\no=- ${state.origin.sessionId} ${state.origin.version} IN IP4 127.0.0.1\r\n`));
}

export function readPeerAnswer(input: ReadPeerAnswerInput): PeerAnswer {
  const sent = lastSent(input.state);
  const sentIndex = input.state.slots.findIndex((s) => s.bridged);
  const ours = sent.media[sentIndex];
  if (ours === undefined) throw new SdpError('SDP_LOCAL_INVALID', 'the SDP sent on this leg has no bridged m-line');
  const answer = parseSdp(input.sdp);
  if (answer.media.length !== sent.media.length) {
    throw invalid(`the answer has ${answer.media.length} m-lines, our SDP had ${sent.media.length} (RFC 3264 §6)`);
  }
  const answered = answer.media[sentIndex]!;
  if (answered.type.toLowerCase() !== 'audio') throw invalid(`m-line ${sentIndex} of the answer is not audio`);
  if (answered.port === 0) throw new SdpError('SDP_UNSUPPORTED', 'the answerer rejected the audio stream (port 0)');
  if (answered.proto.toUpperCase() !== ours.proto.toUpperCase()) {
    throw new SdpError('SDP_UNSUPPORTED', `the answer switched the transport to ${answered.proto} (offered ${ours.proto})`);
  }
  const remote = remoteMedia(answer, answered, input.kind, 'answer');

  // RFC 3264 §6.1: only codecs of our SDP count; what the answer adds beyond them is ignored.
  const pairs: KeptCodec[] = [];
  for (const codec of ours.codecs) {
    const theirs = answered.codecs.find((c) => sameCodec(c, codec));
    if (theirs !== undefined) pairs.push({ ours: codec, theirs });
  }
  if (!pairs.some((p) => !isTelephoneEvent(p.ours))) {
    const names = answered.codecs.map((c) => `${c.name}/${c.clockRate}`).join(', ') || 'none';
    throw new NoCommonCodecError(`the answer accepted none of our codecs (answered: ${names})`);
  }
  const keptCodecs = new Set(keepTelephoneEventsForRates(pairs.map((p) => p.ours)));
  const kept = pairs.filter((p) => keptCodecs.has(p.ours));

  // What we said (ours.direction) narrowed by what the peer does, seen from our end.
  const direction = intersectDirections(ours.direction, reverseDirection(remote.direction));
  const rtcpMux = remote.kind === 'webrtc' || (ours.rtcpMux && remote.rtcpMux);
  // RFC 5763 §5: the peer's a=setup:active makes us the DTLS server.
  const dtlsRole: DtlsRole | undefined = remote.kind === 'webrtc' ? (remote.setup === 'active' ? 'server' : 'client') : undefined;
  return { remote, negotiated: { direction, rtcpMux, ...(dtlsRole === undefined ? {} : { dtlsRole }) }, kept };
}
