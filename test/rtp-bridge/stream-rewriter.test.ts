import { describe, expect, it } from 'vitest';
import { RtcpPacketConverter, RtcpRrPacket, RtcpSourceDescriptionPacket, RtcpSrPacket } from 'werift-rtp';
import { StreamRewriter } from '../../src/rtp-bridge/stream-rewriter.ts';
import { bye, parseRtp, rr, rtp, sdes, sr } from './packets.ts';

const OUT = 0x11223344;

/** Feed packets through a rewriter and return the headers as sent. */
function relay(rw: StreamRewriter, packets: { seq: number; ts: number; ssrc: number; pt?: number; marker?: boolean; at: number; payload?: Buffer }[]) {
  const out = [];
  for (const p of packets) {
    const buf = rtp(p);
    if (rw.rewriteRtp(buf, buf.length, p.at)) out.push({ ...parseRtp(buf), payload: buf.subarray(12) });
  }
  return out;
}

/** n packets of a 20 ms / 8 kHz stream starting at `seq`, `ts`, wall-clock `at`. */
const stream = (ssrc: number, seq: number, ts: number, at: number, n: number, pt = 0) =>
  Array.from({ length: n }, (_, i) => ({ ssrc, seq: (seq + i) & 0xffff, ts: (ts + 160 * i) >>> 0, at: at + 20 * i, pt }));

describe('StreamRewriter', () => {
  it('keeps the first stream\'s seq and timestamp and replaces the SSRC with the fixed outgoing one', () => {
    const rw = new StreamRewriter({ ssrc: OUT });
    const out = relay(rw, stream(0xaaaa, 1000, 5000, 0, 3));
    expect(out.map((h) => [h.sequenceNumber, h.timestamp, h.ssrc])).toEqual([
      [1000, 5000, OUT], [1001, 5160, OUT], [1002, 5320, OUT],
    ]);
  });

  it('continues seq +1 and advances the timestamp by wall-clock time when the source changes SSRC', () => {
    const rw = new StreamRewriter({ ssrc: OUT });
    const a = relay(rw, stream(0xaaaa, 1000, 5000, 0, 10)); // last at t=180 ms, seq 1009, ts 6440
    // re-INVITE: the trunk restarts with a new SSRC and random bases, 100 ms after the last packet
    const b = relay(rw, stream(0xbbbb, 40000, 123456789, 280, 3));
    expect(a.at(-1)).toMatchObject({ sequenceNumber: 1009, timestamp: 6440 });
    expect(b.map((h) => h.sequenceNumber)).toEqual([1010, 1011, 1012]);
    expect(b.map((h) => h.timestamp)).toEqual([6440 + 800, 6440 + 960, 6440 + 1120]);
    expect(b.every((h) => h.ssrc === OUT)).toBe(true);
    expect(rw.inSsrc).toBe(0xbbbb);
  });

  it('stays continuous over a 30 s hold whether or not the sender keeps its SSRC', () => {
    // New SSRC after hold: seq strictly +1, timestamp advanced by the 30 s of silence.
    const rw = new StreamRewriter({ ssrc: OUT });
    const before = relay(rw, stream(0xaaaa, 65000, 1000, 0, 5));
    const after = relay(rw, stream(0xcccc, 7, 42, 80 + 30_000, 2));
    const last = before.at(-1)!;
    expect(after[0]!.sequenceNumber).toBe((last.sequenceNumber + 1) & 0xffff);
    expect(after[0]!.timestamp).toBe(last.timestamp + 30_000 * 8);
    expect(after[1]!.timestamp).toBe(last.timestamp + 30_000 * 8 + 160);

    // Same SSRC, seq continuing, timestamp jumped by the hold: a plain offset, nothing re-anchored.
    const same = new StreamRewriter({ ssrc: OUT });
    relay(same, stream(0xaaaa, 100, 1000, 0, 5));
    const resumed = relay(same, [{ ssrc: 0xaaaa, seq: 105, ts: 1000 + 5 * 160 + 240_000, at: 30_100 }]);
    expect(resumed[0]).toMatchObject({ sequenceNumber: 105, timestamp: 1000 + 5 * 160 + 240_000 });
    expect(same.streamChanges).toBe(1);

    // Same SSRC but the sender restarted its sequence (a jump beyond MAX_DROPOUT): re-anchored.
    const restarted = relay(same, [{ ssrc: 0xaaaa, seq: 30000, ts: 77, at: 60_100 }]);
    expect(restarted[0]!.sequenceNumber).toBe(106);
    expect(restarted[0]!.timestamp).toBe(1000 + 5 * 160 + 240_000 + 30_000 * 8);
  });

  it('never regresses the sequence when the new stream starts within one frame of the old one', () => {
    const rw = new StreamRewriter({ ssrc: OUT });
    const a = relay(rw, stream(0xaaaa, 10, 0, 0, 3));
    const b = relay(rw, stream(0xbbbb, 9000, 0, 41, 1)); // 1 ms after the last packet
    expect(b[0]!.sequenceNumber).toBe(a.at(-1)!.sequenceNumber + 1);
    expect(b[0]!.timestamp).toBe(a.at(-1)!.timestamp + 160); // at least the learned frame step
  });

  it('preserves gaps, reordering and duplicates within a stream, also after re-anchoring', () => {
    const rw = new StreamRewriter({ ssrc: OUT });
    const seqs = (ssrc: number, list: number[], at: number) => list.map((seq, i) => ({ ssrc, seq, ts: seq * 160, at: at + i * 20 }));
    const a = relay(rw, seqs(0xaaaa, [1, 2, 4, 3, 3, 7, 5], 0));
    expect(a.map((h) => h.sequenceNumber)).toEqual([1, 2, 4, 3, 3, 7, 5]);
    expect(a.map((h) => h.timestamp)).toEqual([160, 320, 640, 480, 480, 1120, 800]);
    const b = relay(rw, seqs(0xbbbb, [500, 502, 501], 1000));
    expect(b.map((h) => h.sequenceNumber)).toEqual([8, 10, 9]);
    // A late packet of the previous stream keeps its own offset: it goes out as the late packet it is.
    const late = relay(rw, seqs(0xaaaa, [6], 1100));
    expect(late[0]).toMatchObject({ sequenceNumber: 6, timestamp: 960 });
    const c = relay(rw, seqs(0xbbbb, [503], 1120));
    expect(c[0]!.sequenceNumber).toBe(11);
    expect(rw.streamChanges).toBe(2);
  });

  it('wraps sequence numbers at 65535 and timestamps at 2^32 inside and across streams', () => {
    const rw = new StreamRewriter({ ssrc: OUT });
    const a = relay(rw, stream(0xaaaa, 65533, 0xffffff00, 0, 5));
    expect(a.map((h) => h.sequenceNumber)).toEqual([65533, 65534, 65535, 0, 1]);
    expect(a.map((h) => h.timestamp)).toEqual([0xffffff00, 0xffffffa0, 0x40, 0xe0, 0x180]);
    // Switch right at the wrap: out continues 65535 → 0.
    const rw2 = new StreamRewriter({ ssrc: OUT });
    relay(rw2, stream(0xaaaa, 65534, 0, 0, 2));
    const b = relay(rw2, stream(0xbbbb, 1234, 0, 100, 2));
    expect(b.map((h) => h.sequenceNumber)).toEqual([0, 1]);
  });

  it('maps payload types from the negotiation, drops unnegotiated ones, and passes RFC 4733 events untouched', () => {
    const rw = new StreamRewriter({ ssrc: OUT });
    rw.setPayloadTypes([
      { in: 0, out: 0, clockRate: 8000 },
      { in: 101, out: 126, clockRate: 8000 }, // telephone-event/8000, numbered differently on the other side
    ]);
    // RFC 4733 §2.5: event 5, E bit on the last ones, volume 10, duration growing; constant timestamp; marker on the first.
    const event = (end: boolean, duration: number) => Buffer.from([5, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff]);
    const out = relay(rw, [
      { ssrc: 0xaaaa, seq: 10, ts: 1600, at: 0 },
      { ssrc: 0xaaaa, seq: 11, ts: 1760, at: 20, pt: 101, marker: true, payload: event(false, 160) },
      { ssrc: 0xaaaa, seq: 12, ts: 1760, at: 40, pt: 101, payload: event(false, 320) },
      { ssrc: 0xaaaa, seq: 13, ts: 1760, at: 60, pt: 101, payload: event(true, 480) },
      { ssrc: 0xaaaa, seq: 14, ts: 1760, at: 60, pt: 101, payload: event(true, 480) },
      { ssrc: 0xaaaa, seq: 15, ts: 2400, at: 80, pt: 8 }, // PCMA was not negotiated
      { ssrc: 0xaaaa, seq: 16, ts: 2560, at: 100 },
    ]);
    expect(out.map((h) => [h.sequenceNumber, h.payloadType, h.marker, h.timestamp])).toEqual([
      [10, 0, false, 1600], [11, 126, true, 1760], [12, 126, false, 1760], [13, 126, false, 1760], [14, 126, false, 1760],
      [16, 0, false, 2560],
    ]);
    expect(out.slice(1, 5).map((h) => [...h.payload])).toEqual([[5, 10, 0, 160], [5, 10, 1, 64], [5, 0x8a, 1, 224], [5, 0x8a, 1, 224]]);
    expect(rw.droppedByPayloadType).toBe(1);
  });

  it('refuses payload types a muxing receiver would take for RTCP (RFC 5761 §4)', () => {
    const rw = new StreamRewriter();
    expect(() => rw.setPayloadTypes([{ in: 96, out: 72, clockRate: 8000 }])).toThrow(expect.objectContaining({ code: 'BAD_PAYLOAD_TYPE', status: 488 }));
    expect(() => rw.setPayloadTypes([{ in: 128, out: 0, clockRate: 8000 }])).toThrow();
  });

  it('uses each payload type\'s clock rate for the timestamp jump over a source change', () => {
    const rw = new StreamRewriter({ ssrc: OUT });
    rw.setPayloadTypes([{ in: 111, out: 111, clockRate: 48000 }]);
    const a = relay(rw, stream(0xaaaa, 1, 0, 0, 2, 111).map((p) => ({ ...p, ts: p.ts * 6 })));
    const b = relay(rw, [{ ssrc: 0xbbbb, seq: 9, ts: 9, at: 20 + 500, pt: 111 }]);
    expect(b[0]!.timestamp).toBe(a[1]!.timestamp + 500 * 48);
  });

  it('rewrites RTCP from the same source to match: SR sender SSRC and RTP timestamp, SDES, BYE removed', () => {
    const rw = new StreamRewriter({ ssrc: OUT });
    relay(rw, stream(0xaaaa, 1000, 5000, 0, 2));
    relay(rw, stream(0xbbbb, 40000, 900000, 100, 1)); // ts offset now 5160 + 640 - 900000
    const compound = Buffer.concat([sr(0xbbbb, { ntp: 0x0102030405060708n, rtpTs: 900160, packets: 2, octets: 320 }), sdes(0xbbbb, 'trunk@example.net'), bye(0xaaaa)]);
    const length = rw.rewriteRtcp(compound, compound.length);
    expect(length).toBe(compound.length - 8);
    const [s, d, ...rest] = RtcpPacketConverter.deSerialize(compound.subarray(0, length));
    expect(rest).toEqual([]);
    expect(s).toBeInstanceOf(RtcpSrPacket);
    expect((s as RtcpSrPacket).ssrc).toBe(OUT);
    expect((s as RtcpSrPacket).senderInfo.rtpTimestamp).toBe(5160 + 640 + 160);
    expect((d as RtcpSourceDescriptionPacket).chunks[0]).toMatchObject({ source: OUT, items: [{ type: 1, text: 'trunk@example.net' }] });
  });

  it('maps report blocks about the opposite direction back to the original sender\'s SSRC and sequence space', () => {
    const aToB = new StreamRewriter({ ssrc: 0xa0a0a0a0 });
    const bToA = new StreamRewriter({ ssrc: 0xb0b0b0b0 });
    aToB.reverse = bToA;
    bToA.reverse = aToB;
    relay(bToA, stream(0xbbbb, 100, 0, 0, 2)); // B's first stream: offset 0
    relay(bToA, stream(0xbbb2, 7000, 0, 100, 3)); // B restarted: its seq 7002 went out to A as 104
    const report = rr(0xaaaa, [{ ssrc: 0xb0b0b0b0, highestSequence: (1 << 16) | 104, fractionLost: 3 }, { ssrc: 0x12345678, highestSequence: 9 }]);
    expect(aToB.rewriteRtcp(report, report.length)).toBe(report.length);
    const parsed = RtcpPacketConverter.deSerialize(report)[0] as RtcpRrPacket;
    expect(parsed.ssrc).toBe(0xa0a0a0a0);
    expect(parsed.reports.map((r) => [r.ssrc, r.highestSequence, r.fractionLost])).toEqual([[0xbbb2, (1 << 16) | 7002, 3], [0x12345678, 9, 0]]);
  });

  it('drops malformed RTCP and a compound that was only a BYE', () => {
    const rw = new StreamRewriter();
    const b = bye(1, 2);
    expect(rw.rewriteRtcp(b, b.length)).toBe(0);
    const r = rr(1, [{ ssrc: 2 }]);
    expect(rw.rewriteRtcp(r, r.length - 4)).toBe(0);
  });
});
