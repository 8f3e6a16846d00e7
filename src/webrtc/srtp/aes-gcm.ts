import { type Cipher, createCipheriv } from 'node:crypto';
import { GCM_BLOCK, ghashLengths, ghashTable, ghashUpdate, readWord } from './ghash.ts';

/**
 * AES-GCM (NIST SP 800-38D) for SRTP's 96-bit IVs, without a cipher object per packet. node:crypto cannot
 * give a GCM cipher a new IV, so using it costs a createCipheriv, setAAD, update, final and getAuthTag per
 * packet; here, as in aes-cm.ts, one AES-ECB cipher per key encrypts counter blocks: J0 = IV ‖ 0^31 ‖ 1 for
 * the tag mask E(K, J0), then inc32(J0), inc32²(J0), … for the keystream (§7.1 steps 2–3), and GHASH runs
 * in JavaScript (ghash.ts). A batched instance (SRTP) computes in one ECB call the counter blocks of the
 * next BATCH_PACKETS indices of a stream, as aes-cm.ts does.
 *
 * Sealing runs prepare(). Opening runs prepareTag(), the tag check, then prepareKeystream(): a received packet
 * outside the current batch gets only E(K, J0), one block, until its tag has matched, so a forged packet with a
 * distant sequence number costs one block, not a refill of BATCH_PACKETS · BATCH_BLOCKS blocks (an attacker
 * who can reach a media port would otherwise buy 8× a real packet's AES work per forged one).
 *
 * The IV is salt ⊕ (0x0000 ‖ SSRC ‖ indexHigh ‖ indexLow), 16 + 32 + 32 + 16 bits: RFC 7714 §8.1 for SRTP
 * (ROC, SEQ) and §9.1 for SRTCP (the 31-bit SRTCP index split into its high bits and low 16 bits).
 */

/** Consecutive packet indices whose counter blocks one batched call encrypts. */
const BATCH_PACKETS = 8;
/** Blocks per packet in a batch: J0 and 12 keystream blocks, 192 octets, more than a 20 ms voice payload. */
const BATCH_BLOCKS = 13;
const BATCH_PAYLOAD = (BATCH_BLOCKS - 1) * GCM_BLOCK;
const IV_LENGTH = 12;

// Counter blocks, shared by every instance: written and encrypted within one synchronous call. Grown on
// demand for a packet longer than a batch; never shrunk.
let counter = Buffer.alloc(BATCH_PACKETS * BATCH_BLOCKS * GCM_BLOCK);
let counterWords = new Uint32Array(counter.buffer, counter.byteOffset, counter.length >>> 2);
let view = counter.subarray(0, 0);
let viewBlocks = 0;

/** `counter.subarray(0, 16 · n)` for the last n used, so equal-sized calls allocate no view. */
function counterView(blocks: number): Buffer {
  if (blocks << 4 > counter.length) {
    counter = Buffer.alloc(blocks << 4);
    counterWords = new Uint32Array(counter.buffer, counter.byteOffset, counter.length >>> 2);
    viewBlocks = 0;
  }
  if (blocks !== viewBlocks) {
    view = counter.subarray(0, blocks << 4);
    viewBlocks = blocks;
  }
  return view;
}

/** J0 alone, for the tag check of a received packet outside the batch: octets 12–15 stay 0x00000001. */
const j0 = Buffer.alloc(GCM_BLOCK);
j0[GCM_BLOCK - 1] = 1;

/** GHASH state, shared: each tag is computed within one synchronous call. */
const y = new Int32Array(4);

export class AesGcm {
  /** After prepare(): E(K, J0) at keystream[keystreamAt], the payload's keystream right after it. */
  #keystream: Buffer = Buffer.alloc(0);
  #keystreamAt = 0;
  /** After tag(): the 16-octet tag, E(K, J0) ⊕ GHASH(H, A, C), as four words. Overwritten by the next call. */
  readonly #tag = new Int32Array(4);
  readonly #ecb: Cipher;
  readonly #table: Int32Array;
  readonly #salt = new Uint8Array(IV_LENGTH);
  readonly #batched: boolean;
  #batch: Buffer = Buffer.alloc(0);
  #batchSsrc = -1;
  #batchHigh = -1;
  #batchLow = -1;
  #batchCount = 0;
  /** False after prepareTag() computed E(K, J0) alone: prepareKeystream() must then run prepare(). */
  #keystreamReady = false;
  #pendingSsrc = 0;
  #pendingHigh = 0;
  #pendingLow = 0;
  #pendingLength = 0;
  #batchRefills = 0;
  #blocksEncrypted = 0;

  /** `batched`: precompute counter blocks for consecutive indices (for SRTP streams, not SRTCP). */
  constructor(key: Buffer, salt: Buffer, batched = false) {
    this.#ecb = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
    this.#ecb.setAutoPadding(false);
    // §6.4 / §7.1 step 1: the hash key H = E(K, 0^128).
    this.#table = ghashTable(this.#ecb.update(Buffer.alloc(GCM_BLOCK)));
    this.#salt.set(salt.subarray(0, IV_LENGTH));
    this.#batched = batched;
  }

  /** How many times a batch of counter blocks was encrypted (for tests: a forged packet must not cause one). */
  get batchRefills(): number {
    return this.#batchRefills;
  }

  /** AES blocks encrypted for packets since construction (H excluded). */
  get blocksEncrypted(): number {
    return this.#blocksEncrypted;
  }

  /**
   * Computes E(K, J0) and `payloadLength` octets of keystream for the IV of (ssrc, indexHigh, indexLow), for
   * the xor() and tag() calls of this packet. For sealing: on receipt use prepareTag().
   */
  prepare(ssrc: number, indexHigh: number, indexLow: number, payloadLength: number): void {
    this.#keystreamReady = true;
    if (this.#batched && payloadLength <= BATCH_PAYLOAD) {
      if (this.#inBatch(ssrc, indexHigh, indexLow)) return;
      this.#refill(ssrc, indexHigh, indexLow);
      this.#keystream = this.#batch;
      this.#keystreamAt = 0;
      return;
    }
    const blocks = 1 + ((payloadLength + GCM_BLOCK - 1) >>> 4);
    const view = counterView(blocks);
    this.#fillCounters(0, blocks, ssrc, indexHigh, indexLow);
    this.#keystream = this.#ecb.update(view);
    this.#blocksEncrypted += blocks;
    this.#keystreamAt = 0;
  }

  /**
   * For a received packet: E(K, J0) for tag() and tagMatches(), and the payload's keystream too when it
   * costs no more than this packet's own blocks (a batch hit, or an unbatched packet, whose work grows only
   * with the length the sender paid for). A batched packet outside the batch gets J0 alone, one block: the
   * batch is refilled by prepareKeystream(), once the tag has matched.
   */
  prepareTag(ssrc: number, indexHigh: number, indexLow: number, payloadLength: number): void {
    if (!this.#batched || payloadLength > BATCH_PAYLOAD) {
      this.prepare(ssrc, indexHigh, indexLow, payloadLength);
      return;
    }
    if (this.#inBatch(ssrc, indexHigh, indexLow)) {
      this.#keystreamReady = true;
      return;
    }
    this.#keystreamReady = false;
    this.#pendingSsrc = ssrc;
    this.#pendingHigh = indexHigh;
    this.#pendingLow = indexLow;
    this.#pendingLength = payloadLength;
    const s = this.#salt;
    j0[0] = s[0]!;
    j0[1] = s[1]!;
    j0[2] = s[2]! ^ (ssrc >>> 24);
    j0[3] = s[3]! ^ (ssrc >>> 16);
    j0[4] = s[4]! ^ (ssrc >>> 8);
    j0[5] = s[5]! ^ ssrc;
    j0[6] = s[6]! ^ (indexHigh >>> 24);
    j0[7] = s[7]! ^ (indexHigh >>> 16);
    j0[8] = s[8]! ^ (indexHigh >>> 8);
    j0[9] = s[9]! ^ indexHigh;
    j0[10] = s[10]! ^ (indexLow >>> 8);
    j0[11] = s[11]! ^ indexLow;
    this.#keystream = this.#ecb.update(j0);
    this.#blocksEncrypted++;
    this.#keystreamAt = 0;
  }

  /**
   * After prepareTag() and a matching tag: the keystream of that packet, for xor(). An authentic packet in
   * the last slot of the batch also refills it for the indices that follow, so an in-order stream costs one
   * ECB call per BATCH_PACKETS packets, as on the sending side, and never a J0 block of its own.
   */
  prepareKeystream(): void {
    if (!this.#keystreamReady) {
      this.prepare(this.#pendingSsrc, this.#pendingHigh, this.#pendingLow, this.#pendingLength);
      return;
    }
    const last = (this.#batchCount - 1) * BATCH_BLOCKS * GCM_BLOCK;
    if (this.#keystream !== this.#batch || this.#keystreamAt !== last) return;
    // ecb.update() returns a new buffer: this packet's keystream stays valid in the batch it replaces.
    const next = this.#batchLow + this.#batchCount;
    const high = next === 0x10000 ? (this.#batchHigh + 1) >>> 0 : this.#batchHigh;
    this.#refill(this.#batchSsrc, high, next & 0xffff);
  }

  /** Points the keystream at the index's slot when the current batch holds it. */
  #inBatch(ssrc: number, indexHigh: number, indexLow: number): boolean {
    const slot = indexLow - this.#batchLow;
    if (ssrc !== this.#batchSsrc || indexHigh !== this.#batchHigh || slot < 0 || slot >= this.#batchCount) return false;
    this.#keystream = this.#batch;
    this.#keystreamAt = slot * BATCH_BLOCKS * GCM_BLOCK;
    return true;
  }

  /** Encrypts the counter blocks of the indices from (indexHigh, indexLow) up to the 16-bit wrap, at most BATCH_PACKETS. */
  #refill(ssrc: number, indexHigh: number, indexLow: number): void {
    const count = Math.min(BATCH_PACKETS, 0x10000 - indexLow);
    const view = counterView(count * BATCH_BLOCKS);
    for (let p = 0; p < count; p++) this.#fillCounters(p * BATCH_BLOCKS, BATCH_BLOCKS, ssrc, indexHigh, indexLow + p);
    this.#batch = this.#ecb.update(view);
    this.#batchRefills++;
    this.#blocksEncrypted += count * BATCH_BLOCKS;
    this.#batchSsrc = ssrc;
    this.#batchHigh = indexHigh;
    this.#batchLow = indexLow;
    this.#batchCount = count;
  }

  /**
   * The tag E(K, J0) ⊕ GHASH(H, A, C) with A = aad[aadStart, aadEnd) and C = c[cStart, cEnd) (§7.1 steps
   * 5–6), kept for writeTag() or tagMatches(); prepare() or prepareTag() must have run for this packet's IV.
   */
  tag(aad: Uint8Array, aadStart: number, aadEnd: number, c: Uint8Array, cStart: number, cEnd: number): void {
    const table = this.#table;
    y.fill(0);
    ghashUpdate(table, y, aad, aadStart, aadEnd);
    ghashUpdate(table, y, c, cStart, cEnd);
    ghashLengths(table, y, aadEnd - aadStart, cEnd - cStart);
    const mask = this.#keystream;
    const at = this.#keystreamAt;
    const t = this.#tag;
    for (let w = 0; w < 4; w++) t[w] = y[w]! ^ readWord(mask, at + 4 * w);
  }

  /** Writes the tag as 16 octets at out[at]. */
  writeTag(out: Uint8Array, at: number): void {
    const t = this.#tag;
    for (let w = 0; w < 4; w++) {
      const v = t[w]!;
      const o = at + 4 * w;
      out[o] = v >>> 24;
      out[o + 1] = v >>> 16;
      out[o + 2] = v >>> 8;
      out[o + 3] = v;
    }
  }

  /** Compares the tag with the 16 octets at packet[at] in constant time. */
  tagMatches(packet: Uint8Array, at: number): boolean {
    const t = this.#tag;
    let diff = 0;
    for (let w = 0; w < 4; w++) diff |= t[w]! ^ readWord(packet, at + 4 * w);
    return diff === 0;
  }

  /**
   * out[k] = src[k] ⊕ keystream for k in [start, end), the prepared packet's keystream (after prepare(), or
   * prepareTag() and prepareKeystream()); may be in place.
   */
  xor(src: Uint8Array, out: Uint8Array, start: number, end: number): void {
    const keystream = this.#keystream;
    const base = this.#keystreamAt + GCM_BLOCK - start;
    for (let k = start; k < end; k++) out[k] = src[k]! ^ keystream[base + k]!;
  }

  /** Writes the n counter blocks J0, inc32(J0), … of one IV from block `first` on (§7.1 steps 2–3). */
  #fillCounters(first: number, n: number, ssrc: number, indexHigh: number, indexLow: number): void {
    const s = this.#salt;
    const o = first << 4;
    counter[o] = s[0]!;
    counter[o + 1] = s[1]!;
    counter[o + 2] = s[2]! ^ (ssrc >>> 24);
    counter[o + 3] = s[3]! ^ (ssrc >>> 16);
    counter[o + 4] = s[4]! ^ (ssrc >>> 8);
    counter[o + 5] = s[5]! ^ ssrc;
    counter[o + 6] = s[6]! ^ (indexHigh >>> 24);
    counter[o + 7] = s[7]! ^ (indexHigh >>> 16);
    counter[o + 8] = s[8]! ^ (indexHigh >>> 8);
    counter[o + 9] = s[9]! ^ indexHigh;
    counter[o + 10] = s[10]! ^ (indexLow >>> 8);
    counter[o + 11] = s[11]! ^ indexLow;
    const w = first << 2;
    const w0 = counterWords[w]!;
    const w1 = counterWords[w + 1]!;
    const w2 = counterWords[w + 2]!;
    for (let b = 0; b < n; b++) {
      const wb = (first + b) << 2;
      counterWords[wb] = w0;
      counterWords[wb + 1] = w1;
      counterWords[wb + 2] = w2;
      // The 32-bit counter, big-endian: J0 has 1, the payload blocks 2, 3, …
      const c = b + 1;
      const ob = (first + b) << 4;
      counter[ob + 12] = c >>> 24;
      counter[ob + 13] = c >>> 16;
      counter[ob + 14] = c >>> 8;
      counter[ob + 15] = c;
    }
  }
}
