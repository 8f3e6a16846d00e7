/**
 * SRTP and SRTCP (RFC 3711, RFC 7714) as pure crypto contexts: what the WebRTC leg needs, nothing more.
 */
export { SrtpContext, type SrtpContextOptions } from './context.ts';
export { SrtpConfigError } from './errors.ts';
export { SrtpFailure, type SrtpFailureCode, srtpFailureName } from './failure.ts';
export { deriveSessionKeys, type SrtpSessionKeySet, type SrtpSessionKeys } from './kdf.ts';
export {
  SRTP_MAX_OVERHEAD,
  SRTP_PROFILES,
  SRTP_PROTECTION_PROFILE_IDS,
  type SrtpKeyMaterial,
  type SrtpProfileName,
  type SrtpProfileParams,
  srtpKeyLengths,
  srtpOverhead,
  srtpProfileFromId,
} from './profiles.ts';
