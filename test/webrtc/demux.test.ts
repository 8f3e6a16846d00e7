import { describe, expect, it } from 'vitest';
import { isDtls, isRtcp, isRtpOrRtcp, isStun } from '../../src/webrtc/demux.ts';

describe('first-byte demultiplexing (RFC 7983 §7, RFC 5761 §4)', () => {
  it('partitions the first byte: STUN 0–3, DTLS 20–63, RTP/RTCP 128–191, nothing else', () => {
    for (let b = 0; b < 256; b++) {
      const classes = [isStun(b), isDtls(b), isRtpOrRtcp(b)].filter(Boolean).length;
      expect(classes).toBe((b <= 3) || (b >= 20 && b <= 63) || (b >= 128 && b <= 191) ? 1 : 0);
    }
    expect([isStun(0), isStun(1), isStun(3), isStun(4)]).toEqual([true, true, true, false]);
    expect([isDtls(19), isDtls(20), isDtls(22), isDtls(63), isDtls(64)]).toEqual([false, true, true, true, false]);
    expect([isRtpOrRtcp(127), isRtpOrRtcp(0x80), isRtpOrRtcp(0x90), isRtpOrRtcp(191), isRtpOrRtcp(192)]).toEqual([false, true, true, true, false]);
  });

  it('tells RTCP packet types 192–223 from RTP payload types (with or without the marker bit)', () => {
    expect([200, 201, 202, 203, 205, 206, 207].every(isRtcp)).toBe(true);
    expect([191, 224].some(isRtcp)).toBe(false);
    expect(isRtcp(0)).toBe(false); // PCMU
    expect(isRtcp(0x80 | 0)).toBe(false); // PCMU with marker
    expect(isRtcp(0x80 | 101)).toBe(false); // telephone-event with marker = 229
    expect(isRtcp(111)).toBe(false); // Opus
  });
});
