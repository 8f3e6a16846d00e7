import { SrtpConfigError } from './errors.ts';

/** The DTLS-SRTP protection profiles we implement, by their use_srtp names (RFC 5764 §4.1.2, RFC 7714 §14.2). */
export type SrtpProfileName =
  | 'SRTP_AES128_CM_HMAC_SHA1_80'
  | 'SRTP_AES128_CM_HMAC_SHA1_32'
  | 'SRTP_AEAD_AES_128_GCM'
  | 'SRTP_AEAD_AES_256_GCM';

/** What the DTLS exporter hands over for one direction (RFC 5764 §4.2). */
export interface SrtpKeyMaterial {
  profile: SrtpProfileName;
  masterKey: Buffer;
  masterSalt: Buffer;
}

/** The two-byte SRTPProtectionProfile values carried in the use_srtp extension. */
export const SRTP_PROTECTION_PROFILE_IDS = {
  SRTP_AES128_CM_HMAC_SHA1_80: 0x0001,
  SRTP_AES128_CM_HMAC_SHA1_32: 0x0002,
  SRTP_AEAD_AES_128_GCM: 0x0007,
  SRTP_AEAD_AES_256_GCM: 0x0008,
} as const satisfies Record<SrtpProfileName, number>;

export interface SrtpProfileParams {
  readonly name: SrtpProfileName;
  readonly id: number;
  readonly transform: 'aes-cm-hmac-sha1' | 'aes-gcm';
  /** Master and session encryption key length, octets. */
  readonly keyLength: number;
  /** Master and session salt length, octets (112 bits for AES-CM, 96 bits for GCM). */
  readonly saltLength: number;
  /** HMAC-SHA1 session key length (n_a = 160 bits), 0 for AEAD. */
  readonly authKeyLength: number;
  readonly rtpTagLength: number;
  readonly rtcpTagLength: number;
}

/**
 * RFC 5764 §4.1.2: both AES-CM profiles use a 160-bit HMAC-SHA1 key; _32 truncates only the SRTP tag to 32
 * bits, SRTCP keeps 80. RFC 7714 §12 and §14.2: the AEAD profiles use a 96-bit salt and a 16-octet tag.
 */
export const SRTP_PROFILES: Readonly<Record<SrtpProfileName, SrtpProfileParams>> = Object.freeze({
  SRTP_AES128_CM_HMAC_SHA1_80: Object.freeze({
    name: 'SRTP_AES128_CM_HMAC_SHA1_80',
    id: 0x0001,
    transform: 'aes-cm-hmac-sha1',
    keyLength: 16,
    saltLength: 14,
    authKeyLength: 20,
    rtpTagLength: 10,
    rtcpTagLength: 10,
  }),
  SRTP_AES128_CM_HMAC_SHA1_32: Object.freeze({
    name: 'SRTP_AES128_CM_HMAC_SHA1_32',
    id: 0x0002,
    transform: 'aes-cm-hmac-sha1',
    keyLength: 16,
    saltLength: 14,
    authKeyLength: 20,
    rtpTagLength: 4,
    rtcpTagLength: 10,
  }),
  SRTP_AEAD_AES_128_GCM: Object.freeze({
    name: 'SRTP_AEAD_AES_128_GCM',
    id: 0x0007,
    transform: 'aes-gcm',
    keyLength: 16,
    saltLength: 12,
    authKeyLength: 0,
    rtpTagLength: 16,
    rtcpTagLength: 16,
  }),
  SRTP_AEAD_AES_256_GCM: Object.freeze({
    name: 'SRTP_AEAD_AES_256_GCM',
    id: 0x0008,
    transform: 'aes-gcm',
    keyLength: 32,
    saltLength: 12,
    authKeyLength: 0,
    rtpTagLength: 16,
    rtcpTagLength: 16,
  }),
});

/** Octets SRTCP adds beside the tag: the E flag and 31-bit SRTCP index (RFC 3711 §3.4). */
export const SRTCP_INDEX_LENGTH = 4;

/** The most any profile adds to a packet: AEAD SRTCP, 16-octet tag plus the ESRTCP word. Size `out` with it. */
export const SRTP_MAX_OVERHEAD = 20;

export function srtpProfile(name: SrtpProfileName): SrtpProfileParams {
  const params = Object.hasOwn(SRTP_PROFILES, name) ? SRTP_PROFILES[name] : undefined;
  if (params === undefined) throw new SrtpConfigError(`unknown SRTP protection profile ${String(name)}`);
  return params;
}

/** The profile a use_srtp id names, or undefined for one we do not implement. */
export function srtpProfileFromId(id: number): SrtpProfileName | undefined {
  for (const params of Object.values(SRTP_PROFILES)) if (params.id === id) return params.name;
  return undefined;
}

/** Master key and salt lengths, to size the DTLS exporter output (RFC 5764 §4.2: 2 × (key + salt) octets). */
export function srtpKeyLengths(profile: SrtpProfileName): { keyLength: number; saltLength: number } {
  const params = srtpProfile(profile);
  return { keyLength: params.keyLength, saltLength: params.saltLength };
}

/** Octets protectRtp / protectRtcp add for a profile. */
export function srtpOverhead(profile: SrtpProfileName): { rtp: number; rtcp: number } {
  const params = srtpProfile(profile);
  return { rtp: params.rtpTagLength, rtcp: params.rtcpTagLength + SRTCP_INDEX_LENGTH };
}
