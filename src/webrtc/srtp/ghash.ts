/**
 * GHASH, GCM's authenticator (NIST SP 800-38D §6.4), in JavaScript with Shoup's 4-bit tables: per hash key
 * H, the 16 products H · n for every 4-bit n and the same times x⁴ (512 octets), so a block costs 16 steps
 * of one 8-bit shift (reduced through a key-independent 256-entry table) and two table look-ups. Shoup's
 * 8-bit table saves one look-up per octet for 4 KiB per key (its 16-table form, 64 KiB), and a call holds
 * at least four keys: 512 octets keeps a call's GHASH tables at 2 KiB.
 *
 * The look-ups are indexed by the running hash, which depends on H: like every table-driven GHASH (libsrtp's
 * and OpenSSL's fallback paths, mbed TLS) this leaks through the cache in principle; the tables take
 * 24 cache lines (8 per key, 16 for the shared reduction), a small surface but not none.
 *
 * Values are four 32-bit words, most significant first, in GCM's reflected bit order: bit 0 of the field
 * element is the top bit of word 0, so multiplying by x is a right shift (SP 800-38D §6.3).
 */

/** Octets GCM processes per step. */
export const GCM_BLOCK = 16;

/**
 * The reduction for eight bits shifted out of the low end, indexed by those bits: x^128 = x^7 + x^2 + x + 1,
 * so each bit that falls off folds back as 0xe1 into the top of word 0 (mbed TLS's `last4`, for a byte).
 * Independent of the key: 256 entries shared by every table.
 */
const REDUCE = new Int32Array(256);
for (let b = 0; b < 256; b++) {
  const v = new Int32Array([0, 0, 0, b]);
  for (let i = 0; i < 8; i++) shiftRight1(v);
  REDUCE[b] = v[0]!;
}

// Scratch shared by every caller: a hash step is synchronous and never re-entered.
const words = new Int32Array(4);
/** A final partial block, zero-padded (§6.4: the last block of A and of C is padded with zeros). */
const partial = new Uint8Array(GCM_BLOCK);

/**
 * The multiplication table of a hash key H = E(K, 0^128): H · n for the 16 nibbles n (entries 0–15), then
 * H · n · x⁴ (entries 16–31), four words each: 512 octets. An octet b of X then adds
 * H · hi(b) ⊕ H · lo(b) · x⁴.
 */
export function ghashTable(h: Uint8Array): Int32Array {
  const table = new Int32Array(128);
  const v = Int32Array.of(readWord(h, 0), readWord(h, 4), readWord(h, 8), readWord(h, 12));
  table.set(v, 8 << 2);
  // Entries 4, 2, 1 are H · x, H · x², H · x³ (nibble bit order is reflected too).
  for (let i = 4; i > 0; i >>= 1) {
    shiftRight1(v);
    table.set(v, i << 2);
  }
  // Multiplication distributes over XOR: H · (i ⊕ j) = H · i ⊕ H · j for the remaining entries.
  for (let i = 2; i <= 8; i <<= 1) {
    for (let j = 1; j < i; j++) {
      for (let w = 0; w < 4; w++) table[((i + j) << 2) + w] = table[(i << 2) + w]! ^ table[(j << 2) + w]!;
    }
  }
  for (let n = 0; n < 16; n++) {
    v.set(table.subarray(n << 2, (n + 1) << 2));
    for (let i = 0; i < 4; i++) shiftRight1(v);
    table.set(v, (16 + n) << 2);
  }
  return table;
}

/** v ← v · x: a right shift, the bit falling off folded back by x^128 = x^7 + x^2 + x + 1 (§6.3). */
function shiftRight1(v: Int32Array): void {
  const carry = v[3]! & 1 ? 0xe1000000 | 0 : 0;
  v[3] = (v[3]! >>> 1) | (v[2]! << 31);
  v[2] = (v[2]! >>> 1) | (v[1]! << 31);
  v[1] = (v[1]! >>> 1) | (v[0]! << 31);
  v[0] = (v[0]! >>> 1) ^ carry;
}

/**
 * Y ← GHASH step over data[start, end) (§6.4): for each 16-octet block X, Y = (Y ⊕ X) · H; a final partial
 * block is zero-padded. `y` is four words, most significant first. The AAD and the ciphertext are each
 * padded on their own, so call this once per segment.
 */
export function ghashUpdate(table: Int32Array, y: Int32Array, data: Uint8Array, start: number, end: number): void {
  let y0 = y[0]!;
  let y1 = y[1]!;
  let y2 = y[2]!;
  let y3 = y[3]!;
  for (let p = start; p < end; p += GCM_BLOCK) {
    let block = data;
    let at = p;
    if (end - p < GCM_BLOCK) {
      partial.fill(0);
      for (let i = p; i < end; i++) partial[i - p] = data[i]!;
      block = partial;
      at = 0;
    }
    words[0] = y0 ^ readWord(block, at);
    words[1] = y1 ^ readWord(block, at + 4);
    words[2] = y2 ^ readWord(block, at + 8);
    words[3] = y3 ^ readWord(block, at + 12);
    // Z = X · H, Horner's rule over the 16 octets of X from the last (the highest powers of x): multiply Z
    // by x⁸ (a shift, reducing what falls off), then add H · octet. Unrolled by hand over a word's four
    // octets: measured 15–25 % faster than the inner loop V8 made of it.
    let z0 = 0;
    let z1 = 0;
    let z2 = 0;
    let z3 = 0;
    for (let w = 3; w >= 0; w--) {
      const x = words[w]!;
      let rem: number;
      let hi: number;
      let lo: number;
      rem = z3 & 0xff;
      z3 = (z3 >>> 8) | (z2 << 24);
      z2 = (z2 >>> 8) | (z1 << 24);
      z1 = (z1 >>> 8) | (z0 << 24);
      z0 = (z0 >>> 8) ^ REDUCE[rem]!;
      hi = (x >>> 2) & 0x3c;
      lo = 64 + ((x & 0xf) << 2);
      z0 ^= table[hi]! ^ table[lo]!;
      z1 ^= table[hi + 1]! ^ table[lo + 1]!;
      z2 ^= table[hi + 2]! ^ table[lo + 2]!;
      z3 ^= table[hi + 3]! ^ table[lo + 3]!;
      rem = z3 & 0xff;
      z3 = (z3 >>> 8) | (z2 << 24);
      z2 = (z2 >>> 8) | (z1 << 24);
      z1 = (z1 >>> 8) | (z0 << 24);
      z0 = (z0 >>> 8) ^ REDUCE[rem]!;
      hi = (x >>> 10) & 0x3c;
      lo = 64 + (((x >>> 8) & 0xf) << 2);
      z0 ^= table[hi]! ^ table[lo]!;
      z1 ^= table[hi + 1]! ^ table[lo + 1]!;
      z2 ^= table[hi + 2]! ^ table[lo + 2]!;
      z3 ^= table[hi + 3]! ^ table[lo + 3]!;
      rem = z3 & 0xff;
      z3 = (z3 >>> 8) | (z2 << 24);
      z2 = (z2 >>> 8) | (z1 << 24);
      z1 = (z1 >>> 8) | (z0 << 24);
      z0 = (z0 >>> 8) ^ REDUCE[rem]!;
      hi = (x >>> 18) & 0x3c;
      lo = 64 + (((x >>> 16) & 0xf) << 2);
      z0 ^= table[hi]! ^ table[lo]!;
      z1 ^= table[hi + 1]! ^ table[lo + 1]!;
      z2 ^= table[hi + 2]! ^ table[lo + 2]!;
      z3 ^= table[hi + 3]! ^ table[lo + 3]!;
      rem = z3 & 0xff;
      z3 = (z3 >>> 8) | (z2 << 24);
      z2 = (z2 >>> 8) | (z1 << 24);
      z1 = (z1 >>> 8) | (z0 << 24);
      z0 = (z0 >>> 8) ^ REDUCE[rem]!;
      hi = (x >>> 26) & 0x3c;
      lo = 64 + (((x >>> 24) & 0xf) << 2);
      z0 ^= table[hi]! ^ table[lo]!;
      z1 ^= table[hi + 1]! ^ table[lo + 1]!;
      z2 ^= table[hi + 2]! ^ table[lo + 2]!;
      z3 ^= table[hi + 3]! ^ table[lo + 3]!;
    }
    y0 = z0;
    y1 = z1;
    y2 = z2;
    y3 = z3;
  }
  y[0] = y0;
  y[1] = y1;
  y[2] = y2;
  y[3] = y3;
}

/** The last GHASH block, len(A) ‖ len(C) in bits as two 64-bit integers (§7.1 step 5), octet counts given. */
export function ghashLengths(table: Int32Array, y: Int32Array, aadLength: number, cipherLength: number): void {
  // Lengths here are below 2^29 octets, so each bit count fits the low word of its 64-bit half.
  writeWord(partial, 0, 0);
  writeWord(partial, 4, aadLength * 8);
  writeWord(partial, 8, 0);
  writeWord(partial, 12, cipherLength * 8);
  ghashUpdate(table, y, partial, 0, GCM_BLOCK);
}

function setEntry(table: Int32Array, i: number, w0: number, w1: number, w2: number, w3: number): void {
  table[i << 2] = w0;
  table[(i << 2) + 1] = w1;
  table[(i << 2) + 2] = w2;
  table[(i << 2) + 3] = w3;
}

export function readWord(b: Uint8Array, at: number): number {
  return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
}

function writeWord(b: Uint8Array, at: number, w: number): void {
  b[at] = w >>> 24;
  b[at + 1] = w >>> 16;
  b[at + 2] = w >>> 8;
  b[at + 3] = w;
}
