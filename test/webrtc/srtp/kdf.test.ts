import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SrtpConfigError } from '../../../src/webrtc/srtp/errors.ts';
import { deriveSessionKeys, deriveSrtpKey, SrtpKdfLabel } from '../../../src/webrtc/srtp/kdf.ts';
import type { SrtpProfileName } from '../../../src/webrtc/srtp/profiles.ts';
import { fixture, hex, keysFor } from './helpers.ts';

interface Rfc3711Vectors {
  keyDerivation: { masterKey: string; masterSalt: string; cipherKey: string; cipherSalt: string; authKey: string };
}
const b3 = fixture<Rfc3711Vectors>('rfc3711-vectors.json').keyDerivation;

/**
 * RFC 3711 §4.3.1/§4.3.3 computed independently of kdf.ts: node's own AES-CTR over IV = x · 2^16, with
 * x = (label ‖ 48 zero bits) ⊕ master salt, the salt right-padded to 112 bits.
 */
function referenceDerive(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const x = Buffer.alloc(16);
  masterSalt.copy(x);
  x[7]! ^= label;
  const ctr = createCipheriv(`aes-${masterKey.length * 8}-ctr`, masterKey, x);
  return ctr.update(Buffer.alloc(length));
}

describe('SRTP key derivation (RFC 3711 §4.3, KDR = 0)', () => {
  it('derives the RFC 3711 B.3 cipher key, cipher salt and auth key exactly', () => {
    const masterKey = hex(b3.masterKey);
    const masterSalt = hex(b3.masterSalt);
    expect(deriveSrtpKey(masterKey, masterSalt, SrtpKdfLabel.RtpEncryption, 16)).toEqual(hex(b3.cipherKey));
    expect(deriveSrtpKey(masterKey, masterSalt, SrtpKdfLabel.RtpSalt, 14)).toEqual(hex(b3.cipherSalt));
    // B.3 prints 94 octets of auth key; HMAC-SHA1 uses the first 20.
    expect(deriveSrtpKey(masterKey, masterSalt, SrtpKdfLabel.RtpAuthentication, 94)).toEqual(hex(b3.authKey));
  });

  it('gives an AES-CM context the B.3 SRTP keys and distinct SRTCP keys under labels 3, 4 and 5', () => {
    const masterKey = hex(b3.masterKey);
    const masterSalt = hex(b3.masterSalt);
    const keys = deriveSessionKeys({ profile: 'SRTP_AES128_CM_HMAC_SHA1_80', masterKey, masterSalt });
    expect(keys.rtp.encryptionKey).toEqual(hex(b3.cipherKey));
    expect(keys.rtp.salt).toEqual(hex(b3.cipherSalt));
    expect(keys.rtp.authenticationKey).toEqual(hex(b3.authKey).subarray(0, 20));
    expect(keys.rtcp.encryptionKey).toEqual(referenceDerive(masterKey, masterSalt, 3, 16));
    expect(keys.rtcp.authenticationKey).toEqual(referenceDerive(masterKey, masterSalt, 4, 20));
    expect(keys.rtcp.salt).toEqual(referenceDerive(masterKey, masterSalt, 5, 14));
    expect(keys.rtcp.encryptionKey).not.toEqual(keys.rtp.encryptionKey);
  });

  it('pads a 96-bit GCM master salt with 16 zero bits on the right (RFC 7714 §11 erratum)', () => {
    const { masterKey, masterSalt } = keysFor('SRTP_AEAD_AES_128_GCM');
    expect(masterSalt).toHaveLength(12);
    const padded = Buffer.concat([masterSalt, Buffer.alloc(2)]);
    const keys = deriveSessionKeys({ profile: 'SRTP_AEAD_AES_128_GCM', masterKey, masterSalt });
    expect(keys.rtp.encryptionKey).toEqual(deriveSrtpKey(masterKey, padded, 0, 16));
    expect(keys.rtp.salt).toEqual(deriveSrtpKey(masterKey, padded, 2, 12));
    expect(keys.rtcp.encryptionKey).toEqual(referenceDerive(masterKey, masterSalt, 3, 16));
    expect(keys.rtcp.salt).toEqual(referenceDerive(masterKey, masterSalt, 5, 12));
    expect(keys.rtp.salt).toHaveLength(12);
    expect(keys.rtp.authenticationKey).toHaveLength(0);
  });

  it('derives AEAD_AES_256_GCM keys with AES-256 over the whole 256-bit master key (RFC 6188 §7)', () => {
    const { masterKey, masterSalt } = keysFor('SRTP_AEAD_AES_256_GCM');
    const keys = deriveSessionKeys({ profile: 'SRTP_AEAD_AES_256_GCM', masterKey, masterSalt });
    expect(keys.rtp.encryptionKey).toHaveLength(32);
    expect(keys.rtp.encryptionKey).toEqual(referenceDerive(masterKey, masterSalt, 0, 32));
    const changedTail = Buffer.from(masterKey);
    changedTail[31]! ^= 1;
    const other = deriveSessionKeys({ profile: 'SRTP_AEAD_AES_256_GCM', masterKey: changedTail, masterSalt });
    expect(other.rtp.encryptionKey).not.toEqual(keys.rtp.encryptionKey);
  });

  it.each<[SrtpProfileName, number, number]>([
    ['SRTP_AES128_CM_HMAC_SHA1_80', 16, 13],
    ['SRTP_AES128_CM_HMAC_SHA1_32', 32, 14],
    ['SRTP_AEAD_AES_128_GCM', 16, 14],
    ['SRTP_AEAD_AES_256_GCM', 16, 12],
  ])('refuses %s keying with a %i-octet key and %i-octet salt', (profile, keyLength, saltLength) => {
    const masterKey = Buffer.alloc(keyLength);
    const masterSalt = Buffer.alloc(saltLength);
    const build = () => deriveSessionKeys({ profile, masterKey, masterSalt });
    expect(build).toThrow(SrtpConfigError);
    expect(build).toThrow(expect.objectContaining({ code: 'SRTP_CONFIG_INVALID' }));
  });

  it('refuses a profile it does not implement', () => {
    const build = () =>
      deriveSessionKeys({
        profile: 'SRTP_NULL_HMAC_SHA1_80' as SrtpProfileName,
        masterKey: Buffer.alloc(16),
        masterSalt: Buffer.alloc(14),
      });
    expect(build).toThrow(SrtpConfigError);
  });
});
