/**
 * One face for the two kinds of leg a media session pairs, so the relay, the timeout watcher and the stats code
 * do not care which is which:
 *
 * - PlainMediaLeg wraps a PlainRtpLeg (RTP/AVP, latching, its own direction handling and RtpStats);
 * - WebRtcMediaLeg wraps a WebRtcLeg (ICE-lite, DTLS-SRTP) and adds what that leg leaves to its owner: the SDP
 *   direction (RFC 3264 §6.1: hold), an RFC 3550 structural check of the decrypted RTP, RTP statistics
 *   (RFC 3550 A.1/A.3/A.8, shared code with the plain leg) and `lastRtpAt` for the media-timeout sweep.
 *
 * Per packet, both wrappers add one call and nothing else: no allocation, no closure, no logging.
 */
import type { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { WebRtcLeg, type DtlsCertificate, type RemoteParameters } from '../webrtc/index.ts';
import { PlainRtpLeg, type MediaDirection, type PacketHandler, type PlainRtpLegOptions, type RemoteMedia as PlainRemote } from './plain-leg.ts';
import type { PortPool } from './port-pool.ts';
import { checkRtp } from './rtp-packet.ts';
import { RtpStats } from './rtp-stats.ts';
import type { LegKind } from './sdp/index.ts';

export type { MediaDirection, PacketHandler } from './plain-leg.ts';

export interface LegCounters {
  /** Packets refused by the leg: strangers after latching, malformed, SRTP failures, wrong direction. */
  readonly dropped: number;
  readonly strangerDrops: number;
}

export interface MediaLeg {
  readonly kind: LegKind;
  /** The local port media arrives on (the RTP port of a plain leg). */
  readonly port: number;
  readonly stats: RtpStats;
  /** performance.now() of the last accepted RTP packet, 0 before the first (media-timeout.ts TimedLeg). */
  readonly lastRtpAt: number;
  /** Not expecting RTP from the peer: no media timeout. */
  readonly onHold: boolean;
  readonly direction: MediaDirection;
  setDirection(direction: MediaDirection): void;
  /** Where received packets go; set once by the relay. The Buffer may be reused after the handler returns. */
  connect(rtp: PacketHandler, rtcp: PacketHandler): void;
  /** Whether the packet was handed to the socket. The buffer must stay untouched until the send completes
   * unless the leg copies it (WebRTC legs protect into their own slots; plain legs send the caller's buffer). */
  sendRtp(buf: Buffer, length: number): boolean;
  sendRtcp(buf: Buffer, length: number): boolean;
  /** Where media for the peer goes now (latched, ICE-selected or from SDP). */
  remote(): { address: string; port: number } | undefined;
  /** Latch state of a plain leg, connection state of a WebRTC leg. */
  state(): string;
  counters(): LegCounters;
  close(): void;
}

/** Adapter over a PlainRtpLeg; it owns the leg, and the leg owns its ports. */
export class PlainMediaLeg implements MediaLeg {
  readonly kind = 'plain' as const;
  readonly leg: PlainRtpLeg;
  /** The remote media last applied from SDP, to relearn only when the peer's SDP address really changed. */
  applied: PlainRemote | undefined;

  constructor(leg: PlainRtpLeg) {
    this.leg = leg;
  }

  get port(): number {
    return this.leg.port;
  }

  get stats(): RtpStats {
    return this.leg.stats;
  }

  get lastRtpAt(): number {
    return this.leg.lastRtpAt;
  }

  get onHold(): boolean {
    return this.leg.onHold;
  }

  get direction(): MediaDirection {
    return this.leg.direction;
  }

  setDirection(direction: MediaDirection): void {
    this.leg.setDirection(direction);
  }

  /**
   * The peer's SDP address. A new offer/answer that repeats the same address keeps what latching learned: a
   * relearn would send to the (possibly private, unreachable) SDP address again until the peer's next packet.
   * Returns whether the address changed.
   */
  setRemote(remote: PlainRemote): boolean {
    const before = this.applied;
    if (
      before !== undefined &&
      before.address === remote.address &&
      before.port === remote.port &&
      before.rtcpAddress === remote.rtcpAddress &&
      before.rtcpPort === remote.rtcpPort &&
      before.rtcpMux === remote.rtcpMux
    ) {
      return false;
    }
    this.leg.setRemote(remote);
    this.applied = remote;
    return true;
  }

  connect(rtp: PacketHandler, rtcp: PacketHandler): void {
    this.leg.onRtp(rtp);
    this.leg.onRtcp(rtcp);
  }

  sendRtp(buf: Buffer, length: number): boolean {
    return this.leg.sendRtp(buf, length);
  }

  sendRtcp(buf: Buffer, length: number): boolean {
    return this.leg.sendRtcp(buf, length);
  }

  remote(): { address: string; port: number } | undefined {
    const latch = this.leg.rtpLatch;
    return latch.targetPort === 0 ? undefined : { address: latch.targetAddress, port: latch.targetPort };
  }

  state(): string {
    return this.leg.closed ? 'closed' : this.leg.rtpLatch.state;
  }

  counters(): LegCounters {
    const c = this.leg.counters;
    return { dropped: c.strangerDrops + c.malformedDrops + c.directionDrops, strangerDrops: c.strangerDrops };
  }

  close(): void {
    this.leg.close();
  }
}

export interface WebRtcMediaLegOptions {
  readonly iceAddresses: readonly string[];
  readonly certificate: DtlsCertificate;
  readonly logger: Logger;
}

/** Binds a port pair from the pool (PortPoolExhaustedError, 503, when there is none). */
export async function createPlainMediaLeg(pool: PortPool, options: PlainRtpLegOptions): Promise<PlainMediaLeg> {
  return new PlainMediaLeg(await PlainRtpLeg.create(pool, options));
}

/** Binds one port from the pool for a WebRTC leg; the leg takes the socket over. */
export async function createWebRtcMediaLeg(pool: PortPool, options: WebRtcMediaLegOptions): Promise<WebRtcMediaLeg> {
  const { port, socket } = await pool.allocateSingle();
  let leg: WebRtcLeg;
  try {
    leg = new WebRtcLeg({ socket, advertisedAddresses: options.iceAddresses, certificate: options.certificate, logger: options.logger });
  } catch (err) {
    pool.release(port);
    throw err;
  }
  return new WebRtcMediaLeg(leg, pool, port);
}

const noop: PacketHandler = () => {};

/** Adapter over a WebRtcLeg on one port of the pool (rtcp-mux, RFC 8834 §5.1.1). */
export class WebRtcMediaLeg implements MediaLeg {
  readonly kind = 'webrtc' as const;
  readonly leg: WebRtcLeg;
  readonly port: number;
  readonly stats = new RtpStats();
  lastRtpAt = 0;
  malformedDrops = 0;
  directionDrops = 0;
  /** The remote parameters last applied, to tell an ICE restart (new ufrag/pwd, RFC 8445 §9) from a refresh. */
  applied: RemoteParameters | undefined;
  /** Called once when the leg fails for good (fingerprint mismatch, handshake failure, consent lost). */
  onFailed: (reason: GatewayError) => void = () => {};

  readonly #pool: PortPool;
  #rtpHandler: PacketHandler = noop;
  #rtcpHandler: PacketHandler = noop;
  #direction: MediaDirection = 'sendrecv';
  #sends = true;
  #accepts = true;
  #closed = false;

  constructor(leg: WebRtcLeg, pool: PortPool, port: number) {
    this.leg = leg;
    this.port = port;
    this.#pool = pool;
    leg.onRtp = this.#onRtp;
    leg.onRtcp = this.#onRtcp;
    leg.on('failed', (reason) => this.onFailed(reason));
  }

  get onHold(): boolean {
    return this.#direction !== 'sendrecv';
  }

  get direction(): MediaDirection {
    return this.#direction;
  }

  /** RFC 3264 §6.1 from the gateway's side, as PlainRtpLeg applies it; RTCP flows in every direction. */
  setDirection(direction: MediaDirection): void {
    this.#direction = direction;
    this.#sends = direction === 'sendrecv' || direction === 'sendonly';
    this.#accepts = direction === 'sendrecv' || direction === 'recvonly';
  }

  connect(rtp: PacketHandler, rtcp: PacketHandler): void {
    this.#rtpHandler = rtp;
    this.#rtcpHandler = rtcp;
  }

  /** Decrypted RTP from the leg's reused buffer. SRTP authenticated it; the header may still be nonsense. */
  readonly #onRtp = (buf: Buffer, length: number): void => {
    if (checkRtp(buf, length) !== 'ok') {
      this.malformedDrops++;
      return;
    }
    if (!this.#accepts) {
      this.directionDrops++;
      return;
    }
    const now = performance.now();
    this.lastRtpAt = now;
    this.stats.onRtpReceived(buf, length, now);
    this.#rtpHandler(buf, length);
  };

  readonly #onRtcp = (buf: Buffer, length: number): void => {
    this.stats.onRtcpReceived(buf, length, performance.now());
    this.#rtcpHandler(buf, length);
  };

  sendRtp(buf: Buffer, length: number): boolean {
    if (!this.#sends || this.leg.state !== 'connected') return false;
    this.leg.sendRtp(buf, length);
    this.stats.onRtpSent(length);
    return true;
  }

  sendRtcp(buf: Buffer, length: number): boolean {
    if (this.leg.state !== 'connected') return false;
    this.leg.sendRtcp(buf, length);
    this.stats.onRtcpSent(buf, length, performance.now());
    return true;
  }

  remote(): { address: string; port: number } | undefined {
    const selected = this.leg.stats().selectedRemote;
    return selected === undefined ? undefined : { address: selected.address, port: selected.port };
  }

  state(): string {
    return this.leg.state;
  }

  counters(): LegCounters {
    const s = this.leg.stats();
    const dropped =
      s.srtpAuthFailures + s.replayDrops + s.srtpOtherFailures + s.unexpectedSourceDrops + s.notReadyDrops + s.demuxDrops;
    return { dropped: dropped + this.malformedDrops + this.directionDrops, strangerDrops: s.unexpectedSourceDrops };
  }

  /** Idempotent: closes the leg (which closes its socket) and gives the port back. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rtpHandler = noop;
    this.#rtcpHandler = noop;
    this.leg.close();
    this.#pool.release(this.port);
  }
}
