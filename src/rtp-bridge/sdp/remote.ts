/**
 * Reading a peer's SDP for what its leg needs: which m-line carries the audio the gateway relays, and that
 * stream's transport parameters (RemoteMedia). Checks here are about whether the gateway can *use* the SDP on a
 * leg of the given kind; grammar was checked by parseSdp.
 */
import { withoutReceive } from './direction.ts';
import { SdpError } from './errors.ts';
import { isIpLiteral, isUnspecifiedAddress } from './parse.ts';
import type {
  AddressFamily,
  Codec,
  Direction,
  Fingerprint,
  IceParameters,
  LegKind,
  MediaSection,
  ParsedSession,
  SetupRole,
} from './types.ts';

interface RemoteMediaBase {
  /** Position of the m-line in the peer's SDP. */
  readonly index: number;
  readonly mid?: string;
  /** c= address as written; 0.0.0.0 / :: mean "nothing to send to yet" (placeholder, or RFC 2543 hold). */
  readonly address: string;
  readonly family: AddressFamily;
  readonly port: number;
  /** The stream's direction from the peer's point of view, RFC 2543 hold folded in (c=0.0.0.0 → no receive). */
  readonly direction: Direction;
  /** All payload formats the peer listed, with its numbers. */
  readonly codecs: readonly Codec[];
  readonly ptime?: number;
  readonly maxptime?: number;
}

export interface PlainRemoteMedia extends RemoteMediaBase {
  readonly kind: 'plain';
  /** RFC 3605 a=rtcp; when absent RTCP goes to address, port + 1 (RFC 3550 §11). */
  readonly rtcpAddress?: string;
  readonly rtcpPort?: number;
  /** The peer wrote a=rtcp-mux (whether it is used is decided by the answer: see NegotiatedLeg.rtcpMux). */
  readonly rtcpMux: boolean;
}

export interface WebrtcRemoteMedia extends RemoteMediaBase {
  readonly kind: 'webrtc';
  readonly ice: IceParameters & { readonly lite: boolean };
  readonly fingerprints: readonly Fingerprint[];
  readonly setup: SetupRole;
  /** The m-line is in an a=group:BUNDLE (RFC 8843). */
  readonly bundled: boolean;
  readonly rtcpMux: true;
}

export type RemoteMedia = PlainRemoteMedia | WebrtcRemoteMedia;

const PLAIN_PROTOS: ReadonlySet<string> = new Set(['RTP/AVP', 'RTP/AVPF']);
/** DTLS-SRTP over UDP: the JSEP protos, and RTP/SAVP(F) with a fingerprint as RFC 5763 first wrote it. */
const WEBRTC_PROTOS: ReadonlySet<string> = new Set(['UDP/TLS/RTP/SAVPF', 'UDP/TLS/RTP/SAVP', 'RTP/SAVPF', 'RTP/SAVP']);

function unsupported(message: string): SdpError {
  return new SdpError('SDP_UNSUPPORTED', message);
}

export function inBundle(session: ParsedSession, mid: string | undefined): boolean {
  return mid !== undefined && session.bundleGroups.some((g) => g.includes(mid));
}

/** An m-line in use: a port, or (WebRTC) RFC 8843 §6 bundle-only in a BUNDLE group. */
function isActive(session: ParsedSession, m: MediaSection, kind: LegKind): boolean {
  return m.port !== 0 || (kind === 'webrtc' && m.bundleOnly && inBundle(session, m.mid));
}

function protoFits(m: MediaSection, kind: LegKind): boolean {
  const proto = m.proto.toUpperCase();
  return kind === 'plain' ? PLAIN_PROTOS.has(proto) : WEBRTC_PROTOS.has(proto);
}

/**
 * The audio m-line the gateway bridges: the first audio m-line in use whose transport the leg speaks. The others
 * are answered with port 0. An SDP without one is refused with the reason a peer's operator can act on.
 */
export function findBridgedSection(session: ParsedSession, kind: LegKind): MediaSection {
  const audio = session.media.filter((m) => m.type.toLowerCase() === 'audio');
  if (audio.length === 0) throw unsupported('the SDP has no audio m-line');
  const active = audio.filter((m) => isActive(session, m, kind));
  const usable = active.find((m) => protoFits(m, kind));
  if (usable !== undefined) return usable;
  if (active.length === 0) throw unsupported('every audio m-line is disabled (port 0)');
  const first = active[0]!;
  if (kind === 'plain' && first.crypto.length > 0) {
    throw unsupported(`SDES-SRTP (RFC 4568 a=crypto, ${first.proto}) is not supported; offer RTP/AVP`);
  }
  throw unsupported(`audio over ${first.proto} cannot be used on a ${kind} leg`);
}

const ICE_CHARS = /^[A-Za-z0-9+/]+$/;

function checkIce(ice: IceParameters | undefined, index: number): IceParameters {
  if (ice === undefined) throw unsupported(`m-line ${index}: a WebRTC peer must send a=ice-ufrag and a=ice-pwd`);
  // RFC 8839 §5.4: ufrag 4–256 and pwd 22–256 ice-chars.
  if (ice.ufrag.length < 4 || ice.ufrag.length > 256 || !ICE_CHARS.test(ice.ufrag)) {
    throw new SdpError('SDP_INVALID', `m-line ${index}: bad a=ice-ufrag`);
  }
  if (ice.pwd.length < 22 || ice.pwd.length > 256 || !ICE_CHARS.test(ice.pwd)) {
    throw new SdpError('SDP_INVALID', `m-line ${index}: bad a=ice-pwd`);
  }
  return ice;
}

/**
 * The peer's parameters for the bridged m-line. `role` says whether the SDP is an offer or an answer: an answer's
 * a=setup must be active or passive (RFC 8842 §5.3); an offer without one is taken as active (RFC 4145 §4).
 */
export function remoteMedia(session: ParsedSession, m: MediaSection, kind: LegKind, role: 'offer' | 'answer'): RemoteMedia {
  if (m.connection === undefined) throw new SdpError('SDP_INVALID', `m-line ${m.index} has no c= line`);
  const base = {
    index: m.index,
    ...(m.mid === undefined ? {} : { mid: m.mid }),
    address: m.connection.address,
    family: m.connection.family,
    port: m.port,
    codecs: m.codecs,
    ...(m.ptime === undefined ? {} : { ptime: m.ptime }),
    ...(m.maxptime === undefined ? {} : { maxptime: m.maxptime }),
  };
  if (kind === 'plain') {
    if (!isIpLiteral(m.connection)) {
      throw unsupported(`c=${m.connection.family} ${m.connection.address} is not a unicast IP literal`);
    }
    return {
      kind,
      ...base,
      direction: isUnspecifiedAddress(m.connection) ? withoutReceive(m.direction) : m.direction,
      ...(m.rtcp?.address === undefined ? {} : { rtcpAddress: m.rtcp.address }),
      ...(m.rtcp === undefined ? {} : { rtcpPort: m.rtcp.port }),
      rtcpMux: m.rtcpMux,
    };
  }
  const ice = checkIce(m.ice, m.index);
  if (m.fingerprints.length === 0) throw unsupported(`m-line ${m.index}: a WebRTC peer must send a=fingerprint (RFC 8122)`);
  // RFC 8834 §5.1.1: WebRTC multiplexes RTCP; the leg has one port and nothing to receive RTCP elsewhere.
  if (!m.rtcpMux) throw unsupported(`m-line ${m.index}: a WebRTC peer must offer a=rtcp-mux (RFC 5761)`);
  const setup = m.setup ?? 'active';
  if (setup === 'holdconn') throw unsupported(`m-line ${m.index}: a=setup:holdconn is not supported`);
  if (role === 'answer' && setup === 'actpass') {
    throw new SdpError('SDP_INVALID', `m-line ${m.index}: an answer must say a=setup:active or passive (RFC 8842 §5.3)`);
  }
  // JSEP placeholders (c=IN IP4 0.0.0.0, port 9) are not hold on a WebRTC leg: direction is a= alone.
  return {
    kind,
    ...base,
    direction: m.direction,
    ice: { ...ice, lite: session.iceLite },
    fingerprints: m.fingerprints,
    setup,
    bundled: inBundle(session, m.mid),
    rtcpMux: true,
  };
}

/** RFC 8445 §9 / RFC 8839 §4.4.1.1.1: new ufrag or pwd from the peer means it restarted ICE. */
export function isIceRestart(previous: WebrtcRemoteMedia, next: WebrtcRemoteMedia): boolean {
  return previous.ice.ufrag !== next.ice.ufrag || previous.ice.pwd !== next.ice.pwd;
}
