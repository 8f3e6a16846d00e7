import { createCipheriv, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SrtpContext } from '../../../src/webrtc/srtp/context.ts';
import { SrtpFailure } from '../../../src/webrtc/srtp/failure.ts';
import { deriveSessionKeys } from '../../../src/webrtc/srtp/kdf.ts';
import { SRTP_MAX_OVERHEAD } from '../../../src/webrtc/srtp/profiles.ts';
import { ALL_PROFILES, fixture, hex, keysFor, rtcpCompound, rtpLength, rtpPacket } from './helpers.ts';

interface LibsrtpReference {
  masterKey: string;
  masterSalt: string;
  rtpPlaintext: string;
  rtpProtected: string;
  rtcpPlaintext: string;
  rtcpProtected: string;
}
const libsrtp = fixture<LibsrtpReference>('libsrtp-reference.json');

describe.each(ALL_PROFILES)('SrtpContext %s', (profile) => {
  it('round-trips RTP in place and into a separate buffer', () => {
    const sender = new SrtpContext(keysFor(profile));
    const receiver = new SrtpContext(keysFor(profile));
    for (let seq = 1000; seq < 1010; seq++) {
      const options = { seq, payloadLength: 160 };
      const length = rtpLength(options);
      const plain = rtpPacket(options);
      const original = Buffer.from(plain.subarray(0, length));
      const inPlace = seq % 2 === 0;
      const out = inPlace ? plain : Buffer.alloc(length + SRTP_MAX_OVERHEAD);
      const protectedLength = sender.protectRtp(plain, length, out);
      expect(protectedLength).toBe(length + sender.rtpOverhead);
      expect(out.subarray(0, 12)).toEqual(original.subarray(0, 12)); // the header stays in the clear
      expect(out.subarray(12, length)).not.toEqual(original.subarray(12));
      const back = inPlace ? out : Buffer.alloc(protectedLength);
      expect(receiver.unprotectRtp(out, protectedLength, back)).toBe(length);
      expect(back.subarray(0, length)).toEqual(original);
    }
  });

  it('round-trips a compound RTCP packet, with the SRTCP index counting from 0 per sender SSRC', () => {
    const sender = new SrtpContext(keysFor(profile));
    const receiver = new SrtpContext(keysFor(profile));
    const indexFromEnd = profile.includes('GCM') ? 4 : 14;
    for (let i = 0; i < 3; i++) {
      for (const ssrc of [0xaaaa0001, 0xbbbb0002]) {
        const { packet, length } = rtcpCompound(ssrc, i);
        const original = Buffer.from(packet.subarray(0, length));
        const n = sender.protectRtcp(packet, length, packet);
        expect(n).toBe(length + sender.rtcpOverhead);
        // §3.4: E flag set (we always encrypt), then the 31-bit index.
        expect(packet.readUInt32BE(n - indexFromEnd)).toBe((0x80000000 | i) >>> 0);
        expect(packet.subarray(0, 8)).toEqual(original.subarray(0, 8));
        expect(receiver.unprotectRtcp(packet, n, packet)).toBe(length);
        expect(packet.subarray(0, length)).toEqual(original);
      }
    }
  });

  it('carries the ROC across the 65535 → 0 wrap and accepts a late packet from before it', () => {
    const sender = new SrtpContext(keysFor(profile));
    const receiver = new SrtpContext(keysFor(profile));
    const wire = new Map<number, { packet: Buffer; length: number }>();
    for (const seq of [65531, 65532, 65533, 65534, 65535, 0, 1, 2]) {
      const packet = rtpPacket({ seq });
      wire.set(seq, { packet, length: sender.protectRtp(packet, rtpLength({ seq }), packet) });
    }
    const order = [65531, 65532, 65534, 65535, 0, 1, 65533, 2];
    for (const seq of order) {
      const { packet, length } = wire.get(seq)!;
      expect(receiver.unprotectRtp(packet, length, packet), `seq ${seq}`).toBe(rtpLength({ seq }));
      expect(packet.subarray(0, rtpLength({ seq }))).toEqual(rtpPacket({ seq }).subarray(0, rtpLength({ seq })));
    }
  });

  it('drops a packet that would precede the first packet of its stream (ROC −1)', () => {
    const sender = new SrtpContext(keysFor(profile));
    const receiver = new SrtpContext(keysFor(profile));
    const first = rtpPacket({ seq: 10 });
    const firstLength = sender.protectRtp(first, rtpLength({ seq: 10 }), first);
    expect(receiver.unprotectRtp(first, firstLength, first)).toBe(rtpLength({ seq: 10 }));
    const before = rtpPacket({ seq: 65530 });
    expect(sender.protectRtp(before, rtpLength({ seq: 65530 }), before)).toBe(SrtpFailure.TooOld);
  });

  it('leaves CSRCs and a header extension in the clear and authenticates them', () => {
    const sender = new SrtpContext(keysFor(profile));
    const options = { seq: 7, csrcs: [0x01020304, 0x05060708], extensionWords: 3, payloadLength: 60 };
    const length = rtpLength(options);
    const headerLength = 12 + 8 + 4 + 12;
    const plain = rtpPacket(options);
    const out = Buffer.alloc(length + SRTP_MAX_OVERHEAD);
    const n = sender.protectRtp(plain, length, out);
    expect(out.subarray(0, headerLength)).toEqual(plain.subarray(0, headerLength));
    expect(out.subarray(headerLength, length)).not.toEqual(plain.subarray(headerLength, length));
    for (const at of [14, 30, 33]) {
      const receiver = new SrtpContext(keysFor(profile));
      const tampered = Buffer.from(out.subarray(0, n));
      tampered[at]! ^= 0x20;
      expect(receiver.unprotectRtp(tampered, n, tampered), `header octet ${at}`).toBe(SrtpFailure.AuthFailed);
      expect(receiver.unprotectRtp(out, n, Buffer.alloc(n))).toBe(length);
    }
  });

  it('accepts an authenticated but unencrypted SRTCP packet (E = 0) and returns it as sent', () => {
    const keys = keysFor(profile);
    const session = deriveSessionKeys(keys).rtcp;
    const { packet: rtcp, length } = rtcpCompound(0x0badcafe, 9);
    const plain = rtcp.subarray(0, length);
    const word = Buffer.from([0x00, 0x00, 0x01, 0x02]); // E = 0, index 258
    let wire: Buffer;
    if (profile.includes('GCM')) {
      // RFC 7714 §9.3: AAD = packet ‖ ESRTCP word, cipher = tag alone; IV per §9.1.
      const iv = Buffer.alloc(12);
      iv.writeUInt32BE(0x0badcafe, 2);
      iv.writeUInt32BE(258, 8);
      for (let i = 0; i < 12; i++) iv[i]! ^= session.salt[i]!;
      const algorithm = session.encryptionKey.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm';
      const gcm = createCipheriv(algorithm, session.encryptionKey, iv);
      gcm.setAAD(Buffer.concat([plain, word]));
      gcm.final();
      wire = Buffer.concat([plain, gcm.getAuthTag(), word]);
    } else {
      // RFC 3711 §3.4: packet ‖ E‖index ‖ HMAC-SHA1-80 over both.
      const tag = createHmac('sha1', session.authenticationKey).update(plain).update(word).digest().subarray(0, 10);
      wire = Buffer.concat([plain, word, tag]);
    }
    const receiver = new SrtpContext(keys);
    const out = Buffer.alloc(wire.length);
    expect(receiver.unprotectRtcp(wire, wire.length, out)).toBe(length);
    expect(out.subarray(0, length)).toEqual(plain);
    expect(receiver.unprotectRtcp(wire, wire.length, out)).toBe(SrtpFailure.Replayed);
  });
});

describe('SrtpContext against independent references', () => {
  it("reproduces libsrtp's reference SRTP packet and SRTCP packet (AES-CM, HMAC-SHA1-80)", () => {
    const keys = {
      profile: 'SRTP_AES128_CM_HMAC_SHA1_80',
      masterKey: hex(libsrtp.masterKey),
      masterSalt: hex(libsrtp.masterSalt),
    } as const;
    const sender = new SrtpContext(keys);
    const rtp = Buffer.concat([hex(libsrtp.rtpPlaintext), Buffer.alloc(10)]);
    const n = sender.protectRtp(rtp, rtp.length - 10, rtp);
    expect(rtp.subarray(0, n).toString('hex')).toBe(libsrtp.rtpProtected);

    // libsrtp sends its first SRTCP packet with index 1, RFC 3711 §3.4 says 0: the second packet matches.
    const rtcpPlain = hex(libsrtp.rtcpPlaintext);
    sender.protectRtcp(Buffer.from(rtcpPlain), rtcpPlain.length, Buffer.alloc(rtcpPlain.length + 14));
    const out = Buffer.alloc(rtcpPlain.length + 14);
    const m = sender.protectRtcp(rtcpPlain, rtcpPlain.length, out);
    expect(out.subarray(0, m).toString('hex')).toBe(libsrtp.rtcpProtected);

    const receiver = new SrtpContext(keys);
    const srtp = hex(libsrtp.rtpProtected);
    expect(receiver.unprotectRtp(srtp, srtp.length, srtp)).toBe(srtp.length - 10);
    expect(srtp.subarray(0, srtp.length - 10).toString('hex')).toBe(libsrtp.rtpPlaintext);
    const srtcp = hex(libsrtp.rtcpProtected);
    expect(receiver.unprotectRtcp(srtcp, srtcp.length, srtcp)).toBe(rtcpPlain.length);
    expect(srtcp.subarray(0, rtcpPlain.length).toString('hex')).toBe(libsrtp.rtcpPlaintext);
  });

  it('matches an SRTP packet built with node:crypto AES-CTR and HMAC from the derived keys, extension and all', () => {
    const keys = keysFor('SRTP_AES128_CM_HMAC_SHA1_80', 5);
    const session = deriveSessionKeys(keys).rtp;
    const options = { seq: 0x1234, ssrc: 0xcafebabe, csrcs: [7], extensionWords: 2, payloadLength: 33 };
    const length = rtpLength(options);
    const headerLength = 12 + 4 + 4 + 8;
    const plain = rtpPacket(options).subarray(0, length);

    // IV = (k_s · 2^16) ⊕ (SSRC · 2^64) ⊕ (index · 2^16), index = 0 · 2^16 + 0x1234.
    const iv = Buffer.alloc(16);
    session.salt.copy(iv);
    for (let i = 0; i < 4; i++) iv[4 + i]! ^= plain[8 + i]!;
    iv[12]! ^= 0x12;
    iv[13]! ^= 0x34;
    const encrypted = createCipheriv('aes-128-ctr', session.encryptionKey, iv).update(plain.subarray(headerLength));
    const body = Buffer.concat([plain.subarray(0, headerLength), encrypted]);
    const roc = Buffer.alloc(4);
    const tag = createHmac('sha1', session.authenticationKey).update(body).update(roc).digest().subarray(0, 10);

    const out = Buffer.alloc(length + 10);
    const n = new SrtpContext(keys).protectRtp(plain, length, out);
    expect(out.subarray(0, n)).toEqual(Buffer.concat([body, tag]));
  });

  it('tags SRTP with 32 bits but SRTCP with 80 under SRTP_AES128_CM_HMAC_SHA1_32 (RFC 5764 §4.1.2)', () => {
    const context = new SrtpContext(keysFor('SRTP_AES128_CM_HMAC_SHA1_32'));
    const rtp = rtpPacket({ seq: 1 });
    expect(context.protectRtp(rtp, rtpLength({ seq: 1 }), rtp)).toBe(rtpLength({ seq: 1 }) + 4);
    const { packet, length } = rtcpCompound(1, 1);
    expect(context.protectRtcp(packet, length, packet)).toBe(length + 4 + 10);
  });
});
