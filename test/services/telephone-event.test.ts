/**
 * RFC 4733 reception on packets serialized by werift-rtp: one report per key press whatever the retransmissions,
 * losses or segmentation.
 */
import { describe, it, expect } from 'vitest';
import { RtpHeader, RtpPacket } from 'werift-rtp';
import { TelephoneEventReceiver, digitEvent, eventDigit } from '../../src/services/telephone-event.ts';

let seq = 0;
function event(code: number, ts: number, end: boolean, duration: number, ssrc = 0xabcdef01): Buffer {
  const payload = Buffer.from([code, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff]);
  return new RtpPacket(new RtpHeader({ payloadType: 101, sequenceNumber: seq++ & 0xffff, timestamp: ts, ssrc, marker: duration === 0 }), payload).serialize();
}

function collect(): { receiver: TelephoneEventReceiver; events: Array<[number, number]> } {
  const events: Array<[number, number]> = [];
  return { receiver: new TelephoneEventReceiver((code, duration) => events.push([code, duration])), events };
}

function feed(receiver: TelephoneEventReceiver, packets: Buffer[]): void {
  for (const p of packets) receiver.receive(p, p.length);
}

describe('TelephoneEventReceiver', () => {
  it('reports a press once on its first end packet (RFC 4733 §2.5.1.4: the end is sent three times)', () => {
    const { receiver, events } = collect();
    feed(receiver, [event(5, 1000, false, 0), event(5, 1000, false, 160), event(5, 1000, false, 320)]);
    expect(events).toEqual([]);
    feed(receiver, [event(5, 1000, true, 480), event(5, 1000, true, 480), event(5, 1000, true, 480)]);
    expect(events).toEqual([[5, 480]]);
    // A straggler of the same event after its end changes nothing.
    feed(receiver, [event(5, 1000, false, 320)]);
    expect(events).toEqual([[5, 480]]);
  });

  it('reports the same digit pressed twice as two events (told apart by timestamp)', () => {
    const { receiver, events } = collect();
    feed(receiver, [event(1, 2000, false, 0), event(1, 2000, true, 800), event(1, 2000, true, 800)]);
    feed(receiver, [event(1, 4000, false, 0), event(1, 4000, true, 800), event(1, 4000, true, 800), event(1, 4000, true, 800)]);
    expect(events).toEqual([
      [1, 800],
      [1, 800],
    ]);
  });

  it('reports a press whose end packets were all lost when the next one starts', () => {
    const { receiver, events } = collect();
    feed(receiver, [event(7, 3000, false, 0), event(7, 3000, false, 160)]);
    feed(receiver, [event(8, 6000, false, 0)]);
    expect(events).toEqual([[7, 0]]);
    feed(receiver, [event(8, 6000, true, 400)]);
    expect(events).toEqual([
      [7, 0],
      [8, 400],
    ]);
  });

  it('takes a long press split into segments (§2.5.1.3) as one event', () => {
    const { receiver, events } = collect();
    feed(receiver, [event(0, 100, false, 0), event(0, 100, false, 0xffff)]);
    feed(receiver, [event(0, 100 + 0xffff, false, 160), event(0, 100 + 0xffff, true, 8000), event(0, 100 + 0xffff, true, 8000)]);
    expect(events).toEqual([[0, 8000]]);
  });

  it('tells sources apart and ignores truncated payloads', () => {
    const { receiver, events } = collect();
    feed(receiver, [event(3, 500, true, 160, 1), event(3, 500, true, 160, 2)]);
    expect(events).toEqual([
      [3, 160],
      [3, 160],
    ]);
    const short = new RtpPacket(new RtpHeader({ payloadType: 101, sequenceNumber: 1, timestamp: 9, ssrc: 1 }), Buffer.from([1, 0x80])).serialize();
    receiver.receive(short, short.length);
    expect(receiver.malformed).toBe(1);
    expect(events).toHaveLength(2);
  });
});

describe('DTMF digits (RFC 4733 §3.2)', () => {
  it('maps events 0–15 to 0–9 * # A–D and nothing else', () => {
    expect(Array.from({ length: 16 }, (_, i) => eventDigit(i)).join('')).toBe('0123456789*#ABCD');
    expect(eventDigit(16)).toBeUndefined();
    expect(digitEvent('#')).toBe(11);
  });
});
