import { AesCm } from './aes-cm.ts';
import { SrtpFailure } from './failure.ts';
import { HmacSha1, tagMatches } from './hmac-sha1.ts';
import type { SrtpSessionKeySet } from './kdf.ts';
import { SRTCP_INDEX_LENGTH } from './profiles.ts';
import { RTCP_CLEAR_LENGTH, type SrtpTransform } from './transform.ts';

/** RFC 3711 §5.2 / RFC 5764 §4.1.2: SRTCP always carries the 80-bit tag, whatever the SRTP tag length. */
const SRTCP_TAG_LENGTH = 10;

/**
 * AES_CM_128 encryption with HMAC_SHA1 authentication (RFC 3711 §4.1.1, §4.2.1) — encrypt, then MAC the
 * whole packet; on receipt, verify before decrypting anything.
 */
export class AesCmHmacSha1Transform implements SrtpTransform {
  readonly rtpTagLength: number;
  readonly rtcpTrailerLength = SRTCP_INDEX_LENGTH + SRTCP_TAG_LENGTH;
  readonly rtcpIndexFromEnd = SRTCP_INDEX_LENGTH + SRTCP_TAG_LENGTH;
  readonly #rtpCipher: AesCm;
  readonly #rtpAuth: HmacSha1;
  readonly #rtcpCipher: AesCm;
  readonly #rtcpAuth: HmacSha1;

  constructor(keys: SrtpSessionKeySet, rtpTagLength: number) {
    this.rtpTagLength = rtpTagLength;
    // Batched: an SRTP stream's indices are consecutive; SRTCP's are too, but a few seconds apart.
    this.#rtpCipher = new AesCm(keys.rtp.encryptionKey, keys.rtp.salt, true);
    this.#rtpAuth = new HmacSha1(keys.rtp.authenticationKey);
    this.#rtcpCipher = new AesCm(keys.rtcp.encryptionKey, keys.rtcp.salt);
    this.#rtcpAuth = new HmacSha1(keys.rtcp.authenticationKey);
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
    if (src !== out) src.copy(out, 0, 0, headerLength);
    this.#rtpCipher.xor(src, out, headerLength, length, ssrc, roc, seq);
    // §4.2: the authenticated portion is header ‖ encrypted payload, and the ROC is appended to it.
    const mac = this.#rtpAuth.macWithSuffix(out, length, roc);
    const tagLength = this.rtpTagLength;
    for (let i = 0; i < tagLength; i++) out[length + i] = mac[i]!;
    return length + tagLength;
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
    const tagLength = this.rtpTagLength;
    const end = length - tagLength;
    const mac = this.#rtpAuth.macWithSuffix(src, end, roc);
    if (!tagMatches(mac, src, end, tagLength)) return SrtpFailure.AuthFailed;
    if (src !== out) src.copy(out, 0, 0, headerLength);
    this.#rtpCipher.xor(src, out, headerLength, end, ssrc, roc, seq);
    return end;
  }

  sealRtcp(src: Buffer, out: Buffer, length: number, ssrc: number, index: number): number {
    if (src !== out) src.copy(out, 0, 0, RTCP_CLEAR_LENGTH);
    // §4.1.1: for SRTCP the 48-bit i of the IV is the SRTCP index.
    this.#rtcpCipher.xor(src, out, RTCP_CLEAR_LENGTH, length, ssrc, index >>> 16, index & 0xffff);
    // §3.4: E flag (always set: we always encrypt) ‖ SRTCP index, then the tag over everything before it.
    out[length] = 0x80 | (index >>> 24);
    out[length + 1] = index >>> 16;
    out[length + 2] = index >>> 8;
    out[length + 3] = index;
    const authenticated = length + SRTCP_INDEX_LENGTH;
    const mac = this.#rtcpAuth.mac(out, authenticated);
    for (let i = 0; i < SRTCP_TAG_LENGTH; i++) out[authenticated + i] = mac[i]!;
    return authenticated + SRTCP_TAG_LENGTH;
  }

  openRtcp(src: Buffer, out: Buffer, length: number, ssrc: number, esrtcpWord: number): number {
    const authenticated = length - SRTCP_TAG_LENGTH;
    const mac = this.#rtcpAuth.mac(src, authenticated);
    if (!tagMatches(mac, src, authenticated, SRTCP_TAG_LENGTH)) return SrtpFailure.AuthFailed;
    const end = authenticated - SRTCP_INDEX_LENGTH;
    if (esrtcpWord >>> 31 === 1) {
      if (src !== out) src.copy(out, 0, 0, RTCP_CLEAR_LENGTH);
      const index = esrtcpWord & 0x7fffffff;
      this.#rtcpCipher.xor(src, out, RTCP_CLEAR_LENGTH, end, ssrc, index >>> 16, index & 0xffff);
    } else if (src !== out) {
      src.copy(out, 0, 0, end);
    }
    return end;
  }
}
