/**
 * The per-packet path between the two legs of a call, one RelayPath per direction:
 *
 *   leg X onRtp → (DTMF detection on the telephone-event payload types) → block / DTMF-injection gate →
 *   StreamRewriter (payload type map, SSRC/sequence/timestamp continuity) → leg Y sendRtp
 *   leg X onRtcp → StreamRewriter.rewriteRtcp (SSRCs, SR timestamp, report blocks, BYE removed) → leg Y sendRtcp
 *
 * Everything here is created once per call: the handlers are arrow-function properties, the rewriters and the
 * detector are fields; per packet there is no closure, no logging, and no allocation except one: a packet that a
 * WebRTC leg decrypted into its reused receive buffer and that goes out on a plain leg is copied first, because
 * Node's dgram send does not copy (it sends on the next tick, or later when the kernel queue is full — see
 * src/webrtc/send-pool.ts) and PlainRtpLeg.sendRtp has no completion callback a slot pool could hang on.
 */
import { StreamRewriter, type PayloadTypeMapping } from './stream-rewriter.ts';
import { DtmfDetector } from './dtmf.ts';
import type { MediaLeg } from './media-leg.ts';
import type { PayloadTypeRoute } from './sdp/index.ts';

export class RelayPath {
  readonly from: MediaLeg;
  readonly to: MediaLeg;
  readonly rewriter: StreamRewriter;
  readonly dtmf: DtmfDetector;
  /** ng `block media`: RTP from `from` is not relayed (RTCP still is, so the peers' sessions stay alive). */
  blocked = false;
  /** Set while playDtmf injects an event towards `to`: the sender's own audio is held back meanwhile. */
  injecting = false;
  /** The payload type routes in force (from the last completed offer/answer); empty before the first. */
  routes: readonly PayloadTypeRoute[] = [];
  /** The last audio payload type seen (input numbering), to time injected events on the codec in use. */
  lastAudioPt = -1;

  relayedRtp = 0;
  relayedRtcp = 0;
  blockedDrops = 0;
  suppressedDrops = 0;
  notSent = 0;

  readonly #copy: boolean;

  constructor(from: MediaLeg, to: MediaLeg, onDtmf: (event: number, durationUnits: number) => void) {
    this.from = from;
    this.to = to;
    this.rewriter = new StreamRewriter();
    // Nothing is relayed before an offer/answer has said which payload types may pass.
    this.rewriter.setPayloadTypes([]);
    this.dtmf = new DtmfDetector(onDtmf);
    this.#copy = from.kind === 'webrtc' && to.kind === 'plain';
    from.connect(this.onRtp, this.onRtcp);
  }

  /** Packets dropped on this path because their payload type was not negotiated. */
  get payloadTypeDrops(): number {
    return this.rewriter.droppedByPayloadType;
  }

  /** Installs the payload type table of a completed offer/answer (throws PayloadTypeError on an unusable row). */
  setRoutes(routes: readonly PayloadTypeRoute[]): void {
    this.rewriter.setPayloadTypes(routes as readonly PayloadTypeMapping[]);
    this.routes = routes;
    const events: number[] = [];
    for (const r of routes) if (r.encoding.toLowerCase() === 'telephone-event') events.push(r.in);
    this.dtmf.setPayloadTypes(events);
  }

  readonly onRtp = (buf: Buffer, length: number): void => {
    const pt = buf[1]! & 0x7f;
    if (this.dtmf.payloadTypes[pt] === 1) this.dtmf.receive(buf, length);
    else this.lastAudioPt = pt;
    if (this.blocked) {
      this.blockedDrops++;
      return;
    }
    if (this.injecting) {
      this.suppressedDrops++;
      return;
    }
    if (!this.rewriter.rewriteRtp(buf, length, this.from.lastRtpAt)) return;
    let out = buf;
    if (this.#copy) {
      out = Buffer.allocUnsafe(length);
      buf.copy(out, 0, 0, length);
    }
    if (this.to.sendRtp(out, length)) this.relayedRtp++;
    else this.notSent++;
  };

  readonly onRtcp = (buf: Buffer, length: number): void => {
    const n = this.rewriter.rewriteRtcp(buf, length);
    if (n === 0) return;
    let out = buf;
    if (this.#copy) {
      out = Buffer.allocUnsafe(n);
      buf.copy(out, 0, 0, n);
    }
    if (this.to.sendRtcp(out, n)) this.relayedRtcp++;
  };

  /**
   * Sends a locally generated packet (a DTMF event) towards `to` in this path's outgoing stream: the rewriter
   * gives it the path's SSRC and the next sequence number, as for a new incoming source. `buf` must be a fresh
   * buffer (the send keeps it). `nowMs` is the wall-clock time the packet's timestamp stands for.
   */
  inject(buf: Buffer, length: number, nowMs: number): boolean {
    if (!this.rewriter.rewriteRtp(buf, length, nowMs)) return false;
    return this.to.sendRtp(buf, length);
  }

  /** Stops delivery from `from` (the legs are closed by their owner). */
  disconnect(): void {
    this.from.connect(noop, noop);
  }
}

const noop = (): void => {};

/** The two directions of a call, with the rewriters cross-linked for RTCP report blocks and feedback. */
export class Relay {
  readonly aToB: RelayPath;
  readonly bToA: RelayPath;

  constructor(a: MediaLeg, b: MediaLeg, onDtmf: (from: 'a' | 'b', event: number, durationUnits: number) => void) {
    this.aToB = new RelayPath(a, b, (event, duration) => onDtmf('a', event, duration));
    this.bToA = new RelayPath(b, a, (event, duration) => onDtmf('b', event, duration));
    this.aToB.rewriter.reverse = this.bToA.rewriter;
    this.bToA.rewriter.reverse = this.aToB.rewriter;
    // Report blocks about our outgoing streams name these SSRCs (rtp-stats.ts: RTT and remote loss).
    b.stats.sendSsrc = this.aToB.rewriter.outSsrc;
    a.stats.sendSsrc = this.bToA.rewriter.outSsrc;
  }

  get relayedRtp(): number {
    return this.aToB.relayedRtp + this.bToA.relayedRtp;
  }

  close(): void {
    this.aToB.disconnect();
    this.bToA.disconnect();
  }
}
