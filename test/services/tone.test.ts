/**
 * The tone loop: the right frequency at the right level, seamless looping, click-free cadences, and a player
 * that hands out 160-byte frames across the loop's end.
 */
import { describe, it, expect } from 'vitest';
import { decodeG711 } from '../../src/services/g711.ts';
import { DEFAULT_TONE, TONE_PEAK, TonePlayer, renderLinear, toneLoop } from '../../src/services/tone.ts';

function goertzel(samples: ArrayLike<number>, f: number): number {
  const k = 2 * Math.cos((2 * Math.PI * f) / 8000);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < samples.length; i++) {
    const s0 = samples[i]! + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - k * s1 * s2;
}

describe('renderLinear', () => {
  it('renders the default as one second of 440 Hz at the configured peak', () => {
    const loop = renderLinear(DEFAULT_TONE);
    expect(loop).toHaveLength(8000);
    const peak = Math.max(...loop);
    expect(peak).toBeGreaterThan(TONE_PEAK * 32767 * 0.99);
    expect(peak).toBeLessThanOrEqual(Math.ceil(TONE_PEAK * 32767));
    expect(goertzel(loop, 440)).toBeGreaterThan(1000 * goertzel(loop, 425));
  });

  it('loops without a seam: the step from the last sample to the first is an ordinary one', () => {
    const loop = renderLinear(DEFAULT_TONE);
    const maxStep = Math.max(...Array.from({ length: loop.length - 1 }, (_, i) => Math.abs(loop[i + 1]! - loop[i]!)));
    expect(Math.abs(loop[0]! - loop[loop.length - 1]!)).toBeLessThanOrEqual(maxStep);
  });

  it('fades in and out at frequency changes, so a cadence has no clicks', () => {
    const loop = renderLinear([
      { frequency: 425, durationMs: 100 },
      { frequency: 0, durationMs: 50 },
    ]);
    expect(loop).toHaveLength(1200);
    expect(loop[0]).toBe(0);
    expect(Math.abs(loop[799]!)).toBeLessThan(200);
    expect(loop.subarray(800).every((s) => s === 0)).toBe(true);
    const maxStep = Math.max(...Array.from({ length: loop.length - 1 }, (_, i) => Math.abs(loop[i + 1]! - loop[i]!)));
    // A 425 Hz sine of amplitude A changes by at most A·2π·425/8000 per sample: no larger step anywhere.
    expect(maxStep).toBeLessThanOrEqual(Math.ceil(TONE_PEAK * 32767 * 2 * Math.PI * 425 / 8000) + 1);
  });

  it('refuses patterns it cannot play', () => {
    expect(() => renderLinear([])).toThrow(expect.objectContaining({ code: 'SERVICES_TONE_PATTERN' }));
    expect(() => renderLinear([{ frequency: 5000, durationMs: 100 }])).toThrow(/frequency/);
    expect(() => renderLinear([{ frequency: 440, durationMs: 0 }])).toThrow(/duration/);
    expect(() => renderLinear([{ frequency: 440, durationMs: 61_000 }])).toThrow(/at most/);
  });
});

describe('TonePlayer', () => {
  it('hands out consecutive frames of the encoded loop, wrapping at its end', () => {
    const loop = toneLoop(DEFAULT_TONE, 'PCMU');
    expect(toneLoop(DEFAULT_TONE, 'PCMU')).toBe(loop); // shared between calls
    const player = new TonePlayer(loop);
    const out = Buffer.alloc(172);
    const frames: Buffer[] = [];
    for (let i = 0; i < 51; i++) {
      player.fill(out, 12, 160);
      frames.push(Buffer.from(out.subarray(12)));
    }
    // 8000 samples = 50 frames: frame 50 is frame 0 again.
    expect(frames[50]).toEqual(frames[0]);
    expect(Buffer.concat(frames.slice(0, 50))).toEqual(loop);
    const audio = decodeG711('PCMU', Buffer.concat(frames));
    expect(goertzel(audio, 440)).toBeGreaterThan(1000 * goertzel(audio, 500));
  });

  it('skips samples so that the audio stays in step with the timestamps', () => {
    const loop = toneLoop(DEFAULT_TONE, 'PCMA');
    const a = new TonePlayer(loop);
    const b = new TonePlayer(loop);
    const x = Buffer.alloc(160);
    const y = Buffer.alloc(160);
    a.fill(x, 0, 160);
    a.fill(x, 0, 160);
    b.skip(160);
    b.fill(y, 0, 160);
    expect(y).toEqual(x);
  });
});
