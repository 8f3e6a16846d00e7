/**
 * Per-leg RTP statistics, allocation-free per packet:
 * - receive side per RFC 3550 Appendix A.1 (extended sequence numbers with cycles, probation of a new source,
 *   expected vs received → cumulative loss), A.3 (fraction lost per report interval) and A.8 (interarrival jitter
 *   in timestamp units);
 * - packet/byte counters both ways;
 * - what the peer reports about our stream in its SR/RR report blocks (loss, jitter) and the round-trip time from
 *   LSR/DLSR (RFC 3550 §6.4.1), computed against the time *we* sent the SR it echoes: we match the echoed LSR to
 *   the NTP middle bits of SRs we sent, so RTT is right even for SRs relayed from the other leg whose NTP clock is
 *   not ours.
 */
import { checkRtcpCompound, blockCumulativeLost, blockDlsr, blockExtendedHighestSeq, blockFractionLost, blockJitter,
  blockLsr, blockSsrc, reportBlockOffset, rtcpCount, rtcpPacketLength, RtcpType, srNtpMiddle32 } from './rtcp-packet.ts';
import { readUint32 } from './rtp-packet.ts';

// RFC 3550 Appendix A.1 constants.
const RTP_SEQ_MOD = 0x10000;
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const MIN_SEQUENTIAL = 2;

const SENT_SR_RING = 16;

export interface RemoteReport {
  /** Fraction lost over the peer's last interval, 0–1. */
  readonly fractionLost: number;
  readonly cumulativeLost: number;
  readonly extendedHighestSeq: number;
  readonly jitterMs: number;
  /** Undefined until an RR/SR echoes an SR we sent. */
  readonly rttMs: number | undefined;
}

export interface RtpStatsSnapshot {
  readonly packetsReceived: number;
  readonly bytesReceived: number;
  readonly packetsSent: number;
  readonly bytesSent: number;
  readonly rtcpPacketsReceived: number;
  readonly rtcpPacketsSent: number;
  /** SSRC of the source being received, if any. */
  readonly ssrc: number | undefined;
  /** RFC 3550 A.3: packets expected from the current source (extended max − base + 1) and lost (may be < 0). */
  readonly expected: number;
  readonly lost: number;
  readonly jitterMs: number;
  readonly remote: RemoteReport | undefined;
}

export class RtpStats {
  clockRate: number;
  /** Our outgoing SSRC on this leg; when set, only report blocks about it are taken as "about us". */
  sendSsrc: number | undefined;

  packetsReceived = 0;
  bytesReceived = 0;
  packetsSent = 0;
  bytesSent = 0;
  rtcpPacketsReceived = 0;
  rtcpPacketsSent = 0;

  // RFC 3550 A.1 `source` state for the current sender.
  #hasSource = false;
  #ssrc = 0;
  #maxSeq = 0;
  #cycles = 0; // shifted count of seq number cycles (multiples of 65536)
  #baseSeq = 0;
  #badSeq = RTP_SEQ_MOD + 1;
  #probation = 0;
  #received = 0;
  #expectedPrior = 0;
  #receivedPrior = 0;
  // RFC 3550 A.8.
  #jitter = 0; // timestamp units, floating point (the RFC's integer version scales by 16; we keep the double)
  #hasTransit = false;
  #lastArrival = 0; // timestamp units
  #lastTs = 0;

  // From received SR: for our own RR's LSR/DLSR if we ever generate one.
  lastSrNtpMiddle = 0;
  lastSrReceivedAt = 0;

  // From received report blocks about our stream.
  #hasRemote = false;
  #remoteFraction = 0;
  #remoteCumulative = 0;
  #remoteHighest = 0;
  #remoteJitter = 0;
  #rttMs = -1;

  // SRs we sent: NTP middle 32 bits → our send time.
  readonly #sentSrNtp = new Uint32Array(SENT_SR_RING);
  readonly #sentSrAt = new Float64Array(SENT_SR_RING);
  #sentSrNext = 0;

  constructor(options: { clockRate?: number; sendSsrc?: number } = {}) {
    this.clockRate = options.clockRate ?? 8000;
    this.sendSsrc = options.sendSsrc;
  }

  /**
   * Per received RTP packet (already checked to be version-2 RTP). `nowMs` is a monotonic clock in ms.
   * Returns whether the packet counts as valid per RFC 3550 A.1 (false during probation or for a wild jump).
   */
  onRtpReceived(buf: Uint8Array, length: number, nowMs: number): boolean {
    this.packetsReceived++;
    this.bytesReceived += length;
    const seq = (buf[2]! << 8) | buf[3]!;
    const packetSsrc = readUint32(buf, 8);
    if (!this.#hasSource || packetSsrc !== this.#ssrc) {
      // A.1: a new source starts on probation; its first packet sets max_seq = seq - 1.
      this.#hasSource = true;
      this.#ssrc = packetSsrc;
      this.#initSeq(seq);
      this.#maxSeq = (seq - 1) & 0xffff;
      this.#probation = MIN_SEQUENTIAL;
      this.#jitter = 0;
      this.#hasTransit = false;
    }
    const valid = this.#updateSeq(seq);
    if (valid) this.#updateJitter(readUint32(buf, 4), nowMs);
    return valid;
  }

  onRtpSent(length: number): void {
    this.packetsSent++;
    this.bytesSent += length;
  }

  /** Per received (compound) RTCP packet. Malformed packets are counted and otherwise ignored. */
  onRtcpReceived(buf: Uint8Array, length: number, nowMs: number): void {
    this.rtcpPacketsReceived++;
    if (checkRtcpCompound(buf, length) !== 'ok') return;
    for (let off = 0; off < length; off += rtcpPacketLength(buf, off)) {
      const pt = buf[off + 1]!;
      if (pt !== RtcpType.SR && pt !== RtcpType.RR) continue;
      if (pt === RtcpType.SR) {
        this.lastSrNtpMiddle = srNtpMiddle32(buf, off);
        this.lastSrReceivedAt = nowMs;
      }
      const count = rtcpCount(buf, off);
      for (let i = 0; i < count; i++) {
        const block = reportBlockOffset(buf, off, i);
        if (this.sendSsrc !== undefined && blockSsrc(buf, block) !== this.sendSsrc) continue;
        this.#takeReportBlock(buf, block, nowMs);
        break;
      }
    }
  }

  /** Per sent (compound) RTCP packet: remembers the NTP time of SRs so their echo gives the RTT. */
  onRtcpSent(buf: Uint8Array, length: number, nowMs: number): void {
    this.rtcpPacketsSent++;
    if (checkRtcpCompound(buf, length) !== 'ok') return;
    for (let off = 0; off < length; off += rtcpPacketLength(buf, off)) {
      if (buf[off + 1] !== RtcpType.SR) continue;
      this.#sentSrNtp[this.#sentSrNext] = srNtpMiddle32(buf, off);
      this.#sentSrAt[this.#sentSrNext] = nowMs;
      this.#sentSrNext = (this.#sentSrNext + 1) % SENT_SR_RING;
    }
  }

  get ssrc(): number | undefined {
    return this.#hasSource ? this.#ssrc : undefined;
  }

  /** Highest sequence number received, extended with the cycle count (A.1 `cycles + max_seq`). */
  get extendedMaxSeq(): number {
    return this.#cycles + this.#maxSeq;
  }

  /** A.3: packets expected from the current source. 0 while it is on probation. */
  get expected(): number {
    if (!this.#hasSource || this.#probation > 0) return 0;
    return this.extendedMaxSeq - this.#baseSeq + 1;
  }

  /** A.3: cumulative number of packets lost, clamped to the signed 24 bits of a report block. */
  get lost(): number {
    const lost = this.expected - this.#received;
    return Math.max(-0x800000, Math.min(0x7fffff, lost));
  }

  /** A.8 interarrival jitter in timestamp units. */
  get jitter(): number {
    return this.#jitter;
  }

  get jitterMs(): number {
    return (this.#jitter / this.clockRate) * 1000;
  }

  /**
   * A.3: the fraction lost since the previous call (8-bit fixed point, 0–255), for an RR we generate. Advances the
   * interval, so call it once per report.
   */
  takeFractionLost(): number {
    const expected = this.expected;
    const expectedInterval = expected - this.#expectedPrior;
    this.#expectedPrior = expected;
    const receivedInterval = this.#received - this.#receivedPrior;
    this.#receivedPrior = this.#received;
    const lostInterval = expectedInterval - receivedInterval;
    if (expectedInterval === 0 || lostInterval <= 0) return 0;
    return Math.floor((lostInterval * 256) / expectedInterval);
  }

  get remote(): RemoteReport | undefined {
    if (!this.#hasRemote) return undefined;
    return {
      fractionLost: this.#remoteFraction / 256,
      cumulativeLost: this.#remoteCumulative,
      extendedHighestSeq: this.#remoteHighest,
      jitterMs: (this.#remoteJitter / this.clockRate) * 1000,
      rttMs: this.#rttMs < 0 ? undefined : this.#rttMs,
    };
  }

  snapshot(): RtpStatsSnapshot {
    return {
      packetsReceived: this.packetsReceived,
      bytesReceived: this.bytesReceived,
      packetsSent: this.packetsSent,
      bytesSent: this.bytesSent,
      rtcpPacketsReceived: this.rtcpPacketsReceived,
      rtcpPacketsSent: this.rtcpPacketsSent,
      ssrc: this.ssrc,
      expected: this.expected,
      lost: this.lost,
      jitterMs: this.jitterMs,
      remote: this.remote,
    };
  }

  #initSeq(seq: number): void {
    this.#baseSeq = seq;
    this.#maxSeq = seq;
    this.#badSeq = RTP_SEQ_MOD + 1; // so seq == bad_seq is false
    this.#cycles = 0;
    this.#received = 0;
    this.#receivedPrior = 0;
    this.#expectedPrior = 0;
  }

  /** RFC 3550 A.1 update_seq(), transcribed. */
  #updateSeq(seq: number): boolean {
    const udelta = (seq - this.#maxSeq) & 0xffff;
    if (this.#probation > 0) {
      // Source is not valid until MIN_SEQUENTIAL packets with sequential sequence numbers have been received.
      if (seq === ((this.#maxSeq + 1) & 0xffff)) {
        this.#probation--;
        this.#maxSeq = seq;
        if (this.#probation === 0) {
          this.#initSeq(seq);
          this.#received++;
          return true;
        }
      } else {
        this.#probation = MIN_SEQUENTIAL - 1;
        this.#maxSeq = seq;
      }
      return false;
    } else if (udelta < MAX_DROPOUT) {
      // In order, with permissible gap.
      if (seq < this.#maxSeq) this.#cycles += RTP_SEQ_MOD; // wrapped
      this.#maxSeq = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      // The sequence number made a very large jump.
      if (seq === this.#badSeq) {
        // Two sequential packets: assume the other side restarted without telling us, so just re-sync.
        this.#initSeq(seq);
        this.#hasTransit = false;
      } else {
        this.#badSeq = (seq + 1) & 0xffff;
        return false;
      }
    }
    // else: duplicate or reordered packet.
    this.#received++;
    return true;
  }

  /**
   * RFC 3550 A.8: D(i-1,i) = (R_i − R_{i−1}) − (S_i − S_{i−1}), J += (|D| − J)/16. The timestamp difference is taken
   * modulo 2^32 (signed), so a timestamp wrap is not a 2^32 jitter spike.
   */
  #updateJitter(rtpTs: number, nowMs: number): void {
    const arrival = (nowMs * this.clockRate) / 1000;
    if (this.#hasTransit) {
      const tsDelta = (rtpTs - this.#lastTs) | 0;
      let d = arrival - this.#lastArrival - tsDelta;
      if (d < 0) d = -d;
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#hasTransit = true;
    this.#lastArrival = arrival;
    this.#lastTs = rtpTs;
  }

  #takeReportBlock(buf: Uint8Array, block: number, nowMs: number): void {
    this.#hasRemote = true;
    this.#remoteFraction = blockFractionLost(buf, block);
    this.#remoteCumulative = blockCumulativeLost(buf, block);
    this.#remoteHighest = blockExtendedHighestSeq(buf, block);
    this.#remoteJitter = blockJitter(buf, block);
    const lsr = blockLsr(buf, block);
    if (lsr === 0) return; // no SR received yet by the peer
    for (let i = 0; i < SENT_SR_RING; i++) {
      if (this.#sentSrNtp[i] !== lsr) continue;
      const rtt = nowMs - this.#sentSrAt[i]! - (blockDlsr(buf, block) * 1000) / 65536;
      this.#rttMs = rtt < 0 ? 0 : rtt;
      return;
    }
  }
}
