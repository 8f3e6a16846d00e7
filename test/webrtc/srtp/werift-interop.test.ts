import { describe, expect, it } from 'vitest';
import { RtpPacket, SrtcpSession, SrtpSession } from 'werift-rtp';
import { SrtpContext } from '../../../src/webrtc/srtp/context.ts';
import { SRTP_MAX_OVERHEAD, SRTP_PROTECTION_PROFILE_IDS } from '../../../src/webrtc/srtp/profiles.ts';
import { keysFor, rtcpCompound, rtpLength, rtpPacket } from './helpers.ts';

/**
 * Interoperability with an implementation we did not write: werift-rtp's SrtpSession / SrtcpSession, both
 * directions, through a sequence-number wrap (its ROC logic and ours must agree on ROC 1 after 65535).
 * werift implements only the _80 and AES-128-GCM profiles.
 */
describe.each(['SRTP_AES128_CM_HMAC_SHA1_80', 'SRTP_AEAD_AES_128_GCM'] as const)('interop with werift-rtp, %s', (profile) => {
  const { masterKey, masterSalt } = keysFor(profile, 9);
  // The same keys both ways, so one werift session can play both ends.
  const keys = { localMasterKey: masterKey, localMasterSalt: masterSalt, remoteMasterKey: masterKey, remoteMasterSalt: masterSalt };
  const config = { keys, profile: SRTP_PROTECTION_PROFILE_IDS[profile] };
  // 65500 → 65535 → 0 → 99: 136 packets, ROC 0 then 1.
  const sequence = Array.from({ length: 136 }, (_, i) => (65500 + i) & 0xffff);

  it('unprotects what werift protects, across the ROC rollover', () => {
    const werift = new SrtpSession(config);
    const ours = new SrtpContext({ profile, masterKey, masterSalt });
    for (const seq of sequence) {
      const csrcs = seq % 3 === 0 ? [0x0c5c0001] : [];
      // Voice-sized payloads, and every tenth one video-sized, past the keystream batches.
      const options = { seq, ssrc: 0x5eed0001, csrcs, payloadLength: seq % 10 === 0 ? 1100 : 20 + (seq % 150) };
      const length = rtpLength(options);
      const plain = rtpPacket(options).subarray(0, length);
      const parsed = RtpPacket.deSerialize(plain);
      const srtp = werift.encrypt(parsed.payload, parsed.header);
      const out = Buffer.alloc(srtp.length);
      expect(ours.unprotectRtp(srtp, srtp.length, out), `seq ${seq}`).toBe(length);
      expect(out.subarray(0, length)).toEqual(plain);
    }
  });

  it('protects what werift unprotects, across the ROC rollover', () => {
    const werift = new SrtpSession(config);
    const ours = new SrtpContext({ profile, masterKey, masterSalt });
    for (const seq of sequence) {
      const options = { seq, ssrc: 0x5eed0002, payloadLength: seq % 10 === 5 ? 1100 : 160 };
      const length = rtpLength(options);
      const packet = rtpPacket(options, SRTP_MAX_OVERHEAD);
      const plain = Buffer.from(packet.subarray(0, length));
      const n = ours.protectRtp(packet, length, packet);
      expect(werift.decrypt(packet.subarray(0, n)), `seq ${seq}`).toEqual(plain);
    }
  });

  it('exchanges SRTCP both ways', () => {
    const werift = new SrtcpSession(config);
    const ours = new SrtpContext({ profile, masterKey, masterSalt });
    for (let i = 0; i < 20; i++) {
      const { packet, length } = rtcpCompound(0x5eed0003, i);
      const plain = Buffer.from(packet.subarray(0, length));

      const fromWerift = werift.encrypt(plain);
      const out = Buffer.alloc(fromWerift.length);
      expect(ours.unprotectRtcp(fromWerift, fromWerift.length, out)).toBe(length);
      expect(out.subarray(0, length)).toEqual(plain);

      const n = ours.protectRtcp(packet, length, packet);
      expect(werift.decrypt(packet.subarray(0, n))).toEqual(plain);
    }
  });
});
