/**
 * First-byte demultiplexing of the one UDP socket a WebRTC leg owns (RFC 7983 §7, updating RFC 5764 §5.1.2):
 * STUN, DTLS and SRTP/SRTCP share the 5-tuple because of rtcp-mux and BUNDLE, and the first byte tells them
 * apart without parsing. Inside the RTP range, RTCP is told from RTP by the second byte (RFC 5761 §4: with
 * rtcp-mux, RTP payload types 64–95 are avoided so that RTCP packet types 192–223 stay unambiguous).
 */

/** RFC 7983 §7: 0–3 is STUN (the two leading zero bits of every STUN message, RFC 5389 §6). */
export const isStun = (firstByte: number): boolean => firstByte <= 3;

/** RFC 7983 §7: 20–63 is DTLS (content types 20–25 today, the range reserved for future ones). */
export const isDtls = (firstByte: number): boolean => firstByte >= 20 && firstByte <= 63;

/** RFC 7983 §7: 128–191 is RTP or RTCP (version 2 in the top two bits). */
export const isRtpOrRtcp = (firstByte: number): boolean => firstByte >= 128 && firstByte <= 191;

/** RFC 5761 §4: second byte 192–223 is an RTCP packet type (SR 200, RR 201, SDES 202, BYE 203, APP 204, RTPFB 205, PSFB 206, XR 207…). */
export const isRtcp = (secondByte: number): boolean => secondByte >= 192 && secondByte <= 223;
