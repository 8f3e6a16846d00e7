import { createECDH, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, sign, X509Certificate, type ECDH, type KeyObject } from 'node:crypto';
import { DtlsHandshakeError, WebRtcConfigError } from './errors.ts';

/**
 * werift-dtls' handshake cryptography, done by node:crypto (OpenSSL) instead of JavaScript.
 *
 * werift-dtls 0.5.x computes ECDHE in JavaScript — X25519 with tweetnacl, P-256 with @noble/curves — parses our
 * certificate and private key with @fidm/x509 for every association, and re-imports the key from PEM for every
 * signature. Measured (bench/dtls-handshake.bench.ts) that is about 1–2 ms (X25519) to 3–4 ms (P-256) of CPU per
 * handshake more than node:crypto needs. The functions here are drop-in replacements with werift's own
 * contracts, which werift-dtls.ts installs where werift looks them up:
 *  - `generateEcdheKeyPair` / `ecdhePreMasterSecret` replace cipher/namedCurve.generateKeyPair and
 *    cipher/prf.prfPreMasterSecret: same raw key encodings on the wire (RFC 8422 §5.4 uncompressed P-256 points,
 *    RFC 7748 32-octet X25519 u-coordinates), same premaster secret (RFC 8422 §5.10: the x-coordinate for P-256,
 *    the X25519 output as is);
 *  - `localIdentity` replaces CipherContext.parseX509: our certificate's DER and a signer holding a KeyObject,
 *    parsed once per (certificate, key) pair per process.
 * werift's flight handlers look these functions up on the module objects at every call (`(0, prf_1.f)(…)` in its
 * CommonJS output), which is what makes replacing the exports effective; test/webrtc/dtls-native-crypto.test.ts
 * fails if a werift update binds them earlier.
 */

/** werift's NamedCurveAlgorithm codes, the TLS NamedCurve registry values (RFC 8422 §5.1.1). */
export const NamedCurve = { secp256r1: 23, x25519: 29 } as const;

/** What werift-dtls keeps as `cipher.localKeyPair`. */
export interface EcdheKeyPair {
  curve: number;
  publicKey: Buffer;
  privateKey: Buffer;
}

/** Calls that went through node:crypto, for tests and benchmarks to prove the native path is the one taken. */
export const nativeDtlsCryptoStats = { keyPairs: 0, sharedSecrets: 0, signatures: 0, identities: 0 };

// RFC 8410 PKCS#8 PrivateKeyInfo around a raw X25519 key (OID 1.3.101.110), to import a key we did not generate.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_KEY_LENGTH = 32;
const P256_POINT_LENGTH = 65;

/**
 * The native key objects behind the raw private keys we handed werift, so the premaster computation does not
 * re-import them. Keyed by the very Buffer werift stores in `localKeyPair.privateKey`; a key werift got elsewhere
 * (none today) is imported from its raw bytes instead.
 */
const x25519Keys = new WeakMap<Buffer, KeyObject>();
const p256Keys = new WeakMap<Buffer, ECDH>();

/** cipher/namedCurve.generateKeyPair: a fresh ephemeral key pair (one per handshake, RFC 8422 §2). */
export function generateEcdheKeyPair(curve: number): EcdheKeyPair {
  nativeDtlsCryptoStats.keyPairs++;
  switch (curve) {
    case NamedCurve.x25519: {
      // JWK, not DER: OpenSSL 3 encodes a raw key to JWK about 15× faster than to SPKI/PKCS#8.
      const keys = generateKeyPairSync('x25519');
      const privateKey = Buffer.from(keys.privateKey.export({ format: 'jwk' }).d!, 'base64url');
      x25519Keys.set(privateKey, keys.privateKey);
      return { curve, privateKey, publicKey: Buffer.from(keys.publicKey.export({ format: 'jwk' }).x!, 'base64url') };
    }
    case NamedCurve.secp256r1: {
      const ecdh = createECDH('prime256v1');
      const publicKey = ecdh.generateKeys(); // uncompressed: the only point format RFC 8422 §5.1.2 still allows
      const privateKey = ecdh.getPrivateKey();
      p256Keys.set(privateKey, ecdh);
      return { curve, privateKey, publicKey };
    }
    default:
      throw new DtlsHandshakeError(`no ECDHE implementation for named curve ${String(curve)}`);
  }
}

/**
 * cipher/prf.prfPreMasterSecret: the ECDH shared secret with the peer's public key from its
 * ServerKeyExchange / ClientKeyExchange. Throws DTLS_HANDSHAKE_FAILED for a malformed or invalid peer key:
 * OpenSSL checks that a P-256 point is on the curve, and refuses an all-zero X25519 result, which RFC 8422
 * §5.11 says MUST abort the handshake (tweetnacl would have returned it).
 */
export function ecdhePreMasterSecret(peerPublicKey: Buffer, privateKey: Buffer, curve: number): Buffer {
  nativeDtlsCryptoStats.sharedSecrets++;
  try {
    switch (curve) {
      case NamedCurve.x25519: {
        if (peerPublicKey.length !== X25519_KEY_LENGTH) throw new DtlsHandshakeError(`X25519 public key of ${peerPublicKey.length} octets`);
        const own = x25519Keys.get(privateKey) ?? createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
        const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: peerPublicKey.toString('base64url') }, format: 'jwk' });
        return diffieHellman({ privateKey: own, publicKey: peer });
      }
      case NamedCurve.secp256r1: {
        if (peerPublicKey.length !== P256_POINT_LENGTH || peerPublicKey[0] !== 4) {
          throw new DtlsHandshakeError('P-256 public key is not an uncompressed point (RFC 8422 §5.4)');
        }
        let ecdh = p256Keys.get(privateKey);
        if (ecdh === undefined) {
          ecdh = createECDH('prime256v1');
          ecdh.setPrivateKey(privateKey);
        }
        return ecdh.computeSecret(peerPublicKey); // the x-coordinate, RFC 8422 §5.10
      }
      default:
        throw new DtlsHandshakeError(`no ECDHE implementation for named curve ${String(curve)}`);
    }
  } catch (error) {
    if (error instanceof DtlsHandshakeError) throw error;
    throw new DtlsHandshakeError('peer ECDHE public key refused', { cause: error });
  }
}

/**
 * Stands in for werift's @fidm/x509 PrivateKey, of which werift uses `sign(data, hash)` (ServerKeyExchange,
 * RFC 8422 §5.4) and `toPEM()`; signing goes straight to the parsed KeyObject.
 */
export class LocalSigner {
  readonly #key: KeyObject;
  readonly #pem: Buffer;

  constructor(key: KeyObject, pem: string) {
    this.#key = key;
    this.#pem = Buffer.from(pem);
  }

  /** ECDSA signatures come out DER-encoded, as TLS 1.2 carries them (RFC 8422 §5.4); RSA as PKCS #1 v1.5. */
  sign(data: Buffer, hash: string): Buffer {
    nativeDtlsCryptoStats.signatures++;
    return sign(hash, data, this.#key);
  }

  toPEM(): Buffer {
    return this.#pem;
  }
}

export interface LocalIdentity {
  /** The certificate's DER, what werift sends in its Certificate message. */
  readonly der: Buffer;
  readonly signer: LocalSigner;
}

/** A process has one certificate (certificate.ts); a few more only while one replaces another. */
const MAX_IDENTITIES = 4;
const identities = new Map<string, { keyPem: string; identity: LocalIdentity }>();

/** Our certificate and key, parsed on first use and then shared by every association of the process. */
export function localIdentity(certPem: string, keyPem: string): LocalIdentity {
  const cached = identities.get(certPem);
  if (cached !== undefined && cached.keyPem === keyPem) return cached.identity;
  nativeDtlsCryptoStats.identities++;
  let identity: LocalIdentity;
  try {
    identity = { der: Buffer.from(new X509Certificate(certPem).raw), signer: new LocalSigner(createPrivateKey(keyPem), keyPem) };
  } catch (error) {
    throw new WebRtcConfigError(`the DTLS certificate or its private key cannot be parsed: ${(error as Error).message}`);
  }
  identities.delete(certPem);
  identities.set(certPem, { keyPem, identity });
  if (identities.size > MAX_IDENTITIES) identities.delete(identities.keys().next().value!);
  return identity;
}
