import { SrtpConfigError } from './errors.ts';
import { SrtpFailure } from './failure.ts';
import { deriveSessionKeys } from './kdf.ts';
import { type SrtpKeyMaterial, type SrtpProfileName, srtpProfile } from './profiles.ts';
import { ReplayWindow } from './replay-window.ts';
import { packetIndex, SEQ_MODULUS } from './rollover.ts';
import { rtpHeaderLength } from './rtp-header.ts';
import { RTCP_CLEAR_LENGTH, type SrtpTransform } from './transform.ts';
import { AesCmHmacSha1Transform } from './transform-cm.ts';
import { AesGcmTransform } from './transform-gcm.ts';

export interface SrtpContextOptions {
  /** Packets remembered behind the highest index, per SSRC (RFC 3711 §3.3.2: at least 64). Default 128. */
  replayWindowSize?: number;
  /** SSRCs tracked per direction, for SRTP and SRTCP each; bounds the memory hostile input can claim. Default 16. */
  maxSsrcs?: number;
}

const DEFAULT_REPLAY_WINDOW = 128;
const MIN_REPLAY_WINDOW = 64;
const MAX_REPLAY_WINDOW = 0x8000;
const DEFAULT_MAX_SSRCS = 16;
const MAX_MAX_SSRCS = 0x10000;
/** A UDP datagram's payload never exceeds this; larger lengths are caller errors reported as Malformed. */
const MAX_PACKET = 0xffff;
/** RFC 3711 §3.4: the SRTCP index is 31 bits; §9.2: re-key before it would wrap and repeat a keystream. */
const MAX_SRTCP_INDEX = 0x7fffffff;

interface SentRtpStream {
  /** Highest packet index protected so far; the ROC and s_l of §3.3.1 both derive from it. */
  highest: number;
}

interface SentRtcpStream {
  /** The SRTCP index the next packet gets (§3.3.1: starts at zero). */
  next: number;
}

/**
 * One direction's SRTP and SRTCP cryptographic context (RFC 3711 §3.2): the session keys derived from one
 * master key, and per SSRC the rollover counter, highest sequence number and replay list. No I/O: bytes in,
 * bytes out. Use one context to protect what we send and another, keyed with the peer's master key, to
 * unprotect what we receive.
 *
 * Every packet function returns the length written to `out`, or a negative SrtpFailure code, and never
 * throws on packet contents. `out` may be the same Buffer as `packet` (in place) but must not otherwise
 * overlap it. Receive state (ROC, highest index, replay list, and a new SSRC's entry) changes only once a
 * packet has authenticated (§3.3 step 7).
 */
export class SrtpContext {
  readonly profile: SrtpProfileName;
  /** Octets protectRtp adds (the tag). */
  readonly rtpOverhead: number;
  /** Octets protectRtcp adds (the ESRTCP word and the tag). */
  readonly rtcpOverhead: number;
  readonly #transform: SrtpTransform;
  readonly #windowSize: number;
  readonly #maxSsrcs: number;
  readonly #rtpSent = new Map<number, SentRtpStream>();
  readonly #rtpReceived = new Map<number, ReplayWindow>();
  readonly #rtcpSent = new Map<number, SentRtcpStream>();
  readonly #rtcpReceived = new Map<number, ReplayWindow>();

  constructor(keys: SrtpKeyMaterial, options: SrtpContextOptions = {}) {
    const params = srtpProfile(keys.profile);
    this.#windowSize = option(
      'replayWindowSize',
      options.replayWindowSize,
      DEFAULT_REPLAY_WINDOW,
      MIN_REPLAY_WINDOW,
      MAX_REPLAY_WINDOW,
    );
    this.#maxSsrcs = option('maxSsrcs', options.maxSsrcs, DEFAULT_MAX_SSRCS, 1, MAX_MAX_SSRCS);
    const sessionKeys = deriveSessionKeys(keys);
    this.#transform =
      params.transform === 'aes-gcm'
        ? new AesGcmTransform(sessionKeys)
        : new AesCmHmacSha1Transform(sessionKeys, params.rtpTagLength);
    this.profile = params.name;
    this.rtpOverhead = this.#transform.rtpTagLength;
    this.rtcpOverhead = this.#transform.rtcpTrailerLength;
  }

  /**
   * Encrypts+authenticates an RTP packet. `out` may be the same Buffer as `packet` (in place); out must have
   * room for length + tag. Returns the number of bytes written to out.
   */
  protectRtp(packet: Buffer, length: number, out: Buffer): number {
    if (!validLength(packet, length)) return SrtpFailure.Malformed;
    const headerLength = rtpHeaderLength(packet, length);
    if (headerLength < 0) return headerLength;
    const transform = this.#transform;
    if (out.length < length + transform.rtpTagLength) return SrtpFailure.BufferTooSmall;
    const ssrc = readUint32(packet, 8);
    const seq = (packet[2]! << 8) | packet[3]!;
    let stream = this.#rtpSent.get(ssrc);
    if (stream === undefined) {
      if (this.#rtpSent.size >= this.#maxSsrcs) return SrtpFailure.SsrcLimit;
      stream = { highest: -1 };
      this.#rtpSent.set(ssrc, stream);
    }
    // The sender's ROC (§3.3.1) counts wraps of the sequence numbers it sends; estimating it like a receiver
    // does also copes with packets the relay forwards slightly out of order.
    const index = packetIndex(stream.highest, seq);
    if (index < 0) return index;
    if (index > stream.highest) stream.highest = index;
    return transform.sealRtp(packet, out, headerLength, length, ssrc, (index - seq) / SEQ_MODULUS, seq);
  }

  /** Returns plaintext length (written to out, may be in place) or a negative SrtpFailure code. */
  unprotectRtp(packet: Buffer, length: number, out: Buffer): number {
    if (!validLength(packet, length)) return SrtpFailure.Malformed;
    const transform = this.#transform;
    const end = length - transform.rtpTagLength;
    const headerLength = rtpHeaderLength(packet, end);
    if (headerLength < 0) return headerLength;
    if (out.length < end) return SrtpFailure.BufferTooSmall;
    const ssrc = readUint32(packet, 8);
    const seq = (packet[2]! << 8) | packet[3]!;
    const window = this.#rtpReceived.get(ssrc);
    let index: number;
    if (window === undefined) {
      if (this.#rtpReceived.size >= this.#maxSsrcs) return SrtpFailure.SsrcLimit;
      // §3.3.1: the first packet of a stream has ROC 0 and sets s_l.
      index = seq;
    } else {
      index = packetIndex(window.highest, seq);
      if (index < 0) return index;
      const replay = window.check(index);
      if (replay !== 0) return replay;
    }
    const result = transform.openRtp(packet, out, headerLength, length, ssrc, (index - seq) / SEQ_MODULUS, seq);
    if (result < 0) return result;
    this.#received(this.#rtpReceived, window, ssrc).accept(index);
    return result;
  }

  /** Encrypts+authenticates an RTCP (compound) packet under the next SRTCP index of its sender SSRC. */
  protectRtcp(packet: Buffer, length: number, out: Buffer): number {
    if (!validLength(packet, length) || !isRtcpHeader(packet, length)) return SrtpFailure.Malformed;
    const transform = this.#transform;
    if (out.length < length + transform.rtcpTrailerLength) return SrtpFailure.BufferTooSmall;
    const ssrc = readUint32(packet, 4);
    let stream = this.#rtcpSent.get(ssrc);
    if (stream === undefined) {
      if (this.#rtcpSent.size >= this.#maxSsrcs) return SrtpFailure.SsrcLimit;
      stream = { next: 0 };
      this.#rtcpSent.set(ssrc, stream);
    }
    if (stream.next > MAX_SRTCP_INDEX) return SrtpFailure.IndexExhausted;
    const index = stream.next++;
    return transform.sealRtcp(packet, out, length, ssrc, index);
  }

  /** Returns the RTCP length (written to out, may be in place) or a negative SrtpFailure code. */
  unprotectRtcp(packet: Buffer, length: number, out: Buffer): number {
    if (!validLength(packet, length)) return SrtpFailure.Malformed;
    const transform = this.#transform;
    const end = length - transform.rtcpTrailerLength;
    if (!isRtcpHeader(packet, end)) return SrtpFailure.Malformed;
    if (out.length < end) return SrtpFailure.BufferTooSmall;
    const ssrc = readUint32(packet, 4);
    // §3.4: the index travels in the packet, so no estimation; the replay list works on it directly.
    const esrtcpWord = readUint32(packet, length - transform.rtcpIndexFromEnd);
    const index = esrtcpWord & MAX_SRTCP_INDEX;
    const window = this.#rtcpReceived.get(ssrc);
    if (window === undefined) {
      if (this.#rtcpReceived.size >= this.#maxSsrcs) return SrtpFailure.SsrcLimit;
    } else {
      const replay = window.check(index);
      if (replay !== 0) return replay;
    }
    const result = transform.openRtcp(packet, out, length, ssrc, esrtcpWord);
    if (result < 0) return result;
    this.#received(this.#rtcpReceived, window, ssrc).accept(index);
    return result;
  }

  /** The SSRC's replay list, created now that its first packet has authenticated. */
  #received(map: Map<number, ReplayWindow>, window: ReplayWindow | undefined, ssrc: number): ReplayWindow {
    if (window !== undefined) return window;
    const created = new ReplayWindow(this.#windowSize);
    map.set(ssrc, created);
    return created;
  }
}

function option(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SrtpConfigError(`SRTP option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function validLength(packet: Buffer, length: number): boolean {
  return Number.isInteger(length) && length >= 0 && length <= packet.length && length <= MAX_PACKET;
}

/** Version 2 and at least the header word and the sender SSRC, which stay in the clear (RFC 3711 §3.4). */
function isRtcpHeader(packet: Buffer, length: number): boolean {
  return length >= RTCP_CLEAR_LENGTH && (packet[0]! & 0xc0) === 0x80;
}

function readUint32(buf: Buffer, offset: number): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}
