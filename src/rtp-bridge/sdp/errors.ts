import { GatewayError } from '../../errors.ts';

/**
 * SDP the gateway cannot use. Every one maps to 488 Not Acceptable Here (RFC 3261 §21.4.26: "the request's session
 * description is not acceptable") except SDP_LOCAL_INVALID, which is our own configuration at fault (500).
 *
 * - SDP_INVALID: not SDP (RFC 4566 grammar), or SDP that breaks offer/answer (RFC 3264: wrong m-line count, …).
 * - SDP_UNSUPPORTED: valid SDP asking for what the gateway does not do (SDES-SRTP, TCP media, multicast, FQDN
 *   connection addresses, a WebRTC leg without ICE/DTLS parameters).
 * - NO_COMMON_CODEC: see NoCommonCodecError.
 */
export type SdpErrorCode = 'SDP_INVALID' | 'SDP_UNSUPPORTED' | 'SDP_LOCAL_INVALID' | 'NO_COMMON_CODEC';

export class SdpError extends GatewayError {
  declare readonly code: SdpErrorCode;

  constructor(code: SdpErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { status: code === 'SDP_LOCAL_INVALID' ? 500 : 488, cause: options?.cause });
  }
}

/** RFC 3264 §6.1: no media format both sides can use without transcoding → the offer is rejected with 488. */
export class NoCommonCodecError extends SdpError {
  constructor(message: string) {
    super('NO_COMMON_CODEC', message);
  }
}
