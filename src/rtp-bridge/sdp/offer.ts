/**
 * translateOffer: the offer from side A → the offer the gateway sends to side B (rtpengine's ng `offer`).
 *
 * B's offer describes the gateway's own endpoint on B's leg, with A's codecs (those the relay can carry and the
 * operator allows, in A's order), A's direction (hold passes through as direction), A's ptime. Its m-lines are
 * those already negotiated on B's leg (RFC 3264 §8), or a single audio m-line on a new leg; A's other m-lines
 * (video, data) are not offered to B — the answer to A rejects them.
 */
import { PLAIN_PROTO, WEBRTC_PROTO, plainAudioSection, rejectedSection, webrtcAudioSection } from './build.ts';
import type { AudioContent } from './build.ts';
import { DEFAULT_CODECS, isTelephoneEvent, selectOfferCodecs } from './codecs.ts';
import type { CodecPolicy } from './codecs.ts';
import { checkEndpoint, familyOf } from './endpoint.ts';
import type { EndpointDescription } from './endpoint.ts';
import { NoCommonCodecError } from './errors.ts';
import { parseSdp } from './parse.ts';
import { assignPayloadTypes, recordPayloadTypes } from './payload-types.ts';
import { findBridgedSection, remoteMedia } from './remote.ts';
import type { RemoteMedia } from './remote.ts';
import { originFor } from './state.ts';
import type { LegSdpState, MediaSlot } from './state.ts';
import type { Codec, Direction, LegKind, ParsedSession } from './types.ts';
import { renderBody, renderSdp } from './write.ts';
import type { OutMedia, OutSession } from './write.ts';

export interface CodecOptions {
  /** What the relay may carry at all. Default DEFAULT_CODECS. */
  readonly relay?: CodecPolicy;
  /** Further restriction for the offerer's leg, and for the answerer's leg (e.g. a trunk that only takes PCMA). */
  readonly from?: CodecPolicy;
  readonly to?: CodecPolicy;
}

export interface TranslateOfferInput {
  /** The offer received from side A. */
  readonly sdp: string;
  /** The kind of A's leg. */
  readonly from: LegKind;
  /** The gateway's endpoint on B's leg; its kind is the kind of B's leg. */
  readonly local: EndpointDescription;
  /** SDP state of B's leg (createLegState for a new leg). */
  readonly state: LegSdpState;
  readonly codecs?: CodecOptions;
  /** Increment the o= version even if the SDP is unchanged. */
  readonly forceNewVersion?: boolean;
}

/** What translateAnswer needs from the offer step. Plain data: it can be kept with the call. */
export interface PendingOffer {
  readonly from: LegKind;
  readonly to: LegKind;
  /** A's offer as received. */
  readonly offer: ParsedSession;
  /** The bridged m-line in A's offer and in the offer sent to B. */
  readonly offerIndex: number;
  readonly sentIndex: number;
  readonly sentSlots: readonly MediaSlot[];
  /** The codecs sent to B (B-leg numbers) with the number A gave each. */
  readonly sent: readonly { readonly codec: Codec; readonly sourcePt: number }[];
  /** The direction sent to B: A's, RFC 2543 hold folded in. */
  readonly sentDirection: Direction;
  /** B is a plain leg and a=rtcp-mux was offered to it. */
  readonly sentRtcpMux: boolean;
}

export interface TranslatedOffer {
  /** The offer to send to B. */
  readonly sdp: string;
  /** B's leg state once this offer is sent (keep the previous one if B rejects the offer). */
  readonly state: LegSdpState;
  /** A's media parameters for A's leg. */
  readonly remote: RemoteMedia;
  readonly pending: PendingOffer;
}

function uniqueMid(slots: readonly MediaSlot[]): string {
  const used = new Set(slots.map((s) => s.mid));
  let n = 0;
  while (used.has(String(n))) n++;
  return String(n);
}

function protoFor(kind: LegKind, existing: string | undefined): string {
  if (existing !== undefined) {
    const p = existing.toUpperCase();
    if (kind === 'plain' ? p === 'RTP/AVP' || p === 'RTP/AVPF' : p.includes('SAVP')) return existing;
  }
  return kind === 'plain' ? PLAIN_PROTO : WEBRTC_PROTO;
}

/** B's m-lines: those of the session so far, the audio one bridged; a new leg gets one audio m-line. */
function offerLayout(previous: readonly MediaSlot[], kind: LegKind): { slots: MediaSlot[]; index: number } {
  let index = previous.findIndex((s) => s.bridged);
  if (index < 0) index = previous.findIndex((s) => s.type.toLowerCase() === 'audio');
  const slots = previous.map((s) => ({ ...s, bridged: false }));
  if (index < 0) {
    slots.push({ type: 'audio', proto: protoFor(kind, undefined), formats: [], bridged: false });
    index = slots.length - 1;
  }
  const slot = slots[index]!;
  const mid = slot.mid ?? (kind === 'webrtc' ? uniqueMid(slots) : undefined);
  slots[index] = { type: 'audio', proto: protoFor(kind, slot.proto), formats: slot.formats, ...(mid === undefined ? {} : { mid }), bridged: true };
  return { slots, index };
}

export function translateOffer(input: TranslateOfferInput): TranslatedOffer {
  const { local, state } = input;
  checkEndpoint(local);
  const offer = parseSdp(input.sdp);
  const section = findBridgedSection(offer, input.from);
  const remote = remoteMedia(offer, section, input.from, 'offer');
  const policies = [input.codecs?.relay ?? DEFAULT_CODECS, input.codecs?.from, input.codecs?.to].filter(
    (p): p is CodecPolicy => p !== undefined,
  );
  const sent = assignPayloadTypes(selectOfferCodecs(section.codecs, policies), state.payloadTypes);
  if (sent.every((s) => isTelephoneEvent(s.codec))) throw new NoCommonCodecError('no payload type number left for the codecs');
  const codecs = sent.map((s) => s.codec);

  const layout = offerLayout(state.slots, local.kind);
  const slots = layout.slots.map((s, i) => (i === layout.index ? { ...s, formats: codecs.map((c) => String(c.pt)) } : s));
  const bridged = slots[layout.index]!;
  const content: AudioContent = {
    codecs,
    direction: remote.direction,
    ...(section.ptime === undefined ? {} : { ptime: section.ptime }),
    ...(section.maxptime === undefined ? {} : { maxptime: section.maxptime }),
  };
  const sentRtcpMux = local.kind === 'plain' && local.rtcpMux === true;
  const media: OutMedia[] = slots.map((s, i) => {
    if (i !== layout.index) return rejectedSection(s);
    return local.kind === 'plain'
      ? plainAudioSection(s, local, content, sentRtcpMux ? 'offer' : 'none')
      : webrtcAudioSection(s, local, content, 'actpass');
  });
  // The gateway is ICE-lite (RFC 8445 §2.5) and always offers BUNDLE (RFC 8843 §7.2), with the one m-line in use.
  const sessionAttributes = local.kind === 'webrtc' ? ['ice-lite', `group:BUNDLE ${bridged.mid}`] : [];
  const out: OutSession = { family: familyOf(local.address), address: local.address, sessionAttributes, media };
  const body = renderBody(out);
  const origin = originFor(state, body, input.forceNewVersion === true);
  return {
    sdp: renderSdp(out, origin),
    state: { origin, lastBody: body, slots, payloadTypes: recordPayloadTypes(state.payloadTypes, codecs) },
    remote,
    pending: {
      from: input.from,
      to: local.kind,
      offer,
      offerIndex: section.index,
      sentIndex: layout.index,
      sentSlots: slots,
      sent,
      sentDirection: remote.direction,
      sentRtcpMux,
    },
  };
}
