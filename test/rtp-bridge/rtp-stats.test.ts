import { describe, expect, it } from 'vitest';
import { RtpStats } from '../../src/rtp-bridge/rtp-stats.ts';
import { rr, rtp, sr } from './packets.ts';

function receive(stats: RtpStats, ssrc: number, seq: number, ts: number, at: number): boolean {
  const buf = rtp({ ssrc, seq: seq & 0xffff, ts: ts >>> 0 });
  return stats.onRtpReceived(buf, buf.length, at);
}

describe('RtpStats (RFC 3550 A.1, A.3, A.8)', () => {
  it('counts loss over a stream that wraps its sequence number, with a new source on probation', () => {
    const stats = new RtpStats({ clockRate: 8000 });
    const start = 65000;
    let dropped = 0;
    for (let i = 0; i < 1000; i++) {
      // Lose every 10th packet (but not the first two, which make the probation), and 5 in a row at i = 500.
      if ((i > 2 && i % 10 === 0) || (i >= 500 && i < 505)) {
        dropped++;
        continue;
      }
      receive(stats, 0x1234, start + i, i * 160, i * 20);
    }
    // A.1: the first packet only clears probation (MIN_SEQUENTIAL = 2), the second is the base and first counted.
    expect(stats.expected).toBe(999);
    expect(stats.lost).toBe(dropped);
    expect(stats.extendedMaxSeq).toBe(65536 + ((start + 999) & 0xffff));
    expect(stats.packetsReceived).toBe(1000 - dropped);
    expect(stats.ssrc).toBe(0x1234);
    // A.3 fraction lost: 8-bit fixed point of lost/expected for the interval, then reset for the next interval.
    expect(stats.takeFractionLost()).toBe(Math.floor((dropped * 256) / 999));
    for (let i = 1000; i < 1100; i++) receive(stats, 0x1234, start + i, i * 160, i * 20);
    expect(stats.takeFractionLost()).toBe(0);
  });

  it('holds a new source on probation until two sequential packets arrive', () => {
    const stats = new RtpStats();
    expect(receive(stats, 1, 100, 0, 0)).toBe(false);
    expect(stats.expected).toBe(0);
    expect(receive(stats, 1, 300, 0, 20)).toBe(false); // not sequential: probation starts over
    expect(receive(stats, 1, 301, 160, 40)).toBe(true);
    expect([stats.expected, stats.lost]).toEqual([1, 0]);
  });

  it('re-syncs after a big jump only when two sequential packets confirm it', () => {
    const stats = new RtpStats();
    for (let i = 0; i < 10; i++) receive(stats, 1, 100 + i, i * 160, i * 20);
    expect(receive(stats, 1, 20000, 0, 220)).toBe(false); // one stray packet is ignored
    expect(stats.expected).toBe(9);
    expect(receive(stats, 1, 20001, 160, 240)).toBe(true); // ...the second confirms a restart
    expect([stats.expected, stats.lost]).toEqual([1, 0]);
  });

  it('counts duplicates as received, which can make loss negative (A.3)', () => {
    const stats = new RtpStats();
    for (const seq of [1, 2, 3, 3, 3, 4]) receive(stats, 1, seq, seq * 160, seq * 20);
    expect([stats.expected, stats.lost]).toEqual([3, -2]);
  });

  it('measures zero jitter for a steady stream and the A.8 estimate for a known alternating delay', () => {
    const steady = new RtpStats({ clockRate: 8000 });
    for (let i = 0; i < 200; i++) receive(steady, 1, i, 4_000_000_000 + i * 160, 1000 + i * 20); // wraps ts too
    expect(steady.jitter).toBeCloseTo(0, 6);

    // Every other packet arrives 4 ms late: |D| = 4 ms = 32 timestamp units for every packet pair.
    const stats = new RtpStats({ clockRate: 8000 });
    for (let i = 0; i < 400; i++) receive(stats, 1, i, i * 160, i * 20 + (i % 2 === 1 ? 4 : 0));
    // J converges to |D| geometrically: J_n = 32 (1 − (15/16)^n).
    expect(stats.jitter).toBeCloseTo(32, 3);
    expect(stats.jitterMs).toBeCloseTo(4, 3);
    // After exactly 16 jitter updates from zero it is 32 (1 − (15/16)^16).
    const early = new RtpStats({ clockRate: 8000 });
    for (let i = 0; i < 18; i++) receive(early, 1, i, i * 160, i * 20 + (i % 2 === 1 ? 4 : 0));
    expect(early.jitter).toBeCloseTo(32 * (1 - (15 / 16) ** 16), 9);
  });

  it('takes loss and jitter about our stream from the peer\'s report blocks', () => {
    const stats = new RtpStats({ clockRate: 8000, sendSsrc: 0xabc });
    const report = rr(0x999, [
      { ssrc: 0x111, fractionLost: 200, packetsLost: 50 },
      { ssrc: 0xabc, fractionLost: 64, packetsLost: 0x1000000 - 2, highestSequence: 70000, jitter: 80 },
    ]);
    stats.onRtcpReceived(report, report.length, 5000);
    expect(stats.remote).toEqual({ fractionLost: 0.25, cumulativeLost: -2, extendedHighestSeq: 70000, jitterMs: 10, rttMs: undefined });
  });

  it('computes the RTT from LSR/DLSR against the time we sent the echoed SR', () => {
    const stats = new RtpStats({ clockRate: 8000, sendSsrc: 0xabc });
    const ntp = 0x83aa7e80_80000000n; // middle 32 bits: 0x7e808000
    const ours = sr(0xabc, { ntp, rtpTs: 1 });
    stats.onRtcpSent(ours, ours.length, 10_000);
    // The peer held it 500 ms (DLSR in 1/65536 s) and its RR arrived 620 ms after we sent the SR: RTT 120 ms.
    const answer = rr(0x999, [{ ssrc: 0xabc, lsr: 0x7e808000, dlsr: 32768 }]);
    stats.onRtcpReceived(answer, answer.length, 10_620);
    expect(stats.remote?.rttMs).toBeCloseTo(120, 6);
    // An LSR we never sent (an SR relayed by someone else) gives no RTT.
    const other = new RtpStats({ sendSsrc: 0xabc });
    other.onRtcpReceived(answer, answer.length, 10_620);
    expect(other.remote?.rttMs).toBeUndefined();
  });

  it('remembers the last SR received and ignores malformed RTCP', () => {
    const stats = new RtpStats();
    const theirs = sr(0x999, { ntp: 0x0000_1234_5678_0000n, rtpTs: 1 });
    stats.onRtcpReceived(theirs, theirs.length, 777);
    expect([stats.lastSrNtpMiddle, stats.lastSrReceivedAt]).toEqual([0x12345678, 777]);
    stats.onRtcpReceived(theirs, theirs.length - 4, 800);
    expect(stats.rtcpPacketsReceived).toBe(2);
    expect(stats.lastSrReceivedAt).toBe(777);
  });
});
