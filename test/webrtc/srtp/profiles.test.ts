import { describe, expect, it } from 'vitest';
import {
  SRTP_MAX_OVERHEAD,
  SRTP_PROTECTION_PROFILE_IDS,
  srtpKeyLengths,
  srtpOverhead,
  srtpProfileFromId,
} from '../../../src/webrtc/srtp/profiles.ts';
import { ALL_PROFILES } from './helpers.ts';

describe('SRTP protection profiles', () => {
  it('carries the use_srtp ids of RFC 5764 §4.1.2 and RFC 7714 §14.2', () => {
    expect(SRTP_PROTECTION_PROFILE_IDS).toEqual({
      SRTP_AES128_CM_HMAC_SHA1_80: 0x0001,
      SRTP_AES128_CM_HMAC_SHA1_32: 0x0002,
      SRTP_AEAD_AES_128_GCM: 0x0007,
      SRTP_AEAD_AES_256_GCM: 0x0008,
    });
    for (const name of ALL_PROFILES) expect(srtpProfileFromId(SRTP_PROTECTION_PROFILE_IDS[name])).toBe(name);
    expect(srtpProfileFromId(0x0005)).toBeUndefined(); // SRTP_NULL_HMAC_SHA1_80: not implemented
  });

  it('sizes the DTLS exporter: 128-bit keys with 112-bit salts, 96-bit salts for GCM, a 256-bit key for AES-256', () => {
    expect(srtpKeyLengths('SRTP_AES128_CM_HMAC_SHA1_80')).toEqual({ keyLength: 16, saltLength: 14 });
    expect(srtpKeyLengths('SRTP_AES128_CM_HMAC_SHA1_32')).toEqual({ keyLength: 16, saltLength: 14 });
    expect(srtpKeyLengths('SRTP_AEAD_AES_128_GCM')).toEqual({ keyLength: 16, saltLength: 12 });
    expect(srtpKeyLengths('SRTP_AEAD_AES_256_GCM')).toEqual({ keyLength: 32, saltLength: 12 });
  });

  it('adds a 32-bit tag to SRTP under _32 but keeps the 80-bit tag on SRTCP', () => {
    expect(srtpOverhead('SRTP_AES128_CM_HMAC_SHA1_80')).toEqual({ rtp: 10, rtcp: 14 });
    expect(srtpOverhead('SRTP_AES128_CM_HMAC_SHA1_32')).toEqual({ rtp: 4, rtcp: 14 });
    expect(srtpOverhead('SRTP_AEAD_AES_128_GCM')).toEqual({ rtp: 16, rtcp: 20 });
    for (const name of ALL_PROFILES) expect(srtpOverhead(name).rtcp).toBeLessThanOrEqual(SRTP_MAX_OVERHEAD);
  });
});
