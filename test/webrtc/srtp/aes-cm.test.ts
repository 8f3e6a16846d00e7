import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AesCm } from '../../../src/webrtc/srtp/aes-cm.ts';
import { fixture, hex } from './helpers.ts';

interface Rfc3711Vectors {
  aesCm: {
    sessionKey: string;
    sessionSalt: string;
    keystreamLength: number;
    blocks: { counter: string; keystream: string }[];
  };
}
const b2 = fixture<Rfc3711Vectors>('rfc3711-vectors.json').aesCm;

/** RFC 3711 §4.1.1's IV computed with BigInt arithmetic, independently of aes-cm.ts. */
function referenceIv(salt: Buffer, ssrc: number, index: bigint): Buffer {
  const s = BigInt(`0x${salt.toString('hex')}`);
  const iv = (s << 16n) ^ (BigInt(ssrc) << 64n) ^ (index << 16n);
  return Buffer.from(iv.toString(16).padStart(32, '0'), 'hex');
}

function keystream(cm: AesCm, length: number, ssrc: number, high: number, low: number): Buffer {
  const buf = Buffer.alloc(length);
  cm.xor(buf, buf, 0, length, ssrc, high, low);
  return buf;
}

describe('AES-CM keystream (RFC 3711 §4.1.1)', () => {
  it('reproduces the RFC 3711 B.2 keystream segment, first and last blocks', () => {
    const cm = new AesCm(hex(b2.sessionKey), hex(b2.sessionSalt));
    const segment = keystream(cm, b2.keystreamLength, 0, 0, 0);
    for (const { counter, keystream: expected } of b2.blocks) {
      const block = Number.parseInt(counter.slice(28), 16);
      expect(segment.subarray(block * 16, block * 16 + 16).toString('hex').toUpperCase()).toBe(expected);
    }
  });

  it('keeps no state between update() calls of its ECB cipher: the same IV gives the same keystream', () => {
    const cm = new AesCm(randomBytes(16), randomBytes(14));
    const first = keystream(cm, 160, 0x11223344, 7, 0xfffe);
    keystream(cm, 37, 0x55667788, 1, 2); // a length that is not a whole number of blocks
    keystream(cm, 5000, 9, 9, 9); // several update() chunks
    expect(keystream(cm, 160, 0x11223344, 7, 0xfffe)).toEqual(first);
  });

  it('places SSRC and index in the IV as the RFC formula does, across update() chunks', () => {
    const key = randomBytes(16);
    const salt = randomBytes(14);
    const cm = new AesCm(key, salt);
    for (const [ssrc, roc, seq, length] of [
      [0xdeadbeef, 0, 0x1234, 160],
      [0x01020304, 0xffffffff, 0xffff, 1],
      [0xffffffff, 0x00010002, 0, 3001],
    ] as const) {
      const iv = referenceIv(salt, ssrc, (BigInt(roc) << 16n) | BigInt(seq));
      const expected = createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(length));
      expect(keystream(cm, length, ssrc, roc, seq)).toEqual(expected);
    }
  });

  it('XORs from one buffer into another or in place with the same result, touching only [start, end)', () => {
    const cm = new AesCm(randomBytes(16), randomBytes(14));
    const src = randomBytes(200);
    const inPlace = Buffer.from(src);
    const out = Buffer.alloc(200, 0xee);
    cm.xor(src, out, 12, 190, 42, 1, 2);
    cm.xor(inPlace, inPlace, 12, 190, 42, 1, 2);
    expect(out.subarray(12, 190)).toEqual(inPlace.subarray(12, 190));
    expect(out.subarray(0, 12)).toEqual(Buffer.alloc(12, 0xee));
    expect(out.subarray(190)).toEqual(Buffer.alloc(10, 0xee));
    expect(inPlace.subarray(0, 12)).toEqual(src.subarray(0, 12));
    cm.xor(inPlace, inPlace, 12, 190, 42, 1, 2);
    expect(inPlace).toEqual(src);
  });

  it('serves batched keystreams identical to unbatched ones, whatever order the indices come in', () => {
    const key = randomBytes(16);
    const salt = randomBytes(14);
    const batched = new AesCm(key, salt, true);
    const other = new AesCm(randomBytes(16), randomBytes(14), true); // interleaved, to share the scratch
    const reference = new AesCm(key, salt);
    const steps: [number, number, number, number][] = [];
    let seq = 65520;
    let roc = 3;
    for (let i = 0; i < 400; i++) {
      const jump = i % 37 === 0 ? -5 : i % 53 === 0 ? 20 : 1; // mostly in order, some reordering and loss
      seq += jump;
      if (seq > 0xffff) {
        seq -= 0x10000;
        roc++;
      }
      if (seq < 0) seq = 0;
      const ssrc = i % 41 === 0 ? 0x0bad0bad : 0x600d600d;
      const length = i % 29 === 0 ? 193 + (i % 300) : 1 + ((i * 7) % 192);
      steps.push([ssrc, roc, seq, length]);
    }
    for (const [ssrc, high, low, length] of steps) {
      const payload = randomBytes(length + 12);
      const expected = Buffer.from(payload);
      reference.xor(expected, expected, 12, 12 + length, ssrc, high, low);
      other.xor(randomBytes(200), Buffer.alloc(200), 0, 160, ssrc, high, low);
      batched.xor(payload, payload, 12, 12 + length, ssrc, high, low);
      expect(payload, `ssrc ${ssrc} roc ${high} seq ${low} length ${length}`).toEqual(expected);
    }
  });
});
