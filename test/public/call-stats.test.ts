import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { callQuality, readCallStats, type StatsEntry } from '../../public/common/call-stats.ts';

/** getStats() of a Chromium 156 caller after 6 s of Opus over loopback (captured with playwright). */
const report = JSON.parse(readFileSync(new URL('./fixtures/chromium-getstats-audio.json', import.meta.url), 'utf8')) as StatsEntry[];

describe('readCallStats', () => {
  it('reads the audio inbound-rtp, outbound-rtp and remote-inbound-rtp of a real Chromium report', () => {
    const sample = readCallStats(report);
    expect(sample).toMatchObject({
      packetsReceived: 303,
      packetsLost: 0,
      bytesReceived: 14531,
      jitter: 0.002,
      totalAudioEnergy: 0,
      audioLevel: 0,
      packetsSent: 303,
      bytesSent: 14531,
      codec: 'opus',
      candidatePairState: 'succeeded',
    });
    // RTT from the RTCP receiver report (remote-inbound-rtp), not the candidate pair's STUN RTT.
    expect(sample.roundTripTime).toBeCloseTo(0.001404, 6);
  });

  it('falls back to the selected candidate pair’s STUN round trip before the first RTCP report', () => {
    const withoutRtcp = report.filter((e) => e.type !== 'remote-inbound-rtp');
    expect(readCallStats(withoutRtcp).roundTripTime).toBe(0.002);
  });

  it('gives zeros and nulls for an empty report (call not connected yet)', () => {
    expect(readCallStats([])).toEqual({
      timestamp: 0,
      packetsReceived: 0,
      packetsLost: 0,
      bytesReceived: 0,
      jitter: null,
      totalAudioEnergy: null,
      audioLevel: null,
      packetsSent: 0,
      bytesSent: 0,
      roundTripTime: null,
      codec: null,
      candidatePairState: null,
    });
  });

  it('ignores video streams', () => {
    const video = { type: 'inbound-rtp', id: 'v', kind: 'video', packetsReceived: 9999 };
    expect(readCallStats([video, ...report]).packetsReceived).toBe(303);
  });
});

describe('callQuality', () => {
  const base = readCallStats(report);

  it('grades a clean loopback call good, in milliseconds', () => {
    const q = callQuality(base);
    expect(q.grade).toBe('good');
    expect(q.rttMs).toBeCloseTo(1.404, 3);
    expect(q.jitterMs).toBeCloseTo(2, 6);
    expect(q.lossPercent).toBe(0);
  });

  it('computes loss over the interval since the previous sample, not the whole call', () => {
    const later = { ...base, packetsReceived: base.packetsReceived + 45, packetsLost: base.packetsLost + 5 };
    const q = callQuality(later, base);
    expect(q.lossPercent).toBeCloseTo(10, 6);
    expect(q.grade).toBe('poor');
  });

  it('reports no loss figure when no packets were expected in the interval', () => {
    expect(callQuality(base, base).lossPercent).toBeNull();
  });

  it('grades by the worst of RTT, jitter and loss', () => {
    expect(callQuality({ ...base, roundTripTime: 0.35 }).grade).toBe('fair');
    expect(callQuality({ ...base, roundTripTime: 0.6 }).grade).toBe('poor');
    expect(callQuality({ ...base, jitter: 0.035 }).grade).toBe('fair');
    expect(callQuality(readCallStats([])).grade).toBe('unknown');
  });
});
