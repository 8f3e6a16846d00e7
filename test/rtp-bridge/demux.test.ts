import { describe, expect, it } from 'vitest';
import { classifyPacket, isDtls, isRtpOrRtcp, isStun, isTurnChannel, isZrtp } from '../../src/rtp-bridge/demux.ts';
import { rr, rtp, sr } from './packets.ts';

// RFC 5389 §6 Binding Request header: type 0x0001, length 0, magic cookie, transaction id.
const stunBindingRequest = Buffer.from('000100002112a442' + '0102030405060708090a0b0c', 'hex');
// RFC 6347 DTLS 1.2 record header of a ClientHello: content type 22 (handshake), version 0xfefd.
const dtlsClientHello = Buffer.from('16fefd000000000000000000', 'hex');

describe('RFC 7983 first-byte demultiplexing', () => {
  it('classifies STUN, DTLS, RTP and RTCP datagrams as a WebRTC 5-tuple carries them', () => {
    expect(classifyPacket(stunBindingRequest)).toBe('stun');
    expect(classifyPacket(dtlsClientHello)).toBe('dtls');
    expect(classifyPacket(rtp({ seq: 1, ts: 2, ssrc: 3, pt: 111 }))).toBe('rtp');
    expect(classifyPacket(rtp({ seq: 1, ts: 2, ssrc: 3, pt: 0, marker: true }))).toBe('rtp');
    expect(classifyPacket(sr(3, { ntp: 1n, rtpTs: 2 }))).toBe('rtcp');
    expect(classifyPacket(rr(3, [{ ssrc: 4 }]))).toBe('rtcp');
  });

  it('draws the ranges exactly at the RFC 7983 §7 boundaries', () => {
    expect([0, 3].map(isStun)).toEqual([true, true]);
    expect(isStun(4)).toBe(false);
    expect([15, 16, 19, 20].map(isZrtp)).toEqual([false, true, true, false]);
    expect([19, 20, 63, 64].map(isDtls)).toEqual([false, true, true, false]);
    expect([63, 64, 79, 80].map(isTurnChannel)).toEqual([false, true, true, false]);
    expect([127, 128, 191, 192].map(isRtpOrRtcp)).toEqual([false, true, true, false]);
    expect(classifyPacket(Buffer.from([0x10, 0]))).toBe('zrtp');
    expect(classifyPacket(Buffer.from([0x40, 0x00, 0, 4]))).toBe('turn-channel');
  });

  it('splits RTP from RTCP on the second byte per RFC 5761 §4 (PT 64–95 with or without marker)', () => {
    expect(classifyPacket(Buffer.from([0x80, 63]))).toBe('rtp');
    expect(classifyPacket(Buffer.from([0x80, 64]))).toBe('rtcp');
    expect(classifyPacket(Buffer.from([0x80, 95]))).toBe('rtcp');
    expect(classifyPacket(Buffer.from([0x80, 96]))).toBe('rtp');
    expect(classifyPacket(Buffer.from([0x80, 192]))).toBe('rtcp');
    expect(classifyPacket(Buffer.from([0x80, 223]))).toBe('rtcp');
    expect(classifyPacket(Buffer.from([0x80, 224]))).toBe('rtp');
  });

  it('calls unassigned first bytes, QUIC and truncated packets unknown', () => {
    expect(classifyPacket(Buffer.from([8]))).toBe('unknown');
    expect(classifyPacket(Buffer.from([100]))).toBe('unknown');
    expect(classifyPacket(Buffer.from([0xc3, 0, 0, 0, 1]))).toBe('unknown'); // QUIC long header (RFC 9443)
    expect(classifyPacket(Buffer.alloc(0))).toBe('unknown');
    expect(classifyPacket(Buffer.from([0x80]))).toBe('unknown');
    // The length argument bounds what is looked at: a larger receive buffer with 0 valid bytes is empty.
    expect(classifyPacket(Buffer.from([0x80, 0]), 0)).toBe('unknown');
  });
});
