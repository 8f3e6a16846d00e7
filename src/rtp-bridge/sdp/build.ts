/**
 * The m-lines the gateway emits: the bridged audio section of a plain RTP/AVP leg, of a WebRTC leg, and the
 * port-0 section standing for every other m-line (RFC 3264 §6/§8: an answer has the offer's m-lines, in order;
 * later offers keep them). Nothing of the other side's transport crosses over: no ICE, DTLS, BUNDLE, extmap,
 * ssrc/msid or rtcp-fb of one leg ever reaches the other.
 */
import type { LocalCandidate, PlainEndpoint, WebrtcEndpoint } from './endpoint.ts';
import type { MediaSlot } from './state.ts';
import type { Codec, Direction, SetupRole } from './types.ts';
import type { OutMedia } from './write.ts';

/** What goes into the bridged audio m-line whatever the leg. */
export interface AudioContent {
  readonly codecs: readonly Codec[];
  readonly direction: Direction;
  readonly ptime?: number;
  readonly maxptime?: number;
}

/** RFC 5761 a=rtcp-mux on a plain leg: offered, accepted in an answer, or not used. */
export type PlainMux = 'offer' | 'accept' | 'none';

export const PLAIN_PROTO = 'RTP/AVP';
export const WEBRTC_PROTO = 'UDP/TLS/RTP/SAVPF';

function codecAttributes(codecs: readonly Codec[]): string[] {
  const out: string[] = [];
  for (const c of codecs) {
    out.push(`rtpmap:${c.pt} ${c.name}/${c.clockRate}${c.channels > 1 ? `/${c.channels}` : ''}`);
    if (c.fmtp !== undefined) out.push(`fmtp:${c.pt} ${c.fmtp}`);
  }
  return out;
}

function timing(content: AudioContent): string[] {
  const out: string[] = [];
  if (content.ptime !== undefined) out.push(`ptime:${content.ptime}`);
  if (content.maxptime !== undefined) out.push(`maxptime:${content.maxptime}`);
  return out;
}

/**
 * Plain RTP/AVP audio: rtpmap/fmtp, ptime, direction, and RFC 3605 a=rtcp (RTCP on port + 1 unless muxed).
 * The proto is the slot's: RTP/AVP in our offers, the offer's own (RTP/AVP or RTP/AVPF) in answers.
 */
export function plainAudioSection(slot: MediaSlot, local: PlainEndpoint, content: AudioContent, mux: PlainMux): OutMedia {
  const attributes: string[] = [];
  if (slot.mid !== undefined) attributes.push(`mid:${slot.mid}`);
  attributes.push(...codecAttributes(content.codecs), ...timing(content), content.direction);
  if (mux !== 'accept') attributes.push(`rtcp:${local.rtcpPort ?? local.port + 1}`);
  if (mux !== 'none') attributes.push('rtcp-mux');
  return { type: 'audio', port: local.port, proto: slot.proto, formats: content.codecs.map((c) => String(c.pt)), attributes };
}

/** RFC 8445 §5.1.2.1: (2^24)·type preference (126 for host) + (2^8)·local preference + (256 − component). */
function hostPriority(position: number): number {
  return 126 * 2 ** 24 + (65535 - position) * 2 ** 8 + (256 - 1);
}

function candidateLines(local: WebrtcEndpoint): string[] {
  const candidates: readonly LocalCandidate[] = local.candidates ?? [{ address: local.address, port: local.port }];
  // RTCP is muxed (RFC 5761), so component 1 only; the list is complete, so end-of-candidates (RFC 8840 §4.1).
  return [
    ...candidates.map(
      (c, i) => `candidate:${c.foundation ?? String(i + 1)} 1 udp ${c.priority ?? hostPriority(i)} ${c.address} ${c.port} typ host`,
    ),
    'end-of-candidates',
  ];
}

/**
 * WebRTC audio (RFC 8829 JSEP §5.2/§5.3 as browsers accept it): mid, ICE credentials and the gateway's host
 * candidates (it is ICE-lite), DTLS fingerprint and setup, rtcp-mux, codecs, ptime, direction. No a=msid: a
 * browser then gives the track a default stream of its own (Chromium does; checked in chromium-accepts.test.ts).
 */
export function webrtcAudioSection(slot: MediaSlot, local: WebrtcEndpoint, content: AudioContent, setup: SetupRole): OutMedia {
  const attributes: string[] = [];
  if (slot.mid !== undefined) attributes.push(`mid:${slot.mid}`);
  attributes.push(`ice-ufrag:${local.ice.ufrag}`, `ice-pwd:${local.ice.pwd}`);
  for (const f of local.fingerprints) attributes.push(`fingerprint:${f.algorithm} ${f.value}`);
  attributes.push(`setup:${setup}`, ...candidateLines(local), 'rtcp-mux');
  attributes.push(...codecAttributes(content.codecs), ...timing(content), content.direction);
  return { type: 'audio', port: local.port, proto: slot.proto, formats: content.codecs.map((c) => String(c.pt)), attributes };
}

/** An m-line the gateway does not use: port 0 (RFC 3264 §6), the same media, proto, formats and mid. */
export function rejectedSection(slot: MediaSlot): OutMedia {
  return {
    type: slot.type,
    port: 0,
    proto: slot.proto,
    formats: slot.formats.length > 0 ? slot.formats : ['0'],
    attributes: slot.mid === undefined ? [] : [`mid:${slot.mid}`],
  };
}
