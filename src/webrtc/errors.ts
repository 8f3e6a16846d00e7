import { GatewayError } from '../errors.ts';

/**
 * Errors of the WebRTC leg. Each carries a stable `code`; those that reach SIP through the media API map to 488
 * (Not Acceptable Here: the remote's ICE/DTLS parameters cannot be used) where a status applies.
 */

/** The remote's ice-ufrag/ice-pwd/fingerprint/setup in an offer or answer are unusable (RFC 8839 §5.4, RFC 8122 §5). */
export class InvalidRemoteParametersError extends GatewayError {
  constructor(message: string) {
    super('WEBRTC_INVALID_REMOTE_PARAMETERS', message, { status: 488 });
  }
}

/** The leg was configured with something it cannot honour (e.g. an advertised IPv6 address on a udp4 socket). */
export class WebRtcConfigError extends GatewayError {
  constructor(message: string) {
    super('WEBRTC_CONFIG', message);
  }
}

/** RFC 8122 §5: the certificate the peer presented matches none of the SDP fingerprints → no media. */
export class DtlsFingerprintMismatchError extends GatewayError {
  constructor(message: string) {
    super('DTLS_FINGERPRINT_MISMATCH', message, { status: 488 });
  }
}

/** The DTLS handshake failed: a fatal alert, no common SRTP profile, a bad peer signature or Finished, retransmissions exhausted. */
export class DtlsHandshakeError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DTLS_HANDSHAKE_FAILED', message, { status: 488, cause: options?.cause });
  }
}

/** No DTLS association came up within the handshake deadline after ICE connected. */
export class DtlsTimeoutError extends GatewayError {
  constructor(message: string) {
    super('DTLS_HANDSHAKE_TIMEOUT', message);
  }
}

/** The peer closed the DTLS association with an authenticated close_notify or fatal alert. */
export class DtlsClosedByPeerError extends GatewayError {
  constructor(message: string) {
    super('DTLS_CLOSED_BY_PEER', message);
  }
}

/** RFC 7675 §5.1: no authenticated connectivity check from the selected pair for the consent timeout → stop sending. */
export class IceConsentLostError extends GatewayError {
  constructor(message: string) {
    super('ICE_CONSENT_LOST', message);
  }
}
