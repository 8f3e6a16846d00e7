import type { AddressInfo } from 'node:net';
import { GatewayError } from '../errors.ts';
import { logger } from '../log.ts';
import type { DtlsCertificate } from './certificate.ts';
import { ContentType, DtlsDatagramScan, forEachAlert, scanDtlsDatagram, selectRecords } from './dtls-record.ts';
import { verifyClientHandshake, verifyFingerprint, verifyServerHandshake, type RemoteFingerprint } from './dtls-peer-auth.ts';
import { DtlsClosedByPeerError, DtlsHandshakeError, DtlsTimeoutError } from './errors.ts';
import { srtpKeyLengths, type SrtpKeyMaterial, type SrtpProfileName } from './srtp/index.ts';
import { dtlsSrtpKeyBlock } from './tls-prf.ts';
import { TokenBucket } from './token-bucket.ts';
import { createPlaintext, dtls, DtlsPlaintext, type DtlsClient, type DtlsServer, type DtlsSocket } from './werift-dtls.ts';

/**
 * One DTLS-SRTP association (RFC 5764) over the leg's socket, driven by werift-dtls' DtlsServer/DtlsClient.
 *
 * The leg gives us datagrams its demultiplexer classified as DTLS and only from the ICE-validated remote
 * address (so a flood of ClientHellos from elsewhere never reaches here), and a `send` that goes to the
 * ICE-selected address. We add what werift-dtls lacks:
 *  - a record filter (dtls-record.ts): stale cookie-less ClientHello retransmissions after the cookie exchange
 *    and any ClientHello once connected are dropped (werift would reset its randoms/keys or renegotiate);
 *    alerts are handled here (werift treats unknown record types as alerts and decides encrypted/plain by
 *    guessing); application data is dropped (no data channels); handshake records are rate-limited;
 *  - peer authentication (dtls-peer-auth.ts) and the RFC 8122 fingerprint check before any key is released;
 *  - the SRTP key export (RFC 5764 §4.2) with our own PRF (tls-prf.ts);
 *  - a handshake deadline, and no fixed pre-handshake delay: the client starts as soon as `start()` is called,
 *    which the leg does the moment ICE has a validated remote address.
 * werift-dtls' ECDHE and signing run in node:crypto, not its JavaScript curves (werift-dtls.ts, dtls-native-crypto.ts).
 */

export type DtlsRole = 'client' | 'server';
export type DtlsTransportState = 'new' | 'connecting' | 'connected' | 'failed' | 'closed';

/** use_srtp protection profile ids (RFC 5764 §4.1.2, RFC 7714 §14.2). */
const PROFILE_IDS: Readonly<Record<SrtpProfileName, number>> = {
  SRTP_AES128_CM_HMAC_SHA1_80: 0x0001,
  SRTP_AES128_CM_HMAC_SHA1_32: 0x0002,
  SRTP_AEAD_AES_128_GCM: 0x0007,
  SRTP_AEAD_AES_256_GCM: 0x0008,
};

/**
 * Our default preference, by measured per-packet cost (bench/srtp.bench.ts): AES_CM_128_HMAC_SHA1_80 first, the
 * profile RFC 8827 §6.5 requires every WebRTC endpoint to support, at about 60 % of the CPU of our AES-GCM (whose
 * GHASH runs in JavaScript); then GCM for peers that offer only AEAD, then _32. All are secure (RFC 5764 §4.1.2,
 * RFC 7714). As DTLS server we choose by this order; as client we offer it and the server chooses.
 */
export const DEFAULT_SRTP_PROFILES: readonly SrtpProfileName[] = [
  'SRTP_AES128_CM_HMAC_SHA1_80',
  'SRTP_AEAD_AES_128_GCM',
  'SRTP_AES128_CM_HMAC_SHA1_32',
];

export interface DtlsSrtpSession {
  readonly profile: SrtpProfileName;
  /** Keys for what we send (client or server write keys by our role). */
  readonly local: SrtpKeyMaterial;
  /** Keys for what the peer sends. */
  readonly remote: SrtpKeyMaterial;
  readonly remoteFingerprint: { readonly algorithm: string; readonly value: string };
}

export interface DtlsTransportOptions {
  role: DtlsRole;
  certificate: DtlsCertificate;
  remoteFingerprints: readonly RemoteFingerprint[];
  srtpProfiles?: readonly SrtpProfileName[];
  /** Sends one DTLS datagram to the ICE-selected remote address. */
  send: (packet: Buffer) => void;
  onConnected: (session: DtlsSrtpSession) => void;
  onFailed: (error: GatewayError) => void;
  handshakeTimeoutMs?: number;
  handshakeDatagramsPerSecond?: number;
}

export interface DtlsTransportStats {
  datagramsIn: number;
  datagramsOut: number;
  dropped: number;
  rateLimited: number;
  handshakeErrors: number;
}

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;
const MAX_HANDSHAKE_ERRORS = 3;
const HandshakeType = { Certificate: 11, CertificateVerify: 15, ClientKeyExchange: 16 } as const;
/** Stops werift's flight retransmission loops: they end when `dtls.flight` reaches their next flight. */
const FLIGHT_DONE = 99;
const NO_ADDRESS: AddressInfo = { address: '', family: 'IPv4', port: 0 };
const REMOTE: readonly [string, number] = ['', 0];

export class DtlsTransport {
  readonly role: DtlsRole;
  readonly stats: DtlsTransportStats = { datagramsIn: 0, datagramsOut: 0, dropped: 0, rateLimited: 0, handshakeErrors: 0 };

  readonly #options: DtlsTransportOptions;
  readonly #profiles: readonly SrtpProfileName[];
  readonly #socket: DtlsServer | DtlsClient;
  readonly #feed: { onData: (data: Buffer, addr: readonly [string, number]) => void; closed: boolean };
  readonly #scan = new DtlsDatagramScan();
  readonly #bucket: TokenBucket;
  #remoteFingerprints: readonly RemoteFingerprint[];
  #state: DtlsTransportState = 'new';
  #session: DtlsSrtpSession | undefined;
  #serverFinished: Buffer | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #clientFlight = { certificate: false, keyExchange: false, certificateVerify: false };

  constructor(options: DtlsTransportOptions) {
    this.role = options.role;
    this.#options = options;
    this.#profiles = options.srtpProfiles ?? DEFAULT_SRTP_PROFILES;
    this.#remoteFingerprints = options.remoteFingerprints;
    const rate = options.handshakeDatagramsPerSecond ?? 20;
    this.#bucket = new TokenBucket(rate, rate);
    // werift-dtls' Transport: it installs its own `onData`, we call it with the datagrams we accept.
    const transport = {
      type: 'udp',
      address: NO_ADDRESS,
      closed: false,
      onData: (_data: Buffer, _addr: readonly [string, number]): void => {},
      send: (data: Buffer): Promise<void> => {
        if (!transport.closed) {
          this.stats.datagramsOut++;
          options.send(data);
        }
        return Promise.resolve();
      },
      close: (): Promise<void> => Promise.resolve(),
    };
    this.#feed = transport;
    const common = {
      transport,
      cert: options.certificate.certPem,
      key: options.certificate.keyPem,
      signatureHash: options.certificate.signatureHash,
      // werift types the list as its own two profiles; the use_srtp codec itself is generic.
      srtpProfiles: this.#profiles.map((name) => PROFILE_IDS[name]) as Array<1 | 7>,
      extendedMasterSecret: true, // RFC 7627
    };
    if (options.role === 'server') {
      // RFC 5763 §5: the DTLS server MUST request the client's certificate; it is what the fingerprint names.
      this.#socket = new dtls.DtlsServer({ ...common, certificateRequest: true });
    } else {
      const client = new dtls.DtlsClient(common);
      const handle = client.onHandleHandshakes;
      // werift-dtls does not keep the server's Finished; capture it for verification (dtls-peer-auth.ts).
      client.onHandleHandshakes = (assembled) => {
        for (const message of assembled) if (message.msg_type === 20) this.#serverFinished = Buffer.from(message.fragment);
        return handle(assembled);
      };
      this.#socket = client;
    }
    this.#socket.onConnect.subscribe(this.#onWeriftConnect);
    this.#socket.onError.subscribe(this.#onWeriftError);
  }

  get state(): DtlsTransportState {
    return this.#state;
  }

  get session(): DtlsSrtpSession | undefined {
    return this.#session;
  }

  /**
   * ICE has a remote address: a client sends its ClientHello now (no fixed delay), a server starts waiting for
   * one. Starts the handshake deadline. Idempotent.
   */
  start(): void {
    if (this.#state !== 'new') return;
    this.#state = 'connecting';
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#state === 'connecting') this.#fail(new DtlsTimeoutError('DTLS handshake did not complete in time'));
    }, this.#options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS);
    if (this.#socket instanceof dtls.DtlsClient) {
      this.#socket.connect().catch((error: unknown) => {
        if (this.#state === 'connecting') this.#fail(new DtlsHandshakeError('DTLS client handshake failed', { cause: error }));
      });
    }
  }

  /** Whether the new remote fingerprints still name the certificate this association authenticated (RFC 8842 §5). */
  keepsAssociation(fingerprints: readonly RemoteFingerprint[]): boolean {
    const certificate = this.#socket.cipher.remoteCertificate;
    if (this.#state !== 'connected' || certificate === undefined) {
      return sameFingerprints(this.#remoteFingerprints, fingerprints);
    }
    try {
      verifyFingerprint(certificate, fingerprints);
      return true;
    } catch {
      return false;
    }
  }

  setRemoteFingerprints(fingerprints: readonly RemoteFingerprint[]): void {
    this.#remoteFingerprints = fingerprints;
  }

  /** One datagram classified as DTLS, already known to come from the ICE-validated remote address. */
  handleDatagram(buf: Buffer): void {
    const state = this.#state;
    if (state === 'failed' || state === 'closed') return;
    this.stats.datagramsIn++;
    const scan = this.#scan;
    if (!scanDtlsDatagram(buf, scan)) {
      this.stats.dropped++;
      return;
    }
    if (scan.alerts > 0) {
      forEachAlert(buf, this.#onAlert);
      if (this.#state !== state) return;
    }
    if (state === 'connected') {
      // Only a retransmitted client flight (its encrypted Finished) needs werift after the handshake: it makes
      // the server resend its last flight, which the client evidently lost (RFC 6347 §4.2.4).
      if (this.role !== 'server' || scan.encryptedHandshakeRecords === 0 || scan.clientHello) {
        this.stats.dropped++;
        return;
      }
    } else if (scan.clientHello) {
      // A ClientHello reaching a client, or a cookie-less one after the cookie exchange (a delayed retransmission
      // of the first ClientHello, RFC 6347 §4.2.1) would make werift reset the handshake in progress.
      if (this.role === 'client' || (scan.clientHelloCookieLength <= 0 && this.#socket.dtls.flight >= 4)) {
        this.stats.dropped++;
        return;
      }
    }
    if (!this.#bucket.take()) {
      this.stats.rateLimited++;
      return;
    }
    if (state === 'new') this.start(); // a server may see the ClientHello before the leg calls start()
    const records =
      this.role === 'server' && state !== 'connected' && !scan.clientHello
        ? selectRecords(buf, this.#keepClientFlightRecord)
        : scan.alerts + scan.applicationData + scan.others > 0
          ? selectRecords(buf, isHandshakeLayer)
          : buf;
    if (records.length === 0) {
      this.stats.dropped++;
      return;
    }
    try {
      this.#feed.onData(records, REMOTE);
    } catch (error) {
      this.stats.dropped++; // werift's record parser throws on garbage; a bad datagram must not hurt the call
      logger.debug({ err: error }, 'dtls datagram rejected');
    }
  }

  /**
   * werift's server derives the (extended, RFC 7627) master secret whenever it handles a ClientKeyExchange, from
   * all the handshake messages it holds at that moment. If the client's Certificate was lost, or a retransmitted
   * ClientKeyExchange arrives after the CertificateVerify or Finished were cached, that secret is wrong and the
   * handshake never recovers. So the client's second flight is passed on strictly in order — Certificate,
   * ClientKeyExchange (once), CertificateVerify, then the encrypted Finished — and a record that arrives ahead of
   * its predecessors is dropped: the client retransmits its whole flight (RFC 6347 §4.2.4).
   */
  readonly #keepClientFlightRecord = (contentType: number, epoch: number, handshakeType: number): boolean => {
    const fed = this.#clientFlight;
    if (contentType !== ContentType.Handshake) return contentType === ContentType.ChangeCipherSpec;
    if (epoch > 0) return fed.certificateVerify;
    switch (handshakeType) {
      case HandshakeType.Certificate:
        fed.certificate = true;
        return true;
      case HandshakeType.ClientKeyExchange:
        if (fed.keyExchange || !fed.certificate) return false;
        fed.keyExchange = true;
        return true;
      case HandshakeType.CertificateVerify:
        if (!fed.keyExchange) return false;
        fed.certificateVerify = true;
        return true;
      default:
        return true;
    }
  };

  readonly #onAlert = (record: Buffer, epoch: number): void => {
    let level: number;
    let description: number;
    if (epoch === 0) {
      // Before the handshake completes, a plaintext fatal alert ends it (RFC 5246 §7.2.2). After it, an
      // unauthenticated alert is ignored: it must not revoke anything (RFC 7675 §5.2).
      if (this.#state === 'connected' || record.length < 15) return;
      level = record[13]!;
      description = record[14]!;
    } else {
      try {
        const plain = this.#socket.cipher.decryptPacket(DtlsPlaintext.deSerialize(record));
        level = plain[0]!;
        description = plain[1]!;
      } catch {
        this.stats.dropped++;
        return;
      }
    }
    if (description === 0 && this.#state === 'connected') {
      this.#fail(new DtlsClosedByPeerError('peer sent close_notify'));
    } else if (level === 2) {
      this.#fail(
        this.#state === 'connected'
          ? new DtlsClosedByPeerError(`peer sent fatal alert ${description}`)
          : new DtlsHandshakeError(`peer aborted the DTLS handshake with alert ${description}`),
      );
    }
  };

  /**
   * werift-dtls reports as errors both what is fatal (no common profile or cipher suite) and what a lost or
   * reordered datagram causes (a CertificateVerify processed before the lost Certificate, a wait for a message
   * that never came). The latter heal when the peer retransmits its flight (RFC 6347 §4.2.4), so one error is not
   * a failure; a deterministic one recurs on every retransmission, and the third ends the handshake (the
   * deadline catches the rest).
   */
  readonly #onWeriftError = (error: unknown): void => {
    if (this.#state !== 'new' && this.#state !== 'connecting') return;
    this.stats.handshakeErrors++;
    logger.debug({ err: error }, 'werift-dtls handshake error');
    if (this.stats.handshakeErrors >= MAX_HANDSHAKE_ERRORS) {
      this.#fail(new DtlsHandshakeError(`DTLS handshake failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    }
  };

  readonly #onWeriftConnect = (): void => {
    if (this.#state !== 'connecting') return; // werift fires again when it answers a retransmitted Finished
    let session: DtlsSrtpSession;
    try {
      session = this.#establish();
    } catch (error) {
      this.#fail(error instanceof GatewayError ? error : new DtlsHandshakeError('DTLS peer verification failed', { cause: error }));
      return;
    }
    this.#session = session;
    this.#state = 'connected';
    this.#clearTimer();
    this.#options.onConnected(session);
  };

  #establish(): DtlsSrtpSession {
    const socket: DtlsSocket = this.#socket;
    if (this.role === 'server') verifyClientHandshake(socket);
    else verifyServerHandshake(socket, this.#serverFinished);
    const certificate = socket.cipher.remoteCertificate;
    if (certificate === undefined) throw new DtlsHandshakeError('peer sent no certificate');
    const remoteFingerprint = verifyFingerprint(certificate, this.#remoteFingerprints);
    const id = socket.srtp.srtpProfile as number | undefined;
    const profile = this.#profiles.find((name) => PROFILE_IDS[name] === id);
    if (profile === undefined) throw new DtlsHandshakeError('no common SRTP protection profile was negotiated (RFC 5764 §4.1.2)');
    const { keyLength, saltLength } = srtpKeyLengths(profile);
    const clientRandom = (this.role === 'client' ? socket.cipher.localRandom : socket.cipher.remoteRandom).serialize();
    const serverRandom = (this.role === 'client' ? socket.cipher.remoteRandom : socket.cipher.localRandom).serialize();
    const block = dtlsSrtpKeyBlock(socket.cipher.masterSecret, clientRandom, serverRandom, keyLength, saltLength);
    const client: SrtpKeyMaterial = { profile, masterKey: block.clientWriteKey, masterSalt: block.clientWriteSalt };
    const server: SrtpKeyMaterial = { profile, masterKey: block.serverWriteKey, masterSalt: block.serverWriteSalt };
    return {
      profile,
      local: this.role === 'client' ? client : server,
      remote: this.role === 'client' ? server : client,
      remoteFingerprint,
    };
  }

  #fail(error: GatewayError): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#state = 'failed';
    this.#shutdown();
    this.#options.onFailed(error);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #shutdown(): void {
    this.#clearTimer();
    this.#feed.closed = true;
    // werift's flights retransmit on their own timers until `dtls.flight` passes theirs; end them now.
    this.#socket.dtls.flight = FLIGHT_DONE;
  }

  /**
   * An encrypted close_notify alert (RFC 5246 §7.2.1) for the owner to send before it closes the socket, so the
   * browser learns at once that media ends; undefined unless the association is up.
   */
  closeNotify(): Buffer | undefined {
    if (this.#state !== 'connected') return undefined;
    const socket = this.#socket;
    const [record] = createPlaintext(socket.dtls)([{ type: ContentType.Alert, fragment: Buffer.from([1, 0]) }], ++socket.dtls.recordSequenceNumber);
    return record === undefined ? undefined : socket.cipher.encryptPacket(record).serialize();
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#shutdown();
  }
}

const isHandshakeLayer = (contentType: number): boolean =>
  contentType === ContentType.Handshake || contentType === ContentType.ChangeCipherSpec;

function sameFingerprints(a: readonly RemoteFingerprint[], b: readonly RemoteFingerprint[]): boolean {
  const key = (list: readonly RemoteFingerprint[]): string =>
    list
      .map((fp) => `${fp.algorithm.toLowerCase()} ${fp.value.toUpperCase()}`)
      .sort()
      .join('|');
  return key(a) === key(b);
}
