import { describe, expect, it } from 'vitest';
import {
  checkRtp, isRtcp, isRtp, marker, payloadType, rtpHeaderLength, rtpPayloadLength, sequenceNumber, setMarker,
  setPayloadType, setSequenceNumber, setSsrc, setTimestamp, ssrc, timestamp,
} from '../../src/rtp-bridge/rtp-packet.ts';
import { checkRtcpCompound, blockCumulativeLost, reportBlockOffset } from '../../src/rtp-bridge/rtcp-packet.ts';
import { RtpHeader, RtpPacket } from 'werift-rtp';
import { bye, parseRtp, rr, rtp, sdes, sr } from './packets.ts';

describe('RTP fixed header accessors', () => {
  it('read the fields werift-rtp serialized', () => {
    const buf = rtp({ seq: 65535, ts: 0xfffffff0, ssrc: 0xdeadbeef, pt: 101, marker: true });
    expect(checkRtp(buf, buf.length)).toBe('ok');
    expect(sequenceNumber(buf)).toBe(65535);
    expect(timestamp(buf)).toBe(0xfffffff0);
    expect(ssrc(buf)).toBe(0xdeadbeef);
    expect(payloadType(buf)).toBe(101);
    expect(marker(buf)).toBe(true);
    expect(rtpHeaderLength(buf)).toBe(12);
    expect(rtpPayloadLength(buf, buf.length)).toBe(160);
  });

  it('write in place without disturbing neighbouring bits, as werift-rtp reads them back', () => {
    const buf = rtp({ seq: 1, ts: 2, ssrc: 3, pt: 0, marker: true });
    setPayloadType(buf, 8);
    setSequenceNumber(buf, 0xabcd);
    setTimestamp(buf, 0x89abcdef);
    setSsrc(buf, 0xfedcba98);
    const h = parseRtp(buf);
    expect([h.payloadType, h.marker, h.sequenceNumber, h.timestamp, h.ssrc]).toEqual([8, true, 0xabcd, 0x89abcdef, 0xfedcba98]);
    setMarker(buf, false);
    expect(parseRtp(buf).marker).toBe(false);
    expect(payloadType(buf)).toBe(8);
  });

  it('measure a header with CSRCs and a one-byte header extension (RFC 8285)', () => {
    const header = new RtpHeader({
      payloadType: 111, sequenceNumber: 7, timestamp: 9, ssrc: 1, csrc: [10, 11], csrcLength: 2,
      extension: true, extensions: [{ id: 1, payload: Buffer.from([0x80]) }, { id: 3, payload: Buffer.from([1, 2, 3]) }],
    });
    const buf = new RtpPacket(header, Buffer.alloc(20, 1)).serialize();
    expect(checkRtp(buf, buf.length)).toBe('ok');
    expect(rtpHeaderLength(buf)).toBe(buf.length - 20);
    expect(rtpPayloadLength(buf, buf.length)).toBe(20);
  });

  it('exclude RFC 3550 §5.1 padding from the payload', () => {
    const buf = Buffer.concat([rtp({ seq: 1, ts: 2, ssrc: 3, payload: Buffer.alloc(10) }), Buffer.from([0, 0, 0, 4])]);
    buf[0]! |= 0x20;
    expect(checkRtp(buf, buf.length)).toBe('ok');
    expect(rtpPayloadLength(buf, buf.length)).toBe(10);
  });

  it('reject truncated and malformed packets with a reason instead of reading past the end', () => {
    const good = rtp({ seq: 1, ts: 2, ssrc: 3, payload: Buffer.alloc(4) });
    expect(checkRtp(good, 11)).toBe('too-short');
    const v1 = Buffer.from(good);
    v1[0] = 0x40;
    expect(checkRtp(v1, v1.length)).toBe('bad-version');
    const cc = Buffer.from(good);
    cc[0] = 0x80 | 3; // 3 CSRCs = 12 more bytes; only 4 are there
    expect(checkRtp(cc, cc.length)).toBe('bad-csrc');
    const x = Buffer.from(good);
    x[0] = 0x90; // extension flag, extension header claims 0x0000 words but needs 4 bytes: the 4-byte payload
    x.writeUInt16BE(5, 14); // ...then says 5 words follow
    expect(checkRtp(x, x.length)).toBe('bad-extension');
    const pad = Buffer.from(good);
    pad[0] = 0xa0;
    pad[pad.length - 1] = 0;
    expect(checkRtp(pad, pad.length)).toBe('bad-padding');
    pad[pad.length - 1] = 200;
    expect(checkRtp(pad, pad.length)).toBe('bad-padding');
  });

  it('apply the RFC 5761 §4 rule: PT 64–95 is RTCP, never RTP', () => {
    const s = sr(1, { ntp: 5n, rtpTs: 6 });
    expect(isRtcp(s, s.length)).toBe(true);
    expect(isRtp(s, s.length)).toBe(false);
    expect(checkRtp(s, s.length)).toBe('rtcp');
    const media = rtp({ seq: 1, ts: 2, ssrc: 3, pt: 96, marker: true });
    expect(isRtp(media, media.length)).toBe(true);
    expect(isRtcp(media, media.length)).toBe(false);
  });
});

describe('RTCP compound validation (RFC 3550 A.2, relaxed by RFC 5506)', () => {
  it('accepts SR+SDES, RR+SDES+BYE and a lone reduced-size packet', () => {
    const a = Buffer.concat([sr(1, { ntp: 1n, rtpTs: 1 }, [{ ssrc: 2, packetsLost: 0x1000000 - 3 }]), sdes(1, 'x@y')]);
    expect(checkRtcpCompound(a, a.length)).toBe('ok');
    expect(blockCumulativeLost(a, reportBlockOffset(a, 0, 0))).toBe(-3);
    const b = Buffer.concat([rr(1), sdes(1, 'abc'), bye(1)]);
    expect(checkRtcpCompound(b, b.length)).toBe('ok');
    // RFC 4585 §6.3.1 PLI alone, as a browser sends it with a=rtcp-rsize: header, sender SSRC, media SSRC.
    const pli = Buffer.from('81ce0002' + '00000001' + '00000002', 'hex');
    expect(checkRtcpCompound(pli, pli.length)).toBe('ok');
  });

  it('rejects lengths that do not add up, bad versions and report counts that overflow the packet', () => {
    const a = Buffer.concat([rr(1, [{ ssrc: 2 }]), sdes(1, 'abc')]);
    expect(checkRtcpCompound(a, a.length - 4)).toBe('bad-length');
    const v = Buffer.from(a);
    v[0] = 0x41;
    expect(checkRtcpCompound(v, v.length)).toBe('bad-version');
    const c = Buffer.from(a);
    c[0] = 0x82; // claims 2 report blocks, has room for 1
    expect(checkRtcpCompound(c, c.length)).toBe('bad-count');
    expect(checkRtcpCompound(a, 4)).toBe('too-short');
  });
});
