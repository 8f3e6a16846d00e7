import type { Socket } from 'node:dgram';
import type { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { DtlsCertificate } from './certificate.ts';
import type { DtlsRole } from './dtls-transport.ts';
import type { IceLiteStats, TransportAddress } from './ice-lite.ts';
import type { SrtpProfileName } from './srtp/index.ts';

/** The public shape of a WebRTC leg: its options, events, states and statistics (the class is webrtc-leg.ts). */

export type WebRtcLegState = 'new' | 'connecting' | 'connected' | 'failed' | 'closed';

export type WebRtcLegEvents = {
  connected: [];
  failed: [reason: GatewayError];
  closed: [];
};

export interface WebRtcLegOptions {
  /** Already bound by the caller; the leg owns it from now on and closes it. */
  socket: Socket;
  /** The operator's configured addresses: the only candidates, with the socket's port. */
  advertisedAddresses: readonly string[];
  certificate: DtlsCertificate;
  /** RFC 7675 §5.1 consent expiry, default 30 s. */
  consentTimeoutMs?: number;
  /** DTLS must complete this long after ICE found the peer, default 30 s. */
  dtlsHandshakeTimeoutMs?: number;
  /** Offered/accepted SRTP profiles in preference order (default CM-80, GCM-128, CM-32). */
  srtpProfiles?: readonly SrtpProfileName[];
  /** Our a=setup when answering an actpass offer; default passive (we are the DTLS server). */
  setupWhenAnswering?: 'active' | 'passive';
  /** Largest plaintext RTP/RTCP packet relayed, default 1500 octets; larger ones are dropped and counted. */
  maxPacketSize?: number;
  /** Outstanding sends before packets are dropped for backpressure, default 16. */
  sendSlots?: number;
  replayWindowSize?: number;
  logger?: Logger;
}

export interface WebRtcLegStats {
  state: WebRtcLegState;
  selectedRemote: TransportAddress | undefined;
  dtlsRole: DtlsRole | undefined;
  dtlsState: string;
  srtpProfile: SrtpProfileName | undefined;
  /** SRTP/SRTCP packets accepted and their wire (protected) bytes. */
  packetsIn: number;
  bytesIn: number;
  rtcpPacketsIn: number;
  packetsOut: number;
  bytesOut: number;
  rtcpPacketsOut: number;
  srtpAuthFailures: number;
  replayDrops: number;
  srtpOtherFailures: number;
  /** Media from a source that never passed an ICE check, or arriving before keys exist. */
  unexpectedSourceDrops: number;
  notReadyDrops: number;
  /** sendRtp/sendRtcp calls dropped because DTLS is not up, consent is lost or the leg is closed. */
  sendDropsNotReady: number;
  sendDropsBackpressure: number;
  sendDropsOversize: number;
  protectFailures: number;
  sendErrors: number;
  demuxDrops: number;
  callbackErrors: number;
  iceChecks: number;
  ice: IceLiteStats;
  dtls: { datagramsIn: number; datagramsOut: number; dropped: number; rateLimited: number; handshakeErrors: number };
}

/** Per-packet counters: plain numbers on one object, incremented in place on the hot path. */
export interface LegCounters {
  packetsIn: number;
  bytesIn: number;
  rtcpPacketsIn: number;
  packetsOut: number;
  bytesOut: number;
  rtcpPacketsOut: number;
  srtpAuthFailures: number;
  replayDrops: number;
  srtpOtherFailures: number;
  unexpectedSourceDrops: number;
  notReadyDrops: number;
  sendDropsNotReady: number;
  sendDropsBackpressure: number;
  sendDropsOversize: number;
  protectFailures: number;
  sendErrors: number;
  demuxDrops: number;
  callbackErrors: number;
}

export function newLegCounters(): LegCounters {
  return {
    packetsIn: 0, bytesIn: 0, rtcpPacketsIn: 0, packetsOut: 0, bytesOut: 0, rtcpPacketsOut: 0,
    srtpAuthFailures: 0, replayDrops: 0, srtpOtherFailures: 0, unexpectedSourceDrops: 0, notReadyDrops: 0,
    sendDropsNotReady: 0, sendDropsBackpressure: 0, sendDropsOversize: 0, protectFailures: 0, sendErrors: 0,
    demuxDrops: 0, callbackErrors: 0,
  };
}
