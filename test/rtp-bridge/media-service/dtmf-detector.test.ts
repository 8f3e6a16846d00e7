import { describe, expect, it } from 'vitest';
import { digitEvent, DtmfDetector, eventDigit } from '../../../src/rtp-bridge/dtmf.ts';
import { rtpPacket } from './helpers.ts';

/** An RFC 4733 packet: event, E bit, volume 10, duration (§2.3). */
function event(f: { ts: number; seq: number; code: number; end?: boolean; duration: number; ssrc?: number }): Buffer {
  const payload = Buffer.from([f.code, (f.end === true ? 0x80 : 0) | 10, f.duration >>> 8, f.duration & 0xff]);
  return rtpPacket({ seq: f.seq, ts: f.ts, ssrc: f.ssrc ?? 1, pt: 101, payload });
}

function detector(): { d: DtmfDetector; seen: Array<[number, number]> } {
  const seen: Array<[number, number]> = [];
  const d = new DtmfDetector((code, duration) => seen.push([code, duration]));
  d.setPayloadTypes([101]);
  return { d, seen };
}

describe('RFC 4733 event detection', () => {
  it('reports an event once, on its first end packet, whatever the retransmissions (§2.5.1.4)', () => {
    const { d, seen } = detector();
    const packets = [
      event({ seq: 1, ts: 800, code: 1, duration: 400 }),
      event({ seq: 2, ts: 800, code: 1, duration: 800 }),
      event({ seq: 3, ts: 800, code: 1, end: true, duration: 1200 }),
      event({ seq: 4, ts: 800, code: 1, end: true, duration: 1200 }),
      event({ seq: 5, ts: 800, code: 1, end: true, duration: 1200 }),
    ];
    for (const p of packets) d.receive(p, p.length);
    expect(seen).toEqual([[1, 1200]]);
    expect(d.payloadTypes[101]).toBe(1);
    expect(d.payloadTypes[0]).toBe(0);
  });

  it('reports an event whose end packets were all lost when the next event starts (§2.5.2.1)', () => {
    const { d, seen } = detector();
    for (const p of [event({ seq: 1, ts: 800, code: 4, duration: 400 }), event({ seq: 2, ts: 800, code: 4, duration: 800 })]) d.receive(p, p.length);
    expect(seen).toEqual([]);
    const next = event({ seq: 9, ts: 4000, code: 2, duration: 400 });
    d.receive(next, next.length);
    expect(seen).toEqual([[4, 0]]);
    const end = event({ seq: 10, ts: 4000, code: 2, end: true, duration: 800 });
    d.receive(end, end.length);
    expect(seen).toEqual([
      [4, 0],
      [2, 800],
    ]);
  });

  it('tells two presses of the same key apart by their timestamps, and ignores a short payload', () => {
    const { d, seen } = detector();
    for (const ts of [800, 2400]) {
      const p = event({ seq: ts, ts, code: 11, end: true, duration: 640 });
      d.receive(p, p.length);
    }
    const short = rtpPacket({ seq: 99, ts: 9000, ssrc: 1, pt: 101, payload: Buffer.from([1, 2]) });
    d.receive(short, short.length);
    expect(seen).toEqual([
      [11, 640],
      [11, 640],
    ]);
    expect(d.malformed).toBe(1);
  });

  it('maps digits and event codes (RFC 4733 §3.2 Table 7)', () => {
    expect([...'0123456789*#ABCD'].map(digitEvent)).toEqual([...Array(16).keys()]);
    expect(digitEvent('d')).toBe(15);
    expect(eventDigit(11)).toBe('#');
    expect(eventDigit(16)).toBeUndefined();
    expect(() => digitEvent('12')).toThrow(expect.objectContaining({ code: 'BAD_DTMF_DIGIT' }));
  });
});
