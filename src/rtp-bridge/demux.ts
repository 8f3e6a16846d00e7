/**
 * First-byte demultiplexing of packets sharing one UDP 5-tuple, RFC 7983 §7 (updating RFC 5764 §5.1.2):
 *
 *                  +----------------+
 *                  |        [0..3] -+--> STUN
 *                  |      [16..19] -+--> ZRTP
 *      packet -->  |      [20..63] -+--> DTLS
 *                  |      [64..79] -+--> TURN Channel
 *                  |    [128..191] -+--> RTP/RTCP
 *                  +----------------+
 *
 * Within [128..191], RTP and RTCP are told apart by the second byte, RFC 5761 §4: RTCP packet types 192–223
 * occupy the RTP payload-type values 64–95 (marker bit masked off), which an RTP session using rtcp-mux must
 * not use as payload types.
 *
 * This file deliberately imports nothing: the WebRTC leg (src/webrtc) may copy or move it without taking a
 * dependency on src/rtp-bridge. Every predicate is a pure function of one or two bytes and allocates nothing.
 */

/** RFC 7983 §7: STUN messages begin with the two zero bits of the STUN header, so the first byte is 0–3. */
export const isStun = (firstByte: number): boolean => firstByte <= 3;

/** RFC 7983 §7 / RFC 6189: ZRTP. */
export const isZrtp = (firstByte: number): boolean => firstByte >= 16 && firstByte <= 19;

/** RFC 7983 §7: DTLS record content types (20–63, of which 20–25 are assigned). */
export const isDtls = (firstByte: number): boolean => firstByte >= 20 && firstByte <= 63;

/** RFC 7983 §7 / RFC 8656 §12: TURN ChannelData channel numbers 0x4000–0x4FFF. */
export const isTurnChannel = (firstByte: number): boolean => firstByte >= 64 && firstByte <= 79;

/** RFC 7983 §7: version 2 RTP or RTCP (the top two bits are 0b10). */
export const isRtpOrRtcp = (firstByte: number): boolean => firstByte >= 128 && firstByte <= 191;

/** RFC 5761 §4: with the marker bit masked off, 64–95 means RTCP packet types 192–223. */
export const isRtcpSecondByte = (secondByte: number): boolean => (secondByte & 0x7f) >= 64 && (secondByte & 0x7f) <= 95;

export type PacketClass = 'stun' | 'zrtp' | 'dtls' | 'turn-channel' | 'rtp' | 'rtcp' | 'unknown';

/**
 * Classify a received datagram. `length` is the number of valid bytes in `buf` (a receive buffer may be larger).
 * Returns 'unknown' for anything RFC 7983 does not assign (including QUIC, RFC 9443, which we do not speak) and
 * for an RTP/RTCP first byte with no second byte.
 */
export function classifyPacket(buf: Uint8Array, length: number = buf.length): PacketClass {
  if (length < 1) return 'unknown';
  const b0 = buf[0]!;
  if (b0 >= 128) {
    if (b0 > 191 || length < 2) return 'unknown';
    return isRtcpSecondByte(buf[1]!) ? 'rtcp' : 'rtp';
  }
  if (isStun(b0)) return 'stun';
  if (isDtls(b0)) return 'dtls';
  if (isZrtp(b0)) return 'zrtp';
  if (isTurnChannel(b0)) return 'turn-channel';
  return 'unknown';
}
