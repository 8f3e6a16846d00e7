/**
 * G.711 against the standard's own numbers and an independent implementation:
 * - A-law, encoding of every 16-bit input and decoding of every code word, against CPython's audioop (Sun's
 *   g711.c), recorded in fixtures/g711-audioop.json;
 * - μ-law decoding against the same; μ-law encoding against the decision intervals of G.711 Table 2a, built here
 *   from the table's segment layout (Sun's encoder departs from ITU-T G.191 for negative inputs; see the fixture);
 * - the code words the standard names (zero, full scale, the inverted bits on the line).
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import {
  alawCompress,
  alawExpand,
  decodeG711,
  encodeG711,
  ulawCompress,
  ulawExpand,
} from '../../src/services/g711.ts';

interface Fixture {
  PCMA: { encodeRuns: Array<[number, number]>; decode: number[] };
  PCMU: { decode: number[] };
}
const fixture = JSON.parse(fs.readFileSync(new URL('./fixtures/g711-audioop.json', import.meta.url), 'utf8')) as Fixture;

describe('A-law (G.711 Table 1a)', () => {
  it('encodes every 16-bit sample as the reference implementation does', () => {
    const runs = fixture.PCMA.encodeRuns;
    expect(runs).toHaveLength(256); // every code word is used
    let mismatches = 0;
    for (let r = 0; r < runs.length; r++) {
      const [start, code] = runs[r]!;
      const end = r + 1 < runs.length ? runs[r + 1]![0] : 32768;
      for (let s = start; s < end; s++) if (alawCompress(s) !== code) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('decodes every code word to its reconstruction value', () => {
    expect(Array.from({ length: 256 }, (_, c) => alawExpand(c))).toEqual(fixture.PCMA.decode);
  });

  it('inverts the even bits on the line: +0 is 0xD5, −0 is 0x55, full scale 0xAA/0x2A', () => {
    expect(alawCompress(0)).toBe(0xd5);
    expect(alawCompress(-1)).toBe(0x55);
    expect(alawCompress(32767)).toBe(0xaa);
    expect(alawCompress(-32768)).toBe(0x2a);
    // Table 1a: the largest reconstruction value is 4032 on the 4096 scale, 32256 in 16 bits; the smallest 1 (8).
    expect(alawExpand(0xaa)).toBe(32256);
    expect(alawExpand(0xd5)).toBe(8);
    expect(alawExpand(0x55)).toBe(-8);
  });
});

describe('μ-law (G.711 Table 2a)', () => {
  /**
   * Table 2a on the 8159 scale (14-bit magnitudes): segment k (0–7) starts at decision value 2^(k+5) − 33 (0 for
   * the first), has 16 intervals of 2^(k+1) (the first interval of segment 0 is 1 wide), and the code word is
   * 0xFF − (16k + interval) for positive inputs, the same with bit 7 cleared for negative ones.
   */
  function tableCode(magnitude14: number): number {
    for (let k = 7; k >= 0; k--) {
      const start = (1 << (k + 5)) - 33;
      if (magnitude14 >= start) {
        const step = 2 << k;
        // Segment 0's decision values are 0, 1, 3, 5 …: intervals are [0,1), [1,3), [3,5) …
        const interval = k === 0 ? (magnitude14 === 0 ? 0 : Math.min(15, Math.floor((magnitude14 + 1) / 2))) : Math.min(15, Math.floor((magnitude14 - start) / step));
        return 0xff - (16 * k + interval);
      }
    }
    throw new Error('unreachable');
  }

  it('encodes every 16-bit sample into the Table 2a interval that holds it', () => {
    let mismatches = 0;
    for (let s = -32768; s <= 32767; s++) {
      // G.191: 16-bit left-justified input, magnitude from the one's complement for negative samples.
      const magnitude = s < 0 ? ~s >> 2 : s >> 2;
      const expected = s < 0 ? tableCode(magnitude) & 0x7f : tableCode(magnitude);
      if (ulawCompress(s) !== expected) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('decodes every code word to its reconstruction value', () => {
    expect(Array.from({ length: 256 }, (_, c) => ulawExpand(c))).toEqual(fixture.PCMU.decode);
  });

  it('inverts every bit on the line: +0 is 0xFF, −0 is 0x7F, full scale 0x80/0x00', () => {
    expect(ulawCompress(0)).toBe(0xff);
    expect(ulawCompress(-1)).toBe(0x7f);
    expect(ulawCompress(32767)).toBe(0x80);
    expect(ulawCompress(-32768)).toBe(0x00);
    // Table 2a: the largest reconstruction value is 8031 on the 8159 scale: 32124 in 16 bits.
    expect(ulawExpand(0x80)).toBe(32124);
    expect(ulawExpand(0x00)).toBe(-32124);
    expect(ulawExpand(0xff)).toBe(0);
  });

  it('keeps an encode/decode round trip within half a quantisation step', () => {
    for (let s = -32000; s <= 32000; s += 7) {
      const back = ulawExpand(ulawCompress(s));
      const segmentStep = 8 << Math.max(0, Math.floor(Math.log2(Math.abs(s) / 4 + 33)) - 5);
      expect(Math.abs(back - s)).toBeLessThanOrEqual(segmentStep / 2 + 4);
    }
  });
});

describe('buffers', () => {
  it('encodes and decodes arrays, clamping out-of-range samples', () => {
    const out = Buffer.alloc(4);
    expect(encodeG711('PCMU', [0, 40000, -40000, 1000.4], out)).toBe(4);
    expect([...out]).toEqual([0xff, 0x80, 0x00, ulawCompress(1000)]);
    expect(Array.from(decodeG711('PCMA', Buffer.from([0xd5, 0x55])))).toEqual([8, -8]);
  });
});
