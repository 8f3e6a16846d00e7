import { createCipheriv } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { AesGcm } from '../../../src/webrtc/srtp/aes-gcm.ts';
import { SrtpFailure } from '../../../src/webrtc/srtp/failure.ts';
import { ghashTable } from '../../../src/webrtc/srtp/ghash.ts';
import { AesGcmTransform } from '../../../src/webrtc/srtp/transform-gcm.ts';
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

  it('opens through prepareTag/prepareKeystream exactly as node:crypto seals, batch hits and misses alike', () => {
    const key = bytes(16, 21);
    const salt = bytes(12, 22);
    const aad = bytes(12, 23);
    const ssrc = 0x0badcafe;
    // In order, a jump forward, a step back into the batch, through the 16-bit wrap, another SSRC, a jumbo.
    const steps: [number, number, number, number][] = [];
    for (let low = 10; low < 30; low++) steps.push([ssrc, 0, low, 160]);
    steps.push([ssrc, 0, 40000, 160], [ssrc, 0, 40003, 100], [ssrc, 0, 40001, 192], [ssrc, 0, 39999, 0]);
    for (let i = 0; i < 12; i++) steps.push([ssrc, 1 + ((0xfffa + i) >>> 16), (0xfffa + i) & 0xffff, 160]);
    steps.push([7, 2, 3, 160], [ssrc, 2, 4, 1500], [ssrc, 2, 5, 193]);
    for (const gcm of [new AesGcm(key, salt, true), new AesGcm(key, salt)]) {
      for (const [s, high, low, length] of steps) {
        const iv = Buffer.from(salt);
        const field = Buffer.alloc(12);
        field.writeUInt32BE(s, 2);
        field.writeUInt32BE(high, 6);
        field.writeUInt16BE(low, 10);
        for (let i = 0; i < 12; i++) iv[i]! ^= field[i]!;
        const plaintext = bytes(length, low + 1);
        const sealed = referenceSeal(key, iv, aad, plaintext);
        gcm.prepareTag(s, high, low, length);
        gcm.tag(aad, 0, aad.length, sealed.ciphertext, 0, length);
        expect(gcm.tagMatches(sealed.tag, 0), `index ${high}:${low}`).toBe(true);
        gcm.prepareKeystream();
        gcm.xor(sealed.ciphertext, sealed.ciphertext, 0, length);
        expect(sealed.ciphertext.equals(plaintext), `index ${high}:${low}`).toBe(true);
      }
    }
  });

  it('checks a received packet outside the batch with one AES block, and refills the batch only once it is authentic', () => {
    const key = bytes(16, 31);
    const salt = bytes(12, 32);
    const sender = new AesGcm(key, salt, true);
    const receiver = new AesGcm(key, salt, true);
    const header = bytes(12, 33);
    const ssrc = 0x11223344;
    const sealAt = (low: number): Buffer => {
      const packet = Buffer.alloc(160 + 16);
      sender.prepare(ssrc, 0, low, 160);
      sender.xor(bytes(160, low), packet, 0, 160);
      sender.tag(header, 0, 12, packet, 0, 160);
      sender.writeTag(packet, 160);
      return packet;
    };
    const open = (low: number, packet: Buffer): boolean => {
      receiver.prepareTag(ssrc, 0, low, 160);
      receiver.tag(header, 0, 12, packet, 0, 160);
      if (!receiver.tagMatches(packet, 160)) return false;
      receiver.prepareKeystream();
      receiver.xor(packet, packet, 0, 160);
      return packet.subarray(0, 160).equals(bytes(160, low));
    };

    // In order: J0 alone to check the first packet, then its refill of 8 × 13 blocks; after that each
    // authentic packet in a batch's last slot refills it for the next 8, and no packet needs J0 alone.
    for (let low = 100; low < 164; low++) expect(open(low, sealAt(low)), `seq ${low}`).toBe(true);
    expect(receiver.batchRefills).toBe(1 + 8);
    expect(receiver.blocksEncrypted).toBe(1 + 9 * 8 * 13);

    // Forged packets with distant sequence numbers: one block each, the batch untouched.
    const before = receiver.blocksEncrypted;
    for (let i = 0; i < 100; i++) expect(open(30000 + 97 * i, bytes(176, i))).toBe(false);
    expect(receiver.batchRefills).toBe(9);
    expect(receiver.blocksEncrypted - before).toBe(100);

    // The batch still serves the in-order stream; an authentic distant packet refills it.
    expect(open(164, sealAt(164))).toBe(true);
    expect(open(165, sealAt(165))).toBe(true);
    expect(receiver.batchRefills).toBe(9);
    expect(open(40000, sealAt(40000))).toBe(true);
    expect(receiver.batchRefills).toBe(10);

    // A forged packet in the last slot of the batch must not refill it ahead either.
    expect(open(40007, bytes(176, 1))).toBe(false);
    expect(receiver.batchRefills).toBe(10);
    expect(open(40007, sealAt(40007))).toBe(true);
    expect(receiver.batchRefills).toBe(11);
    expect(open(40008, sealAt(40008))).toBe(true);
    expect(receiver.batchRefills).toBe(11);
  });

  it('AesGcmTransform: a forged SRTP packet with a far sequence number fails without a batch refill', () => {
    const prepareTag = vi.spyOn(AesGcm.prototype, 'prepareTag');
    try {
      const session = { encryptionKey: bytes(16, 41), salt: bytes(12, 42), authenticationKey: Buffer.alloc(0) };
      const sender = new AesGcmTransform({ rtp: session, rtcp: session });
      const receiver = new AesGcmTransform({ rtp: session, rtcp: session });
      const ssrc = 0x5eed5eed;
      const packetAt = (seq: number): { packet: Buffer; length: number } => {
        const plain = Buffer.alloc(172 + 16);
        plain[0] = 0x80;
        plain.writeUInt16BE(seq, 2);
        plain.writeUInt32BE(ssrc, 8);
        bytes(160, seq).copy(plain, 12);
        return { packet: plain, length: sender.sealRtp(plain, plain, 12, 172, ssrc, 0, seq) };
      };
      for (let seq = 1; seq <= 3; seq++) {
        const { packet, length } = packetAt(seq);
        expect(receiver.openRtp(packet, packet, 12, length, ssrc, 0, seq)).toBe(172);
      }
      const rtp = prepareTag.mock.contexts[0] as AesGcm;
      expect(rtp.batchRefills).toBe(1);

      const blocks = rtp.blocksEncrypted;
      const { packet: genuine } = packetAt(20000);
      for (let i = 0; i < 50; i++) {
        const forged = Buffer.from(genuine);
        forged[12 + (i % 160)]! ^= 0x40; // a real packet's ciphertext, one bit changed
        const copy = Buffer.from(forged);
        expect(receiver.openRtp(forged, forged, 12, 188, ssrc, 0, 20000 + i)).toBe(SrtpFailure.AuthFailed);
        expect(forged).toEqual(copy);
      }
      expect(rtp.batchRefills).toBe(1);
      expect(rtp.blocksEncrypted - blocks).toBe(50);

      // Still in step with the real stream, which the forgeries did not disturb.
      const { packet, length } = packetAt(4);
      expect(receiver.openRtp(packet, packet, 12, length, ssrc, 0, 4)).toBe(172);
      expect(packet.subarray(12, 172).equals(bytes(160, 4))).toBe(true);
      expect(rtp.batchRefills).toBe(1);
      expect(receiver.openRtp(genuine, genuine, 12, 188, ssrc, 0, 20000)).toBe(172);
      expect(rtp.batchRefills).toBe(2);
    } finally {
      prepareTag.mockRestore();
    }
  });

  it('keeps the per-key GHASH table at 512 octets (a call holds four keys)', () => {
    expect(ghashTable(bytes(16, 1)).byteLength).toBe(512);
  });
});
