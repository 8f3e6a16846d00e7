/**
 * ITU-T G.711 (11/88) μ-law and A-law, as its reference implementation in ITU-T G.191 (STL `g711.c`) writes it:
 * input and output are 16-bit left-justified linear samples, the code words are the ones on the wire (μ-law with
 * every bit inverted, A-law with the even bits inverted: the "character signals" of G.711's tables).
 *
 * - μ-law (G.711 Table 2a): a 14-bit magnitude (the sample >> 2) biased by 33, 8 segments of 16 steps; step size
 *   doubles per segment. Negative samples use the one's complement so that -1 and 0 are both "zero" codes
 *   (0x7F and 0xFF), as the standard's decision levels are symmetric around -0.5.
 * - A-law (G.711 Table 1a): a 12-bit magnitude (the sample >> 4); segments 0 and 1 share the smallest step.
 *
 * The expanders return the reconstruction value of G.711's tables, scaled to 16 bits. Encoding goes through a
 * 64 Ki-entry table per law built on first use, so the per-sample cost on a media path is one array read.
 */

/** The bias G.711 μ-law adds to the 14-bit magnitude (Table 2a's decision values are offset by 33). */
const ULAW_BIAS = 33;
/** Largest biased 14-bit μ-law magnitude: full scale clips into the last step of segment 7. */
const ULAW_MAX = 0x1fff;

/** G.191 `ulaw_compress` for one sample (a 16-bit integer; anything outside −32768…32767 is clamped first). */
export function ulawCompress(sample: number): number {
  const s = clamp16(sample);
  let magnitude = (s < 0 ? ~s >> 2 : s >> 2) + ULAW_BIAS;
  if (magnitude > ULAW_MAX) magnitude = ULAW_MAX;
  // Segment number 1…8: one more than the position of the highest set bit above bit 5.
  let segment = 1;
  for (let i = magnitude >> 6; i !== 0; i >>= 1) segment++;
  const high = 8 - segment;
  const low = 0x0f - ((magnitude >> segment) & 0x0f);
  const code = (high << 4) | low;
  return s >= 0 ? code | 0x80 : code;
}

/** G.191 `ulaw_expand`: the reconstruction value of a μ-law code word, 16-bit. */
export function ulawExpand(code: number): number {
  const sign = (code & 0x80) === 0 ? -1 : 1;
  const inverted = ~code;
  const exponent = (inverted >> 4) & 0x07;
  const mantissa = inverted & 0x0f;
  const step = 4 << (exponent + 1);
  // `| 0`: code 0x7F ("negative zero") decodes to 0, not −0.
  return (sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * ULAW_BIAS)) | 0;
}

/** G.191 `alaw_compress` for one sample (16-bit, clamped). */
export function alawCompress(sample: number): number {
  const s = clamp16(sample);
  let ix = s < 0 ? ~s >> 4 : s >> 4;
  if (ix > 15) {
    let exponent = 1;
    while (ix > 16 + 15) {
      ix >>= 1;
      exponent++;
    }
    ix -= 16;
    ix += exponent << 4;
  }
  if (s >= 0) ix |= 0x80;
  // G.711: the even bits are inverted on the line.
  return ix ^ 0x55;
}

/** G.191 `alaw_expand`: the reconstruction value of an A-law code word, 16-bit. */
export function alawExpand(code: number): number {
  const ix = (code ^ 0x55) & 0x7f;
  const exponent = ix >> 4;
  let mantissa = ix & 0x0f;
  if (exponent > 0) mantissa += 16;
  mantissa = (mantissa << 4) + 0x08;
  if (exponent > 1) mantissa <<= exponent - 1;
  return (code & 0x80) !== 0 ? mantissa : -mantissa;
}

export type G711Law = 'PCMU' | 'PCMA';

let ulawTable: Uint8Array | undefined;
let alawTable: Uint8Array | undefined;
let ulawDecodeTable: Int16Array | undefined;
let alawDecodeTable: Int16Array | undefined;

function buildEncodeTable(compress: (s: number) => number): Uint8Array {
  const table = new Uint8Array(65536);
  for (let s = -32768; s <= 32767; s++) table[s + 32768] = compress(s);
  return table;
}

function buildDecodeTable(expand: (c: number) => number): Int16Array {
  const table = new Int16Array(256);
  for (let c = 0; c < 256; c++) table[c] = expand(c);
  return table;
}

/** The 65536-entry encoder of `law`, indexed by sample + 32768. */
export function encodeTable(law: G711Law): Uint8Array {
  if (law === 'PCMU') return (ulawTable ??= buildEncodeTable(ulawCompress));
  return (alawTable ??= buildEncodeTable(alawCompress));
}

/** The 256-entry decoder of `law`, indexed by code word. */
export function decodeTable(law: G711Law): Int16Array {
  if (law === 'PCMU') return (ulawDecodeTable ??= buildDecodeTable(ulawExpand));
  return (alawDecodeTable ??= buildDecodeTable(alawExpand));
}

/** Encodes `samples` (16-bit linear) into `out` at `offset`; returns the number of bytes written. */
export function encodeG711(law: G711Law, samples: ArrayLike<number>, out: Uint8Array, offset = 0): number {
  const table = encodeTable(law);
  const n = samples.length;
  for (let i = 0; i < n; i++) out[offset + i] = table[clamp16(samples[i]!) + 32768]!;
  return n;
}

/** Decodes `length` code words of `input` from `offset` into a new Int16Array (for tests and tools, not a hot path). */
export function decodeG711(law: G711Law, input: Uint8Array, offset = 0, length = input.length - offset): Int16Array {
  const table = decodeTable(law);
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) out[i] = table[input[offset + i]!]!;
  return out;
}

function clamp16(sample: number): number {
  const s = Math.round(sample);
  return s > 32767 ? 32767 : s < -32768 ? -32768 : s;
}
