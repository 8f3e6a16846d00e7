/**
 * A plain RTP/AVP leg (the trunk side of a call): an RTP/RTCP socket pair from the port pool, symmetric latching
 * towards the peer, direction (hold) handling and statistics. It knows nothing of SIP; the media session gives it
 * the remote address from SDP and connects its packet handlers to the other leg.
 *
 * Per-packet path: dgram 'message' → demux (RFC 5761 §4) → RFC 3550 sanity check → latch (source filter) →
 * direction → stats → handler. The listeners are created once per leg; nothing is allocated, logged or timed per
 * packet beyond what dgram itself does (the Buffer and rinfo of each datagram).
 */
import type dgram from 'node:dgram';
import { isIP } from 'node:net';
import { GatewayError } from '../errors.ts';
import { logger, type Logger } from '../log.ts';
import { Latch, type LatchOptions } from './latching.ts';
import type { PortPool } from './port-pool.ts';
import { checkRtcpCompound } from './rtcp-packet.ts';
import { checkRtp, isRtcp } from './rtp-packet.ts';
import { RtpStats } from './rtp-stats.ts';

/** SDP direction attribute of *our* side of this leg (RFC 3264 §6.1): what the gateway sends and accepts. */
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface RemoteMedia {
  /** c= address (IP literal). 0.0.0.0 / :: / port 0 mean "nothing to send to until a packet is heard". */
  readonly address: string;
  readonly port: number;
  /** RFC 3605 a=rtcp; default: same address, port + 1. */
  readonly rtcpAddress?: string;
  readonly rtcpPort?: number;
  /** RFC 5761 a=rtcp-mux accepted by both sides: RTCP goes to the RTP port over the RTP socket. */
  readonly rtcpMux?: boolean;
}

/** Gets the received Buffer, which it may rewrite in place and must not keep after returning. */
export type PacketHandler = (buf: Buffer, length: number) => void;

export interface PlainRtpLegOptions {
  readonly latching?: LatchOptions;
  /** Clock rate of the negotiated audio codec, for jitter in ms. Default 8000. */
  readonly clockRate?: number;
  readonly callId?: string;
  /** For logs: which leg of the call this is ('a', 'b', 'trunk', …). */
  readonly label?: string;
}

export interface PlainLegCounters {
  readonly strangerDrops: number;
  readonly malformedDrops: number;
  readonly directionDrops: number;
  readonly socketErrors: number;
  readonly handlerErrors: number;
}

export class RemoteAddressError extends GatewayError {
  constructor(message: string) {
    super('BAD_MEDIA_ADDRESS', message, { status: 488 });
  }
}

export class PlainRtpLeg {
  /** Local RTP port; RTCP is on `rtcpPort` (= port + 1) unless rtcp-mux is in use. */
  readonly port: number;
  readonly rtcpPort: number;
  readonly localAddress: string;
  readonly stats: RtpStats;
  readonly rtpLatch: Latch;
  readonly rtcpLatch: Latch;
  /** performance.now() of the last accepted RTP packet; 0 before the first. Read by the media-timeout sweep. */
  lastRtpAt = 0;

  malformedDrops = 0;
  directionDrops = 0;
  socketErrors = 0;
  handlerErrors = 0;

  readonly #pool: PortPool;
  readonly #rtp: dgram.Socket;
  readonly #rtcp: dgram.Socket;
  readonly #ipv6: boolean;
  readonly #log: Logger;
  #rtpHandler: PacketHandler | undefined;
  #rtcpHandler: PacketHandler | undefined;
  #direction: MediaDirection = 'sendrecv';
  #sends = true;
  #accepts = true;
  #rtcpMux = false;
  #closed = false;
  #loggedSocketError = false;
  #loggedHandlerError = false;

  /** Binds a port pair from `pool`; fails with PortPoolExhaustedError (503) when there is none. */
  static async create(pool: PortPool, options: PlainRtpLegOptions = {}): Promise<PlainRtpLeg> {
    const pair = await pool.allocatePair();
    return new PlainRtpLeg(pool, pair.port, pair.rtp, pair.rtcp, options);
  }

  private constructor(pool: PortPool, port: number, rtp: dgram.Socket, rtcp: dgram.Socket, options: PlainRtpLegOptions) {
    this.#pool = pool;
    this.port = port;
    this.rtcpPort = port + 1;
    this.localAddress = pool.range.bindAddress;
    this.#rtp = rtp;
    this.#rtcp = rtcp;
    this.#ipv6 = pool.socketType === 'udp6';
    this.stats = new RtpStats({ clockRate: options.clockRate ?? 8000 });
    this.rtpLatch = new Latch(options.latching);
    this.rtcpLatch = new Latch(options.latching);
    this.#log = logger.child({ callId: options.callId, leg: options.label, port });
    rtp.on('message', this.#onRtpSocketMessage);
    rtcp.on('message', this.#onRtcpSocketMessage);
    rtp.on('error', this.#onSocketError);
    rtcp.on('error', this.#onSocketError);
  }

  get direction(): MediaDirection {
    return this.#direction;
  }

  /** Not expecting media from the peer (anything but sendrecv): the media timeout does not apply. */
  get onHold(): boolean {
    return this.#direction !== 'sendrecv';
  }

  get rtcpMux(): boolean {
    return this.#rtcpMux;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get counters(): PlainLegCounters {
    return {
      strangerDrops: this.rtpLatch.strangerDrops + this.rtcpLatch.strangerDrops,
      malformedDrops: this.malformedDrops,
      directionDrops: this.directionDrops,
      socketErrors: this.socketErrors,
      handlerErrors: this.handlerErrors,
    };
  }

  /**
   * The peer's media address from its SDP. Every new offer/answer calls this, and it starts latching afresh: the
   * peer may have moved (re-INVITE after a network change, a transfer to another device).
   */
  setRemote(remote: RemoteMedia): void {
    const address = this.#checkAddress(remote.address);
    const port = checkPort(remote.port);
    const rtcpAddress = remote.rtcpAddress === undefined ? address : this.#checkAddress(remote.rtcpAddress);
    const rtcpPort = remote.rtcpPort === undefined ? (port === 0 ? 0 : port + 1) : checkPort(remote.rtcpPort);
    this.#rtcpMux = remote.rtcpMux === true;
    this.rtpLatch.setExpected(address, port);
    this.rtcpLatch.setExpected(rtcpAddress, rtcpPort);
  }

  /** Re-latch on the next packets without new SDP (e.g. told by the signalling that the peer moved). */
  relearn(): void {
    this.rtpLatch.relearn();
    this.rtcpLatch.relearn();
  }

  /**
   * RFC 3264 §6.1 from our side: sendonly = we send, peer's media is not accepted; recvonly = we accept, send
   * nothing; inactive = neither. RTCP flows in every direction (RFC 3264 §5.1).
   */
  setDirection(direction: MediaDirection): void {
    this.#direction = direction;
    this.#sends = direction === 'sendrecv' || direction === 'sendonly';
    this.#accepts = direction === 'sendrecv' || direction === 'recvonly';
  }

  onRtp(handler: PacketHandler | undefined): void {
    this.#rtpHandler = handler;
  }

  onRtcp(handler: PacketHandler | undefined): void {
    this.#rtcpHandler = handler;
  }

  /** Send RTP to the latched (or, before latching, the SDP) target. False if not sent (no target, hold, closed). */
  sendRtp(buf: Uint8Array, length: number): boolean {
    const latch = this.rtpLatch;
    if (this.#closed || !this.#sends || latch.targetPort === 0) return false;
    try {
      // A whole buffer (a received datagram, the relay's copy) goes without offset and length: dgram would cut a
      // view of it for them on every send.
      if (buf.length === length) this.#rtp.send(buf, latch.targetPort, latch.targetAddress);
      else this.#rtp.send(buf, 0, length, latch.targetPort, latch.targetAddress);
    } catch (err) {
      // Synchronous throws only: a socket closed under us (ERR_SOCKET_DGRAM_NOT_RUNNING). Node reports failures of
      // the send itself only to a per-send callback, which the hot path does not pay for.
      this.#onSocketError(err as Error);
      return false;
    }
    this.stats.onRtpSent(length);
    return true;
  }

  /**
   * Send compound RTCP: with rtcp-mux to the RTP target; otherwise to where RTCP was heard from, else next to
   * the latched RTP source (port + 1, as RFC 3550 §11 pairs them), else to the SDP (RFC 3605) address.
   */
  sendRtcp(buf: Uint8Array, length: number): boolean {
    if (this.#closed) return false;
    const rtp = this.rtpLatch;
    const rtcp = this.rtcpLatch;
    let socket = this.#rtcp;
    let address: string;
    let port: number;
    if (this.#rtcpMux) {
      socket = this.#rtp;
      address = rtp.targetAddress;
      port = rtp.targetPort;
    } else if (rtcp.latched || !rtp.latched) {
      address = rtcp.targetAddress;
      port = rtcp.targetPort;
    } else {
      address = rtp.targetAddress;
      port = rtp.targetPort >= 65535 ? 0 : rtp.targetPort + 1;
    }
    if (port === 0) return false;
    try {
      if (buf.length === length) socket.send(buf, port, address);
      else socket.send(buf, 0, length, port, address);
    } catch (err) {
      this.#onSocketError(err as Error);
      return false;
    }
    this.stats.onRtcpSent(buf, length, performance.now());
    return true;
  }

  /** Idempotent: stops delivery, closes both sockets and returns the ports to the pool. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rtpHandler = undefined;
    this.#rtcpHandler = undefined;
    this.#rtp.off('message', this.#onRtpSocketMessage);
    this.#rtcp.off('message', this.#onRtcpSocketMessage);
    this.#pool.release(this.port);
    // The pool's own error listener stays on the sockets, so a late error event cannot crash the process.
    this.#rtp.off('error', this.#onSocketError);
    this.#rtcp.off('error', this.#onSocketError);
  }

  readonly #onRtpSocketMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    const length = msg.length;
    if (isRtcp(msg, length)) {
      // RFC 5761 §4: RTCP on the RTP port (rtcp-mux, or a peer that sends it there anyway); same 5-tuple as RTP.
      const valid = checkRtcpCompound(msg, length) === 'ok';
      if (!this.rtpLatch.observe(rinfo.address, rinfo.port, valid) || !valid) {
        if (!valid) this.malformedDrops++;
        return;
      }
      this.#deliverRtcp(msg, length);
      return;
    }
    const valid = checkRtp(msg, length) === 'ok';
    if (!this.rtpLatch.observe(rinfo.address, rinfo.port, valid) || !valid) {
      if (!valid) this.malformedDrops++;
      return;
    }
    if (!this.#accepts) {
      this.directionDrops++;
      return;
    }
    const now = performance.now();
    this.lastRtpAt = now;
    this.stats.onRtpReceived(msg, length, now);
    const handler = this.#rtpHandler;
    if (handler === undefined) return;
    try {
      handler(msg, length);
    } catch (err) {
      this.#handlerFailed(err);
    }
  };

  readonly #onRtcpSocketMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    const length = msg.length;
    const valid = checkRtcpCompound(msg, length) === 'ok';
    if (!this.rtcpLatch.observe(rinfo.address, rinfo.port, valid) || !valid) {
      if (!valid) this.malformedDrops++;
      return;
    }
    this.#deliverRtcp(msg, length);
  };

  #deliverRtcp(msg: Buffer, length: number): void {
    this.stats.onRtcpReceived(msg, length, performance.now());
    const handler = this.#rtcpHandler;
    if (handler === undefined) return;
    try {
      handler(msg, length);
    } catch (err) {
      this.#handlerFailed(err);
    }
  }

  readonly #onSocketError = (err: Error): void => {
    this.socketErrors++;
    if (this.#loggedSocketError) return;
    this.#loggedSocketError = true;
    this.#log.warn({ err: err.message, code: (err as NodeJS.ErrnoException).code }, 'media socket error (logged once per leg)');
  };

  #handlerFailed(err: unknown): void {
    this.handlerErrors++;
    if (this.#loggedHandlerError) return;
    this.#loggedHandlerError = true;
    this.#log.error({ err: err instanceof Error ? err.message : String(err) }, 'media packet handler threw (logged once per leg)');
  }

  /** SDP addresses must be IP literals of the socket's family; IPv4 on an IPv6 socket is sent v4-mapped. */
  #checkAddress(address: string): string {
    if (address === '' || address === '0.0.0.0' || address === '::') return address;
    const family = isIP(address);
    if (family === 0) throw new RemoteAddressError(`media address ${JSON.stringify(address)} is not an IP literal`);
    if (family === 6 && !this.#ipv6) throw new RemoteAddressError(`IPv6 media address ${address} on an IPv4 media socket`);
    return family === 4 && this.#ipv6 ? `::ffff:${address}` : address;
  }
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RemoteAddressError(`bad media port ${port}`);
  return port;
}
