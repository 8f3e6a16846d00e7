/**
 * Zero-allocation helpers for (compound) RTCP, RFC 3550 §6.4–6.6 and RFC 4585 §6.1 / RFC 3611 §2, read in place.
 *
 * A compound packet is a run of RTCP packets, each starting with
 *
 *    0                   1                   2                   3
 *   |V=2|P|  count  |      PT       |             length            |
 *
 * where `length` is the packet's size in 32-bit words minus one. Walk it with
 * `for (let off = 0; off < length; off += rtcpPacketLength(buf, off))` after `checkRtcpCompound` said 'ok'.
 */
import { readUint32 } from './rtp-packet.ts';

export const RtcpType = {
  SR: 200,
  RR: 201,
  SDES: 202,
  BYE: 203,
  APP: 204,
  RTPFB: 205, // RFC 4585 transport-layer feedback
  PSFB: 206, // RFC 4585 payload-specific feedback
  XR: 207, // RFC 3611 extended reports
} as const;
export type RtcpType = (typeof RtcpType)[keyof typeof RtcpType];

/** Sender info (RFC 3550 §6.4.1) follows the 8-byte SR header; report blocks follow the sender info. */
export const SR_REPORT_BLOCKS_OFFSET = 28;
export const RR_REPORT_BLOCKS_OFFSET = 8;
export const REPORT_BLOCK_SIZE = 24;

export type RtcpCheck =
  | 'ok'
  | 'too-short' // less than one 4-byte header, or a header without its sender SSRC where one is required
  | 'bad-version' // some packet of the compound is not version 2
  | 'bad-length' // the length fields do not add up to the datagram size (RFC 3550 A.2)
  | 'bad-padding' // padding on a packet that is not the last one (RFC 3550 A.2)
  | 'bad-count'; // an SR/RR whose report blocks do not fit in its length

/**
 * The validity checks of RFC 3550 Appendix A.2, minus "the first packet is SR or RR": RFC 5506 §3.1 (reduced-size
 * RTCP, negotiated by browsers with a=rtcp-rsize) lifts that rule, so a lone feedback packet is accepted.
 */
export function checkRtcpCompound(buf: Uint8Array, length: number): RtcpCheck {
  if (length < 8) return 'too-short';
  let off = 0;
  while (off < length) {
    if (off + 4 > length) return 'bad-length';
    const b0 = buf[off]!;
    if ((b0 & 0xc0) !== 0x80) return 'bad-version';
    const size = rtcpPacketLength(buf, off);
    if (off + size > length) return 'bad-length';
    if ((b0 & 0x20) !== 0 && off + size !== length) return 'bad-padding';
    const pt = buf[off + 1]!;
    if (pt === RtcpType.SR || pt === RtcpType.RR) {
      const first = pt === RtcpType.SR ? SR_REPORT_BLOCKS_OFFSET : RR_REPORT_BLOCKS_OFFSET;
      if (first + (b0 & 0x1f) * REPORT_BLOCK_SIZE > size) return 'bad-count';
    } else if (pt !== RtcpType.SDES && pt !== RtcpType.BYE && size < 8) {
      // APP, feedback and XR all carry a sender SSRC after the header.
      return 'too-short';
    }
    off += size;
  }
  return 'ok';
}

export const rtcpPacketType = (buf: Uint8Array, off: number): number => buf[off + 1]!;
/** The 5-bit count field: report blocks for SR/RR, chunks for SDES, sources for BYE, FMT for feedback. */
export const rtcpCount = (buf: Uint8Array, off: number): number => buf[off]! & 0x1f;
/** Size of the RTCP packet at `off` in bytes, header included. */
export const rtcpPacketLength = (buf: Uint8Array, off: number): number => (((buf[off + 2]! << 8) | buf[off + 3]!) + 1) * 4;
/** SSRC of the packet sender (SR, RR, APP, RTPFB, PSFB, XR): the word after the header. */
export const rtcpSenderSsrc = (buf: Uint8Array, off: number): number => readUint32(buf, off + 4);

/** Offset of report block `index` in the SR/RR at `off`. */
export function reportBlockOffset(buf: Uint8Array, off: number, index: number): number {
  const first = buf[off + 1] === RtcpType.SR ? SR_REPORT_BLOCKS_OFFSET : RR_REPORT_BLOCKS_OFFSET;
  return off + first + index * REPORT_BLOCK_SIZE;
}

// Report block fields (RFC 3550 §6.4.1), by the offset of the block.
export const blockSsrc = (buf: Uint8Array, block: number): number => readUint32(buf, block);
export const blockFractionLost = (buf: Uint8Array, block: number): number => buf[block + 4]!;
/** Cumulative number of packets lost: a signed 24-bit value (duplicates can make it negative). */
export function blockCumulativeLost(buf: Uint8Array, block: number): number {
  const v = (buf[block + 5]! << 16) | (buf[block + 6]! << 8) | buf[block + 7]!;
  return v & 0x800000 ? v - 0x1000000 : v;
}
export const blockExtendedHighestSeq = (buf: Uint8Array, block: number): number => readUint32(buf, block + 8);
export const blockJitter = (buf: Uint8Array, block: number): number => readUint32(buf, block + 12);
/** Middle 32 bits of the NTP timestamp of the last SR received from this source, or 0. */
export const blockLsr = (buf: Uint8Array, block: number): number => readUint32(buf, block + 16);
/** Delay since that SR, in units of 1/65536 s. */
export const blockDlsr = (buf: Uint8Array, block: number): number => readUint32(buf, block + 20);

/** Middle 32 bits of the SR's NTP timestamp: what a receiver echoes in LSR (RFC 3550 §6.4.1). */
export const srNtpMiddle32 = (buf: Uint8Array, off: number): number => readUint32(buf, off + 10);
export const srRtpTimestamp = (buf: Uint8Array, off: number): number => readUint32(buf, off + 16);
export const srPacketCount = (buf: Uint8Array, off: number): number => readUint32(buf, off + 20);
export const srOctetCount = (buf: Uint8Array, off: number): number => readUint32(buf, off + 24);
