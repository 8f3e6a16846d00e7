import { AesGcm } from './aes-gcm.ts';
import { SrtpFailure } from './failure.ts';
import type { SrtpSessionKeySet } from './kdf.ts';
import { SRTCP_INDEX_LENGTH } from './profiles.ts';
import { RTCP_CLEAR_LENGTH, type SrtpTransform } from './transform.ts';

/** RFC 7714 §13.2: the AEAD profiles carry the full 16-octet GCM tag. */
const TAG_LENGTH = 16;

// Shared scratch: each is filled and consumed within one synchronous call.
/** RFC 7714 §9.2: the AAD of an encrypted SRTCP packet is its first 8 octets ‖ the ESRTCP word. */
const rtcpAad = Buffer.alloc(RTCP_CLEAR_LENGTH + SRTCP_INDEX_LENGTH);
/** §9.3: the AAD of a tagged-only SRTCP packet, the whole packet ‖ the ESRTCP word; grown on demand. */
let taggedAad = Buffer.alloc(256);

/**
 * AEAD_AES_128_GCM / AEAD_AES_256_GCM (RFC 7714) on aes-gcm.ts: no cipher object per packet, the payload
 * encrypted and the tag written in place. On receipt the tag is checked before anything is decrypted, so a
 * forged packet leaves `out` untouched, and before any keystream is made that the tag does not need, so a
 * forged packet costs no more AES work than a real one (aes-gcm.ts, prepareTag).
 */
export class AesGcmTransform implements SrtpTransform {
  readonly rtpTagLength = TAG_LENGTH;
  readonly rtcpTrailerLength = TAG_LENGTH + SRTCP_INDEX_LENGTH;
  /** §9.2: the ESRTCP word follows the tag, the reverse of RFC 3711's layout. */
  readonly rtcpIndexFromEnd = SRTCP_INDEX_LENGTH;
  readonly #rtp: AesGcm;
  readonly #rtcp: AesGcm;

  constructor(keys: SrtpSessionKeySet) {
    // Batched: an SRTP stream's indices are consecutive; SRTCP's are too, but seconds apart.
    this.#rtp = new AesGcm(keys.rtp.encryptionKey, keys.rtp.salt, true);
    this.#rtcp = new AesGcm(keys.rtcp.encryptionKey, keys.rtcp.salt);
  }

  sealRtp(
    src: Buffer,
    out: Buffer,
    headerLength: number,
    length: number,
    ssrc: number,
    roc: number,
    seq: number,
  ): number {
    const gcm = this.#rtp;
    // §8.1: the IV is built from SSRC, ROC and SEQ.
    gcm.prepare(ssrc, roc, seq, length - headerLength);
    if (src !== out) src.copy(out, 0, 0, headerLength);
    gcm.xor(src, out, headerLength, length);
    // §8.2: the AAD is the RTP header, CSRCs and extension included.
    gcm.tag(out, 0, headerLength, out, headerLength, length);
    gcm.writeTag(out, length);
    return length + TAG_LENGTH;
  }

  openRtp(
    src: Buffer,
    out: Buffer,
    headerLength: number,
    length: number,
    ssrc: number,
    roc: number,
    seq: number,
  ): number {
    const end = length - TAG_LENGTH;
    const gcm = this.#rtp;
    gcm.prepareTag(ssrc, roc, seq, end - headerLength);
    gcm.tag(src, 0, headerLength, src, headerLength, end);
    if (!gcm.tagMatches(src, end)) return SrtpFailure.AuthFailed;
    gcm.prepareKeystream();
    if (src !== out) src.copy(out, 0, 0, headerLength);
    gcm.xor(src, out, headerLength, end);
    return end;
  }

  sealRtcp(src: Buffer, out: Buffer, length: number, ssrc: number, index: number): number {
    const gcm = this.#rtcp;
    // §9.1: the IV carries the 31-bit SRTCP index, not the E flag.
    gcm.prepare(ssrc, index >>> 16, index & 0xffff, length - RTCP_CLEAR_LENGTH);
    if (src !== out) src.copy(out, 0, 0, RTCP_CLEAR_LENGTH);
    gcm.xor(src, out, RTCP_CLEAR_LENGTH, length);
    // §9.2: E flag (always set: we always encrypt) ‖ SRTCP index, after the tag and in the AAD.
    for (let i = 0; i < RTCP_CLEAR_LENGTH; i++) rtcpAad[i] = out[i]!;
    const word = length + TAG_LENGTH;
    out[word] = 0x80 | (index >>> 24);
    out[word + 1] = index >>> 16;
    out[word + 2] = index >>> 8;
    out[word + 3] = index;
    for (let i = 0; i < SRTCP_INDEX_LENGTH; i++) rtcpAad[RTCP_CLEAR_LENGTH + i] = out[word + i]!;
    gcm.tag(rtcpAad, 0, rtcpAad.length, out, RTCP_CLEAR_LENGTH, length);
    gcm.writeTag(out, length);
    return word + SRTCP_INDEX_LENGTH;
  }

  openRtcp(src: Buffer, out: Buffer, length: number, ssrc: number, esrtcpWord: number): number {
    const wordAt = length - SRTCP_INDEX_LENGTH;
    const tagAt = wordAt - TAG_LENGTH;
    const index = esrtcpWord & 0x7fffffff;
    const gcm = this.#rtcp;
    if (esrtcpWord >>> 31 === 1) {
      gcm.prepareTag(ssrc, index >>> 16, index & 0xffff, tagAt - RTCP_CLEAR_LENGTH);
      for (let i = 0; i < RTCP_CLEAR_LENGTH; i++) rtcpAad[i] = src[i]!;
      for (let i = 0; i < SRTCP_INDEX_LENGTH; i++) rtcpAad[RTCP_CLEAR_LENGTH + i] = src[wordAt + i]!;
      gcm.tag(rtcpAad, 0, rtcpAad.length, src, RTCP_CLEAR_LENGTH, tagAt);
      if (!gcm.tagMatches(src, tagAt)) return SrtpFailure.AuthFailed;
      gcm.prepareKeystream();
      if (src !== out) src.copy(out, 0, 0, RTCP_CLEAR_LENGTH);
      gcm.xor(src, out, RTCP_CLEAR_LENGTH, tagAt);
    } else {
      // §9.3 (E = 0, tagged only): the AAD is the whole RTCP packet ‖ the ESRTCP word, no ciphertext.
      gcm.prepareTag(ssrc, index >>> 16, index & 0xffff, 0);
      const aadLength = tagAt + SRTCP_INDEX_LENGTH;
      if (taggedAad.length < aadLength) taggedAad = Buffer.alloc(aadLength);
      src.copy(taggedAad, 0, 0, tagAt);
      src.copy(taggedAad, tagAt, wordAt, length);
      gcm.tag(taggedAad, 0, aadLength, src, 0, 0);
      if (!gcm.tagMatches(src, tagAt)) return SrtpFailure.AuthFailed;
      if (src !== out) src.copy(out, 0, 0, tagAt);
    }
    return tagAt;
  }
}
