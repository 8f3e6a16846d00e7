import { hash } from 'node:crypto';
import { SHA1_INITIAL_STATE, sha1Compress } from './sha1.ts';

/**
 * HMAC-SHA1 (RFC 2104) keyed once per context, the SRTP/SRTCP message authentication of RFC 3711 §4.2.1.
 *
 * The padded keys are compressed once, at construction: a packet then costs its own blocks plus one outer
 * block. Short messages (voice) are compressed in JavaScript, which beats every node:crypto entry point at
 * these sizes (each call pays a fixed binding cost larger than the hashing itself); long messages (video)
 * hash the inner part with one `crypto.hash` call, which wins once there are more than a few blocks.
 * Measured with bench/srtp.bench.ts; both paths are tested against `crypto.createHmac`.
 */

const BLOCK = 64;
const DIGEST = 20;

/** Message octets above which the inner hash goes to node:crypto (measured crossover: 240–320 octets). */
export const HMAC_NATIVE_THRESHOLD = 256;

// Scratch shared by every instance: computing a MAC is synchronous and never re-entered.
const state = new Int32Array(5);
/** The message's last partial block, the optional 32-bit suffix, the 0x80 marker and the bit length: ≤ 2 blocks. */
const tail = new Uint8Array(2 * BLOCK);
/** The outer hash's block after the opad block: inner digest ‖ 0x80 ‖ zeros ‖ bit length of 64 + 20 octets. */
const outerBlock = new Uint8Array(BLOCK);
outerBlock[DIGEST] = 0x80;
outerBlock[BLOCK - 2] = ((BLOCK + DIGEST) * 8) >>> 8;
outerBlock[BLOCK - 1] = ((BLOCK + DIGEST) * 8) & 0xff;
/** ipad-key ‖ message ‖ suffix for the node:crypto path; grown on demand, never shrunk. */
let nativeInput = Buffer.alloc(BLOCK + 2048);

export class HmacSha1 {
  /** The last MAC this instance computed; overwritten by its next call. */
  readonly digest = Buffer.alloc(DIGEST);
  readonly #innerState = new Int32Array(5);
  readonly #outerState = new Int32Array(5);
  readonly #ipad = Buffer.alloc(BLOCK, 0x36);

  constructor(key: Buffer) {
    // RFC 2104 §2: a key longer than the block is hashed first. SRTP's is 20 octets (RFC 3711 §4.2.1).
    const k = key.length > BLOCK ? hash('sha1', key, 'buffer') : key;
    const opad = Buffer.alloc(BLOCK, 0x5c);
    for (let i = 0; i < k.length; i++) {
      this.#ipad[i]! ^= k[i]!;
      opad[i]! ^= k[i]!;
    }
    this.#innerState.set(SHA1_INITIAL_STATE);
    sha1Compress(this.#innerState, this.#ipad, 0);
    this.#outerState.set(SHA1_INITIAL_STATE);
    sha1Compress(this.#outerState, opad, 0);
  }

  /** HMAC over data[0, length); result in `digest`. */
  mac(data: Buffer, length: number): Buffer {
    return this.#compute(data, length, 0, false);
  }

  /** HMAC over data[0, length) ‖ suffix as 32 bits big-endian (SRTP appends the ROC, RFC 3711 §4.2). */
  macWithSuffix(data: Buffer, length: number, suffix: number): Buffer {
    return this.#compute(data, length, suffix, true);
  }

  #compute(data: Buffer, length: number, suffix: number, hasSuffix: boolean): Buffer {
    if (length > HMAC_NATIVE_THRESHOLD) {
      this.#innerNative(data, length, suffix, hasSuffix);
    } else {
      this.#innerJs(data, length, suffix, hasSuffix);
    }
    state.set(this.#outerState);
    sha1Compress(state, outerBlock, 0);
    const out = this.digest;
    for (let i = 0; i < 5; i++) {
      const w = state[i]!;
      out[4 * i] = w >>> 24;
      out[4 * i + 1] = w >>> 16;
      out[4 * i + 2] = w >>> 8;
      out[4 * i + 3] = w;
    }
    return out;
  }

  /** Inner hash in JavaScript; leaves its digest in outerBlock[0, 20). */
  #innerJs(data: Buffer, length: number, suffix: number, hasSuffix: boolean): void {
    state.set(this.#innerState);
    const whole = length - (length % BLOCK);
    for (let off = 0; off < whole; off += BLOCK) sha1Compress(state, data, off);
    let r = 0;
    for (let i = whole; i < length; i++) tail[r++] = data[i]!;
    if (hasSuffix) {
      tail[r++] = suffix >>> 24;
      tail[r++] = suffix >>> 16;
      tail[r++] = suffix >>> 8;
      tail[r++] = suffix;
    }
    tail[r++] = 0x80;
    // FIPS 180-4 §5.1.1: pad to 56 mod 64, then the message length in bits (ipad block included) as 64 bits.
    const end = r + 8 <= BLOCK ? BLOCK : 2 * BLOCK;
    tail.fill(0, r, end - 4);
    const bits = (BLOCK + length + (hasSuffix ? 4 : 0)) * 8;
    tail[end - 4] = bits >>> 24;
    tail[end - 3] = bits >>> 16;
    tail[end - 2] = bits >>> 8;
    tail[end - 1] = bits;
    sha1Compress(state, tail, 0);
    if (end === 2 * BLOCK) sha1Compress(state, tail, BLOCK);
    for (let i = 0; i < 5; i++) {
      const w = state[i]!;
      outerBlock[4 * i] = w >>> 24;
      outerBlock[4 * i + 1] = w >>> 16;
      outerBlock[4 * i + 2] = w >>> 8;
      outerBlock[4 * i + 3] = w;
    }
  }

  /** Inner hash with one node:crypto call over ipad ‖ message ‖ suffix; leaves its digest in outerBlock[0, 20). */
  #innerNative(data: Buffer, length: number, suffix: number, hasSuffix: boolean): void {
    const total = BLOCK + length + (hasSuffix ? 4 : 0);
    if (nativeInput.length < total) nativeInput = Buffer.alloc(total);
    this.#ipad.copy(nativeInput, 0);
    data.copy(nativeInput, BLOCK, 0, length);
    if (hasSuffix) nativeInput.writeUInt32BE(suffix >>> 0, BLOCK + length);
    outerBlock.set(hash('sha1', nativeInput.subarray(0, total), 'buffer'), 0);
  }
}

/** Compares the first `tagLength` octets of `digest` with packet[offset, offset + tagLength) in constant time. */
export function tagMatches(digest: Uint8Array, packet: Uint8Array, offset: number, tagLength: number): boolean {
  let diff = 0;
  for (let i = 0; i < tagLength; i++) diff |= digest[i]! ^ packet[offset + i]!;
  return diff === 0;
}
