import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The TLS 1.2 PRF (RFC 5246 §5) with SHA-256 — the PRF of every cipher suite werift-dtls negotiates
 * (TLS_ECDHE_{ECDSA,RSA}_WITH_AES_128_GCM_SHA256) — and what is built on it: the keying-material exporter
 * (RFC 5705 §4) that DTLS-SRTP uses (RFC 5764 §4.2), and Finished verify_data (RFC 5246 §7.4.9).
 * Computed here rather than through werift-dtls so the SRTP keys and the peer's Finished are checked by code
 * independent of the DTLS implementation that produced the master secret.
 */

/** P_SHA256(secret, seed) truncated to `length` octets (RFC 5246 §5). */
export function pSha256(secret: Buffer, seed: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  let a = seed; // A(0)
  let written = 0;
  while (written < length) {
    a = createHmac('sha256', secret).update(a).digest(); // A(i) = HMAC(secret, A(i-1))
    const block = createHmac('sha256', secret).update(a).update(seed).digest();
    written += block.copy(out, written);
  }
  return out;
}

/** PRF(secret, label, seed) = P_SHA256(secret, label + seed). */
export function tlsPrf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  return pSha256(secret, Buffer.concat([Buffer.from(label, 'ascii'), seed]), length);
}

/** RFC 5705 §4 exporter without context: PRF(master_secret, label, client_random + server_random). */
export function exportKeyingMaterial(masterSecret: Buffer, label: string, clientRandom: Buffer, serverRandom: Buffer, length: number): Buffer {
  return tlsPrf(masterSecret, label, Buffer.concat([clientRandom, serverRandom]), length);
}

/** RFC 5764 §4.2: the exporter label for DTLS-SRTP. */
export const DTLS_SRTP_EXPORTER_LABEL = 'EXTRACTOR-dtls_srtp';

export interface DtlsSrtpKeyBlock {
  clientWriteKey: Buffer;
  serverWriteKey: Buffer;
  clientWriteSalt: Buffer;
  serverWriteSalt: Buffer;
}

/**
 * RFC 5764 §4.2: 2 × (key + salt) octets from the exporter, laid out as client key, server key, client salt,
 * server salt. The client's keys protect what the client sends; the server uses them only to unprotect.
 */
export function dtlsSrtpKeyBlock(
  masterSecret: Buffer,
  clientRandom: Buffer,
  serverRandom: Buffer,
  keyLength: number,
  saltLength: number,
): DtlsSrtpKeyBlock {
  const material = exportKeyingMaterial(masterSecret, DTLS_SRTP_EXPORTER_LABEL, clientRandom, serverRandom, 2 * (keyLength + saltLength));
  return {
    clientWriteKey: material.subarray(0, keyLength),
    serverWriteKey: material.subarray(keyLength, 2 * keyLength),
    clientWriteSalt: material.subarray(2 * keyLength, 2 * keyLength + saltLength),
    serverWriteSalt: material.subarray(2 * keyLength + saltLength, 2 * (keyLength + saltLength)),
  };
}

/** RFC 5246 §7.4.9: verify_data = PRF(master_secret, finished_label, Hash(handshake_messages))[0..11]. */
export function finishedVerifyData(masterSecret: Buffer, sender: 'client' | 'server', handshakeMessages: Buffer): Buffer {
  const digest = createHash('sha256').update(handshakeMessages).digest();
  return tlsPrf(masterSecret, `${sender} finished`, digest, 12);
}

export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
