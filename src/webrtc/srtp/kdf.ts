import { AesCm } from './aes-cm.ts';
import { SrtpConfigError } from './errors.ts';
import { type SrtpKeyMaterial, type SrtpProfileParams, srtpProfile } from './profiles.ts';

/** RFC 3711 §4.3.2: the key derivation labels. */
export const SrtpKdfLabel = {
  RtpEncryption: 0x00,
  RtpAuthentication: 0x01,
  RtpSalt: 0x02,
  RtcpEncryption: 0x03,
  RtcpAuthentication: 0x04,
  RtcpSalt: 0x05,
} as const;

export interface SrtpSessionKeys {
  readonly encryptionKey: Buffer;
  readonly salt: Buffer;
  /** The HMAC-SHA1 key; empty for the AEAD profiles, whose tag comes from GCM itself. */
  readonly authenticationKey: Buffer;
}

export interface SrtpSessionKeySet {
  readonly rtp: SrtpSessionKeys;
  readonly rtcp: SrtpSessionKeys;
}

/**
 * One session key: RFC 3711 §4.3.1 with key_derivation_rate 0, so r = index DIV kdr is 0 and
 * x = (label ‖ r) ⊕ master_salt, the 56-bit label ‖ r aligned on the salt's right end. The PRF is AES-CM
 * under the master key with IV x · 2^16 (§4.3.3); a 256-bit master key runs AES-256 (RFC 6188 §7, required
 * for AEAD_AES_256_GCM by RFC 7714 §11). A 96-bit GCM master salt is first padded with 16 zero bits on the
 * right (RFC 7714 §11 as corrected by its erratum, and what libsrtp does), which AesCm does.
 */
export function deriveSrtpKey(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const x = Buffer.alloc(14);
  masterSalt.copy(x, 0, 0, 14);
  x[7]! ^= label;
  const out = Buffer.alloc(length);
  new AesCm(masterKey, x).xor(out, out, 0, length, 0, 0, 0);
  return out;
}

function checkLength(what: string, buf: Buffer, expected: number, params: SrtpProfileParams): void {
  if (!Buffer.isBuffer(buf) || buf.length !== expected) {
    const actual = Buffer.isBuffer(buf) ? `${buf.length} octets` : typeof buf;
    throw new SrtpConfigError(`${params.name} needs a ${expected}-octet master ${what}, got ${actual}`);
  }
}

/** Every session key a context needs, derived once when it is built. */
export function deriveSessionKeys(keys: SrtpKeyMaterial): SrtpSessionKeySet {
  const params = srtpProfile(keys.profile);
  checkLength('key', keys.masterKey, params.keyLength, params);
  checkLength('salt', keys.masterSalt, params.saltLength, params);
  const derive = (label: number, length: number): Buffer =>
    deriveSrtpKey(keys.masterKey, keys.masterSalt, label, length);
  return {
    rtp: {
      encryptionKey: derive(SrtpKdfLabel.RtpEncryption, params.keyLength),
      salt: derive(SrtpKdfLabel.RtpSalt, params.saltLength),
      authenticationKey: derive(SrtpKdfLabel.RtpAuthentication, params.authKeyLength),
    },
    rtcp: {
      encryptionKey: derive(SrtpKdfLabel.RtcpEncryption, params.keyLength),
      salt: derive(SrtpKdfLabel.RtcpSalt, params.saltLength),
      authenticationKey: derive(SrtpKdfLabel.RtcpAuthentication, params.authKeyLength),
    },
  };
}
