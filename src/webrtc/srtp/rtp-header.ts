import { SrtpFailure } from './failure.ts';

const RTP_FIXED_HEADER = 12;

/**
 * The length of the RTP header — fixed part, CSRC list and header extension (RFC 3550 §5.1, §5.3.1) — which
 * SRTP leaves in the clear and authenticates, or Malformed if the packet is not version 2 or the header does
 * not fit in the first `limit` octets (for an SRTP packet: everything before the tag).
 */
export function rtpHeaderLength(packet: Uint8Array, limit: number): number {
  if (limit < RTP_FIXED_HEADER) return SrtpFailure.Malformed;
  const b0 = packet[0]!;
  if ((b0 & 0xc0) !== 0x80) return SrtpFailure.Malformed;
  let length = RTP_FIXED_HEADER + (b0 & 0x0f) * 4;
  if ((b0 & 0x10) !== 0) {
    // §5.3.1: 16 bits defined by profile, 16 bits of length in 32-bit words, then the words.
    if (length + 4 > limit) return SrtpFailure.Malformed;
    length += 4 + ((packet[length + 2]! << 8) | packet[length + 3]!) * 4;
  }
  return length > limit ? SrtpFailure.Malformed : length;
}
