/**
 * The services peer's side of RFC 3264 offer/answer, as a small endpoint does it: pick one codec the service can
 * handle from the offer, keep telephone-event when offered, answer every m-line (the unused ones with port 0,
 * §6), and own its o= line (same session id for the whole call; version + 1 only when the SDP changes, §8).
 * Pure functions over the parsed SDP; the parsing and the §6.1 direction algebra are the media layer's.
 */
import {
  answerDirection,
  findBridgedSection,
  intersectDirections,
  NoCommonCodecError,
  remoteMedia,
  reverseDirection,
  SdpError,
  type Codec,
  type Direction,
  type MediaSection,
  type ParsedSession,
  type PlainRemoteMedia,
} from '../rtp-bridge/sdp/index.ts';

export type ServiceKind = 'echo' | 'tone';

/** What a service can send or return. `tone` encodes G.711 itself; `echo` returns any of these untouched. */
const SERVICE_CODECS: Readonly<Record<ServiceKind, readonly string[]>> = {
  tone: ['PCMU', 'PCMA'],
  echo: ['PCMU', 'PCMA', 'G722'],
};

/** The events we answer for telephone-event (RFC 4733 §2.4.1 fmtp): the sixteen DTMF events. */
const TELEPHONE_EVENTS = '0-15';

export const PTIME_MS = 20;

export interface NegotiatedAudio {
  /** The one audio codec in use, with the offer's payload type. */
  readonly codec: Codec;
  /** telephone-event/8000 when offered, with the offer's payload type. */
  readonly telephoneEvent: Codec | undefined;
  /** Our direction (RFC 3264 §6.1: the reverse of the offer's, restricted to what we do). */
  readonly direction: Direction;
  /** The caller's media (address, ports, its own direction). */
  readonly remote: PlainRemoteMedia;
}

export interface LocalAudio {
  /** The address in c= and o= (an IP literal). */
  readonly address: string;
  readonly port: number;
  readonly rtcpPort: number;
}

export interface Origin {
  readonly sessionId: string;
  readonly version: number;
}

export interface RenderedSdp {
  /** The SDP without its o= line: compare it with the previous one to decide whether the version moves (§8). */
  readonly body: string;
  readonly sdp: string;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

function usable(c: Codec, names: readonly string[]): boolean {
  return c.clockRate === 8000 && c.channels === 1 && names.some((n) => same(n, c.name));
}

/**
 * The codec for `service` from an offered m-line: the one in use (`current`) when the offer still has it
 * (RFC 3264 §8.3.2 lets a re-offer change codecs, but a steady endpoint keeps what works), else the first one the
 * service can handle, in the offer's order of preference.
 */
export function chooseCodec(section: MediaSection, service: ServiceKind, current?: Codec): Codec {
  const names = SERVICE_CODECS[service];
  const offered = section.codecs.filter((c) => usable(c, names));
  const kept = current === undefined ? undefined : offered.find((c) => same(c.name, current.name));
  const chosen = kept ?? offered[0];
  if (chosen === undefined) {
    const list = section.codecs.map((c) => `${c.name}/${c.clockRate}`).join(', ') || 'none';
    throw new NoCommonCodecError(`the ${service} service needs one of ${names.join(', ')} at 8000 Hz; offered: ${list}`);
  }
  return chosen;
}

/** Answer to an offer (initial or re-INVITE): which m-line, codec, telephone-event, direction and remote. */
export function negotiateOffer(offer: ParsedSession, service: ServiceKind, current?: Codec): { section: MediaSection; audio: NegotiatedAudio } {
  const section = findBridgedSection(offer, 'plain');
  const remote = remoteMedia(offer, section, 'plain', 'offer');
  if (remote.kind !== 'plain') throw new SdpError('SDP_UNSUPPORTED', 'not a plain RTP offer');
  const codec = chooseCodec(section, service, current);
  const telephoneEvent = section.codecs.find((c) => same(c.name, 'telephone-event') && c.clockRate === codec.clockRate);
  return { section, audio: { codec, telephoneEvent, direction: answerDirection(remote.direction, 'sendrecv'), remote } };
}

/**
 * An answer to our own offer (the SDP in the ACK after a re-INVITE without one, RFC 3261 §13.2.1): it must keep
 * our codec, and our direction becomes what we offered limited by the reverse of the answer's.
 */
export function acceptAnswer(answer: ParsedSession, offer: ParsedSession, offered: NegotiatedAudio): NegotiatedAudio {
  // RFC 3264 §6: "The answer MUST contain exactly the same number of "m=" lines as the offer."
  if (answer.media.length !== offer.media.length) {
    throw new SdpError('SDP_INVALID', `the answer has ${answer.media.length} m-lines, the offer had ${offer.media.length}`);
  }
  const section = findBridgedSection(answer, 'plain');
  const remote = remoteMedia(answer, section, 'plain', 'answer');
  if (remote.kind !== 'plain') throw new SdpError('SDP_UNSUPPORTED', 'not a plain RTP answer');
  const codec = section.codecs.find((c) => c.pt === offered.codec.pt && same(c.name, offered.codec.name));
  if (codec === undefined) throw new NoCommonCodecError(`the answer dropped ${offered.codec.name}, the only codec offered`);
  const te = offered.telephoneEvent;
  const telephoneEvent = te === undefined ? undefined : section.codecs.find((c) => c.pt === te.pt && same(c.name, te.name));
  return { codec, telephoneEvent, direction: intersectDirections(offered.direction, reverseDirection(remote.direction)), remote };
}

function family(address: string): 'IP4' | 'IP6' {
  return address.includes(':') ? 'IP6' : 'IP4';
}

function audioLines(audio: NegotiatedAudio, local: LocalAudio, proto: string): string[] {
  const { codec, telephoneEvent } = audio;
  const formats = telephoneEvent === undefined ? [codec.pt] : [codec.pt, telephoneEvent.pt];
  const lines = [`m=audio ${local.port} ${proto} ${formats.join(' ')}`, `a=rtpmap:${codec.pt} ${codec.name}/${codec.clockRate}`];
  if (telephoneEvent !== undefined) {
    lines.push(`a=rtpmap:${telephoneEvent.pt} telephone-event/${telephoneEvent.clockRate}`);
    lines.push(`a=fmtp:${telephoneEvent.pt} ${TELEPHONE_EVENTS}`);
  }
  // RFC 3605 a=rtcp: RTCP is on the odd port next to RTP (we never accept rtcp-mux on this plain leg).
  lines.push(`a=ptime:${PTIME_MS}`, `a=${audio.direction}`, `a=rtcp:${local.rtcpPort}`);
  return lines;
}

function assemble(lines: readonly string[], local: LocalAudio, origin: Origin): RenderedSdp {
  const head = ['v=0', 's=-', `c=IN ${family(local.address)} ${local.address}`, 't=0 0'];
  const body = [...head, ...lines].join('\r\n') + '\r\n';
  const o = `o=- ${origin.sessionId} ${origin.version} IN ${family(local.address)} ${local.address}`;
  return { body, sdp: ['v=0', o, ...head.slice(1), ...lines].join('\r\n') + '\r\n' };
}

/** The answer: our audio in the chosen m-line's place, every other m-line refused with port 0 (RFC 3264 §6). */
export function renderAnswer(offer: ParsedSession, section: MediaSection, audio: NegotiatedAudio, local: LocalAudio, origin: Origin): RenderedSdp {
  const lines: string[] = [];
  for (const m of offer.media) {
    if (m.index === section.index) {
      lines.push(...audioLines(audio, local, m.proto));
    } else {
      lines.push(`m=${m.type} 0 ${m.proto} ${m.formats.length > 0 ? m.formats.join(' ') : '0'}`);
      if (m.mid !== undefined) lines.push(`a=mid:${m.mid}`);
    }
  }
  return assemble(lines, local, origin);
}

/**
 * Our offer in a 2xx to a re-INVITE without SDP (RFC 3261 §14.2): the session as it stands, sendrecv, in the
 * m-line layout of the last negotiation (RFC 3264 §8: a new offer keeps every m-line of the previous SDP).
 */
export function renderOffer(previous: ParsedSession, section: MediaSection, audio: NegotiatedAudio, local: LocalAudio, origin: Origin): RenderedSdp {
  return renderAnswer(previous, section, { ...audio, direction: 'sendrecv' }, local, origin);
}

/** Our o= line across the call: the session id stays, the version moves only when the SDP changes (§8). */
export interface SdpVersion {
  readonly origin: Origin;
  readonly lastBody: string | undefined;
}

export function createSdpVersion(): SdpVersion {
  // RFC 4566 §5.2: "a numeric string such that the tuple … forms a globally unique identifier"; NTP-style
  // seconds would do, random digits do as well.
  return { origin: { sessionId: String(1_000_000_000 + Math.floor(Math.random() * 8_999_999_999)), version: 1 }, lastBody: undefined };
}

/** Renders with the current version, or the next one when the body differs from the last SDP we sent. */
export function renderVersioned(state: SdpVersion, render: (origin: Origin) => RenderedSdp): { sdp: string; state: SdpVersion } {
  let origin = state.origin;
  let out = render(origin);
  if (state.lastBody !== undefined && out.body !== state.lastBody) {
    origin = { ...origin, version: origin.version + 1 };
    out = render(origin);
  }
  return { sdp: out.sdp, state: { origin, lastBody: out.body } };
}
