/**
 * A marker the test phone writes at the start of each audio payload it sends, so a test can tell that what
 * comes back (from an echo service, or from the other phone through the gateway) is exactly what was sent,
 * in order, and how long it took:
 *
 *   0..3  "TPHN"   magic
 *   4..7  stream   uint32, random per startSending() — tells two streams (or two phones) apart
 *   8..11 frame    uint32, the frame counter (0, 1, 2 …), independent of the RTP sequence number
 *   12..19 sentAt  float64, Date.now() when the frame was built
 *   20..   fill    G.711 silence (0xFF μ-law, 0xD5 A-law) up to the frame size
 *
 * The gateway relays payloads untouched (it does not transcode), so the marker survives it byte for byte.
 */
export const MARKER_MAGIC = 0x5450484e; // "TPHN"
export const MARKER_LENGTH = 20;

export interface RtpMarker {
  stream: number;
  frame: number;
  sentAt: number;
}

export function encodeMarker(marker: RtpMarker, size: number, fill = 0xff): Buffer {
  const payload = Buffer.alloc(Math.max(size, MARKER_LENGTH), fill);
  payload.writeUInt32BE(MARKER_MAGIC, 0);
  payload.writeUInt32BE(marker.stream >>> 0, 4);
  payload.writeUInt32BE(marker.frame >>> 0, 8);
  payload.writeDoubleBE(marker.sentAt, 12);
  return payload;
}

/** The marker of a payload, or undefined when it carries none (another source, or a changed payload). */
export function decodeMarker(payload: Buffer): RtpMarker | undefined {
  if (payload.length < MARKER_LENGTH || payload.readUInt32BE(0) !== MARKER_MAGIC) return undefined;
  return { stream: payload.readUInt32BE(4), frame: payload.readUInt32BE(8), sentAt: payload.readDoubleBE(12) };
}

/** G.711 silence for the static payload type: A-law (8) is 0xD5, everything else gets μ-law's 0xFF. */
export function silenceByte(payloadType: number): number {
  return payloadType === 8 ? 0xd5 : 0xff;
}
