/**
 * The media side of a load-generator worker: paces every call's light WebRTC client and the baseline probe
 * flows at 50 packets/s, times each packet's round trip, and keeps the books of a measuring window.
 *
 * Timing: before each send the packet index (which the light client writes into the first payload octets) and
 * performance.now() go into a per-call ring; the echo trunk returns the index in the clear CSRC
 * (bench/load/echo-trunk.ts), so a listener on the client's socket — registered after the client's own, which
 * decrypts and counts — reads which packet came back and records the round trip. Probe flows (plain RTP straight
 * to the echo trunk, no gateway) are timed the same way in the same event loop: the baseline.
 *
 * A window counts, per call, the packets sent inside it and how many of exactly those came back (arrivals are
 * waited for GRACE_MS after the window), so loss is exact and calls that end early show as dropped calls, not
 * as loss. Pacing is time-based: a flow owes floor(elapsed / 20 ms) packets; one more than two packets behind
 * (this process starved of CPU) skips the rest, as a browser does, and the skips are counted.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import type { LightWebRtcClient } from '../light-webrtc-client.ts';
import { LatencyHistogram, type HistogramData } from './stats.ts';

const PTIME_MS = 20;
const MAX_CATCH_UP = 2;
const RING = 256; // 5.1 s of packets per flow
const RING_MASK = RING - 1;
const TICK_MS = 2;
const GRACE_MS = 1000;
const PACKET_BYTES = 172;
const OPEN = Number.MAX_SAFE_INTEGER;

/** One call's media state; `sample` is its setup sample (the media time is filled in when DTLS is up). */
export interface TimedCall {
  readonly slot: number;
  readonly client: LightWebRtcClient;
  state: 'setup' | 'connecting' | 'media' | 'ended';
  readonly phase: number;
  mediaStart: number;
  due: number;
  lastReceived: number;
  winStart: number;
  winEnd: number;
  winReturned: number;
  answeredAt: number;
  sample: [number, number, number, number] | undefined;
}

interface Probe {
  readonly socket: dgram.Socket;
  readonly slot: number;
  readonly ssrc: number;
  readonly phase: number;
  sent: number;
  due: number;
  winStart: number;
  winEnd: number;
  winReturned: number;
}

export interface WindowCounts {
  readonly calls: number;
  /** Packets sent inside the window, and how many of exactly those came back. */
  readonly sent: number;
  readonly returned: number;
  /** Echoes that arrived between the window marks (whatever their send time): packets the gateway relayed to us. */
  readonly arrivals: number;
  readonly rtt: HistogramData;
  readonly probeSent: number;
  readonly probeReturned: number;
  readonly probeRtt: HistogramData;
  /** Packets not sent because this process fell behind its schedule. */
  readonly skipped: number;
  readonly srtpFailures: number;
  /** Echoes whose index was no longer in the ring (late by > 5 s). */
  readonly stale: number;
  /** Calls ended by the gateway during the window. */
  readonly dropped: number;
}

export class MediaClock {
  readonly calls: TimedCall[] = [];
  readonly #media: TimedCall[] = [];
  readonly #connecting: TimedCall[] = [];
  readonly #probes: Probe[] = [];
  readonly #probePort: number;
  readonly #rtt = new LatencyHistogram();
  readonly #probeRtt = new LatencyHistogram();
  #sendTimes = new Float64Array(0);
  #sendIndex = new Int32Array(0);
  #probeTimes = new Float64Array(0);
  #probeIndex = new Int32Array(0);
  #measuring = false;
  #windowOpen = false;
  #arrivals = 0;
  #skipped = 0;
  #stale = 0;
  #dropped = 0;
  #srtpAtStart = 0;
  readonly #t0 = performance.now();

  constructor(probePort: number) {
    this.#probePort = probePort;
    setInterval(this.#tick, TICK_MS);
  }

  get mediaCalls(): number {
    return this.#media.length;
  }

  get connectingCalls(): number {
    return this.#connecting.length;
  }

  /** `n` plain RTP flows straight to the echo trunk's probe port. */
  async addProbes(n: number, ssrcBase: number): Promise<void> {
    this.#probeTimes = new Float64Array(n * RING);
    this.#probeIndex = new Int32Array(n * RING).fill(-1);
    for (let i = 0; i < n; i++) {
      const socket = dgram.createSocket('udp4');
      socket.bind(0, '127.0.0.1');
      await once(socket, 'listening');
      const p: Probe = { socket, slot: i, ssrc: ssrcBase + i, phase: Math.random() * PTIME_MS, sent: 0, due: 0, winStart: 0, winEnd: 0, winReturned: 0 };
      socket.on('message', (msg: Buffer) => this.#onProbeEcho(p, msg));
      this.#probes.push(p);
    }
  }

  /** A call whose client exists (socket bound): its echoes are timed from now on. */
  add(client: LightWebRtcClient): TimedCall {
    const call: TimedCall = {
      slot: this.calls.length, client, state: 'setup', phase: Math.random() * PTIME_MS, mediaStart: 0, due: 0,
      lastReceived: 0, winStart: 0, winEnd: 0, winReturned: 0, answeredAt: 0, sample: undefined,
    };
    this.calls.push(call);
    this.#ensureSlots(this.calls.length);
    client.socket.on('message', (msg: Buffer) => this.#onEcho(call, msg));
    return call;
  }

  /** The answer was applied: media starts when the client's DTLS is up. */
  connecting(call: TimedCall): void {
    call.state = 'connecting';
    this.#connecting.push(call);
  }

  /** The gateway ended the call. */
  dropped(call: TimedCall): void {
    if (this.#windowOpen && call.state === 'media') this.#dropped++;
    call.state = 'ended';
  }

  #ensureSlots(n: number): void {
    if (this.#sendTimes.length >= n * RING) return;
    const size = Math.max(n, (this.#sendTimes.length / RING) * 2, 64) * RING;
    const times = new Float64Array(size);
    const index = new Int32Array(size).fill(-1);
    times.set(this.#sendTimes);
    index.set(this.#sendIndex);
    this.#sendTimes = times;
    this.#sendIndex = index;
  }

  #onEcho(call: TimedCall, msg: Buffer): void {
    const now = performance.now();
    const b0 = msg[0]!;
    if (b0 < 128 || b0 > 191 || (b0 & 0x0f) !== 1 || msg.length < 16) return;
    // The client's own listener ran first: it counted the packet only if SRTP authentication passed.
    const received = call.client.received;
    if (received === call.lastReceived) return;
    call.lastReceived = received;
    if (this.#windowOpen) this.#arrivals++;
    const idx = msg.readUInt32BE(12);
    const at = call.slot * RING + (idx & RING_MASK);
    if (this.#sendIndex[at] !== idx) {
      this.#stale++;
      return;
    }
    this.#sendIndex[at] = -1; // a duplicate is not counted twice
    if (this.#measuring && idx >= call.winStart && idx < call.winEnd) {
      call.winReturned++;
      this.#rtt.record((now - this.#sendTimes[at]!) * 1000);
    }
  }

  #onProbeEcho(p: Probe, msg: Buffer): void {
    const now = performance.now();
    if (msg.length < 16) return;
    const idx = msg.readUInt32BE(12);
    const at = p.slot * RING + (idx & RING_MASK);
    if (this.#probeIndex[at] !== idx) return;
    this.#probeIndex[at] = -1;
    if (this.#measuring && idx >= p.winStart && idx < p.winEnd) {
      p.winReturned++;
      this.#probeRtt.record((now - this.#probeTimes[at]!) * 1000);
    }
  }

  #sendProbe(p: Probe, now: number): void {
    const buf = Buffer.allocUnsafe(PACKET_BYTES);
    buf.fill(0xd5, 12);
    buf[0] = 0x80;
    buf[1] = 0;
    buf.writeUInt16BE(p.sent & 0xffff, 2);
    buf.writeUInt32BE((p.sent * 160) >>> 0, 4);
    buf.writeUInt32BE(p.ssrc, 8);
    buf.writeUInt32BE(p.sent, 12);
    const at = p.slot * RING + (p.sent & RING_MASK);
    this.#probeTimes[at] = now;
    this.#probeIndex[at] = p.sent;
    p.socket.send(buf, this.#probePort, '127.0.0.1');
    p.sent++;
  }

  /** Owed packets of a paced flow at `now`; advances `due` past what it skips. */
  #owed(flow: { due: number; phase: number }, start: number, now: number): number {
    const n = Math.floor((now - start + flow.phase) / PTIME_MS);
    if (n - flow.due > MAX_CATCH_UP) {
      this.#skipped += n - flow.due - MAX_CATCH_UP;
      flow.due = n - MAX_CATCH_UP;
    }
    return n;
  }

  readonly #tick = (): void => {
    const now = performance.now();
    const connecting = this.#connecting;
    for (let i = connecting.length - 1; i >= 0; i--) {
      const c = connecting[i]!;
      if (c.state === 'connecting' && c.client.state === 'connected') {
        c.state = 'media';
        c.mediaStart = now;
        if (c.sample !== undefined) c.sample[3] = Math.round((now - c.answeredAt) * 1000);
        this.#media.push(c);
        connecting.splice(i, 1);
      } else if (c.client.state === 'failed' || c.state !== 'connecting') {
        connecting.splice(i, 1);
      }
    }
    const media = this.#media;
    for (let i = 0; i < media.length; i++) {
      const c = media[i]!;
      if (c.state !== 'media') {
        media.splice(i--, 1);
        continue;
      }
      const n = this.#owed(c, c.mediaStart, now);
      while (c.due < n) {
        c.due++;
        const idx = c.client.sent;
        const at = c.slot * RING + (idx & RING_MASK);
        this.#sendTimes[at] = now;
        this.#sendIndex[at] = idx;
        c.client.sendMedia();
      }
    }
    for (const p of this.#probes) {
      const n = this.#owed(p, this.#t0, now);
      while (p.due < n) {
        p.due++;
        this.#sendProbe(p, now);
      }
    }
  };

  #srtpFailures(): number {
    let n = 0;
    for (const c of this.calls) n += c.client.srtpFailures;
    return n;
  }

  windowStart(): void {
    this.#rtt.reset();
    this.#probeRtt.reset();
    for (const c of this.#media) {
      c.winStart = c.client.sent;
      c.winEnd = OPEN;
      c.winReturned = 0;
    }
    for (const p of this.#probes) {
      p.winStart = p.sent;
      p.winEnd = OPEN;
      p.winReturned = 0;
    }
    this.#arrivals = 0;
    this.#skipped = 0;
    this.#stale = 0;
    this.#dropped = 0;
    this.#srtpAtStart = this.#srtpFailures();
    this.#measuring = true;
    this.#windowOpen = true;
  }

  /** Closes the window now; resolves after the grace period with its counts. */
  async windowStop(): Promise<WindowCounts> {
    this.#windowOpen = false;
    let calls = 0;
    for (const c of this.calls) {
      if (c.winEnd !== OPEN) continue;
      calls++;
      c.winEnd = c.client.sent;
    }
    for (const p of this.#probes) p.winEnd = p.sent;
    const arrivals = this.#arrivals;
    const skipped = this.#skipped;
    const dropped = this.#dropped;
    await new Promise((r) => setTimeout(r, GRACE_MS));
    this.#measuring = false;
    let sent = 0;
    let returned = 0;
    for (const c of this.calls) {
      if (c.winEnd === 0) continue;
      sent += c.winEnd - c.winStart;
      returned += c.winReturned;
      c.winStart = 0;
      c.winEnd = 0;
    }
    let probeSent = 0;
    let probeReturned = 0;
    for (const p of this.#probes) {
      probeSent += p.winEnd - p.winStart;
      probeReturned += p.winReturned;
    }
    return {
      calls, sent, returned, arrivals, rtt: this.#rtt.toData(), probeSent, probeReturned, probeRtt: this.#probeRtt.toData(),
      skipped, srtpFailures: this.#srtpFailures() - this.#srtpAtStart, stale: this.#stale, dropped,
    };
  }
}
