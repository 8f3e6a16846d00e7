import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SrtpContext } from '../../../src/webrtc/srtp/context.ts';
import { SrtpConfigError } from '../../../src/webrtc/srtp/errors.ts';
import { SrtpFailure } from '../../../src/webrtc/srtp/failure.ts';
import type { SrtpProfileName } from '../../../src/webrtc/srtp/profiles.ts';
import { ALL_PROFILES, keysFor, rtcpCompound, rtpLength, rtpPacket } from './helpers.ts';

interface Wire {
  packet: Buffer;
  length: number;
}

/** A sender's protected packets, by sequence number, each in its own buffer so tests can replay them. */
function protectSequence(profile: SrtpProfileName, seqs: number[], ssrc = 0x11223344): Map<number, Wire> {
  const sender = new SrtpContext(keysFor(profile));
  const wire = new Map<number, Wire>();
  for (const seq of seqs) {
    const packet = rtpPacket({ seq, ssrc });
    wire.set(seq, { packet, length: sender.protectRtp(packet, rtpLength({ seq }), packet) });
  }
  return wire;
}

/** Unprotects a copy, so the original stays available for a replay. */
function receive(receiver: SrtpContext, wire: Wire): number {
  const copy = Buffer.from(wire.packet.subarray(0, wire.length));
  return receiver.unprotectRtp(copy, wire.length, copy);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe.each(ALL_PROFILES)('SrtpContext %s under hostile input', (profile) => {
  it('reports the same RTP packet twice as Replayed', () => {
    const wire = protectSequence(profile, [500]);
    const receiver = new SrtpContext(keysFor(profile));
    expect(receive(receiver, wire.get(500)!)).toBe(rtpLength({ seq: 500 }));
    expect(receive(receiver, wire.get(500)!)).toBe(SrtpFailure.Replayed);
  });

  it('reports the same SRTCP packet twice as Replayed', () => {
    const sender = new SrtpContext(keysFor(profile));
    const receiver = new SrtpContext(keysFor(profile));
    const { packet, length } = rtcpCompound(77, 1);
    const n = sender.protectRtcp(packet, length, packet);
    const copy = Buffer.from(packet.subarray(0, n));
    expect(receiver.unprotectRtcp(packet, n, packet)).toBe(length);
    expect(receiver.unprotectRtcp(copy, n, copy)).toBe(SrtpFailure.Replayed);
  });

  it('accepts a reordered packet inside the window once', () => {
    const wire = protectSequence(profile, range(1, 11));
    const receiver = new SrtpContext(keysFor(profile));
    for (const seq of [1, 2, 3, 5, 6, 7, 8, 9, 10]) expect(receive(receiver, wire.get(seq)!)).toBeGreaterThan(0);
    expect(receive(receiver, wire.get(4)!)).toBe(rtpLength({ seq: 4 }));
    expect(receive(receiver, wire.get(4)!)).toBe(SrtpFailure.Replayed);
  });

  it('reports a packet older than the window as TooOld, at the configured window size', () => {
    const wire = protectSequence(profile, range(1000, 1200));
    const receiver = new SrtpContext(keysFor(profile), { replayWindowSize: 64 });
    for (let seq = 1000; seq < 1200; seq++) if (seq !== 1135 && seq !== 1136) receive(receiver, wire.get(seq)!);
    expect(receive(receiver, wire.get(1135)!)).toBe(SrtpFailure.TooOld); // 64 behind 1199
    expect(receive(receiver, wire.get(1136)!)).toBe(rtpLength({ seq: 1136 })); // 63 behind
    const defaultWindow = new SrtpContext(keysFor(profile));
    receive(defaultWindow, wire.get(1199)!);
    expect(receive(defaultWindow, wire.get(1199 - 128)!)).toBe(SrtpFailure.TooOld);
    expect(receive(defaultWindow, wire.get(1199 - 127)!)).toBe(rtpLength({ seq: 1072 }));
  });

  it('refuses a tampered packet without touching it or moving the ROC and replay window', () => {
    // A forged packet far ahead (seq 30000, 29900 past the highest) must not shift the window: if it did,
    // seq 99 would become TooOld; and 30000's genuine twin must not be seen as a replay afterwards.
    const wire = protectSequence(profile, [99, 100, 101, 30000]);
    const receiver = new SrtpContext(keysFor(profile));
    expect(receive(receiver, wire.get(100)!)).toBeGreaterThan(0);
    const genuine = wire.get(30000)!;
    for (const at of [3, 20, genuine.length - 1]) {
      const forged = Buffer.from(genuine.packet.subarray(0, genuine.length));
      forged[at]! ^= 0x01;
      const before = Buffer.from(forged);
      expect(receiver.unprotectRtp(forged, genuine.length, forged), `octet ${at}`).toBe(SrtpFailure.AuthFailed);
      expect(forged).toEqual(before);
    }
    expect(receive(receiver, wire.get(99)!)).toBe(rtpLength({ seq: 99 }));
    expect(receive(receiver, wire.get(101)!)).toBe(rtpLength({ seq: 101 }));
    expect(receive(receiver, genuine)).toBe(rtpLength({ seq: 30000 }));
  });

  it('refuses a tampered SRTCP packet, index word included, and still accepts the genuine one', () => {
    const sender = new SrtpContext(keysFor(profile));
    const receiver = new SrtpContext(keysFor(profile));
    const { packet, length } = rtcpCompound(5, 3);
    const n = sender.protectRtcp(packet, length, packet);
    const indexAt = n - (profile.includes('GCM') ? 4 : 14);
    for (const at of [1, 12, indexAt + 3, n - 1]) {
      const forged = Buffer.from(packet.subarray(0, n));
      forged[at]! ^= 0x01;
      expect(receiver.unprotectRtcp(forged, n, forged), `octet ${at}`).toBe(SrtpFailure.AuthFailed);
    }
    expect(receiver.unprotectRtcp(packet, n, packet)).toBe(length);
  });

  it('does not let unauthenticated packets claim SSRC slots, and caps the SSRCs it tracks', () => {
    const receiver = new SrtpContext(keysFor(profile), { maxSsrcs: 2 });
    for (let ssrc = 1; ssrc <= 10; ssrc++) {
      const forged = rtpPacket({ seq: 1, ssrc });
      expect(receiver.unprotectRtp(forged, rtpLength({ seq: 1 }) + 16, forged)).toBe(SrtpFailure.AuthFailed);
    }
    for (const ssrc of [101, 102]) {
      expect(receive(receiver, protectSequence(profile, [1], ssrc).get(1)!)).toBeGreaterThan(0);
    }
    expect(receive(receiver, protectSequence(profile, [1], 103).get(1)!)).toBe(SrtpFailure.SsrcLimit);

    const sender = new SrtpContext(keysFor(profile), { maxSsrcs: 2 });
    const send = (ssrc: number): number => sender.protectRtp(rtpPacket({ seq: 1, ssrc }), rtpLength({ seq: 1 }), Buffer.alloc(300));
    expect(send(1)).toBeGreaterThan(0);
    expect(send(2)).toBeGreaterThan(0);
    expect(send(3)).toBe(SrtpFailure.SsrcLimit);
  });

  it('returns Malformed for truncated and structurally impossible packets', () => {
    const context = new SrtpContext(keysFor(profile));
    const out = Buffer.alloc(2048);
    const tag = context.rtpOverhead;
    const valid = rtpPacket({ seq: 1, csrcs: [1, 2], extensionWords: 1, payloadLength: 10 });
    const cases: [string, Buffer, number][] = [
      ['empty', Buffer.alloc(0), 0],
      ['11 octets', valid, 11],
      ['fixed header only, no room for the tag', valid, 12 + tag - 1],
      ['RTP version 1', Buffer.from([0x40, ...valid.subarray(1, 60)]), 60],
      ['CSRC count beyond the packet', Buffer.from([0x8f, ...valid.subarray(1, 40)]), 40],
      ['extension length beyond the packet', Buffer.from([...valid.subarray(0, 22), 0xff, 0xff, ...valid.subarray(24)]), 60],
      ['length beyond the buffer', valid, valid.length + 1],
      ['negative length', valid, -1],
      ['fractional length', valid, 30.5],
      ['NaN length', valid, Number.NaN],
    ];
    for (const [name, packet, length] of cases) {
      expect(context.unprotectRtp(packet, length, out), name).toBe(SrtpFailure.Malformed);
      if (name !== 'fixed header only, no room for the tag') {
        expect(context.protectRtp(packet, length, out), name).toBe(SrtpFailure.Malformed);
      }
    }
    const rtcp = rtcpCompound(1, 1).packet;
    expect(context.protectRtcp(rtcp, 7, out)).toBe(SrtpFailure.Malformed);
    expect(context.unprotectRtcp(rtcp, 8 + context.rtcpOverhead - 1, out)).toBe(SrtpFailure.Malformed);
    expect(context.unprotectRtcp(Buffer.from([0x01, ...rtcp.subarray(1, 52)]), 52, out)).toBe(SrtpFailure.Malformed);
  });

  it('returns BufferTooSmall instead of writing past the end of out', () => {
    const context = new SrtpContext(keysFor(profile));
    const length = rtpLength({ seq: 1 });
    expect(context.protectRtp(rtpPacket({ seq: 1 }), length, Buffer.alloc(length + context.rtpOverhead - 1))).toBe(
      SrtpFailure.BufferTooSmall,
    );
    const { packet, length: rtcpLength } = rtcpCompound(1, 1);
    expect(context.protectRtcp(packet, rtcpLength, Buffer.alloc(rtcpLength))).toBe(SrtpFailure.BufferTooSmall);
    expect(context.unprotectRtp(rtpPacket({ seq: 1 }), length, Buffer.alloc(10))).toBe(SrtpFailure.BufferTooSmall);
  });

  it('never throws on random bytes, and never accepts them', () => {
    const context = new SrtpContext(keysFor(profile));
    const out = Buffer.alloc(4096);
    for (let i = 0; i < 2000; i++) {
      const packet = randomBytes(i % 300);
      if (i % 3 === 0 && packet.length > 0) packet[0] = 0x80 | (packet[0]! & 0x3f); // make version 2 common
      const length = i % 7 === 0 ? packet.length + (i % 5) - 2 : packet.length;
      const results = [
        context.unprotectRtp(packet, length, out),
        context.unprotectRtcp(packet, length, out),
        context.unprotectRtp(packet, length, packet),
        context.unprotectRtcp(packet, length, packet),
      ];
      for (const r of results) expect(r).toBeLessThan(0);
      expect(Number.isInteger(context.protectRtp(packet, length, out))).toBe(true);
      expect(Number.isInteger(context.protectRtcp(packet, length, out))).toBe(true);
    }
  });
});

describe('SrtpContext options', () => {
  it('refuses a replay window smaller than RFC 3711 §3.3.2 allows, or an SSRC cap below 1', () => {
    const keys = keysFor('SRTP_AES128_CM_HMAC_SHA1_80');
    expect(() => new SrtpContext(keys, { replayWindowSize: 32 })).toThrow(SrtpConfigError);
    expect(() => new SrtpContext(keys, { replayWindowSize: 64.5 })).toThrow(SrtpConfigError);
    expect(() => new SrtpContext(keys, { maxSsrcs: 0 })).toThrow(SrtpConfigError);
    expect(new SrtpContext(keys, { replayWindowSize: 64, maxSsrcs: 1 }).profile).toBe('SRTP_AES128_CM_HMAC_SHA1_80');
  });
});
