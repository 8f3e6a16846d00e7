/**
 * The typed view of an SDP (RFC 4566/8866) that the media layer needs, and nothing more. Values are as the peer
 * wrote them, with session-level defaults already applied where RFC 4566 says a media-level value inherits one
 * (c=, direction, ICE credentials, fingerprints, setup).
 */

/** RFC 3264 §5.1 / RFC 4566 §6: the direction of a stream from the point of view of the SDP's author. */
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** The two kinds of leg the gateway terminates. */
export type LegKind = 'webrtc' | 'plain';

/** RFC 4145 §4 a=setup. */
export type SetupRole = 'actpass' | 'active' | 'passive' | 'holdconn';

/** Which side of the DTLS handshake the gateway plays on a leg (RFC 5763 §5: active = client). */
export type DtlsRole = 'client' | 'server';

export type AddressFamily = 'IP4' | 'IP6';

export interface Connection {
  readonly family: AddressFamily;
  /** As written (an IP literal for anything usable; FQDNs and multicast are rejected where the address is used). */
  readonly address: string;
}

/** One RTP payload format of an m-line: a=rtpmap (or the RFC 3551 static assignment), a=fmtp, a=rtcp-fb. */
export interface Codec {
  readonly pt: number;
  /** Encoding name as written ('opus', 'PCMU', 'telephone-event'); compare case-insensitively (RFC 4855 §3). */
  readonly name: string;
  readonly clockRate: number;
  /** Audio channels; 1 when the rtpmap leaves it out (RFC 4566 §6). */
  readonly channels: number;
  readonly fmtp?: string;
  /** a=rtcp-fb values that apply to this format, including the `*` ones (RFC 4585 §4.2). */
  readonly rtcpFb: readonly string[];
}

/** RFC 8122 §5 a=fingerprint. The algorithm is lower-cased ('sha-256'), the value kept as written. */
export interface Fingerprint {
  readonly algorithm: string;
  readonly value: string;
}

/** RFC 8839 §5.1 a=candidate. */
export interface IceCandidate {
  readonly foundation: string;
  readonly component: number;
  readonly transport: string;
  readonly priority: number;
  readonly address: string;
  readonly port: number;
  readonly type: string;
  readonly relatedAddress?: string;
  readonly relatedPort?: number;
  readonly tcpType?: string;
}

export interface IceParameters {
  readonly ufrag: string;
  readonly pwd: string;
  /** RFC 8839 §5.6 a=ice-options tokens ('trickle', 'renomination', …). */
  readonly options: readonly string[];
  readonly candidates: readonly IceCandidate[];
  readonly endOfCandidates: boolean;
}

/** RFC 4568 a=crypto (SDES). Parsed only so that SDES-only offers can be refused with a clear error. */
export interface CryptoAttribute {
  readonly tag: number;
  readonly suite: string;
}

export interface RtcpAttribute {
  readonly port: number;
  readonly address?: string;
}

/** One m-line. */
export interface MediaSection {
  readonly index: number;
  /** The media token as written (audio, video, application, image, text, message, …). */
  readonly type: string;
  readonly port: number;
  /** RFC 4566 `<port>/<number of ports>`; undefined when absent. */
  readonly portCount?: number;
  readonly proto: string;
  /** The fmt list as written (payload type numbers for RTP, other tokens otherwise). */
  readonly formats: readonly string[];
  /** For RTP protos: the formats that name a codec, in m-line order (dynamic PTs without rtpmap are left out). */
  readonly codecs: readonly Codec[];
  /** Effective: media-level, else session-level, else sendrecv (RFC 3264 §5.1). */
  readonly direction: Direction;
  readonly ptime?: number;
  readonly maxptime?: number;
  /** Effective: media-level c=, else session-level c= (RFC 4566 §5.7). */
  readonly connection?: Connection;
  readonly rtcp?: RtcpAttribute;
  readonly rtcpMux: boolean;
  readonly mid?: string;
  /** RFC 8843 §6 a=bundle-only (port 0 but part of a BUNDLE group). */
  readonly bundleOnly: boolean;
  /** Effective ICE parameters (media-level over session-level), when both ufrag and pwd are present. */
  readonly ice?: IceParameters;
  /** Effective: the media-level fingerprints if any, else the session-level ones (RFC 8122 §5). */
  readonly fingerprints: readonly Fingerprint[];
  readonly setup?: SetupRole;
  readonly crypto: readonly CryptoAttribute[];
  /** a=ssrc ids and a=msid: parsed for diagnostics, never carried across the gateway. */
  readonly ssrcs: readonly number[];
  readonly msid?: string;
}

export interface Origin {
  readonly username: string;
  readonly sessionId: string;
  readonly version: string;
  readonly family: AddressFamily;
  readonly address: string;
}

export interface ParsedSession {
  readonly origin: Origin;
  readonly name: string;
  readonly connection?: Connection;
  /** Session-level a=sendrecv/sendonly/recvonly/inactive, if any. */
  readonly direction?: Direction;
  /** RFC 8445 §2.5 a=ice-lite (session level). */
  readonly iceLite: boolean;
  /** RFC 8843 a=group:BUNDLE groups, each a list of mids. */
  readonly bundleGroups: readonly (readonly string[])[];
  readonly media: readonly MediaSection[];
}
