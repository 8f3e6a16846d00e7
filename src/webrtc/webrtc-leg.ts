import type { RemoteInfo, Socket } from 'node:dgram';
import { GatewayError } from '../errors.ts';
import { logger as rootLogger, type Logger } from '../log.ts';
import { isDtls, isRtcp, isRtpOrRtcp, isStun } from './demux.ts';
import { DtlsTransport, type DtlsRole, type DtlsSrtpSession } from './dtls-transport.ts';
import { DtlsHandshakeError, IceConsentLostError, WebRtcConfigError } from './errors.ts';
import { IceLiteAgent, type TransportAddress } from './ice-lite.ts';
import {
  decideDtlsRole,
  hostCandidates,
  setupForRole,
  validateRemoteParameters,
  type DtlsSetup,
  type IceCandidate,
  type LocalParameters,
  type RemoteParameters,
} from './leg-parameters.ts';
import { SendPool } from './send-pool.ts';
import { SrtpContext, SrtpFailure, type SrtpProfileName } from './srtp/index.ts';
import { TypedEmitter } from './typed-emitter.ts';
import { newLegCounters, type LegCounters, type WebRtcLegEvents, type WebRtcLegOptions, type WebRtcLegState, type WebRtcLegStats } from './webrtc-leg-api.ts';

export type { WebRtcLegEvents, WebRtcLegOptions, WebRtcLegState, WebRtcLegStats } from './webrtc-leg-api.ts';

/**
 * The WebRTC side of a call: one ICE-lite agent, one DTLS-SRTP association and one pair of SRTP contexts on
 * exactly one UDP socket (rtcp-mux, RFC 5761; one component), demultiplexed by first byte (RFC 7983, demux.ts).
 *
 * Design: the gateway is ICE-lite (RFC 8445 §2.5). It is reachable on the addresses the operator configures
 * and advertises; it never gathers or punches through NATs itself, it only answers the full-ICE browser's
 * checks, so one socket per leg is all it needs, its candidates are exactly the advertised addresses, and the
 * remote address media goes to is the source of the browser's nominating check (ice-lite.ts). DTLS is accepted
 * only from ICE-validated addresses and sent to the selected one (dtls-transport.ts). SRTP uses
 * src/webrtc/srtp on raw buffers: werift's RTCPeerConnection is not used (it rewrites SSRC/PT, always plays
 * DTLS client after a fixed 100 ms wait, has no SRTP replay protection and costs ~41 µs per relayed packet).
 *
 * Per-packet path, allocation-free and closure-free: socket 'message' → demux → (source check) → unprotect into
 * a preallocated buffer → onRtp/onRtcp; sendRtp/sendRtcp → protect into a pooled slot → socket.send with the
 * slot's own completion callback (send-pool.ts explains why a single reused buffer is not safe).
 *
 * Lifecycle: new → connecting (remote parameters set) → connected (ICE nominated + DTLS verified + SRTP keyed)
 * → failed (consent lost, DTLS failure, fingerprint mismatch: terminal, sending stops) | closed (close()).
 * A re-offer whose fingerprint no longer names the verified certificate starts a new DTLS association and
 * goes back to connecting until it is verified ('connected' is emitted again).
 */

const noop = (): void => {};

export class WebRtcLeg extends TypedEmitter<WebRtcLegEvents> {
  /** Decrypted RTP. The Buffer is reused: use it synchronously. */
  onRtp: (buf: Buffer, length: number) => void = noop;
  /** Decrypted RTCP (compound). The Buffer is reused: use it synchronously. */
  onRtcp: (buf: Buffer, length: number) => void = noop;

  readonly #socket: Socket;
  readonly #options: WebRtcLegOptions;
  readonly #log: Logger;
  readonly #candidates: IceCandidate[];
  readonly #ice: IceLiteAgent;
  readonly #maxPacket: number;
  readonly #recvBuf: Buffer;
  readonly #pool: SendPool;
  #dtls: DtlsTransport | undefined;
  #role: DtlsRole | undefined;
  #srtpIn: SrtpContext | undefined;
  #srtpOut: SrtpContext | undefined;
  #profile: SrtpProfileName | undefined;
  #state: WebRtcLegState = 'new';
  /** The ICE-selected remote, cached for the per-packet path; undefined while sending is not allowed. */
  #target: TransportAddress | undefined;
  readonly #n: LegCounters = newLegCounters();

  constructor(options: WebRtcLegOptions) {
    super();
    this.#options = options;
    this.#socket = options.socket;
    this.#log = (options.logger ?? rootLogger).child({ component: 'webrtc-leg' });
    let bound;
    try {
      bound = options.socket.address();
    } catch (error) {
      throw new WebRtcConfigError(`the leg's socket must be bound: ${(error as Error).message}`);
    }
    this.#candidates = hostCandidates(options.advertisedAddresses, bound.port, bound.family);
    this.#maxPacket = options.maxPacketSize ?? 1500;
    this.#recvBuf = Buffer.allocUnsafeSlow(this.#maxPacket);
    this.#pool = new SendPool(options.sendSlots ?? 16, this.#maxPacket + 20 /* largest SRTP/SRTCP trailer */);
    this.#ice = new IceLiteAgent({
      send: this.#sendRaw,
      onSelected: this.#onIceSelected,
      onConsentLost: this.#onConsentLost,
      consentTimeoutMs: options.consentTimeoutMs,
    });
    options.socket.on('message', this.#onMessage);
    options.socket.on('error', this.#onSocketError);
    options.socket.on('close', this.#onSocketClose);
  }

  get state(): WebRtcLegState {
    return this.#state;
  }

  localParameters(): LocalParameters {
    const { ufrag, pwd } = this.#ice.localCredentials;
    return {
      iceUfrag: ufrag,
      icePwd: pwd,
      iceLite: true,
      candidates: this.#candidates.map((c) => ({ ...c })),
      fingerprint: { ...this.#options.certificate.fingerprint },
    };
  }

  /** Our a=setup: actpass until the remote's a=setup is known, then the role we play. */
  localSetup(): DtlsSetup {
    return setupForRole(this.#role);
  }

  dtlsRole(): DtlsRole {
    if (this.#role === undefined) throw new WebRtcConfigError('the DTLS role is known only after setRemoteParameters');
    return this.#role;
  }

  /** New local ICE credentials for a re-offer that restarts ICE (RFC 8445 §9); read localParameters() after. */
  restartIce(): void {
    this.#ice.restartLocal();
  }

  /**
   * The remote's ICE/DTLS parameters from an offer or answer; callable again on every re-offer. Changed ICE
   * credentials restart ICE (read localParameters() again: ours change too); a fingerprint that no longer
   * names the verified certificate starts a new DTLS association. Throws InvalidRemoteParametersError.
   * Ignored once the leg has failed or closed (both are terminal).
   */
  setRemoteParameters(params: RemoteParameters): void {
    if (this.#state === 'closed' || this.#state === 'failed') return;
    validateRemoteParameters(params);
    const fingerprints = params.fingerprints.map((fp) => ({ algorithm: fp.algorithm, value: fp.value }));
    const iceChange = this.#ice.setRemoteCredentials({ ufrag: params.iceUfrag, pwd: params.icePwd });
    const role = decideDtlsRole(params.setup, this.#role, this.#options.setupWhenAnswering ?? 'passive');
    const dtls = this.#dtls;
    if (dtls !== undefined && role === this.#role && dtls.keepsAssociation(fingerprints)) {
      dtls.setRemoteFingerprints(fingerprints);
    } else {
      if (dtls !== undefined) {
        this.#log.info({ role }, 'new DTLS association (fingerprint or role changed)');
        dtls.close();
        this.#srtpIn = undefined;
        this.#srtpOut = undefined;
        this.#profile = undefined;
        this.#target = undefined;
      }
      this.#role = role;
      this.#dtls = this.#createDtls(role, fingerprints);
      this.#state = 'connecting';
    }
    if (this.#state === 'new') this.#state = 'connecting';
    if (iceChange === 'restart') this.#log.info('ICE restart');
    this.#maybeStartDtls();
  }

  #createDtls(role: DtlsRole, fingerprints: RemoteParameters['fingerprints']): DtlsTransport {
    const transport: DtlsTransport = new DtlsTransport({
      role,
      certificate: this.#options.certificate,
      remoteFingerprints: fingerprints,
      srtpProfiles: this.#options.srtpProfiles,
      handshakeTimeoutMs: this.#options.dtlsHandshakeTimeoutMs,
      send: (packet) => {
        const to = this.#ice.selected ?? this.#ice.lastValidated;
        if (to !== undefined) this.#sendRaw(packet, to.port, to.address);
      },
      onConnected: (session) => {
        if (this.#dtls === transport) this.#onDtlsConnected(session);
      },
      onFailed: (error) => {
        if (this.#dtls === transport) this.#fail(error);
      },
    });
    return transport;
  }

  /** DTLS starts once ICE has at least a validated remote address (a client sends its ClientHello then). */
  #maybeStartDtls(): void {
    const dtls = this.#dtls;
    if (dtls !== undefined && dtls.state === 'new' && (this.#ice.selected ?? this.#ice.lastValidated) !== undefined) dtls.start();
  }

  #onDtlsConnected(session: DtlsSrtpSession): void {
    const replayWindowSize = this.#options.replayWindowSize;
    try {
      this.#srtpIn = new SrtpContext(session.remote, replayWindowSize === undefined ? {} : { replayWindowSize });
      this.#srtpOut = new SrtpContext(session.local);
    } catch (error) {
      this.#fail(error instanceof GatewayError ? error : new DtlsHandshakeError('SRTP contexts cannot be keyed', { cause: error }));
      return;
    }
    this.#profile = session.profile;
    this.#log.info({ role: this.#role, profile: session.profile }, 'DTLS-SRTP established');
    this.#maybeConnected();
  }

  #maybeConnected(): void {
    if (this.#state !== 'connecting' || this.#srtpOut === undefined || this.#ice.state !== 'connected') return;
    this.#target = this.#ice.selected;
    this.#state = 'connected';
    this.emit('connected');
  }

  readonly #onIceSelected = (remote: TransportAddress): void => {
    this.#log.info({ remote: `${remote.address}:${remote.port}` }, 'ICE pair nominated');
    if (this.#state === 'connected') this.#target = remote; // network change: media follows the new nomination
    this.#maybeStartDtls();
    this.#maybeConnected();
  };

  readonly #onConsentLost = (): void => {
    this.#fail(new IceConsentLostError('no authenticated ICE check from the selected pair within the consent timeout (RFC 7675)'));
  };

  #fail(reason: GatewayError): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#state = 'failed';
    this.#target = undefined;
    this.#srtpIn = undefined;
    this.#srtpOut = undefined;
    this.#dtls?.close();
    this.#log.warn({ code: reason.code, reason: reason.message }, 'WebRTC leg failed');
    this.emit('failed', reason);
  }

  // ---- per-packet path -------------------------------------------------------------------------------------

  readonly #onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    const length = msg.length;
    if (length === 0) return;
    const first = msg[0]!;
    if (isRtpOrRtcp(first)) this.#onSrtp(msg, length, rinfo);
    else if (isStun(first)) this.#onStun(msg, rinfo);
    else if (isDtls(first)) this.#onDtls(msg, rinfo);
    else this.#n.demuxDrops++;
  };

  #onSrtp(msg: Buffer, length: number, rinfo: RemoteInfo): void {
    const inbound = this.#srtpIn;
    if (inbound === undefined) {
      this.#n.notReadyDrops++;
      return;
    }
    const target = this.#target;
    if ((target === undefined || target.port !== rinfo.port || target.address !== rinfo.address) && !this.#ice.isValidated(rinfo.address, rinfo.port)) {
      this.#n.unexpectedSourceDrops++; // RFC 8445 §12.2 lets a usage restrict receipt; we take only ICE-checked sources
      return;
    }
    if (length > this.#maxPacket + 20 || length < 8) {
      this.#n.srtpOtherFailures++;
      return;
    }
    const rtcp = isRtcp(msg[1]!);
    const out = this.#recvBuf;
    const n = rtcp ? inbound.unprotectRtcp(msg, length, out) : inbound.unprotectRtp(msg, length, out);
    if (n < 0) {
      if (n === SrtpFailure.AuthFailed) this.#n.srtpAuthFailures++;
      else if (n === SrtpFailure.Replayed || n === SrtpFailure.TooOld) this.#n.replayDrops++;
      else this.#n.srtpOtherFailures++;
      return;
    }
    this.#n.packetsIn++;
    this.#n.bytesIn += length;
    try {
      if (rtcp) {
        this.#n.rtcpPacketsIn++;
        this.onRtcp(out, n);
      } else this.onRtp(out, n);
    } catch (error) {
      // A throwing consumer must not escape into the socket's EventEmitter and crash the process.
      if (this.#n.callbackErrors++ === 0) this.#log.error({ err: error }, 'onRtp/onRtcp threw');
    }
  }

  sendRtp(buf: Buffer, length: number): void {
    this.#sendMedia(buf, length, false);
  }

  sendRtcp(buf: Buffer, length: number): void {
    this.#sendMedia(buf, length, true);
  }

  #sendMedia(buf: Buffer, length: number, rtcp: boolean): void {
    const target = this.#target;
    const outbound = this.#srtpOut;
    if (target === undefined || outbound === undefined || this.#state !== 'connected') {
      this.#n.sendDropsNotReady++;
      return;
    }
    if (length > this.#maxPacket) {
      this.#n.sendDropsOversize++;
      return;
    }
    const slot = this.#pool.acquire();
    if (slot === undefined) {
      this.#n.sendDropsBackpressure++;
      return;
    }
    const n = rtcp ? outbound.protectRtcp(buf, length, slot.buf) : outbound.protectRtp(buf, length, slot.buf);
    if (n < 0) {
      this.#pool.release(slot);
      this.#n.protectFailures++;
      return;
    }
    this.#socket.send(slot.view(n), target.port, target.address, slot.done);
    this.#n.packetsOut++;
    this.#n.bytesOut += n;
    if (rtcp) this.#n.rtcpPacketsOut++;
  }

  // ---- control packets -------------------------------------------------------------------------------------

  #onStun(msg: Buffer, rinfo: RemoteInfo): void {
    this.#ice.handleStun(msg, rinfo.address, rinfo.port);
    this.#maybeStartDtls();
  }

  #onDtls(msg: Buffer, rinfo: RemoteInfo): void {
    const dtls = this.#dtls;
    if (dtls === undefined) {
      this.#n.notReadyDrops++;
      return;
    }
    // DTLS only from an address that passed an ICE check: ClientHellos from anywhere else cost a comparison.
    if (!this.#ice.isValidated(rinfo.address, rinfo.port)) {
      this.#n.unexpectedSourceDrops++;
      return;
    }
    dtls.handleDatagram(msg);
  }

  /** STUN responses and DTLS records: freshly allocated or immutable buffers, so no slot is needed. */
  readonly #sendRaw = (packet: Buffer, port: number, address: string): void => {
    if (this.#state === 'closed') return;
    this.#socket.send(packet, 0, packet.length, port, address, this.#onRawSent);
  };

  readonly #onRawSent = (error: Error | null): void => {
    if (error !== null) this.#n.sendErrors++;
  };

  readonly #onSocketError = (error: Error): void => {
    this.#n.sendErrors++;
    this.#log.warn({ err: error }, 'WebRTC leg socket error');
  };

  readonly #onSocketClose = (): void => {
    if (this.#state !== 'closed') this.close();
  };

  stats(): WebRtcLegStats {
    const n = this.#n;
    return {
      state: this.#state,
      selectedRemote: this.#ice.selected,
      dtlsRole: this.#role,
      dtlsState: this.#dtls?.state ?? 'new',
      srtpProfile: this.#profile,
      ...n,
      sendErrors: n.sendErrors + this.#pool.errors,
      iceChecks: this.#ice.stats.checksAuthenticated,
      ice: { ...this.#ice.stats },
      dtls: this.#dtls === undefined ? { datagramsIn: 0, datagramsOut: 0, dropped: 0, rateLimited: 0, handshakeErrors: 0 } : { ...this.#dtls.stats },
    };
  }

  /**
   * Idempotent: stops timers, DTLS and the socket, then emits 'closed'. A connected association first gets an
   * encrypted close_notify; the socket closes once that datagram has been handed to the kernel.
   */
  close(): void {
    if (this.#state === 'closed') return;
    const notify = this.#state === 'connected' ? this.#dtls?.closeNotify() : undefined;
    const to = this.#target;
    this.#state = 'closed';
    this.#target = undefined;
    this.#srtpIn = undefined;
    this.#srtpOut = undefined;
    this.#ice.close();
    this.#dtls?.close();
    this.#socket.off('message', this.#onMessage);
    this.#socket.off('close', this.#onSocketClose);
    if (notify !== undefined && to !== undefined) {
      try {
        this.#socket.send(notify, 0, notify.length, to.port, to.address, this.#closeSocket);
      } catch {
        this.#closeSocket();
      }
    } else this.#closeSocket();
    this.emit('closed');
  }

  readonly #closeSocket = (): void => {
    try {
      this.#socket.close();
    } catch {
      // already closed by its previous owner or by an error: nothing left to release
    }
  };
}
