import { describe, expect, it } from 'vitest';
import { SrtpFailure } from '../../../src/webrtc/srtp/failure.ts';
import { ReplayWindow } from '../../../src/webrtc/srtp/replay-window.ts';

describe('replay window (RFC 3711 §3.3.2)', () => {
  it('accepts anything before the first packet and nothing twice', () => {
    const w = new ReplayWindow(64);
    expect(w.highest).toBe(-1);
    expect(w.check(1000)).toBe(0);
    w.accept(1000);
    expect(w.check(1000)).toBe(SrtpFailure.Replayed);
    expect(w.check(1001)).toBe(0);
  });

  it('accepts a reordered packet inside the window once, and rejects one that fell out of it as too old', () => {
    const w = new ReplayWindow(64);
    for (const index of [100, 101, 103, 104]) w.accept(index);
    expect(w.check(102)).toBe(0);
    w.accept(102);
    expect(w.check(102)).toBe(SrtpFailure.Replayed);
    expect(w.check(104 - 63)).toBe(0); // the oldest index still inside the window
    expect(w.check(104 - 64)).toBe(SrtpFailure.TooOld);
    expect(w.highest).toBe(104);
  });

  it('forgets the bits of indices that slid out, so the bitmap can be reused for new ones', () => {
    const w = new ReplayWindow(64);
    for (let i = 0; i < 64; i++) w.accept(i);
    w.accept(64 + 10); // slides 11 steps: 64..73 must read as not received, except 74 itself
    for (let i = 64; i < 74; i++) expect(w.check(i), `index ${i}`).toBe(0);
    expect(w.check(74)).toBe(SrtpFailure.Replayed);
    expect(w.check(20)).toBe(SrtpFailure.Replayed);
    expect(w.check(10)).toBe(SrtpFailure.TooOld);
  });

  it('clears everything on a jump of a whole window or more', () => {
    const w = new ReplayWindow(128);
    for (let i = 0; i < 128; i++) w.accept(i);
    w.accept(1000);
    for (let i = 1000 - 127; i < 1000; i++) expect(w.check(i), `index ${i}`).toBe(0);
  });

  it('works on 48-bit SRTP indices beyond 2^32', () => {
    const w = new ReplayWindow(64);
    const base = 0xffff_ffff_0000 + 5;
    w.accept(base);
    w.accept(base + 2);
    expect(w.check(base + 1)).toBe(0);
    expect(w.check(base)).toBe(SrtpFailure.Replayed);
    expect(w.check(base + 2 - 63)).toBe(0);
    expect(w.check(base + 2 - 64)).toBe(SrtpFailure.TooOld);
  });

  it('honours a window size that is not a multiple of 32', () => {
    const w = new ReplayWindow(100);
    w.accept(500);
    expect(w.check(401)).toBe(0);
    expect(w.check(400)).toBe(SrtpFailure.TooOld);
    w.accept(401);
    w.accept(600);
    expect(w.check(501)).toBe(0);
    expect(w.check(500)).toBe(SrtpFailure.TooOld);
  });
});
