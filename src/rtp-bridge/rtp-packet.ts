/**
 * Zero-allocation accessors for the RTP fixed header (RFC 3550 §5.1), read and written in place.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                           timestamp                           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           synchronization source (SSRC) identifier            |
 *   +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *   |            contributing source (CSRC) identifiers             |
 *
 * The field accessors assume the caller has checked the packet with `checkRtp` (or at least `length >= 12`);
 * they are meant for the per-packet path and do no bounds checks of their own. Functions take a `length`
 * because a receive buffer may hold more bytes than the datagram.
 */

export const RTP_VERSION = 2;
export const RTP_FIXED_HEADER_SIZE = 12;
export const RTCP_HEADER_SIZE = 4;

/** Outcome of `checkRtp`: a string constant, so the per-packet path allocates nothing to report a failure. */
export type RtpCheck =
  | 'ok'
  | 'too-short' // shorter than the 12-byte fixed header
  | 'bad-version' // V != 2 (RFC 3550 §5.1)
  | 'rtcp' // second byte in the RTCP range, RFC 5761 §4
  | 'bad-csrc' // CC CSRC entries do not fit
  | 'bad-extension' // X set but the extension header or its words do not fit
  | 'bad-padding'; // P set but the padding count is zero or eats into the header

export const isVersion2 = (buf: Uint8Array, length: number): boolean => length >= 1 && (buf[0]! & 0xc0) === 0x80;

/**
 * RFC 5761 §4: when RTP and RTCP share a port, a version-2 packet whose second byte is 192–223 (PT 64–95 with
 * the marker bit set or not) is RTCP.
 */
export function isRtcp(buf: Uint8Array, length: number): boolean {
  if (length < 8 || (buf[0]! & 0xc0) !== 0x80) return false;
  const pt = buf[1]! & 0x7f;
  return pt >= 64 && pt <= 95;
}

/** A version-2 packet with a complete fixed header that is not RTCP by the RFC 5761 §4 rule. */
export function isRtp(buf: Uint8Array, length: number): boolean {
  if (length < RTP_FIXED_HEADER_SIZE || (buf[0]! & 0xc0) !== 0x80) return false;
  const pt = buf[1]! & 0x7f;
  return pt < 64 || pt > 95;
}

/** Structural validation of an RTP packet (RFC 3550 §5.1, §5.3.1, and the validity checks of Appendix A.1). */
export function checkRtp(buf: Uint8Array, length: number): RtpCheck {
  if (length < RTP_FIXED_HEADER_SIZE) return 'too-short';
  const b0 = buf[0]!;
  if ((b0 & 0xc0) !== 0x80) return 'bad-version';
  const pt = buf[1]! & 0x7f;
  if (pt >= 64 && pt <= 95) return 'rtcp';
  let headerLength = RTP_FIXED_HEADER_SIZE + (b0 & 0x0f) * 4;
  if (headerLength > length) return 'bad-csrc';
  if ((b0 & 0x10) !== 0) {
    // RFC 3550 §5.3.1: a 4-byte extension header (profile-defined 16 bits, length in 32-bit words).
    if (headerLength + 4 > length) return 'bad-extension';
    headerLength += 4 + ((buf[headerLength + 2]! << 8) | buf[headerLength + 3]!) * 4;
    if (headerLength > length) return 'bad-extension';
  }
  if ((b0 & 0x20) !== 0) {
    // RFC 3550 §5.1: the last octet of the padding counts the padding octets, itself included.
    const padding = buf[length - 1]!;
    if (padding === 0 || headerLength + padding > length) return 'bad-padding';
  }
  return 'ok';
}

export const hasPadding = (buf: Uint8Array): boolean => (buf[0]! & 0x20) !== 0;
export const hasExtension = (buf: Uint8Array): boolean => (buf[0]! & 0x10) !== 0;
export const csrcCount = (buf: Uint8Array): number => buf[0]! & 0x0f;
export const marker = (buf: Uint8Array): boolean => (buf[1]! & 0x80) !== 0;
export const payloadType = (buf: Uint8Array): number => buf[1]! & 0x7f;
export const sequenceNumber = (buf: Uint8Array): number => (buf[2]! << 8) | buf[3]!;
export const timestamp = (buf: Uint8Array): number => readUint32(buf, 4);
export const ssrc = (buf: Uint8Array): number => readUint32(buf, 8);

export function setMarker(buf: Uint8Array, on: boolean): void {
  buf[1] = on ? buf[1]! | 0x80 : buf[1]! & 0x7f;
}

/** Replaces the payload type and keeps the marker bit. */
export function setPayloadType(buf: Uint8Array, pt: number): void {
  buf[1] = (buf[1]! & 0x80) | (pt & 0x7f);
}

export function setSequenceNumber(buf: Uint8Array, seq: number): void {
  buf[2] = (seq >>> 8) & 0xff;
  buf[3] = seq & 0xff;
}

export const setTimestamp = (buf: Uint8Array, ts: number): void => writeUint32(buf, 4, ts);
export const setSsrc = (buf: Uint8Array, value: number): void => writeUint32(buf, 8, value);

/** Fixed header + CSRC list + header extension, in bytes. Precondition: `checkRtp(buf, length) === 'ok'`. */
export function rtpHeaderLength(buf: Uint8Array): number {
  const b0 = buf[0]!;
  let headerLength = RTP_FIXED_HEADER_SIZE + (b0 & 0x0f) * 4;
  if ((b0 & 0x10) !== 0) headerLength += 4 + ((buf[headerLength + 2]! << 8) | buf[headerLength + 3]!) * 4;
  return headerLength;
}

/** Payload bytes, padding excluded. Precondition: `checkRtp(buf, length) === 'ok'`. */
export function rtpPayloadLength(buf: Uint8Array, length: number): number {
  const padding = (buf[0]! & 0x20) !== 0 ? buf[length - 1]! : 0;
  return length - rtpHeaderLength(buf) - padding;
}

/** Unsigned 32-bit big-endian read (never negative). */
export function readUint32(buf: Uint8Array, offset: number): number {
  return buf[offset]! * 0x1000000 + ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!);
}

export function writeUint32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = (value >>> 24) & 0xff;
  buf[offset + 1] = (value >>> 16) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
}
