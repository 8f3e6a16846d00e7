/**
 * Why a packet was not protected or unprotected. The per-packet functions return these negative numbers in
 * place of a length, so a failure costs no allocation and never throws on input from the network.
 */
export const SrtpFailure = {
  /** Not a well-formed RTP/RTCP packet, or too short to carry the SRTP trailer. */
  Malformed: -1,
  /** The authentication tag does not match (RFC 3711 §3.3 step 7, RFC 7714 §8.2/§9.2). */
  AuthFailed: -2,
  /** The packet index was already received (RFC 3711 §3.3.2). */
  Replayed: -3,
  /** The packet index is older than the replay window, or precedes the first packet of the stream. */
  TooOld: -4,
  /** The context already holds state for its maximum number of SSRCs in this direction. */
  SsrcLimit: -5,
  /** `out` cannot hold the result. */
  BufferTooSmall: -6,
  /** The 48-bit SRTP or 31-bit SRTCP index space is used up; RFC 3711 §9.2 requires re-keying first. */
  IndexExhausted: -7,
} as const;

export type SrtpFailureCode = (typeof SrtpFailure)[keyof typeof SrtpFailure];

const NAMES: Readonly<Record<number, string>> = {
  [SrtpFailure.Malformed]: 'malformed',
  [SrtpFailure.AuthFailed]: 'auth-failed',
  [SrtpFailure.Replayed]: 'replayed',
  [SrtpFailure.TooOld]: 'too-old',
  [SrtpFailure.SsrcLimit]: 'ssrc-limit',
  [SrtpFailure.BufferTooSmall]: 'buffer-too-small',
  [SrtpFailure.IndexExhausted]: 'index-exhausted',
};

/** A stable label for a failure code, for counters and logs (off the per-packet path). */
export function srtpFailureName(code: number): string {
  return NAMES[code] ?? 'unknown';
}
