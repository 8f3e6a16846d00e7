import {
  type CipherGCMTypes,
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type DecipherGCM,
  type KeyObject,
} from 'node:crypto';
import { SrtpFailure } from './failure.ts';
import type { SrtpSessionKeySet } from './kdf.ts';
import { SRTCP_INDEX_LENGTH } from './profiles.ts';
import { RTCP_CLEAR_LENGTH, type SrtpTransform } from './transform.ts';

/** RFC 7714 §13.2: the AEAD profiles carry the full 16-octet GCM tag. */
const TAG_LENGTH = 16;
const IV_LENGTH = 12;

// Shared scratch: each is filled and consumed within one synchronous call (createCipheriv copies the IV).
const iv = Buffer.alloc(IV_LENGTH);
/** RFC 7714 §9.2: the AAD of an encrypted SRTCP packet is its first 8 octets ‖ the ESRTCP word. */
const rtcpAad = Buffer.alloc(RTCP_CLEAR_LENGTH + SRTCP_INDEX_LENGTH);

/**
 * AEAD_AES_128_GCM / AEAD_AES_256_GCM (RFC 7714). node:crypto cannot give a GCM cipher a new IV, so each
 * packet makes one cipher object — most of the cost, with the garbage it leaves. The rest is kept out of the
 * per-packet path: the key is a KeyObject made once (no raw-key import per packet; measured equal or a few
 * percent faster), and the IV and SRTCP AAD buffers are preallocated.
 */
export class AesGcmTransform implements SrtpTransform {
  readonly rtpTagLength = TAG_LENGTH;
  readonly rtcpTrailerLength = TAG_LENGTH + SRTCP_INDEX_LENGTH;
  /** §9.2: the ESRTCP word follows the tag, the reverse of RFC 3711's layout. */
  readonly rtcpIndexFromEnd = SRTCP_INDEX_LENGTH;
  readonly #algorithm: CipherGCMTypes;
  readonly #rtpKey: KeyObject;
  readonly #rtpSalt: Buffer;
  readonly #rtcpKey: KeyObject;
  readonly #rtcpSalt: Buffer;

  constructor(keys: SrtpSessionKeySet) {
    this.#algorithm = keys.rtp.encryptionKey.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm';
    this.#rtpKey = createSecretKey(keys.rtp.encryptionKey);
    this.#rtpSalt = Buffer.from(keys.rtp.salt);
    this.#rtcpKey = createSecretKey(keys.rtcp.encryptionKey);
    this.#rtcpSalt = Buffer.from(keys.rtcp.salt);
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
    rtpIv(this.#rtpSalt, ssrc, roc, seq);
    const cipher = createCipheriv(this.#algorithm, this.#rtpKey, iv);
    // §8.2: the AAD is the RTP header, CSRCs and extension included.
    cipher.setAAD(src.subarray(0, headerLength));
    const encrypted = cipher.update(src.subarray(headerLength, length));
    cipher.final();
    if (src !== out) src.copy(out, 0, 0, headerLength);
    encrypted.copy(out, headerLength);
    cipher.getAuthTag().copy(out, length);
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
    rtpIv(this.#rtpSalt, ssrc, roc, seq);
    const decipher = createDecipheriv(this.#algorithm, this.#rtpKey, iv);
    decipher.setAAD(src.subarray(0, headerLength));
    decipher.setAuthTag(src.subarray(end, length));
    const plain = decipher.update(src.subarray(headerLength, end));
    if (!verified(decipher)) return SrtpFailure.AuthFailed;
    if (src !== out) src.copy(out, 0, 0, headerLength);
    plain.copy(out, headerLength);
    return end;
  }

  sealRtcp(src: Buffer, out: Buffer, length: number, ssrc: number, index: number): number {
    rtcpIv(this.#rtcpSalt, ssrc, index);
    src.copy(rtcpAad, 0, 0, RTCP_CLEAR_LENGTH);
    rtcpAad.writeUInt32BE((0x80000000 | index) >>> 0, RTCP_CLEAR_LENGTH);
    const cipher = createCipheriv(this.#algorithm, this.#rtcpKey, iv);
    cipher.setAAD(rtcpAad);
    const encrypted = cipher.update(src.subarray(RTCP_CLEAR_LENGTH, length));
    cipher.final();
    if (src !== out) src.copy(out, 0, 0, RTCP_CLEAR_LENGTH);
    encrypted.copy(out, RTCP_CLEAR_LENGTH);
    cipher.getAuthTag().copy(out, length);
    rtcpAad.copy(out, length + TAG_LENGTH, RTCP_CLEAR_LENGTH);
    return length + TAG_LENGTH + SRTCP_INDEX_LENGTH;
  }

  openRtcp(src: Buffer, out: Buffer, length: number, ssrc: number, esrtcpWord: number): number {
    const wordAt = length - SRTCP_INDEX_LENGTH;
    const tagAt = wordAt - TAG_LENGTH;
    rtcpIv(this.#rtcpSalt, ssrc, esrtcpWord & 0x7fffffff);
    const decipher = createDecipheriv(this.#algorithm, this.#rtcpKey, iv);
    decipher.setAuthTag(src.subarray(tagAt, wordAt));
    if (esrtcpWord >>> 31 === 1) {
      src.copy(rtcpAad, 0, 0, RTCP_CLEAR_LENGTH);
      src.copy(rtcpAad, RTCP_CLEAR_LENGTH, wordAt, length);
      decipher.setAAD(rtcpAad);
      const plain = decipher.update(src.subarray(RTCP_CLEAR_LENGTH, tagAt));
      if (!verified(decipher)) return SrtpFailure.AuthFailed;
      if (src !== out) src.copy(out, 0, 0, RTCP_CLEAR_LENGTH);
      plain.copy(out, RTCP_CLEAR_LENGTH);
    } else {
      // §9.3 (E = 0, tagged only): the AAD is the whole RTCP packet ‖ the ESRTCP word, the cipher just the tag.
      decipher.setAAD(src.subarray(0, tagAt));
      decipher.setAAD(src.subarray(wordAt, length));
      if (!verified(decipher)) return SrtpFailure.AuthFailed;
      if (src !== out) src.copy(out, 0, 0, tagAt);
    }
    return tagAt;
  }
}

/** RFC 7714 §8.1: IV = (0x0000 ‖ SSRC ‖ ROC ‖ SEQ) ⊕ salt. */
function rtpIv(salt: Buffer, ssrc: number, roc: number, seq: number): void {
  iv[0] = salt[0]!;
  iv[1] = salt[1]!;
  iv[2] = salt[2]! ^ (ssrc >>> 24);
  iv[3] = salt[3]! ^ (ssrc >>> 16);
  iv[4] = salt[4]! ^ (ssrc >>> 8);
  iv[5] = salt[5]! ^ ssrc;
  iv[6] = salt[6]! ^ (roc >>> 24);
  iv[7] = salt[7]! ^ (roc >>> 16);
  iv[8] = salt[8]! ^ (roc >>> 8);
  iv[9] = salt[9]! ^ roc;
  iv[10] = salt[10]! ^ (seq >>> 8);
  iv[11] = salt[11]! ^ seq;
}

/** RFC 7714 §9.1: IV = (0x0000 ‖ SSRC ‖ 0x0000 ‖ 0 ‖ 31-bit SRTCP index) ⊕ salt; the E flag is not in it. */
function rtcpIv(salt: Buffer, ssrc: number, index: number): void {
  iv[0] = salt[0]!;
  iv[1] = salt[1]!;
  iv[2] = salt[2]! ^ (ssrc >>> 24);
  iv[3] = salt[3]! ^ (ssrc >>> 16);
  iv[4] = salt[4]! ^ (ssrc >>> 8);
  iv[5] = salt[5]! ^ ssrc;
  iv[6] = salt[6]!;
  iv[7] = salt[7]!;
  iv[8] = salt[8]! ^ (index >>> 24);
  iv[9] = salt[9]! ^ (index >>> 16);
  iv[10] = salt[10]! ^ (index >>> 8);
  iv[11] = salt[11]! ^ index;
}

/** GCM reports a wrong tag by throwing from final(); that is the one exception on this path, caught here. */
function verified(decipher: DecipherGCM): boolean {
  try {
    decipher.final();
    return true;
  } catch {
    return false;
  }
}
