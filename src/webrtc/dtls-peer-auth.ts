import { constants, verify, X509Certificate, type KeyObject } from 'node:crypto';
import {
  certificateFingerprint,
  FINGERPRINT_PREFERENCE,
  isFingerprintAlgorithm,
  normalizeFingerprint,
  type FingerprintAlgorithm,
} from './certificate.ts';
import { DtlsFingerprintMismatchError, DtlsHandshakeError } from './errors.ts';
import { constantTimeEqual, finishedVerifyData } from './tls-prf.ts';
import { CertificateVerify, ServerKeyExchange, type DtlsSocket } from './werift-dtls.ts';

/**
 * Authentication of the DTLS peer after werift-dtls reports the handshake done.
 *
 * WebRTC's security rests on two facts together (RFC 8827 §6.5, RFC 5763 §5): the certificate the peer
 * presented hashes to an `a=fingerprint` from the signalling, AND the peer proved it holds that certificate's
 * private key. werift-dtls 0.5.8 checks neither the second nor the transcript: as a server it ignores the
 * client's CertificateVerify signature, as a client it ignores the ServerKeyExchange signature, and in both roles
 * it never compares the peer's Finished. Without those checks anyone on the path could replay the browser's
 * (public) certificate with their own ECDHE key and pass a fingerprint comparison. So we verify here, from the
 * handshake messages werift caches, and refuse media unless everything holds:
 *  - we are server: the client's CertificateVerify over the transcript (RFC 5246 §7.4.8) and its Finished;
 *  - we are client: the ServerKeyExchange signature over the randoms and ECDH parameters (RFC 4492 §5.4) and
 *    the server's Finished (RFC 5246 §7.4.9).
 * The transcript uses the DTLS handshake header of each message as if unfragmented, starting at the ClientHello
 * that carried the cookie (RFC 6347 §4.2.6, §4.2.1) — exactly how werift caches and signs it.
 */

export interface RemoteFingerprint {
  readonly algorithm: string;
  readonly value: string;
}

const HandshakeType = { Certificate: 11, ServerKeyExchange: 12, CertificateVerify: 15, Finished: 20 } as const;

interface CachedHandshake {
  msg_type: number;
  fragment: Buffer;
  serialize(): Buffer;
}

/**
 * RFC 8122 §5.1: use the fingerprints of the most preferred hash function the peer offered; the certificate must
 * match one of them. Returns the fingerprint that matched; throws DTLS_FINGERPRINT_MISMATCH otherwise.
 */
export function verifyFingerprint(certificateDer: Buffer, fingerprints: readonly RemoteFingerprint[]): { algorithm: FingerprintAlgorithm; value: string } {
  const usable = fingerprints
    .map((fp) => ({ algorithm: fp.algorithm.trim().toLowerCase(), value: normalizeFingerprint(fp.value) }))
    .filter((fp): fp is { algorithm: FingerprintAlgorithm; value: string } => isFingerprintAlgorithm(fp.algorithm) && fp.value !== undefined);
  const algorithm = FINGERPRINT_PREFERENCE.find((name) => usable.some((fp) => fp.algorithm === name));
  if (algorithm === undefined) throw new DtlsFingerprintMismatchError('no remote fingerprint with a supported hash function');
  const actual = certificateFingerprint(certificateDer, algorithm);
  const match = usable.find((fp) => fp.algorithm === algorithm && fp.value === actual);
  if (match === undefined) {
    throw new DtlsFingerprintMismatchError(`remote certificate ${algorithm} fingerprint ${actual} matches no a=fingerprint`);
  }
  return match;
}

function remoteMessages(socket: DtlsSocket, flight: number): CachedHandshake[] {
  const entry = socket.dtls.handshakeCache[flight];
  return entry === undefined || entry.isLocal ? [] : (entry.data as CachedHandshake[]);
}

/**
 * The handshake messages in transcript order, serialized once (werift re-encodes a message on every serialize()),
 * and where each of `stops` begins in it; -1 for one not in the cache.
 */
function transcript(socket: DtlsSocket, stops: readonly CachedHandshake[]): { bytes: Buffer; offsets: number[] } {
  const parts: Buffer[] = [];
  const offsets = stops.map(() => -1);
  let length = 0;
  for (const message of socket.dtls.sortedHandshakeCache as CachedHandshake[]) {
    const at = stops.indexOf(message);
    if (at >= 0) offsets[at] = length;
    const part = message.serialize();
    parts.push(part);
    length += part.length;
  }
  return { bytes: Buffer.concat(parts, length), offsets };
}

function peerPublicKey(certificateDer: Buffer | undefined): KeyObject {
  if (certificateDer === undefined) throw new DtlsHandshakeError('peer sent no certificate');
  try {
    return new X509Certificate(certificateDer).publicKey;
  } catch (error) {
    throw new DtlsHandshakeError('peer certificate cannot be parsed', { cause: error });
  }
}

/** TLS 1.2 HashAlgorithm codes (RFC 5246 §7.4.1.4.1) we accept for peer signatures. */
const HASHES: Readonly<Record<number, string>> = { 4: 'sha256', 5: 'sha384', 6: 'sha512' };
/** SignatureAlgorithm codes: rsa(1), ecdsa(3). */
const SIGNATURES = { rsa: 1, ecdsa: 3 } as const;

function verifySignature(hashCode: number, signatureCode: number, data: Buffer, key: KeyObject, signature: Buffer): boolean {
  const hash = HASHES[hashCode];
  if (hash === undefined) return false;
  try {
    if (signatureCode === SIGNATURES.ecdsa && key.asymmetricKeyType === 'ec') return verify(hash, data, key, signature);
    if (signatureCode === SIGNATURES.rsa && key.asymmetricKeyType === 'rsa') return verify(hash, data, key, signature);
    // RFC 8446 §4.2.3 rsa_pss_rsae_* (0x0804–0x0806), which TLS 1.2 peers may use in CertificateVerify.
    if (signatureCode >= 4 && signatureCode <= 6 && hashCode === 8 && key.asymmetricKeyType === 'rsa') {
      const pssHash = HASHES[signatureCode];
      return pssHash !== undefined && verify(pssHash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
    }
  } catch {
    return false;
  }
  return false;
}

/** We are the DTLS server: check the client's proof of key possession and its Finished. */
export function verifyClientHandshake(socket: DtlsSocket): void {
  const flight5 = remoteMessages(socket, 5);
  const certificateVerify = flight5.find((m) => m.msg_type === HandshakeType.CertificateVerify);
  const finished = flight5.find((m) => m.msg_type === HandshakeType.Finished);
  const key = peerPublicKey(socket.cipher.remoteCertificate);
  if (certificateVerify === undefined) throw new DtlsHandshakeError('client sent no CertificateVerify');
  if (finished === undefined) throw new DtlsHandshakeError('client Finished missing');
  const cv = CertificateVerify.deSerialize(certificateVerify.fragment);
  const { bytes, offsets } = transcript(socket, [certificateVerify, finished]);
  const [cvAt, finishedAt] = offsets as [number, number];
  if (cvAt < 0 || finishedAt < 0) throw new DtlsHandshakeError('client flight missing from the handshake transcript');
  // SignatureScheme is the TLS 1.2 (hash, signature) byte pair (RFC 8446 §4.2.3 keeps the encoding).
  const scheme = cv.algorithm as number;
  if (!verifySignature(scheme >> 8, scheme & 0xff, bytes.subarray(0, cvAt), key, cv.signature)) {
    throw new DtlsHandshakeError('client CertificateVerify signature does not verify with its certificate');
  }
  const expected = finishedVerifyData(socket.cipher.masterSecret, 'client', bytes.subarray(0, finishedAt));
  if (!constantTimeEqual(expected, finished.fragment)) throw new DtlsHandshakeError('client Finished verify_data mismatch');
}

/** We are the DTLS client: check the server's ServerKeyExchange signature and its Finished. */
export function verifyServerHandshake(socket: DtlsSocket, serverFinished: Buffer | undefined): void {
  const flight4 = remoteMessages(socket, 4);
  const ske = flight4.find((m) => m.msg_type === HandshakeType.ServerKeyExchange);
  const key = peerPublicKey(socket.cipher.remoteCertificate);
  if (ske === undefined) throw new DtlsHandshakeError('server sent no ServerKeyExchange');
  if (serverFinished === undefined) throw new DtlsHandshakeError('server Finished missing');
  const message = ServerKeyExchange.deSerialize(ske.fragment);
  // RFC 4492 §5.4: signed_params = client_random + server_random + ServerECDHParams.
  const params = Buffer.alloc(4);
  params[0] = message.ellipticCurveType;
  params.writeUInt16BE(message.namedCurve, 1);
  params[3] = message.publicKey.length;
  const signed = Buffer.concat([socket.cipher.localRandom.serialize(), socket.cipher.remoteRandom.serialize(), params, message.publicKey]);
  if (!verifySignature(message.hashAlgorithm, message.signatureAlgorithm, signed, key, message.signature)) {
    throw new DtlsHandshakeError('ServerKeyExchange signature does not verify with the server certificate');
  }
  const expected = finishedVerifyData(socket.cipher.masterSecret, 'server', transcript(socket, []).bytes);
  if (!constantTimeEqual(expected, serverFinished)) throw new DtlsHandshakeError('server Finished verify_data mismatch');
}
