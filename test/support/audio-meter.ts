/**
 * What a test phone's call heard and sent: packet and byte counts, the SSRCs and payload types seen, the last
 * payloads and the markers decoded from them (rtp-marker.ts), and waiters that resolve when a condition on
 * these numbers holds ("20 packets of stream S arrived", "nothing arrived for 300 ms").
 */
import { decodeMarker, type RtpMarker } from './rtp-marker.ts';
import { TestPhoneError } from './phone-errors.ts';

export interface AudioStats {
  packetsReceived: number;
  bytesReceived: number;
  rtcpReceived: number;
  /** The last `keep` payloads, oldest first. */
  payloads: Buffer[];
  /** Markers of the last `keep` payloads that carried one, oldest first. */
  markers: RtpMarker[];
  /** Every SSRC and payload type seen, in order of first appearance. */
  ssrcs: number[];
  payloadTypes: number[];
  lastSequenceNumber: number | undefined;
  firstPacketAt: number | undefined;
  lastPacketAt: number | undefined;
  packetsSent: number;
  bytesSent: number;
  /** Frames not sent because DTLS was not up or the direction did not allow sending. */
  sendSkipped: number;
}

interface Waiter {
  check: (stats: AudioStats) => boolean;
  resolve: () => void;
}

export class AudioMeter {
  readonly stats: AudioStats = {
    packetsReceived: 0, bytesReceived: 0, rtcpReceived: 0, payloads: [], markers: [], ssrcs: [], payloadTypes: [],
    lastSequenceNumber: undefined, firstPacketAt: undefined, lastPacketAt: undefined,
    packetsSent: 0, bytesSent: 0, sendSkipped: 0,
  };
  /** Local oddities the endpoint noticed (non-loopback candidates). */
  readonly violations: string[] = [];
  readonly #keep: number;
  #waiters: Waiter[] = [];
  #closed = false;

  constructor(keep = 200) {
    this.#keep = keep;
  }

  onRtp(payloadType: number, ssrc: number, sequenceNumber: number, payload: Buffer): void {
    const s = this.stats;
    const now = Date.now();
    s.packetsReceived++;
    s.bytesReceived += payload.length;
    s.firstPacketAt ??= now;
    s.lastPacketAt = now;
    s.lastSequenceNumber = sequenceNumber;
    if (!s.ssrcs.includes(ssrc)) s.ssrcs.push(ssrc);
    if (!s.payloadTypes.includes(payloadType)) s.payloadTypes.push(payloadType);
    s.payloads.push(Buffer.from(payload));
    if (s.payloads.length > this.#keep) s.payloads.shift();
    const marker = decodeMarker(payload);
    if (marker) {
      s.markers.push(marker);
      if (s.markers.length > this.#keep) s.markers.shift();
    }
    this.#wake();
  }

  onRtcp(): void {
    this.stats.rtcpReceived++;
    this.#wake();
  }

  /** Resolves when `check(stats)` holds (checked now and on every packet); rejects after `timeoutMs`. */
  until(check: (stats: AudioStats) => boolean, timeoutMs: number, what = 'audio condition'): Promise<void> {
    if (check(this.stats)) return Promise.resolve();
    if (this.#closed) return Promise.reject(new TestPhoneError('PHONE_CLOSED', `${what}: media closed`));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new TestPhoneError('PHONE_TIMEOUT', `${what} not met within ${timeoutMs} ms (received ${this.stats.packetsReceived} packets)`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Resolves once no packet arrived for `quietMs` (e.g. after the peer put the call on hold). */
  async silence(quietMs: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = this.stats.lastPacketAt ?? 0;
      const quietFor = Date.now() - last;
      if (quietFor >= quietMs) return;
      if (Date.now() + (quietMs - quietFor) > deadline) {
        throw new TestPhoneError('PHONE_TIMEOUT', `audio did not stop for ${quietMs} ms within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, quietMs - quietFor));
    }
  }

  close(): void {
    this.#closed = true;
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const ready = this.#waiters.filter((w) => w.check(this.stats));
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}
