import { describe, expect, it } from 'vitest';
import { SrtpFailure } from '../../../src/webrtc/srtp/failure.ts';
import { AesGcmTransform } from '../../../src/webrtc/srtp/transform-gcm.ts';
import { fixture, hex } from './helpers.ts';

interface Rfc7714Vectors {
  key128: string;
  key256: string;
  salt: string;
  rtp: { ssrc: string; roc: number; seq: number; headerLength: number; plaintext: string; aes128: string; aes256: string };
  rtcp: {
    ssrc: string;
    index: number;
    plaintext: string;
    aes128Encrypted: string;
    aes256Encrypted: string;
    aes128TaggedOnly: string;
    aes256TaggedOnly: string;
  };
}
const v = fixture<Rfc7714Vectors>('rfc7714-vectors.json');

/**
 * RFC 7714 §16 and §17 publish session keys, not master keys, so these drive the transform directly with
 * them: the same key and salt for SRTP and SRTCP, as the RFC uses.
 */
function transform(bits: 128 | 256): AesGcmTransform {
  const encryptionKey = hex(bits === 128 ? v.key128 : v.key256);
  const session = { encryptionKey, salt: hex(v.salt), authenticationKey: Buffer.alloc(0) };
  return new AesGcmTransform({ rtp: session, rtcp: session });
}

const rtpSsrc = Number.parseInt(v.rtp.ssrc, 16);
const rtcpSsrc = Number.parseInt(v.rtcp.ssrc, 16);

describe.each([
  [128, v.rtp.aes128, v.rtcp.aes128Encrypted, v.rtcp.aes128TaggedOnly],
  [256, v.rtp.aes256, v.rtcp.aes256Encrypted, v.rtcp.aes256TaggedOnly],
] as const)('AEAD_AES_%i_GCM against the RFC 7714 vectors', (bits, rtpProtected, rtcpEncrypted, rtcpTagged) => {
  it(`protects the §16 RTP packet into the published octets (IV from SSRC, ROC 0, SEQ 0xf17b)`, () => {
    const plain = hex(v.rtp.plaintext);
    const out = Buffer.alloc(plain.length + 16);
    const n = transform(bits).sealRtp(plain, out, v.rtp.headerLength, plain.length, rtpSsrc, v.rtp.roc, v.rtp.seq);
    expect(out.subarray(0, n).toString('hex')).toBe(rtpProtected);
  });

  it('unprotects the §16 RTP packet in place into the published plaintext', () => {
    const packet = hex(rtpProtected);
    const n = transform(bits).openRtp(packet, packet, v.rtp.headerLength, packet.length, rtpSsrc, v.rtp.roc, v.rtp.seq);
    expect(packet.subarray(0, n).toString('hex')).toBe(v.rtp.plaintext);
  });

  it('refuses the §16 packet with one bit flipped in the header, the cipher or the tag, leaving it untouched', () => {
    for (const at of [1, 12, 30, hex(rtpProtected).length - 1]) {
      const packet = hex(rtpProtected);
      packet[at]! ^= 0x01;
      const copy = Buffer.from(packet);
      const n = transform(bits).openRtp(packet, packet, v.rtp.headerLength, packet.length, rtpSsrc, v.rtp.roc, v.rtp.seq);
      expect(n, `bit flipped at ${at}`).toBe(SrtpFailure.AuthFailed);
      expect(packet).toEqual(copy);
    }
  });

  it('refuses the §16 packet under another ROC, which is in the IV and not on the wire', () => {
    const packet = hex(rtpProtected);
    const n = transform(bits).openRtp(packet, packet, v.rtp.headerLength, packet.length, rtpSsrc, 1, v.rtp.seq);
    expect(n).toBe(SrtpFailure.AuthFailed);
  });

  it('protects the §17 RTCP packet with SRTCP index 0x5d4 into the published octets, ESRTCP word last', () => {
    const plain = hex(v.rtcp.plaintext);
    const out = Buffer.alloc(plain.length + 20);
    const n = transform(bits).sealRtcp(plain, out, plain.length, rtcpSsrc, v.rtcp.index);
    expect(out.subarray(0, n).toString('hex')).toBe(rtcpEncrypted);
  });

  it('verifies and decrypts the §17 encrypted RTCP packet', () => {
    const packet = hex(rtcpEncrypted);
    const word = packet.readUInt32BE(packet.length - 4);
    expect(word).toBe((0x80000000 | v.rtcp.index) >>> 0);
    const out = Buffer.alloc(packet.length);
    const n = transform(bits).openRtcp(packet, out, packet.length, rtcpSsrc, word);
    expect(out.subarray(0, n).toString('hex')).toBe(v.rtcp.plaintext);
  });

  it('verifies the §17 tagged-only RTCP packet (E = 0, the whole packet in the AAD) and returns it unchanged', () => {
    const packet = hex(rtcpTagged);
    const word = packet.readUInt32BE(packet.length - 4);
    expect(word).toBe(v.rtcp.index);
    const n = transform(bits).openRtcp(packet, packet, packet.length, rtcpSsrc, word);
    expect(packet.subarray(0, n).toString('hex')).toBe(v.rtcp.plaintext);
  });

  it('refuses the tagged-only packet once its clear payload or its E flag is altered', () => {
    const altered = hex(rtcpTagged);
    altered[20]! ^= 0x04;
    const gcm = transform(bits);
    expect(gcm.openRtcp(altered, altered, altered.length, rtcpSsrc, v.rtcp.index)).toBe(SrtpFailure.AuthFailed);
    const flagged = hex(rtcpTagged);
    const flaggedWord = (0x80000000 | v.rtcp.index) >>> 0;
    expect(gcm.openRtcp(flagged, flagged, flagged.length, rtcpSsrc, flaggedWord)).toBe(SrtpFailure.AuthFailed);
  });
});
