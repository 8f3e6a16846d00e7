/**
 * Header rewriting for one direction of the relay (packets from leg X on their way to leg Y), in place.
 *
 * The receiver behind the other leg must see ONE continuous stream for the whole call, whatever happens upstream:
 * a trunk that picks a new SSRC (and new random seq/timestamp bases) after a re-INVITE, a browser that restarts its
 * sender, hold and resume. An SRTP receiver derives the packet index from the sequence number (RFC 3711 §3.3.1) and
 * its replay window drops anything that looks old, so a sequence regression after a source change means one-way
 * audio until the new stream catches up (the most reported media bug of Janus and rtpengine). So:
 *
 * - the outgoing SSRC is fixed for the life of the rewriter (one per leg and direction, for the call);
 * - when the incoming stream changes (new SSRC, or a jump beyond RFC 3550 A.1's MAX_DROPOUT / MAX_MISORDER) the
 *   outgoing sequence continues at last-sent + 1 and the timestamp at last-sent + elapsed wall-clock × clock rate
 *   (at least one packet's worth), so the jitter buffer sees a plausible talk-spurt gap rather than a time warp;
 * - within one incoming stream the rewrite is a constant offset mod 2^16 / 2^32, so gaps, reordering and
 *   duplicates are passed on faithfully (the receiver's loss statistics and jitter buffer need them);
 * - payload types are mapped through a 128-entry table from the SDP negotiation (255 = not negotiated: drop).
 *   RFC 4733 telephone-event packets get the same treatment: PT mapped, marker kept, and because the timestamp
 *   rewrite is an offset, an event's constant timestamp and growing duration survive unchanged.
 *
 * RTCP from the same source is rewritten to match (sender SSRC → our SSRC, SR RTP timestamp shifted by the same
 * offset); report blocks and feedback about the opposite direction are mapped back through the `reverse` rewriter
 * so the far sender recognises its own SSRC and sequence numbers. BYE packets are removed: the stream we send
 * continues for the call even when an upstream source says goodbye.
 */
import { randomInt } from 'node:crypto';
import { GatewayError } from '../errors.ts';
import { checkRtcpCompound, reportBlockOffset, rtcpPacketLength, RtcpType } from './rtcp-packet.ts';
import { readUint32, writeUint32 } from './rtp-packet.ts';

export const DROP_PAYLOAD_TYPE = 255;

export interface PayloadTypeMapping {
  readonly in: number;
  readonly out: number;
  /** RTP clock rate of the format (8000 for PCMU/PCMA/G722's RTP clock, 48000 for Opus, same as the codec's for
   * telephone-event). */
  readonly clockRate: number;
}

export interface StreamRewriterOptions {
  /** Outgoing SSRC; random (non-zero) by default. */
  readonly ssrc?: number;
  /** Clock rate for payload types without a mapping entry (the identity map before negotiation). Default 8000. */
  readonly clockRate?: number;
  /** RFC 3550 A.1 defaults: a forward jump of MAX_DROPOUT or more, or a backward one beyond MAX_MISORDER, is a new
   * stream. */
  readonly maxDropout?: number;
  readonly maxMisorder?: number;
}

export class PayloadTypeError extends GatewayError {
  constructor(message: string) {
    super('BAD_PAYLOAD_TYPE', message, { status: 488 });
  }
}

export class StreamRewriter {
  readonly outSsrc: number;
  /** in PT → out PT, DROP_PAYLOAD_TYPE to drop. Identity until `setPayloadTypes`. */
  readonly payloadMap = new Uint8Array(128);
  readonly clockRates = new Uint32Array(128);
  /** The rewriter of the opposite direction, for RTCP report blocks and feedback about that stream. */
  reverse: StreamRewriter | undefined;

  /** Packets dropped because their payload type was not negotiated. */
  droppedByPayloadType = 0;
  /** How many times the outgoing stream was re-anchored on a new incoming stream (the first one included). */
  streamChanges = 0;

  readonly #maxDropout: number;
  readonly #maxMisorder: number;

  // Current incoming stream and its offsets.
  #hasIn = false;
  #inSsrc = 0;
  #inMaxSeq = 0;
  #seqOffset = 0;
  #tsOffset = 0;
  #resyncPending = false;
  // The stream before it, so that its late (reordered) packets keep their own offsets instead of flapping.
  #hasPrev = false;
  #prevSsrc = 0;
  #prevMaxSeq = 0;
  #prevSeqOffset = 0;
  #prevTsOffset = 0;

  // Highest packet sent.
  #hasOut = false;
  #lastOutSeq = 0;
  #lastOutTs = 0;
  #lastOutAt = 0;
  #tsStep = 0; // timestamp increment between consecutive packets, learned; 0 = unknown

  constructor(options: StreamRewriterOptions = {}) {
    this.outSsrc = options.ssrc ?? randomInt(1, 0xffffffff);
    this.#maxDropout = options.maxDropout ?? 3000;
    this.#maxMisorder = options.maxMisorder ?? 100;
    for (let pt = 0; pt < 128; pt++) this.payloadMap[pt] = pt;
    this.clockRates.fill(options.clockRate ?? 8000);
  }

  /** From the SDP negotiation: exactly these payload types pass, renumbered; all others are dropped. */
  setPayloadTypes(mappings: readonly PayloadTypeMapping[]): void {
    for (const m of mappings) {
      for (const pt of [m.in, m.out]) {
        // RFC 5761 §4: 64–95 would be taken for RTCP by a muxing receiver (and by our own demux).
        if (!Number.isInteger(pt) || pt < 0 || pt > 127 || (pt >= 64 && pt <= 95)) {
          throw new PayloadTypeError(`payload type ${pt} cannot be relayed`);
        }
      }
      if (!Number.isInteger(m.clockRate) || m.clockRate <= 0) throw new PayloadTypeError(`bad clock rate ${m.clockRate}`);
    }
    this.payloadMap.fill(DROP_PAYLOAD_TYPE);
    for (const m of mappings) {
      this.payloadMap[m.in] = m.out;
      this.clockRates[m.in] = m.clockRate;
    }
  }

  /** Treat the next packet as the start of a new incoming stream (e.g. after a new offer/answer). */
  resync(): void {
    this.#resyncPending = true;
  }

  get inSsrc(): number | undefined {
    return this.#hasIn ? this.#inSsrc : undefined;
  }

  /** Sequence number as sent → as received from the current incoming stream. */
  outSeqToIn(seq: number): number {
    return (seq - this.#seqOffset) & 0xffff;
  }

  /**
   * Rewrite an RTP packet in place (already checked to be version-2 RTP). `nowMs` is a monotonic clock.
   * Returns false when the packet must be dropped (payload type not negotiated).
   */
  rewriteRtp(buf: Uint8Array, length: number, nowMs: number): boolean {
    if (length < 12) return false;
    const inPt = buf[1]! & 0x7f;
    const outPt = this.payloadMap[inPt]!;
    if (outPt === DROP_PAYLOAD_TYPE) {
      this.droppedByPayloadType++;
      return false;
    }
    const seq = (buf[2]! << 8) | buf[3]!;
    const ts = readUint32(buf, 4);
    const ssrc = readUint32(buf, 8);
    let seqOffset: number;
    let tsOffset: number;

    if (this.#hasIn && ssrc === this.#inSsrc && !this.#resyncPending && this.#inSequence(seq)) {
      seqOffset = this.#seqOffset;
      tsOffset = this.#tsOffset;
    } else if (this.#hasPrev && ssrc === this.#prevSsrc && !this.#resyncPending && this.#lateFromPrevious(seq)) {
      seqOffset = this.#prevSeqOffset;
      tsOffset = this.#prevTsOffset;
    } else {
      this.#startStream(ssrc, seq, ts, nowMs, this.clockRates[inPt]!);
      seqOffset = this.#seqOffset;
      tsOffset = this.#tsOffset;
    }

    const outSeq = (seq + seqOffset) & 0xffff;
    const outTs = (ts + tsOffset) >>> 0;
    buf[1] = (buf[1]! & 0x80) | outPt;
    buf[2] = outSeq >>> 8;
    buf[3] = outSeq & 0xff;
    writeUint32(buf, 4, outTs);
    writeUint32(buf, 8, this.outSsrc);

    const advance = (outSeq - this.#lastOutSeq) & 0xffff;
    if (!this.#hasOut || (advance !== 0 && advance < 0x8000)) {
      if (this.#hasOut && advance === 1) {
        const step = (outTs - this.#lastOutTs) >>> 0;
        // A plausible frame step (RFC 4733 events repeat their timestamp: step 0 is not one).
        if (step > 0 && step <= this.clockRates[inPt]! / 2) this.#tsStep = step;
      }
      this.#hasOut = true;
      this.#lastOutSeq = outSeq;
      this.#lastOutTs = outTs;
      this.#lastOutAt = nowMs;
    }
    return true;
  }

  /**
   * Rewrite a compound RTCP packet from the same source in place. Returns the length to send: smaller than
   * `length` when BYE packets were removed, 0 when nothing is left or the packet is malformed (RFC 3550 A.2).
   */
  rewriteRtcp(buf: Uint8Array, length: number): number {
    if (checkRtcpCompound(buf, length) !== 'ok') return 0;
    let end = length;
    let off = 0;
    while (off < end) {
      const size = rtcpPacketLength(buf, off);
      const count = buf[off]! & 0x1f;
      switch (buf[off + 1]) {
        case RtcpType.SR:
          // RFC 3550 §6.4.1: the SR's RTP timestamp is on the sender's RTP timeline, which we shifted.
          if (this.#hasIn && readUint32(buf, off + 4) === this.#inSsrc) {
            writeUint32(buf, off + 16, (readUint32(buf, off + 16) + this.#tsOffset) >>> 0);
          }
          writeUint32(buf, off + 4, this.outSsrc);
          this.#mapReportBlocks(buf, off, count);
          break;
        case RtcpType.RR:
          writeUint32(buf, off + 4, this.outSsrc);
          this.#mapReportBlocks(buf, off, count);
          break;
        case RtcpType.SDES:
          this.#rewriteSdes(buf, off, size, count);
          break;
        case RtcpType.BYE:
          buf.copyWithin(off, off + size, end);
          end -= size;
          continue;
        case RtcpType.APP:
        case RtcpType.XR:
          writeUint32(buf, off + 4, this.outSsrc);
          break;
        case RtcpType.RTPFB:
        case RtcpType.PSFB:
          writeUint32(buf, off + 4, this.outSsrc);
          this.#mapFeedback(buf, off, size, count, buf[off + 1]!);
          break;
        default:
          break;
      }
      off += size;
    }
    return end;
  }

  /** Same SSRC: a new stream only if the sequence jumped too far (RFC 3550 A.1 thresholds). */
  #inSequence(seq: number): boolean {
    const delta = (seq - this.#inMaxSeq) & 0xffff;
    if (delta < 0x8000) {
      if (delta >= this.#maxDropout) return false;
      this.#inMaxSeq = seq;
      return true;
    }
    return 0x10000 - delta <= this.#maxMisorder;
  }

  #lateFromPrevious(seq: number): boolean {
    const behind = (this.#prevMaxSeq - seq) & 0xffff;
    return behind <= this.#maxMisorder;
  }

  #startStream(ssrc: number, seq: number, ts: number, nowMs: number, clockRate: number): void {
    if (this.#hasIn) {
      this.#hasPrev = true;
      this.#prevSsrc = this.#inSsrc;
      this.#prevMaxSeq = this.#inMaxSeq;
      this.#prevSeqOffset = this.#seqOffset;
      this.#prevTsOffset = this.#tsOffset;
    }
    if (this.#hasOut) {
      this.#seqOffset = (this.#lastOutSeq + 1 - seq) & 0xffff;
      const elapsed = nowMs > this.#lastOutAt ? nowMs - this.#lastOutAt : 0;
      let advance = Math.round((elapsed * clockRate) / 1000);
      const minStep = this.#tsStep > 0 ? this.#tsStep : Math.round(clockRate / 50); // one 20 ms frame
      if (advance < minStep) advance = minStep;
      this.#tsOffset = (this.#lastOutTs + advance - ts) >>> 0;
    } else {
      // First stream: keep the sender's own (random, RFC 3550 §5.1) bases.
      this.#seqOffset = 0;
      this.#tsOffset = 0;
    }
    this.#hasIn = true;
    this.#inSsrc = ssrc;
    this.#inMaxSeq = seq;
    this.#resyncPending = false;
    this.streamChanges++;
  }

  /** Report blocks about the stream the opposite direction sends: our SSRC/seq space → the original sender's. */
  #mapReportBlocks(buf: Uint8Array, off: number, count: number): void {
    const reverse = this.reverse;
    if (reverse === undefined || reverse.#hasIn === false) return;
    for (let i = 0; i < count; i++) {
      const block = reportBlockOffset(buf, off, i);
      if (readUint32(buf, block) !== reverse.outSsrc) continue;
      writeUint32(buf, block, reverse.#inSsrc);
      // Extended highest sequence number: cycles in the high 16 bits, the sequence number in the low 16.
      const seq = (buf[block + 10]! << 8) | buf[block + 11]!;
      const mapped = reverse.outSeqToIn(seq);
      buf[block + 10] = mapped >>> 8;
      buf[block + 11] = mapped & 0xff;
    }
  }

  /** RFC 4585 §6.1 media source SSRC; Generic NACK PIDs (§6.2.1) and FIR SSRCs (RFC 5104 §4.3.1) too. */
  #mapFeedback(buf: Uint8Array, off: number, size: number, fmt: number, pt: number): void {
    const reverse = this.reverse;
    if (reverse === undefined || reverse.#hasIn === false || size < 12) return;
    if (readUint32(buf, off + 8) === reverse.outSsrc) writeUint32(buf, off + 8, reverse.#inSsrc);
    if (pt === RtcpType.RTPFB && fmt === 1) {
      for (let p = off + 12; p + 4 <= off + size; p += 4) {
        const pid = reverse.outSeqToIn((buf[p]! << 8) | buf[p + 1]!);
        buf[p] = pid >>> 8;
        buf[p + 1] = pid & 0xff;
      }
    } else if (pt === RtcpType.PSFB && fmt === 4) {
      for (let p = off + 12; p + 8 <= off + size; p += 8) {
        if (readUint32(buf, p) === reverse.outSsrc) writeUint32(buf, p, reverse.#inSsrc);
      }
    }
  }

  /** RFC 3550 §6.5: chunks of SSRC + items, each chunk ending with a null item and padded to 32 bits. */
  #rewriteSdes(buf: Uint8Array, off: number, size: number, count: number): void {
    const end = off + size;
    let p = off + 4;
    for (let chunk = 0; chunk < count && p + 4 <= end; chunk++) {
      writeUint32(buf, p, this.outSsrc);
      p += 4;
      while (p < end && buf[p] !== 0) p += 2 + (p + 1 < end ? buf[p + 1]! : 0);
      // Skip the terminating null octet and the padding to the next 32-bit boundary of the packet.
      p = off + ((p - off + 4) & ~3);
    }
  }
}
