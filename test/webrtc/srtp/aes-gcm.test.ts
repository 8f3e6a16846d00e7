import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AesGcm } from '../../../src/webrtc/srtp/aes-gcm.ts';
import { ghashTable } from '../../../src/webrtc/srtp/ghash.ts';
import { fixture, hex } from './helpers.ts';

interface GcmVector {
  name: string;
  key: string;
  iv: string;
  aad: string;
  plaintext: string;
  ciphertext: string;
  tag: string;
}

/**
 * The test cases of McGrew and Viega's GCM specification, as submitted to NIST for SP 800-38D (cases 1–4
 * for AES-128, 13–16 for AES-256): empty, whole-block and partial-block plaintexts, with and without AAD.
 */
const vectors = fixture<GcmVector[]>('gcm-spec-vectors.json');

/** AesGcm builds its IV as salt ⊕ (0x0000 ‖ SSRC ‖ high ‖ low): with all three 0 the IV is the salt itself. */
function seal(gcm: AesGcm, aad: Buffer, plaintext: Buffer): { ciphertext: Buffer; tag: Buffer } {
  gcm.prepare(0, 0, 0, plaintext.length);
  const ciphertext = Buffer.alloc(plaintext.length);
  gcm.xor(plaintext, ciphertext, 0, plaintext.length);
  gcm.tag(aad, 0, aad.length, ciphertext, 0, ciphertext.length);
  const tag = Buffer.alloc(16);
  gcm.writeTag(tag, 0);
  return { ciphertext, tag };
}

/** node:crypto's GCM (OpenSSL), the reference the JavaScript GHASH is checked against. */
function referenceSeal(key: Buffer, iv: Buffer, aad: Buffer, plaintext: Buffer): { ciphertext: Buffer; tag: Buffer } {
  const cipher = createCipheriv(`aes-${key.length * 8}-gcm` as 'aes-128-gcm', key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/** Deterministic bytes, so a failure names a reproducible case. */
function bytes(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed * 2654435761;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('AES-GCM with a JavaScript GHASH', () => {
  it.each(vectors.map((v) => [v.name, v] as const))('matches the GCM specification, %s', (_name, v) => {
    const { ciphertext, tag } = seal(new AesGcm(hex(v.key), hex(v.iv)), hex(v.aad), hex(v.plaintext));
    expect(ciphertext.toString('hex')).toBe(v.ciphertext);
    expect(tag.toString('hex')).toBe(v.tag);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('verifies and decrypts the specification’s %s', (_name, v) => {
    const gcm = new AesGcm(hex(v.key), hex(v.iv));
    const ciphertext = hex(v.ciphertext);
    gcm.prepare(0, 0, 0, ciphertext.length);
    const aad = hex(v.aad);
    gcm.tag(aad, 0, aad.length, ciphertext, 0, ciphertext.length);
    expect(gcm.tagMatches(hex(v.tag), 0)).toBe(true);
    const forged = hex(v.tag);
    forged[15]! ^= 0x80;
    expect(gcm.tagMatches(forged, 0)).toBe(false);
    gcm.xor(ciphertext, ciphertext, 0, ciphertext.length);
    expect(ciphertext.toString('hex')).toBe(v.plaintext);
  });

  it.each([16, 32])('agrees with node:crypto on 0–300-octet plaintexts, AADs around a block (%i-octet key)', (n) => {
    const keyLength = n;
    const key = bytes(keyLength, keyLength);
    const iv = bytes(12, 7);
    const gcm = new AesGcm(key, iv);
    for (const aadLength of [0, 1, 8, 12, 15, 16, 17, 28, 33]) {
      const aad = bytes(aadLength, aadLength + 100);
      for (let length = 0; length <= 300; length++) {
        const plaintext = bytes(length, length);
        const ours = seal(gcm, aad, plaintext);
        const reference = referenceSeal(key, iv, aad, plaintext);
        expect(ours.ciphertext.equals(reference.ciphertext), `AAD ${aadLength}, length ${length}`).toBe(true);
        expect(ours.tag.toString('hex'), `AAD ${aadLength}, length ${length}`).toBe(reference.tag.toString('hex'));
      }
    }
  });

  it('agrees with node:crypto on a jumbo payload, longer than any batch or scratch buffer', () => {
    const key = bytes(16, 3);
    const iv = bytes(12, 4);
    const aad = bytes(12, 5);
    const plaintext = bytes(9000, 6);
    const ours = seal(new AesGcm(key, iv), aad, plaintext);
    const reference = referenceSeal(key, iv, aad, plaintext);
    expect(ours.ciphertext.equals(reference.ciphertext)).toBe(true);
    expect(ours.tag).toEqual(reference.tag);
  });

  it('puts SSRC, index high and index low into the IV as RFC 7714 §8.1 lays them out, batched or not', () => {
    const key = bytes(16, 11);
    const salt = bytes(12, 12);
    const batched = new AesGcm(key, salt, true);
    const plain = new AesGcm(key, salt);
    const aad = bytes(12, 13);
    const ssrc = 0xdeadbeef;
    // Consecutive indices through the 16-bit wrap, a step back, another SSRC, and a payload past the batch.
    const steps: [number, number, number, number][] = [];
    for (let i = 0; i < 20; i++) steps.push([ssrc, 1 + ((0xfff6 + i) >>> 16), (0xfff6 + i) & 0xffff, 160]);
    steps.push([ssrc, 2, 3, 160], [ssrc, 1, 0xfffe, 160], [0x01020304, 2, 4, 160]);
    steps.push([ssrc, 2, 5, 1000], [ssrc, 2, 6, 192], [ssrc, 2, 7, 193]);
    for (const [s, high, low, length] of steps) {
      const iv = Buffer.from(salt);
      const field = Buffer.alloc(12);
      field.writeUInt32BE(s, 2);
      field.writeUInt32BE(high, 6);
      field.writeUInt16BE(low, 10);
      for (let i = 0; i < 12; i++) iv[i]! ^= field[i]!;
      const payload = bytes(length, low);
      const reference = referenceSeal(key, iv, aad, payload);
      for (const gcm of [batched, plain]) {
        gcm.prepare(s, high, low, length);
        const out = Buffer.alloc(length);
        gcm.xor(payload, out, 0, length);
        gcm.tag(aad, 0, aad.length, out, 0, length);
        expect(out.equals(reference.ciphertext), `index ${high}:${low}`).toBe(true);
        expect(gcm.tagMatches(reference.tag, 0), `index ${high}:${low}`).toBe(true);
      }
    }
  });

  it('keeps the per-key GHASH table at 512 octets (a call holds four keys)', () => {
    expect(ghashTable(bytes(16, 1)).byteLength).toBe(512);
  });
});
