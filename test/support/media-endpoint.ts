/**
 * The test phone's WebRTC media: werift's full RTCPeerConnection (a full ICE agent, DTLS-SRTP, rtcp-mux,
 * BUNDLE) with one audio transceiver, restricted to loopback, playing the browser under JsSIP.
 *
 * Loopback only — werift needs four settings for that, and one trap avoided:
 *  - `iceUseIpv4/iceUseIpv6: false` — otherwise host addresses come from os.networkInterfaces(), which lists
 *    eth0 (192.0.2.2); loopback is "internal" and never listed there;
 *  - `iceAdditionalHostAddresses: ['127.0.0.1']` — then loopback is the only host address;
 *  - `iceInterfaceAddresses: { udp4: '127.0.0.1' }` — the UDP socket binds to 127.0.0.1, not 0.0.0.0;
 *  - `iceFilterCandidatePair` — no pair with a non-loopback end is ever checked;
 *  - the trap: with `iceServers: []` werift-ice falls back to stun.l.google.com:19302 (a DNS lookup and a STUN
 *    request off the machine). So the STUN server is a silent socket of ours on loopback and
 *    `iceStunGatherTimeout` is 50 ms: gathering ends with the host candidate only.
 * Every local candidate is checked (`assertLoopbackSdp`) and a non-loopback one throws PHONE_NOT_LOOPBACK.
 *
 * Received audio is counted from the DTLS transport's decrypted RTP (`dtlsTransport.onRtp`), not from werift's
 * track: werift routes RTP to a track only by an SSRC announced in the remote SDP (`a=ssrc`), whereas a browser
 * plays an unsignalled SSRC on a single audio m-line (RFC 8843 BUNDLE demux falls back to the payload type).
 */
import dgram from 'node:dgram';
import {
  CipherContext, HashAlgorithm, NamedCurveAlgorithm, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket,
  SignatureAlgorithm, type DtlsKeys, type RTCDtlsTransport, type RTCRtpTransceiver,
} from 'werift';
import { TestPhoneError, withTimeout } from './phone-errors.ts';
import { AudioMeter, type AudioStats } from './audio-meter.ts';
import { encodeMarker, silenceByte } from './rtp-marker.ts';

export interface AudioCodec {
  /** Encoding name as in a=rtpmap: PCMU, PCMA, opus, G722, telephone-event. */
  name: string;
  payloadType: number;
  clockRate: number;
  channels?: number;
}

/** G.711 first, then RFC 4733 events at Chrome's payload type: what the phone can actually send. */
export const DEFAULT_AUDIO_CODECS: readonly AudioCodec[] = Object.freeze([
  { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 },
  { name: 'PCMA', payloadType: 8, clockRate: 8000, channels: 1 },
  { name: 'telephone-event', payloadType: 126, clockRate: 8000, channels: 1 },
]);

/** Chrome's audio offer order (opus first): for testing the gateway's codec choice; the phone sends no opus. */
export const CHROME_AUDIO_CODECS: readonly AudioCodec[] = Object.freeze([
  { name: 'opus', payloadType: 111, clockRate: 48000, channels: 2 },
  { name: 'G722', payloadType: 9, clockRate: 8000, channels: 1 },
  { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 },
  { name: 'PCMA', payloadType: 8, clockRate: 8000, channels: 1 },
  { name: 'telephone-event', payloadType: 126, clockRate: 8000, channels: 1 },
]);

export const LOOPBACK_V4 = '127.0.0.1';

export function isLoopback(address: string): boolean {
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

/** The connection address of every a=candidate line. */
export function candidateAddresses(sdp: string): string[] {
  return [...sdp.matchAll(/^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ/gm)].map((m) => m[1]!);
}

export function assertLoopbackSdp(sdp: string): void {
  const bad = candidateAddresses(sdp).filter((address) => !isLoopback(address));
  if (bad.length > 0) throw new TestPhoneError('PHONE_NOT_LOOPBACK', `local candidate(s) off loopback: ${bad.join(', ')}`);
}

/**
 * RFC 8839 §4.2.1.1 / JSEP §5.3.1: a browser that finished gathering puts its default candidate in m= and c=;
 * werift leaves `9` and `0.0.0.0`. JsSIP sends the SDP after gathering, so the phone does what Chrome does.
 */
export function withDefaultDestination(sdp: string): string {
  const sections = sdp.split(/(?=^m=)/m);
  return sections.map((section) => {
    if (!section.startsWith('m=')) return section;
    const host = /^a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host/m.exec(section);
    if (!host) return section;
    const family = host[1]!.includes(':') ? 'IP6' : 'IP4';
    return section.replace(/^(m=\S+ )9 /m, `$1${host[2]} `).replace(/^c=IN IP[46] \S+/m, `c=IN ${family} ${host[1]}`);
  }).join('');
}

export interface SendOptions {
  /** RTP payload type; the negotiated primary codec's goes through werift's sender (RTCP SR included), any other
   * is written with the sender's SSRC straight to the DTLS transport (as a browser's DTMF sender does). Default 0. */
  pt?: number;
  everyMs?: number;
  /** The payload of frame `n`; default: a marker (rtp-marker.ts) padded with G.711 silence to one frame. */
  payload?: (frame: number) => Buffer;
}

export interface Sending {
  /** The marker stream id written into default payloads. */
  readonly stream: number;
  stop(): void;
}

let stunSink: Promise<dgram.Socket> | undefined;
let stunQueries = 0;

/** STUN requests werift sent to the loopback sink (proof that it asked ours, not stun.l.google.com). */
export function stunSinkQueries(): number {
  return stunQueries;
}

/** One silent loopback UDP socket per process that werift's STUN queries go to (see the file comment). */
function stunSinkSocket(): Promise<dgram.Socket> {
  stunSink ??= new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.on('message', () => { stunQueries++; });
    socket.bind(0, LOOPBACK_V4, () => {
      socket.unref();
      resolve(socket);
    });
  });
  return stunSink;
}

export interface MediaPrerequisites {
  /** The DTLS certificate (one per phone: werift would otherwise share one per process). */
  keys: DtlsKeys;
  /** The loopback STUN sink's port. */
  stunPort: number;
}

/** The asynchronous part of making an endpoint, done once per phone so endpoints can be made synchronously. */
export async function prepareMedia(): Promise<MediaPrerequisites> {
  const sink = await stunSinkSocket();
  const keys = await CipherContext.createSelfSignedCertificateWithKey(
    { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 },
    NamedCurveAlgorithm.secp256r1_23,
  );
  return { keys, stunPort: sink.address().port };
}

export class MediaEndpoint {
  readonly pc: RTCPeerConnection;
  readonly transceiver: RTCRtpTransceiver;
  readonly meter = new AudioMeter();
  /** Candidate addresses the peer offered (from its SDPs). */
  readonly remoteCandidates: string[] = [];
  /** Pairs werift refused because an end was off loopback (should stay empty). */
  readonly refusedPairs: string[] = [];
  readonly #codecs: readonly AudioCodec[];
  readonly #subscribed = new WeakSet<RTCDtlsTransport>();
  #queue: Promise<unknown> = Promise.resolve();
  #sending: { timer: NodeJS.Timeout; stream: number } | undefined;
  /**
   * RTP sequence number and timestamp of the sender's SSRC, continued across startSending() calls: RFC 3550 §5.1
   * numbers one SSRC's packets consecutively, and a receiver's SRTP replay check (RFC 3711 §3.3.2) drops a
   * restarted, lower sequence as replayed or too old.
   */
  #seq = (Math.random() * 0x10000) >>> 0;
  #timestamp = (Math.random() * 0x1_0000_0000) >>> 0;
  #origin: { id: string; version: number } | undefined;
  #closed = false;

  constructor(prerequisites: MediaPrerequisites, codecs: readonly AudioCodec[] = DEFAULT_AUDIO_CODECS) {
    this.#codecs = codecs;
    this.pc = new RTCPeerConnection({
      iceServers: [{ urls: `stun:${LOOPBACK_V4}:${prerequisites.stunPort}` }],
      iceStunGatherTimeout: 0.05,
      iceUseIpv4: false,
      iceUseIpv6: false,
      iceUseTcp: false,
      iceAdditionalHostAddresses: [LOOPBACK_V4],
      iceInterfaceAddresses: { udp4: LOOPBACK_V4 },
      iceFilterCandidatePair: (pair) => {
        const ok = isLoopback(pair.localCandidate.host) && isLoopback(pair.remoteCandidate.host);
        if (!ok) this.refusedPairs.push(`${pair.localCandidate.host} -> ${pair.remoteCandidate.host}`);
        return ok;
      },
      dtls: { keys: prerequisites.keys },
      codecs: {
        audio: codecs.map((c) => new RTCRtpCodecParameters({
          mimeType: `audio/${c.name}`, clockRate: c.clockRate, channels: c.channels ?? 1, payloadType: c.payloadType,
        })),
        video: [],
      },
    });
    this.transceiver = this.pc.addTransceiver('audio', { direction: 'sendrecv' });
    this.pc.onIceCandidate.subscribe((candidate) => {
      const address = candidate?.candidate?.split(' ')[4];
      if (address !== undefined && !isLoopback(address)) {
        this.meter.violations.push(`werift gathered a non-loopback candidate: ${candidate!.candidate}`);
      }
    });
  }

  get audio(): AudioStats {
    return this.meter.stats;
  }

  get connectionState(): string {
    return this.pc.connectionState;
  }

  /** The payload type werift's sender uses (the first codec of the negotiated answer). */
  get sendPayloadType(): number | undefined {
    return this.transceiver.sender.codec?.payloadType;
  }

  /** A local offer (createOffer + setLocalDescription), gathered, default destination filled in. */
  createOffer(): Promise<string> {
    return this.#serial('createOffer', async () => {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      return this.#localSdp();
    });
  }

  /** Applies a remote offer and returns the local answer (sendrecv, as a browser with a microphone answers). */
  createAnswer(offer: string): Promise<string> {
    return this.#serial('createAnswer', async () => {
      this.#noteRemote(offer);
      await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
      this.transceiver.setDirection('sendrecv');
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      return this.#localSdp();
    });
  }

  /**
   * Applies a remote answer. JsSIP's rule for a 2xx after a 1xx that carried the answer already
   * (RTCSession._receiveInviteResponse): when the connection is `stable`, create and set a new local offer
   * first, then apply the answer again.
   */
  applyAnswer(answer: string): Promise<void> {
    return this.#serial('applyAnswer', async () => {
      this.#noteRemote(answer);
      if (this.pc.signalingState === 'stable') await this.pc.setLocalDescription(await this.pc.createOffer());
      await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
      this.#subscribeTransports();
    });
  }

  /** Drops a local offer the peer rejected (JSEP rollback), so the next offer starts from `stable`. */
  rollback(): Promise<void> {
    return this.#serial('rollback', async () => {
      if (this.pc.signalingState === 'have-local-offer') await this.pc.setLocalDescription({ type: 'rollback' });
    });
  }

  /** Resolves once ICE and DTLS are up (connectionState `connected`). */
  async waitConnected(timeoutMs = 5000): Promise<void> {
    if (this.pc.connectionState === 'connected') return;
    const connected = new Promise<void>((resolve, reject) => {
      const { unSubscribe } = this.pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected') {
          unSubscribe();
          resolve();
        } else if (state === 'failed' || state === 'closed') {
          unSubscribe();
          reject(new TestPhoneError('PHONE_MEDIA', `peer connection ${state}`));
        }
      });
    });
    await withTimeout(connected, timeoutMs, 'ICE/DTLS connection');
  }

  /** Starts one audio frame every `everyMs` (replacing a previous stream); see SendOptions. */
  startSending(options: SendOptions = {}): Sending {
    this.stopSending();
    const pt = options.pt ?? 0;
    const everyMs = options.everyMs ?? 20;
    const clockRate = this.#codecs.find((c) => c.payloadType === pt)?.clockRate ?? 8000;
    const step = Math.round((clockRate * everyMs) / 1000);
    const stream = (Math.random() * 0x1_0000_0000) >>> 0;
    const frameSize = Math.round((8000 * everyMs) / 1000);
    const payloadOf = options.payload ?? ((frame: number) => encodeMarker({ stream, frame, sentAt: Date.now() }, frameSize, silenceByte(pt)));
    let frame = 0;
    const tick = (): void => {
      const payload = payloadOf(frame);
      const header = new RtpHeader({ payloadType: pt, sequenceNumber: this.#seq, timestamp: this.#timestamp, ssrc: this.transceiver.sender.ssrc, marker: frame === 0 });
      frame++;
      this.#seq = (this.#seq + 1) & 0xffff;
      this.#timestamp = (this.#timestamp + step) >>> 0;
      this.#sendFrame(header, payload);
    };
    const timer = setInterval(tick, everyMs);
    timer.unref();
    this.#sending = { timer, stream };
    tick();
    return { stream, stop: () => { if (this.#sending?.stream === stream) this.stopSending(); } };
  }

  stopSending(): void {
    if (this.#sending) clearInterval(this.#sending.timer);
    this.#sending = undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopSending();
    this.meter.close();
    await withTimeout(this.pc.close(), 3000, 'RTCPeerConnection.close').catch(() => {});
  }

  #sendFrame(header: RtpHeader, payload: Buffer): void {
    const dtls = this.transceiver.dtlsTransport;
    const direction = this.transceiver.currentDirection;
    // A browser does not send on an m-line negotiated recvonly/inactive (remote hold), nor before DTLS is up.
    if (dtls?.state !== 'connected' || direction === 'recvonly' || direction === 'inactive') {
      this.meter.stats.sendSkipped++;
      return;
    }
    this.meter.stats.packetsSent++;
    this.meter.stats.bytesSent += payload.length;
    if (header.payloadType === this.sendPayloadType) {
      this.transceiver.sender.sendRtp(new RtpPacket(header, payload)).catch(() => {});
    } else {
      dtls.sendRtp(payload, header).catch(() => {});
    }
  }

  #localSdp(): string {
    const sdp = this.pc.localDescription?.sdp;
    if (sdp === undefined) throw new TestPhoneError('PHONE_MEDIA', 'werift produced no local description');
    assertLoopbackSdp(sdp);
    this.#subscribeTransports();
    return withDefaultDestination(this.#keepOrigin(sdp));
  }

  /**
   * RFC 3264 §8: every later SDP of a session keeps the o= session id and increments the version, as Chrome's
   * do; werift draws a new session id for each description, so it is put back here.
   */
  #keepOrigin(sdp: string): string {
    const origin = /^o=(\S+) (\d+) (\d+) (.+?)\r?$/m.exec(sdp);
    if (!origin) return sdp;
    if (!this.#origin) {
      this.#origin = { id: origin[2]!, version: Number(origin[3]) };
      return sdp;
    }
    this.#origin.version++;
    return sdp.replace(origin[0].trimEnd(), `o=${origin[1]} ${this.#origin.id} ${this.#origin.version} ${origin[4]}`);
  }

  #noteRemote(sdp: string): void {
    this.remoteCandidates.push(...candidateAddresses(sdp));
  }

  /** Counts decrypted RTP/RTCP of every DTLS transport the connection uses (one with BUNDLE). */
  #subscribeTransports(): void {
    for (const transport of this.pc.dtlsTransports) {
      if (this.#subscribed.has(transport)) continue;
      this.#subscribed.add(transport);
      transport.onRtp.subscribe((rtp) => this.meter.onRtp(rtp.header.payloadType, rtp.header.ssrc, rtp.header.sequenceNumber, rtp.payload));
      transport.onRtcp.subscribe(() => this.meter.onRtcp());
    }
  }

  /** werift description operations one at a time, as JsSIP's _connectionPromiseQueue does. */
  #serial<T>(what: string, operation: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new TestPhoneError('PHONE_CLOSED', `${what}: media closed`);
      try {
        return await operation();
      } catch (error) {
        if (error instanceof TestPhoneError) throw error;
        throw new TestPhoneError('PHONE_MEDIA', `${what}: ${(error as Error).message}`, { cause: error });
      }
    });
    this.#queue = run.catch(() => {});
    return withTimeout(run, 5000, what);
  }
}
