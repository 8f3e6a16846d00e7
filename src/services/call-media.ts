/**
 * The media of one services call: a plain RTP leg (port pair, symmetric latching) and what the service does with
 * it. Both services listen for RFC 4733 telephone-events; then
 *
 * - `echo` sends every accepted packet back to where it came from (the latched source), payload and payload type
 *   unchanged, as a real endpoint would: under its own SSRC, with sequence numbers and timestamps mapped by a
 *   fixed offset into its own spaces (so a loss or reordering in the caller's stream shows in the echo too, and
 *   a new caller SSRC continues our numbering instead of jumping). The header is rewritten in the received
 *   buffer; CSRCs, extensions and padding of the caller are not returned.
 * - `tone` sends 20 ms G.711 frames of the tone loop from a drift-free clock: marker on the first packet (and the
 *   first after a pause), timestamps +160 per frame tied to the clock (frames not sent on hold or skipped after a
 *   stall still advance them), sequence +1 per packet sent.
 *
 * RTCP from the caller is accepted by the leg (latched, counted) and not answered.
 */
import { randomInt } from 'node:crypto';
import { logger, type Logger } from '../log.ts';
import { PlainRtpLeg } from '../rtp-bridge/plain-leg.ts';
import type { PortPool } from '../rtp-bridge/port-pool.ts';
import {
  payloadType,
  rtpHeaderLength,
  rtpPayloadLength,
  sequenceNumber,
  setSequenceNumber,
  setSsrc,
  setTimestamp,
  ssrc as readSsrc,
  timestamp as readTimestamp,
} from '../rtp-bridge/rtp-packet.ts';
import type { Direction } from '../rtp-bridge/sdp/index.ts';
import { PacedTicker } from './paced-ticker.ts';
import { PTIME_MS, type NegotiatedAudio, type ServiceKind } from './sdp-answer.ts';
import { eventDigit, TelephoneEventReceiver, type DtmfDigit } from './telephone-event.ts';
import { TonePlayer, toneLoop, type ToneSegment } from './tone.ts';

const SAMPLES_PER_FRAME = (8000 * PTIME_MS) / 1000;
const RTP_HEADER = 12;
/** Tone packets rotate through this many buffers: a send queued by the kernel keeps its bytes until it leaves. */
const TONE_BUFFERS = 16;

export interface CallMediaOptions {
  readonly service: ServiceKind;
  readonly callId: string;
  readonly tonePattern: readonly ToneSegment[];
  readonly onDtmf: (digit: DtmfDigit) => void;
  /** The frame clock (tests inject one); default performance.now. */
  readonly now?: () => number;
}

export interface CallMediaCounters {
  /** RTP packets we sent (echoed or generated). */
  readonly sent: number;
  /** RTP packets accepted from the caller. */
  readonly received: number;
  /** Accepted packets of a payload type we did not negotiate (not echoed). */
  readonly unknownPayloadType: number;
  /** Tone frames skipped because the clock stalled for more than 100 ms. */
  readonly skippedFrames: number;
  /** Largest lateness (ms) of a tone frame's wake-up. */
  readonly maxLatenessMs: number;
}

export class CallMedia {
  readonly service: ServiceKind;
  readonly leg: PlainRtpLeg;
  /** Our SSRC, for the whole call (re-INVITEs keep it). */
  readonly ssrc: number;

  readonly #log: Logger;
  readonly #events: TelephoneEventReceiver;
  readonly #tonePattern: readonly ToneSegment[];
  readonly #now: () => number;
  #audio: NegotiatedAudio | undefined;
  #codecPt = -1;
  #eventPt = -1;
  #sends = false;
  #closed = false;
  #sent = 0;
  #received = 0;
  #unknownPayloadType = 0;

  // Our sequence and timestamp spaces.
  #seq: number;
  #lastTs: number;
  #lastSentAt = 0;
  // echo: the offsets that map the caller's current SSRC into them
  #echoSource: number | undefined;
  #seqOffset = 0;
  #tsOffset = 0;

  // tone
  #ticker: PacedTicker | undefined;
  #player: TonePlayer | undefined;
  #buffers: Buffer[] = [];
  #bufferIndex = 0;
  #toneTs0: number;
  #lastFrame = -1;
  #marker = true;

  /** Allocates the port pair (PortPoolExhaustedError, 503, when there is none). */
  static async create(pool: PortPool, options: CallMediaOptions): Promise<CallMedia> {
    const leg = await PlainRtpLeg.create(pool, { callId: options.callId, label: options.service });
    return new CallMedia(leg, options);
  }

  private constructor(leg: PlainRtpLeg, options: CallMediaOptions) {
    this.leg = leg;
    this.service = options.service;
    this.#tonePattern = options.tonePattern;
    this.#now = options.now ?? (() => performance.now());
    this.#log = logger.child({ callId: options.callId, service: options.service, port: leg.port });
    // RFC 3550 §5.1: random initial sequence number, timestamp and SSRC.
    this.ssrc = randomInt(1, 0xffffffff);
    this.#seq = randomInt(0, 0x10000);
    this.#lastTs = randomInt(0, 0xffffffff);
    this.#toneTs0 = this.#lastTs;
    const onDtmf = options.onDtmf;
    this.#events = new TelephoneEventReceiver((event) => {
      const digit = eventDigit(event);
      if (digit !== undefined) onDtmf(digit);
    });
    leg.onRtp(this.#onRtp);
  }

  get audio(): NegotiatedAudio | undefined {
    return this.#audio;
  }

  get direction(): Direction {
    return this.leg.direction;
  }

  get counters(): CallMediaCounters {
    return {
      sent: this.#sent,
      received: this.#received,
      unknownPayloadType: this.#unknownPayloadType,
      skippedFrames: this.#ticker?.skipped ?? 0,
      maxLatenessMs: this.#ticker?.maxLatenessMs ?? 0,
    };
  }

  /**
   * A new offer/answer (the first one, or a re-INVITE): where the caller is, which codec, which direction. The
   * ports, SSRC and sequence/timestamp spaces stay; the latch learns afresh (the caller may have moved).
   */
  apply(audio: NegotiatedAudio): void {
    if (this.#closed) return;
    // First, as it may refuse the address (RemoteAddressError, 488) before anything has changed.
    this.leg.setRemote({
      address: audio.remote.address,
      port: audio.remote.port,
      ...(audio.remote.rtcpAddress === undefined ? {} : { rtcpAddress: audio.remote.rtcpAddress }),
      ...(audio.remote.rtcpPort === undefined ? {} : { rtcpPort: audio.remote.rtcpPort }),
    });
    const codecChanged = this.#audio !== undefined && this.#audio.codec.name.toLowerCase() !== audio.codec.name.toLowerCase();
    this.#audio = audio;
    this.#codecPt = audio.codec.pt;
    this.#eventPt = audio.telephoneEvent?.pt ?? -1;
    this.leg.setDirection(audio.direction);
    const sends = audio.direction === 'sendrecv' || audio.direction === 'sendonly';
    if (sends && !this.#sends) this.#marker = true;
    this.#sends = sends;
    if (this.service === 'tone') this.#startTone(codecChanged);
  }

  /** Idempotent: stops the clock, closes the sockets, returns the ports to the pool. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ticker?.stop();
    this.leg.close();
  }

  #startTone(codecChanged: boolean): void {
    const law = this.#audio!.codec.name.toUpperCase() === 'PCMA' ? 'PCMA' : 'PCMU';
    if (this.#player === undefined || codecChanged) this.#player = new TonePlayer(toneLoop(this.#tonePattern, law));
    if (this.#ticker !== undefined) return;
    for (let i = 0; i < TONE_BUFFERS; i++) this.#buffers.push(Buffer.alloc(RTP_HEADER + SAMPLES_PER_FRAME));
    this.#ticker = new PacedTicker({ periodMs: PTIME_MS, now: this.#now }, this.#onFrame);
    this.#ticker.start();
  }

  readonly #onFrame = (frame: number): void => {
    const player = this.#player!;
    const gap = frame - this.#lastFrame - 1;
    this.#lastFrame = frame;
    if (gap > 0) player.skip(gap * SAMPLES_PER_FRAME);
    if (!this.#sends) {
      // On hold the loop and the timestamps run on, so the tone resumes where real time is (with a marker).
      player.skip(SAMPLES_PER_FRAME);
      this.#marker = true;
      return;
    }
    const out = this.#buffers[this.#bufferIndex]!;
    this.#bufferIndex = (this.#bufferIndex + 1) % TONE_BUFFERS;
    const ts = (this.#toneTs0 + frame * SAMPLES_PER_FRAME) >>> 0;
    out[0] = 0x80;
    out[1] = (this.#marker ? 0x80 : 0) | this.#codecPt;
    setSequenceNumber(out, this.#seq);
    setTimestamp(out, ts);
    setSsrc(out, this.ssrc);
    player.fill(out, RTP_HEADER, SAMPLES_PER_FRAME);
    if (this.leg.sendRtp(out, out.length)) {
      this.#seq = (this.#seq + 1) & 0xffff;
      this.#marker = false;
      this.#sent++;
    }
  };

  readonly #onRtp = (buf: Buffer, length: number): void => {
    this.#received++;
    const pt = payloadType(buf);
    if (pt === this.#eventPt) this.#events.receive(buf, length);
    if (this.service !== 'echo') return;
    if (pt !== this.#codecPt && pt !== this.#eventPt) {
      this.#unknownPayloadType++;
      return;
    }
    if (!this.#sends) return;
    const source = readSsrc(buf);
    const inSeq = sequenceNumber(buf);
    const inTs = readTimestamp(buf);
    const now = this.#now();
    if (source !== this.#echoSource) {
      // A new caller source continues our numbering: next sequence number, and our timestamp moved on by the
      // time since our last packet (RFC 3550 §5.1: timestamps advance with the sampling clock).
      const elapsed = this.#echoSource === undefined ? 0 : Math.round((now - this.#lastSentAt) * 8);
      this.#seqOffset = (this.#seq - inSeq) & 0xffff;
      this.#tsOffset = (this.#lastTs + elapsed - inTs) >>> 0;
      this.#echoSource = source;
      if (elapsed > 0) this.#log.debug({ ssrc: source }, 'echo: caller changed SSRC');
    }
    const headerLength = rtpHeaderLength(buf);
    const payloadLength = rtpPayloadLength(buf, length);
    // Our 12-byte header goes right before the payload, over the caller's header (and CSRC/extension if any).
    const start = headerLength - RTP_HEADER;
    const out = start === 0 ? buf : buf.subarray(start);
    const b1 = buf[1]!;
    const seq = (inSeq + this.#seqOffset) & 0xffff;
    const ts = (inTs + this.#tsOffset) >>> 0;
    out[0] = 0x80;
    out[1] = b1;
    setSequenceNumber(out, seq);
    setTimestamp(out, ts);
    setSsrc(out, this.ssrc);
    if (this.leg.sendRtp(out, RTP_HEADER + payloadLength)) {
      this.#sent++;
      // Track the newest packet so a later SSRC change continues after it.
      if (((seq - this.#seq) & 0xffff) < 0x8000) this.#seq = (seq + 1) & 0xffff;
      this.#lastTs = ts;
      this.#lastSentAt = now;
    }
  };
}
