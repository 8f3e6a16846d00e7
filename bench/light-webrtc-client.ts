/**
 * A light WebRTC endpoint for load generation, built from the project's own pieces: real ICE (a controlling full
 * agent's Binding requests with USE-CANDIDATE, RFC 8445 §7.2, and consent checks every 5 s, RFC 7675), real
 * DTLS-SRTP (our DtlsTransport as client over werift-dtls, the code the WebRTC leg uses) and real SRTP (our
 * SrtpContext), on one UDP socket. It costs a few µs per packet where a werift RTCPeerConnection costs ≈41 µs,
 * so one generator process can drive hundreds of calls without becoming the bottleneck.
 *
 * Not a browser: one audio stream, PCMU, no RTCP, no retransmissions, no trickle. Loopback only.
 */
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { crc32 } from 'node:zlib';
import type { DtlsCertificate } from '../src/webrtc/certificate.ts';
import { DtlsTransport } from '../src/webrtc/dtls-transport.ts';
import { SrtpContext } from '../src/webrtc/srtp/index.ts';
import { parseStun, STUN_MAGIC_COOKIE, StunAttribute, StunClass, StunView, verifyMessageIntegrity } from '../src/webrtc/stun.ts';

const LOOPBACK = '127.0.0.1';
const ICE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const CHECK_RETRY_MS = 50;
const CONSENT_INTERVAL_MS = 5000;
const PAYLOAD_BYTES = 160;
const view = new StunView();

function iceString(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ICE_CHARS[randomInt(ICE_CHARS.length)];
  return s;
}

/** RFC 5389 §6/§15 + RFC 8445 §7.1.2: a Binding request from the controlling agent, integrity and fingerprint. */
export function bindingRequest(username: string, key: Buffer, tieBreaker: Buffer, priority: number, useCandidate: boolean): Buffer {
  const user = Buffer.from(username, 'utf8');
  const userPadded = (user.length + 3) & ~3;
  const attrs = 4 + userPadded + 8 + 12 + (useCandidate ? 4 : 0);
  const buf = Buffer.alloc(20 + attrs + 24 + 8);
  buf.writeUInt16BE(0x0001, 0);
  buf.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  randomBytes(12).copy(buf, 8);
  let o = 20;
  buf.writeUInt16BE(StunAttribute.Username, o);
  buf.writeUInt16BE(user.length, o + 2);
  user.copy(buf, o + 4);
  o += 4 + userPadded;
  buf.writeUInt16BE(StunAttribute.Priority, o);
  buf.writeUInt16BE(4, o + 2);
  buf.writeUInt32BE(priority, o + 4);
  o += 8;
  buf.writeUInt16BE(StunAttribute.IceControlling, o);
  buf.writeUInt16BE(8, o + 2);
  tieBreaker.copy(buf, o + 4);
  o += 12;
  if (useCandidate) {
    buf.writeUInt16BE(StunAttribute.UseCandidate, o);
    o += 4;
  }
  // MESSAGE-INTEGRITY covers the message up to itself, with the length field counting it (RFC 5389 §15.4).
  buf.writeUInt16BE(o - 20 + 24, 2);
  buf.writeUInt16BE(StunAttribute.MessageIntegrity, o);
  buf.writeUInt16BE(20, o + 2);
  createHmac('sha1', key).update(buf.subarray(0, o)).digest().copy(buf, o + 4);
  o += 24;
  // FINGERPRINT: CRC-32 of everything before it, length counting it, XOR "STUN" (RFC 5389 §15.5).
  buf.writeUInt16BE(o - 20 + 8, 2);
  buf.writeUInt16BE(StunAttribute.Fingerprint, o);
  buf.writeUInt16BE(4, o + 2);
  buf.writeUInt32BE((crc32(buf.subarray(0, o)) ^ 0x5354554e) >>> 0, o + 4);
  return buf;
}

interface RemoteDescription {
  readonly ufrag: string;
  readonly pwd: string;
  readonly fingerprint: { algorithm: string; value: string };
  readonly address: string;
  readonly port: number;
}

function parseAnswer(sdp: string): RemoteDescription {
  const get = (re: RegExp): string => {
    const m = re.exec(sdp);
    if (m === null) throw new Error(`answer lacks ${re}`);
    return m[1]!;
  };
  const candidate = /a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host/.exec(sdp);
  if (candidate === null) throw new Error('answer has no host candidate');
  if (get(/a=setup:(\S+)/) !== 'passive') throw new Error('expected the gateway to answer a=setup:passive');
  return {
    ufrag: get(/a=ice-ufrag:(\S+)/),
    pwd: get(/a=ice-pwd:(\S+)/),
    fingerprint: { algorithm: get(/a=fingerprint:(\S+) /), value: get(/a=fingerprint:\S+ (\S+)/) },
    address: candidate[1]!,
    port: Number(candidate[2]),
  };
}

export class LightWebRtcClient {
  readonly socket: dgram.Socket;
  readonly ufrag = iceString(8);
  readonly pwd = iceString(24);
  readonly ssrc = randomInt(1, 0xffffffff);
  state: 'new' | 'checking' | 'dtls' | 'connected' | 'failed' = 'new';
  sent = 0;
  received = 0;
  srtpFailures = 0;

  readonly #certificate: DtlsCertificate;
  readonly #tieBreaker = randomBytes(8);
  readonly #plain = Buffer.alloc(12 + PAYLOAD_BYTES, 0xd5);
  readonly #recv = Buffer.alloc(1500);
  #remote: RemoteDescription | undefined;
  #remoteKey: Buffer | undefined;
  #dtls: DtlsTransport | undefined;
  #srtpOut: SrtpContext | undefined;
  #srtpIn: SrtpContext | undefined;
  #timer: NodeJS.Timeout | undefined;
  #seq = randomInt(0, 0x10000);
  #ts = randomInt(0, 0x100000000);

  private constructor(socket: dgram.Socket, certificate: DtlsCertificate) {
    this.socket = socket;
    this.#certificate = certificate;
    this.#plain[0] = 0x80;
    this.#plain[1] = 0; // PCMU
    this.#plain.writeUInt32BE(this.ssrc, 8);
    socket.on('message', this.#onMessage);
  }

  static async create(certificate: DtlsCertificate): Promise<LightWebRtcClient> {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, LOOPBACK);
    await once(socket, 'listening');
    socket.setRecvBufferSize(256 * 1024);
    socket.setSendBufferSize(256 * 1024);
    return new LightWebRtcClient(socket, certificate);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** A browser-shaped offer: BUNDLE, rtcp-mux, actpass, one host candidate on loopback. */
  offer(): string {
    const port = this.port;
    return [
      'v=0',
      `o=- ${randomInt(1, 2 ** 47)} 1 IN IP4 ${LOOPBACK}`,
      's=-',
      't=0 0',
      'a=group:BUNDLE 0',
      'a=msid-semantic:WMS *',
      `m=audio ${port} UDP/TLS/RTP/SAVPF 0`,
      `c=IN IP4 ${LOOPBACK}`,
      `a=candidate:1 1 udp 2130706431 ${LOOPBACK} ${port} typ host`,
      'a=end-of-candidates',
      `a=ice-ufrag:${this.ufrag}`,
      `a=ice-pwd:${this.pwd}`,
      `a=fingerprint:${this.#certificate.fingerprint.algorithm} ${this.#certificate.fingerprint.value}`,
      'a=setup:actpass',
      'a=mid:0',
      'a=sendrecv',
      'a=rtcp-mux',
      'a=rtpmap:0 PCMU/8000',
      `a=ssrc:${this.ssrc} cname:bench`,
      '',
    ].join('\r\n');
  }

  /** The gateway's answer: start checking; DTLS follows the first successful check, media the handshake. */
  accept(answer: string): void {
    this.#remote = parseAnswer(answer);
    this.#remoteKey = Buffer.from(this.#remote.pwd, 'utf8');
    this.state = 'checking';
    this.#check();
  }

  readonly #check = (): void => {
    const remote = this.#remote;
    if (remote === undefined || this.state === 'failed') return;
    const request = bindingRequest(`${remote.ufrag}:${this.ufrag}`, this.#remoteKey!, this.#tieBreaker, 1853817087, true);
    this.socket.send(request, remote.port, remote.address);
    this.#timer = setTimeout(this.#check, this.state === 'checking' ? CHECK_RETRY_MS : CONSENT_INTERVAL_MS);
    this.#timer.unref();
  };

  /** One 20 ms PCMU packet, SRTP-protected into a fresh buffer (the socket keeps it until sent). */
  sendMedia(): void {
    const out = this.#srtpOut;
    const remote = this.#remote;
    if (out === undefined || remote === undefined) return;
    const p = this.#plain;
    p[2] = this.#seq >>> 8;
    p[3] = this.#seq & 0xff;
    p.writeUInt32BE(this.#ts, 4);
    p.writeUInt32BE(this.sent, 12);
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#ts = (this.#ts + PAYLOAD_BYTES) >>> 0;
    const wire = Buffer.allocUnsafe(p.length + out.rtpOverhead);
    const n = out.protectRtp(p, p.length, wire);
    if (n < 0) return;
    this.socket.send(wire, 0, n, remote.port, remote.address);
    this.sent++;
  }

  readonly #onMessage = (msg: Buffer): void => {
    const first = msg[0]!;
    if (first >= 128 && first <= 191) {
      const inbound = this.#srtpIn;
      if (inbound === undefined) return;
      if (inbound.unprotectRtp(msg, msg.length, this.#recv) < 0) this.srtpFailures++;
      else this.received++;
    } else if (first <= 3) {
      this.#onStun(msg);
    } else if (first >= 20 && first <= 63) {
      this.#dtls?.handleDatagram(msg);
    }
  };

  #onStun(msg: Buffer): void {
    if (parseStun(msg, view) !== 'ok' || view.messageClass !== StunClass.SuccessResponse) return;
    if (!verifyMessageIntegrity(msg, view, this.#remoteKey!)) return;
    if (this.state !== 'checking') return;
    this.state = 'dtls';
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#check, CONSENT_INTERVAL_MS);
    this.#timer.unref();
    const remote = this.#remote!;
    this.#dtls = new DtlsTransport({
      role: 'client',
      certificate: this.#certificate,
      remoteFingerprints: [remote.fingerprint],
      send: (packet) => this.socket.send(packet, remote.port, remote.address),
      onConnected: (session) => {
        this.#srtpOut = new SrtpContext(session.local);
        this.#srtpIn = new SrtpContext(session.remote);
        this.state = 'connected';
      },
      onFailed: () => {
        this.state = 'failed';
      },
    });
    this.#dtls.start();
  }

  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#dtls?.close();
    this.socket.close();
  }
}
