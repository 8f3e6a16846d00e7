/**
 * The WebRTC leg: ICE-lite, DTLS-SRTP (both roles), SRTP/SRTCP with rtcp-mux, consent freshness.
 * Knows nothing of SIP or of the plain-RTP leg; the media session pairs the two.
 */
export { WebRtcLeg, type WebRtcLegEvents, type WebRtcLegOptions, type WebRtcLegState, type WebRtcLegStats } from './webrtc-leg.ts';
export {
  type DtlsSetup,
  type IceCandidate,
  type LocalParameters,
  type RemoteCandidate,
  type RemoteParameters,
} from './leg-parameters.ts';
export { createDtlsCertificate, getProcessCertificate, certificateFingerprint, type DtlsCertificate } from './certificate.ts';
export { DEFAULT_SRTP_PROFILES, type DtlsRole } from './dtls-transport.ts';
export { type TransportAddress } from './ice-lite.ts';
export {
  DtlsClosedByPeerError,
  DtlsFingerprintMismatchError,
  DtlsHandshakeError,
  DtlsTimeoutError,
  IceConsentLostError,
  InvalidRemoteParametersError,
  WebRtcConfigError,
} from './errors.ts';
export { isDtls, isRtcp, isRtpOrRtcp, isStun } from './demux.ts';
