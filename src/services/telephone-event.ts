/**
 * RFC 4733 telephone-event reception: tells once per key press which DTMF digit was pressed, from RTP packets
 * of the negotiated telephone-event payload type. Pure state, no I/O; reads the packet in place.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   |     event     |E|R| volume    |          duration             |     (RFC 4733 §2.3)
 *
 * An event is identified by its RTP timestamp, which stays the event's start for all its packets (§2.5.1); the
 * sender repeats the final packet, E bit set, three times (§2.5.1.4). So an event is reported on the first end
 * packet and later packets with that timestamp are ignored. When every end packet was lost the event is still
 * reported, when a packet of the next event (another timestamp) arrives (§2.5.2: a new event ends the current
 * one). A long press split into segments (§2.5.1.3: a new timestamp after each 0xFFFF of duration, E only on
 * the last) is one press: a segment that starts where the previous one ended is not a new event.
 */
import { rtpHeaderLength, rtpPayloadLength, ssrc, timestamp } from '../rtp-bridge/rtp-packet.ts';

/** RFC 4733 §3.2 Table 7: events 0–15 are the DTMF digits in this order. */
const DIGITS = '0123456789*#ABCD';

export type DtmfDigit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '*' | '#' | 'A' | 'B' | 'C' | 'D';

/** The DTMF digit of an RFC 4733 event code; undefined for the other events (flash, fax tones, …). */
export function eventDigit(event: number): DtmfDigit | undefined {
  return event >= 0 && event < DIGITS.length ? (DIGITS[event] as DtmfDigit) : undefined;
}

/** The RFC 4733 event code of a DTMF digit. */
export function digitEvent(digit: DtmfDigit): number {
  return DIGITS.indexOf(digit);
}

/** Called once per event: its code and its duration in timestamp units (0 when the end was never seen). */
export type TelephoneEventHandler = (event: number, duration: number) => void;

export class TelephoneEventReceiver {
  /** Packets too short to hold an event (RFC 4733 §2.3: 4 octets). */
  malformed = 0;

  readonly #onEvent: TelephoneEventHandler;
  #active = false;
  #activeSsrc = 0;
  #activeTs = 0;
  #activeEvent = 0;
  #activeDuration = 0;
  #ended = false;
  #endedSsrc = 0;
  #endedTs = 0;

  constructor(onEvent: TelephoneEventHandler) {
    this.#onEvent = onEvent;
  }

  /** One RTP packet of the telephone-event payload type; `checkRtp(buf, length)` must have passed. */
  receive(buf: Buffer, length: number): void {
    if (rtpPayloadLength(buf, length) < 4) {
      this.malformed++;
      return;
    }
    const at = rtpHeaderLength(buf);
    const event = buf[at]!;
    const end = (buf[at + 1]! & 0x80) !== 0;
    const duration = (buf[at + 2]! << 8) | buf[at + 3]!;
    const source = ssrc(buf);
    const ts = timestamp(buf);

    // A retransmitted end packet, or a straggler of an event already reported.
    if (this.#ended && ts === this.#endedTs && source === this.#endedSsrc) return;

    if (this.#active && (ts !== this.#activeTs || source !== this.#activeSsrc)) {
      const continues = source === this.#activeSsrc && event === this.#activeEvent && ts === ((this.#activeTs + this.#activeDuration) >>> 0);
      if (!continues) {
        // The previous event's end packets were all lost: it ended when this one began.
        this.#active = false;
        this.#onEvent(this.#activeEvent, 0);
      }
    }

    if (end) {
      this.#active = false;
      this.#ended = true;
      this.#endedSsrc = source;
      this.#endedTs = ts;
      this.#onEvent(event, duration);
      return;
    }
    this.#active = true;
    this.#activeSsrc = source;
    this.#activeTs = ts;
    this.#activeEvent = event;
    this.#activeDuration = duration;
  }
}
