/**
 * The frame clock under fake timers: frames due from the start time, never drifting, catching up after a stall
 * and skipping what is too late.
 */
import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import { PacedTicker } from '../../src/services/paced-ticker.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const now = (): number => Date.now();

describe('PacedTicker', () => {
  it('runs frame 0 at start and one frame per period after', () => {
    const frames: number[] = [];
    const ticker = new PacedTicker({ periodMs: 20, now }, (f) => frames.push(f));
    ticker.start();
    expect(frames).toEqual([0]);
    vi.advanceTimersByTime(19);
    expect(frames).toEqual([0]);
    vi.advanceTimersByTime(1);
    expect(frames).toEqual([0, 1]);
    vi.advanceTimersByTime(980);
    expect(frames).toHaveLength(51);
    expect(frames.every((f, i) => f === i)).toBe(true);
    ticker.stop();
  });

  it('does not drift when each frame takes time (a chained 20 ms timeout would run 23 ms periods)', () => {
    const frames: number[] = [];
    const ticker = new PacedTicker({ periodMs: 20, now }, (f) => {
      frames.push(f);
      vi.setSystemTime(Date.now() + 3); // the handler "takes" 3 ms
    });
    const t0 = Date.now();
    ticker.start();
    vi.advanceTimersByTime(10_000);
    // The clock moved 10 s plus 3 ms per frame; every 20 ms of it has had its frame, give or take the one due.
    const due = Math.floor((Date.now() - t0) / 20) + 1;
    expect(Date.now() - t0).toBeGreaterThan(11_000);
    expect(Math.abs(frames.length - due)).toBeLessThanOrEqual(1);
    expect(frames.every((f, i) => f === i)).toBe(true);
    expect(ticker.skipped).toBe(0);
    ticker.stop();
  });

  it('sends late frames at once after a short stall, and skips the oldest after a long one', () => {
    const frames: number[] = [];
    const ticker = new PacedTicker({ periodMs: 20, maxBurst: 5, now }, (f) => frames.push(f));
    ticker.start();
    // A 70 ms stall: frames 1–3 are due when the loop comes back; all three run together.
    vi.setSystemTime(Date.now() + 70);
    vi.advanceTimersByTime(20);
    expect(frames).toEqual([0, 1, 2, 3, 4]);
    expect(ticker.maxLatenessMs).toBeGreaterThanOrEqual(70);
    // A 1 s stall: only the last five due frames run; the frame numbers say how many were skipped.
    frames.length = 0;
    vi.setSystemTime(Date.now() + 1000);
    vi.advanceTimersByTime(20);
    expect(frames).toHaveLength(5);
    expect(frames[4]! - frames[0]!).toBe(4);
    expect(ticker.skipped).toBe(frames[0]! - 5);
    ticker.stop();
  });

  it('stops for good, and keeps running when a frame handler throws', () => {
    let count = 0;
    const ticker = new PacedTicker({ periodMs: 20, now }, () => {
      count++;
      if (count === 2) throw new Error('bad frame');
    });
    ticker.start();
    vi.advanceTimersByTime(100);
    expect(count).toBe(6);
    expect(ticker.errors).toBe(1);
    ticker.stop();
    vi.advanceTimersByTime(100);
    expect(count).toBe(6);
    expect(vi.getTimerCount()).toBe(0);
  });
});
