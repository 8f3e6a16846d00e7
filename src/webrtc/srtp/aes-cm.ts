import { type Cipher, createCipheriv } from 'node:crypto';

/**
 * AES in Counter Mode as SRTP uses it (RFC 3711 §4.1.1), for packets and for the key derivation PRF (§4.3.3).
 *
 * One AES-ECB cipher per key, made once and never `final()`-ed: the keystream is the ECB encryption of the
 * counter blocks, written into a preallocated buffer, and XORed into the packet. ECB with auto-padding off
 * keeps no state between `update()` calls when each call is given whole blocks (tested in aes-cm.test.ts),
 * so one cipher object serves every packet; a `createCipheriv('aes-128-ctr', …)` per packet measured about
 * twice as slow.
 *
 * Most of an `update()` call's cost is fixed (the binding, the output Buffer), not per block. A batched
 * instance (the SRTP one) therefore computes, in one call, the keystreams of the next BATCH_PACKETS indices
 * of a stream, each as long as a voice payload, and serves the following packets from them: a stream's
 * indices are consecutive, so one call in eight does the work. Anything else — another SSRC or ROC, an index
 * outside the batch, a longer payload — misses and is recomputed; a miss costs what an unbatched call does.
 */

/** Consecutive packet indices whose keystream one batched call computes. */
const BATCH_PACKETS = 8;
/** Keystream blocks kept per packet in a batch: 192 octets, more than a 20 ms PCMU/PCMA or Opus payload. */
const BATCH_BLOCKS = 12;
const BATCH_PACKET_BYTES = BATCH_BLOCKS * 16;

/** Counter blocks encrypted per `update()` call: 96 × 16 = 1536 octets, an Ethernet-MTU packet, or one batch. */
const CHUNK_BLOCKS = BATCH_PACKETS * BATCH_BLOCKS;

/** RFC 3711 §4.1.1: the block counter is the low 16 bits of the IV, so one IV yields at most 2^16 blocks. */
export const AES_CM_MAX_KEYSTREAM = 0x10000 * 16;

// Shared by every instance: counter blocks are written and encrypted within one synchronous call.
const counterBuffer = new ArrayBuffer(CHUNK_BLOCKS * 16);
const counter = Buffer.from(counterBuffer);
/** The same bytes as words, to copy a block's IV prefix in four stores (byte order is irrelevant to a copy). */
const counterWords = new Uint32Array(counterBuffer);
/** `counter.subarray(0, 16 · n)` for the last n used, so equal-sized calls allocate no view. */
let view = counter.subarray(0, 0);
let viewBlocks = 0;

function counterView(blocks: number): Buffer {
  if (blocks !== viewBlocks) {
    view = counter.subarray(0, blocks << 4);
    viewBlocks = blocks;
  }
  return view;
}

export class AesCm {
  readonly #ecb: Cipher;
  /** k_s, 112 bits; a shorter salt is padded with zeros on the right. */
  readonly #salt = new Uint8Array(14);
  readonly #batched: boolean;
  /** Keystreams of indices batchLow … batchLow + batchCount − 1 under batchSsrc/batchHigh, BATCH_PACKET_BYTES each. */
  #batch: Buffer = Buffer.alloc(0);
  #batchSsrc = -1;
  #batchHigh = -1;
  #batchLow = -1;
  #batchCount = 0;

  /** `batched`: precompute keystream for consecutive indices (for SRTP streams; not for SRTCP or the KDF). */
  constructor(key: Buffer, salt: Buffer, batched = false) {
    this.#ecb = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
    this.#ecb.setAutoPadding(false);
    this.#salt.set(salt.subarray(0, 14));
    this.#batched = batched;
  }

  /**
   * out[k] = src[k] ⊕ keystream[k − start] for k in [start, end), with the keystream of
   * IV = (k_s · 2^16) ⊕ (SSRC · 2^64) ⊕ (i · 2^16), i = indexHigh · 2^16 + indexLow (RFC 3711 §4.1.1).
   * For SRTP indexHigh is the ROC and indexLow the sequence number; for SRTCP they split the SRTCP index.
   * `src` and `out` may be the same buffer.
   */
  xor(
    src: Uint8Array,
    out: Uint8Array,
    start: number,
    end: number,
    ssrc: number,
    indexHigh: number,
    indexLow: number,
  ): void {
    const length = end - start;
    if (length > AES_CM_MAX_KEYSTREAM) throw new RangeError('AES-CM keystream longer than 2^16 blocks');
    if (this.#batched && length <= BATCH_PACKET_BYTES) {
      let slot = indexLow - this.#batchLow;
      if (ssrc !== this.#batchSsrc || indexHigh !== this.#batchHigh || slot < 0 || slot >= this.#batchCount) {
        this.#fillBatch(ssrc, indexHigh, indexLow);
        slot = 0;
      }
      const keystream = this.#batch;
      const base = slot * BATCH_PACKET_BYTES - start;
      for (let k = start; k < end; k++) out[k] = src[k]! ^ keystream[base + k]!;
      return;
    }
    writeIvPrefix(this.#salt, ssrc, indexHigh, indexLow, 0);
    let block = 0;
    let pos = start;
    while (pos < end) {
      const remaining = end - pos;
      const n = remaining >= CHUNK_BLOCKS * 16 ? CHUNK_BLOCKS : (remaining + 15) >>> 4;
      fillCounterBlocks(0, n, block);
      const keystream = this.#ecb.update(counterView(n));
      const len = remaining < n << 4 ? remaining : n << 4;
      for (let i = 0; i < len; i++) out[pos + i] = src[pos + i]! ^ keystream[i]!;
      pos += len;
      block += n;
    }
  }

  /** One ECB call for the keystreams of indexLow and the indices after it, up to where indexLow wraps. */
  #fillBatch(ssrc: number, indexHigh: number, indexLow: number): void {
    const count = Math.min(BATCH_PACKETS, 0x10000 - indexLow);
    for (let p = 0; p < count; p++) {
      const first = p * BATCH_BLOCKS;
      writeIvPrefix(this.#salt, ssrc, indexHigh, indexLow + p, first);
      fillCounterBlocks(first, BATCH_BLOCKS, 0);
    }
    this.#batch = this.#ecb.update(counterView(count * BATCH_BLOCKS));
    this.#batchSsrc = ssrc;
    this.#batchHigh = indexHigh;
    this.#batchLow = indexLow;
    this.#batchCount = count;
  }
}

/** Writes octets 0–13 of the IV (everything but the block counter) into counter block `at`. */
function writeIvPrefix(s: Uint8Array, ssrc: number, indexHigh: number, indexLow: number, at: number): void {
  const o = at << 4;
  counter[o] = s[0]!;
  counter[o + 1] = s[1]!;
  counter[o + 2] = s[2]!;
  counter[o + 3] = s[3]!;
  counter[o + 4] = s[4]! ^ (ssrc >>> 24);
  counter[o + 5] = s[5]! ^ (ssrc >>> 16);
  counter[o + 6] = s[6]! ^ (ssrc >>> 8);
  counter[o + 7] = s[7]! ^ ssrc;
  counter[o + 8] = s[8]! ^ (indexHigh >>> 24);
  counter[o + 9] = s[9]! ^ (indexHigh >>> 16);
  counter[o + 10] = s[10]! ^ (indexHigh >>> 8);
  counter[o + 11] = s[11]! ^ indexHigh;
  counter[o + 12] = s[12]! ^ (indexLow >>> 8);
  counter[o + 13] = s[13]! ^ indexLow;
}

/** Copies block `first`'s IV prefix into it and the n − 1 blocks after it, with counters from firstCounter on. */
function fillCounterBlocks(first: number, n: number, firstCounter: number): void {
  const w = first << 2;
  const w0 = counterWords[w]!;
  const w1 = counterWords[w + 1]!;
  const w2 = counterWords[w + 2]!;
  const w3 = counterWords[w + 3]!;
  for (let b = 0; b < n; b++) {
    const wb = (first + b) << 2;
    counterWords[wb] = w0;
    counterWords[wb + 1] = w1;
    counterWords[wb + 2] = w2;
    counterWords[wb + 3] = w3;
    const o = (first + b) << 4;
    const blockCounter = firstCounter + b;
    counter[o + 14] = blockCounter >>> 8;
    counter[o + 15] = blockCounter;
  }
}
