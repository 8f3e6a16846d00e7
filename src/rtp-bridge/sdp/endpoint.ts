/**
 * The gateway's own side of a leg, as the SDP it emits describes it: the advertised address and the allocated
 * port (media is anchored: the other side's addresses never appear), plus ICE/DTLS parameters on WebRTC legs.
 * These come from our configuration and allocators, so a bad value is our fault (SDP_LOCAL_INVALID, 500).
 */
import { isIP } from 'node:net';
import { SdpError } from './errors.ts';
import type { Fingerprint } from './types.ts';

/** A host candidate of the gateway (RFC 8445 §5.1.1.1). ICE-lite agents only have host candidates (§2.5). */
export interface LocalCandidate {
  readonly address: string;
  readonly port: number;
  /** Default: its 1-based position in the list. */
  readonly foundation?: string;
  /** Default: the RFC 8445 §5.1.2.1 host priority, local preference 65535 minus the position. */
  readonly priority?: number;
}

export interface PlainEndpoint {
  readonly kind: 'plain';
  readonly address: string;
  /** RTP port; RFC 3550 §11: even, with RTCP on port + 1 (RFC 3605 a=rtcp says so explicitly). */
  readonly port: number;
  /** Default port + 1. */
  readonly rtcpPort?: number;
  /** Offer a=rtcp-mux, and accept it when offered (RFC 5761). Default false: trunks rarely mux. */
  readonly rtcpMux?: boolean;
}

export interface WebrtcEndpoint {
  readonly kind: 'webrtc';
  readonly address: string;
  /** The one UDP port of the leg: ICE, DTLS, SRTP and SRTCP all arrive here (RFC 8834 §5.1.1, RFC 5761). */
  readonly port: number;
  /** RFC 8839 §5.4: ufrag 4–256 ice-chars, pwd 22–256. New values on an ICE restart (RFC 8445 §9). */
  readonly ice: { readonly ufrag: string; readonly pwd: string };
  /** Of the DTLS certificate the leg presents (RFC 8122 §5). At least one. */
  readonly fingerprints: readonly Fingerprint[];
  /** Default: one host candidate at address:port. */
  readonly candidates?: readonly LocalCandidate[];
  /**
   * The DTLS role to answer with when the offer says actpass (RFC 8842 §5.3). Default passive. On re-offers of an
   * established association pass the role already in use, so the association is kept (browsers re-offer actpass).
   */
  readonly setup?: 'active' | 'passive';
}

export type EndpointDescription = PlainEndpoint | WebrtcEndpoint;

const ICE_CHARS = /^[A-Za-z0-9+/]+$/;

function local(message: string): SdpError {
  return new SdpError('SDP_LOCAL_INVALID', message);
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw local(`${what} ${port} is not a UDP port`);
}

export function checkEndpoint(e: EndpointDescription): void {
  if (isIP(e.address) === 0) throw local(`advertised address "${e.address}" is not an IP literal`);
  checkPort(e.port, 'media port');
  if (e.kind === 'plain') {
    checkPort(e.rtcpPort ?? e.port + 1, 'RTCP port');
    return;
  }
  const { ufrag, pwd } = e.ice;
  if (ufrag.length < 4 || ufrag.length > 256 || !ICE_CHARS.test(ufrag)) throw local('ice-ufrag must be 4–256 ice-chars');
  if (pwd.length < 22 || pwd.length > 256 || !ICE_CHARS.test(pwd)) throw local('ice-pwd must be 22–256 ice-chars');
  if (e.fingerprints.length === 0) throw local('a WebRTC endpoint needs a certificate fingerprint');
  for (const c of e.candidates ?? []) {
    if (isIP(c.address) === 0) throw local(`candidate address "${c.address}" is not an IP literal`);
    checkPort(c.port, 'candidate port');
  }
}

export function familyOf(address: string): 'IP4' | 'IP6' {
  return isIP(address) === 6 ? 'IP6' : 'IP4';
}
