/**
 * The cryptographic half of a context: given a packet whose header was parsed and whose index was decided by
 * SrtpContext, encrypt and tag it, or verify and decrypt it. One implementation per transform family
 * (AES-CM + HMAC-SHA1, AES-GCM), holding the session keys for both SRTP and SRTCP. No state between packets.
 *
 * `src` and `out` may be the same buffer; the caller has checked that `out` is large enough.
 */
export interface SrtpTransform {
  /** Octets appended to an SRTP packet. */
  readonly rtpTagLength: number;
  /** Octets appended to an SRTCP packet: the ESRTCP word (E flag ‖ 31-bit index) and the tag. */
  readonly rtcpTrailerLength: number;
  /** Where the ESRTCP word starts, counted back from the end of an SRTCP packet. */
  readonly rtcpIndexFromEnd: number;

  /** Encrypts src[header, length) — `header` is the RTP header length — and appends the tag: the SRTP length. */
  sealRtp(src: Buffer, out: Buffer, header: number, length: number, ssrc: number, roc: number, seq: number): number;
  /** Verifies src[0, length), tag included, and decrypts into out: the RTP length, or AuthFailed (out untouched). */
  openRtp(src: Buffer, out: Buffer, header: number, length: number, ssrc: number, roc: number, seq: number): number;
  /** Encrypts src[8, length) under `index` with the E flag set; returns the SRTCP packet length. */
  sealRtcp(src: Buffer, out: Buffer, length: number, ssrc: number, index: number): number;
  /**
   * Verifies src[0, length) given its ESRTCP word, decrypts into out if the E flag is set, else copies;
   * returns the RTCP length, or AuthFailed with out untouched.
   */
  openRtcp(src: Buffer, out: Buffer, length: number, ssrc: number, esrtcpWord: number): number;
}

/** The RTCP fixed part that stays in the clear: the first header word and the sender SSRC (RFC 3711 §3.4). */
export const RTCP_CLEAR_LENGTH = 8;
