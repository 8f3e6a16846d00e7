import { createHash, X509Certificate } from 'node:crypto';
import { dtls, type SignatureHash } from './werift-dtls.ts';

/**
 * The gateway's DTLS identity: one ECDSA P-256 self-signed certificate per process, shared by every leg.
 * WebRTC authenticates DTLS by the certificate fingerprint carried in SDP (RFC 8827 §6.5, RFC 8122), not by a
 * CA chain, so a self-signed certificate is the norm; one per process keeps leg creation cheap (key generation
 * and PEM parsing happen once) and ECDSA P-256 is what browsers generate and prefer (smaller flights, no
 * fragmentation of the Certificate message).
 */
export interface DtlsCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** werift's signature/hash pair (ecdsa + sha256) used when signing ServerKeyExchange / CertificateVerify. */
  readonly signatureHash: SignatureHash;
  /** DER bytes, what the fingerprint is computed over (RFC 8122 §5). */
  readonly der: Buffer;
  readonly fingerprint: { readonly algorithm: 'sha-256'; readonly value: string };
  readonly notAfter: Date;
}

/** Hash functions of the RFC 8122 §5 registry we verify with. MD2/MD5 MUST NOT be used (RFC 8122 §5). */
export const FINGERPRINT_ALGORITHMS = {
  'sha-1': 'sha1',
  'sha-224': 'sha224',
  'sha-256': 'sha256',
  'sha-384': 'sha384',
  'sha-512': 'sha512',
} as const;
export type FingerprintAlgorithm = keyof typeof FINGERPRINT_ALGORITHMS;

/** Preference order when the peer gives fingerprints with several hash functions (strongest first, RFC 8122 §5.1). */
export const FINGERPRINT_PREFERENCE: readonly FingerprintAlgorithm[] = ['sha-512', 'sha-384', 'sha-256', 'sha-224', 'sha-1'];

export function isFingerprintAlgorithm(name: string): name is FingerprintAlgorithm {
  return Object.hasOwn(FINGERPRINT_ALGORITHMS, name);
}

/** The SDP form of a fingerprint: upper-case hex octets separated by colons (RFC 8122 §5, `fingerprint` ABNF). */
export function certificateFingerprint(der: Buffer, algorithm: FingerprintAlgorithm): string {
  const digest = createHash(FINGERPRINT_ALGORITHMS[algorithm]).update(der).digest('hex').toUpperCase();
  return digest.match(/../g)!.join(':');
}

/** Normalises an SDP fingerprint value for comparison, or undefined when it is not colon-separated hex octets. */
export function normalizeFingerprint(value: string): string | undefined {
  const trimmed = value.trim().toUpperCase();
  return /^[0-9A-F]{2}(:[0-9A-F]{2})*$/.test(trimmed) ? trimmed : undefined;
}

export async function createDtlsCertificate(): Promise<DtlsCertificate> {
  const { certPem, keyPem, signatureHash } = await dtls.CipherContext.createSelfSignedCertificateWithKey(
    { signature: dtls.SignatureAlgorithm.ecdsa_3, hash: dtls.HashAlgorithm.sha256_4 },
    dtls.NamedCurveAlgorithm.secp256r1_23,
  );
  const x509 = new X509Certificate(certPem);
  const der = Buffer.from(x509.raw);
  return Object.freeze({
    certPem,
    keyPem,
    signatureHash,
    der,
    fingerprint: Object.freeze({ algorithm: 'sha-256' as const, value: certificateFingerprint(der, 'sha-256') }),
    notAfter: new Date(x509.validTo),
  });
}

let processCertificate: Promise<DtlsCertificate> | undefined;

/** The per-process certificate, created on first use and reused by every leg. */
export function getProcessCertificate(): Promise<DtlsCertificate> {
  processCertificate ??= createDtlsCertificate().catch((error: unknown) => {
    processCertificate = undefined; // let the next caller retry rather than caching a failure forever
    throw error;
  });
  return processCertificate;
}
