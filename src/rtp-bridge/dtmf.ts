/**
 * RFC 4733 telephone events (DTMF) on the relay: detecting the digits a side sends, and playing digits towards a
 * side (ng `play DTMF`).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   |     event     |E|R| volume    |          duration             |     (RFC 4733 §2.3)
 *
 * Detection reads relayed packets in place (before the rewriter touches them) and reports each event once: an
 * event is identified by its SSRC and RTP timestamp, which stays the event's start for all its packets
 * (§2.5.1.1); it is reported on its first end packet (E bit), and its retransmitted end packets (§2.5.1.4) are
 * ignored. When every end packet was lost, the event is reported when the next one starts (§2.5.2.1: a new
 * timestamp ends the previous event).
 *
 * Playing generates the event as a sender does (§2.5.1): a first packet with the marker bit (§2.5.1.1), an
 * update every 50 ms with the growing duration (§2.5.1.2), and the final packet three times at the same interval
 * (§2.5.1.4) — all with the same timestamp. The packets enter the relay path towards the side as a new incoming
 * source, so the StreamRewriter of that direction gives them its SSRC and the next sequence numbers, and the
 * sender's own audio in that direction is held back while the event plays: the receiver sees one continuous
 * stream (no sequence regression for an SRTP replay window, RFC 3711 §3.3.2) before, during and after the event.
 */
import { randomInt } from 'node:crypto';
import { GatewayError } from '../errors.ts';
import type { RelayPath } from './relay.ts';
import { readUint32, rtpHeaderLength, rtpPayloadLength, writeUint32 } from './rtp-packet.ts';

/** RFC 4733 §3.2 Table 7: events 0–15 are the DTMF digits in this order. */
const DIGITS = '0123456789*#ABCD';

/** How often an event's packets are sent (§2.5.1.2 leaves it to the sender; 50 ms is the common choice). */
export const DTMF_UPDATE_INTERVAL_MS = 50;
/** §2.5.1.4: the final packet is sent three times. */
export const DTMF_END_PACKETS = 3;
/** RFC 4733 §2.3.4 volume: 0 to -63 dBm0; 10 is what phones commonly send. */
export const DTMF_VOLUME = 10;
const MIN_DURATION_MS = 20;

export class DtmfError extends GatewayError {
  constructor(code: 'BAD_DTMF_DIGIT' | 'DTMF_NOT_NEGOTIATED', message: string) {
    super(code, message);
  }
}

export function eventDigit(event: number): string | undefined {
  return event >= 0 && event < DIGITS.length ? DIGITS[event] : undefined;
}

/** The RFC 4733 event code of a DTMF digit (0-9, *, #, A-D, case-insensitive), or DtmfError. */
export function digitEvent(digit: string): number {
  const event = digit.length === 1 ? DIGITS.indexOf(digit.toUpperCase()) : -1;
  if (event < 0) throw new DtmfError('BAD_DTMF_DIGIT', `not a DTMF digit: ${JSON.stringify(digit)}`);
  return event;
}

/** Called once per event with its code and its duration in timestamp units (0 when no end packet was seen). */
export type DtmfHandler = (event: number, durationUnits: number) => void;

export class DtmfDetector {
  /** Input payload types carrying telephone-event on this path: 1, others 0. Read per packet by the relay. */
  readonly payloadTypes = new Uint8Array(128);
  /** Event packets with less than the 4-byte event payload. */
  malformed = 0;

  readonly #onEvent: DtmfHandler;
  #active = false;
  #activeSsrc = 0;
  #activeTs = 0;
  #activeEvent = 0;
  #ended = false;
  #endedSsrc = 0;
  #endedTs = 0;

  constructor(onEvent: DtmfHandler) {
    this.#onEvent = onEvent;
  }

  setPayloadTypes(pts: readonly number[]): void {
    this.payloadTypes.fill(0);
    for (const pt of pts) if (pt >= 0 && pt < 128) this.payloadTypes[pt] = 1;
  }

  /** One RTP packet of a telephone-event payload type, already checked to be well-formed RTP. */
  receive(buf: Buffer, length: number): void {
    if (rtpPayloadLength(buf, length) < 4) {
      this.malformed++;
      return;
    }
    const at = rtpHeaderLength(buf);
    const event = buf[at]!;
    const end = (buf[at + 1]! & 0x80) !== 0;
    const ssrc = readUint32(buf, 8);
    const ts = readUint32(buf, 4);
    if (this.#ended && ts === this.#endedTs && ssrc === this.#endedSsrc) return;
    if (this.#active && (ts !== this.#activeTs || ssrc !== this.#activeSsrc)) {
      // §2.5.2.1: the previous event ended when this one began; its end packets were all lost.
      this.#active = false;
      this.#onEvent(this.#activeEvent, 0);
    }
    if (end) {
      this.#active = false;
      this.#ended = true;
      this.#endedSsrc = ssrc;
      this.#endedTs = ts;
      this.#onEvent(event, (buf[at + 2]! << 8) | buf[at + 3]!);
      return;
    }
    this.#active = true;
    this.#activeSsrc = ssrc;
    this.#activeTs = ts;
    this.#activeEvent = event;
  }
}

interface QueuedEvent {
  readonly event: number;
  readonly durationMs: number;
}

/**
 * Plays events into one relay path, one at a time (a digit asked for while another plays waits its turn, with
 * one update interval of silence between them so the receiver sees two events).
 */
export class DtmfPlayer {
  readonly #path: RelayPath;
  readonly #queue: QueuedEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  // The event being played.
  #playing = false;
  #event = 0;
  #pt = 0;
  #ssrc = 0;
  #seq = 0;
  #ts = 0;
  #clockRate = 8000;
  #totalUnits = 0;
  #updates = 0; // non-final packets to send
  #sent = 0; // packets sent so far (non-final and final)
  #startedAt = 0;

  constructor(path: RelayPath) {
    this.#path = path;
  }

  get playing(): boolean {
    return this.#playing;
  }

  /** Queues `event` for `durationMs` (clamped to what one event's 16-bit duration holds, §2.5.1.3). */
  play(event: number, durationMs: number): void {
    if (this.#closed) return;
    this.#route(); // fail now, not later in a timer, when telephone-event was not negotiated
    this.#queue.push({ event, durationMs });
    if (!this.#playing && this.#timer === undefined) this.#next();
  }

  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#playing = false;
    this.#path.injecting = false;
  }

  /** The telephone-event route towards the side, at the clock rate of the audio codec in use (RFC 4733 §2.1). */
  #route(): { in: number; clockRate: number } {
    const path = this.#path;
    const events = path.routes.filter((r) => r.encoding.toLowerCase() === 'telephone-event');
    if (events.length === 0) {
      throw new DtmfError('DTMF_NOT_NEGOTIATED', 'telephone-event (RFC 4733) was not negotiated towards this side');
    }
    const audioRate =
      path.lastAudioPt >= 0
        ? path.rewriter.clockRates[path.lastAudioPt]!
        : (path.routes.find((r) => r.encoding.toLowerCase() !== 'telephone-event')?.clockRate ?? events[0]!.clockRate);
    return events.find((r) => r.clockRate === audioRate) ?? events[0]!;
  }

  #next(): void {
    this.#timer = undefined;
    const item = this.#queue.shift();
    if (item === undefined || this.#closed) return;
    let route;
    try {
      route = this.#route();
    } catch {
      this.#queue.length = 0; // renegotiated away meanwhile
      return;
    }
    this.#event = item.event;
    this.#pt = route.in;
    this.#clockRate = route.clockRate;
    const maxMs = Math.floor((0xffff * 1000) / route.clockRate);
    const durationMs = Math.min(Math.max(item.durationMs, MIN_DURATION_MS), maxMs);
    this.#totalUnits = Math.round((durationMs * route.clockRate) / 1000);
    this.#updates = Math.max(1, Math.ceil(durationMs / DTMF_UPDATE_INTERVAL_MS));
    this.#sent = 0;
    // A new source for the rewriter: any SSRC but the one being relayed, any bases.
    const current = this.#path.rewriter.inSsrc;
    do this.#ssrc = randomInt(1, 0xffffffff);
    while (this.#ssrc === current);
    this.#seq = randomInt(0, 0x10000);
    this.#ts = randomInt(0, 0x100000000);
    this.#startedAt = performance.now();
    this.#playing = true;
    this.#path.injecting = true;
    this.#tick();
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    if (this.#closed) return;
    const k = this.#sent;
    const final = k >= this.#updates;
    const unitsPerUpdate = (DTMF_UPDATE_INTERVAL_MS * this.#clockRate) / 1000;
    // §2.5.1.2: each update carries the duration so far, up to the next update; the final packets the total.
    const duration = final ? this.#totalUnits : Math.min(Math.round((k + 1) * unitsPerUpdate), this.#totalUnits);
    this.#send(k === 0, final, duration);
    this.#sent++;
    if (this.#sent < this.#updates + DTMF_END_PACKETS) {
      this.#timer = setTimeout(this.#tick, DTMF_UPDATE_INTERVAL_MS);
      return;
    }
    this.#playing = false;
    this.#path.injecting = false;
    if (this.#queue.length > 0) this.#timer = setTimeout(() => this.#next(), DTMF_UPDATE_INTERVAL_MS);
  };

  /** A fresh buffer per packet: the rewriter writes it in place and the socket keeps it until sent. */
  #send(marker: boolean, end: boolean, duration: number): void {
    const buf = Buffer.alloc(16);
    buf[0] = 0x80;
    buf[1] = (marker ? 0x80 : 0) | this.#pt;
    buf[2] = (this.#seq >>> 8) & 0xff;
    buf[3] = this.#seq & 0xff;
    writeUint32(buf, 4, this.#ts);
    writeUint32(buf, 8, this.#ssrc);
    buf[12] = this.#event;
    buf[13] = (end ? 0x80 : 0) | DTMF_VOLUME;
    buf[14] = (duration >>> 8) & 0xff;
    buf[15] = duration & 0xff;
    this.#seq = (this.#seq + 1) & 0xffff;
    // Every packet stands for the event's start (its timestamp): after the event the sender's audio is
    // re-anchored on wall-clock time elapsed since then, so its timestamps continue past the event's duration.
    this.#path.inject(buf, 16, this.#startedAt);
  }
}
