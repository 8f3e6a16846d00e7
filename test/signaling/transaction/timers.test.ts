import { describe, it, expect } from 'vitest';
import {
  DEFAULT_TIMER_CONFIG, TimerConfigError, nextTimerA, nextTimerE, nextTimerG, resolveTimerConfig,
  timerA, timerB, timerD, timerE, timerEProceeding, timerF, timerG, timerH, timerI, timerJ, timerK, timerL, timerM,
} from '../../../src/signaling/transaction/timers.ts';

const c = DEFAULT_TIMER_CONFIG;

describe('RFC 3261 Table 4 timers (with RFC 6026 L and M)', () => {
  it('defaults are T1 500 ms, T2 4 s, T4 5 s', () => {
    expect(c).toEqual({ T1: 500, T2: 4000, T4: 5000 });
  });

  it('Timer A starts at T1 and doubles without a T2 cap (INVITE)', () => {
    const intervals = [timerA(c)];
    for (let i = 0; i < 6; i++) intervals.push(nextTimerA(intervals.at(-1)!));
    expect(intervals).toEqual([500, 1000, 2000, 4000, 8000, 16000, 32000]);
  });

  it('Timers E and G start at T1 and double up to T2', () => {
    const e = [timerE(c)];
    const g = [timerG(c)];
    for (let i = 0; i < 5; i++) {
      e.push(nextTimerE(e.at(-1)!, c));
      g.push(nextTimerG(g.at(-1)!, c));
    }
    expect(e).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
    expect(g).toEqual(e);
    expect(timerEProceeding(c)).toBe(4000);
  });

  it('B, F, H, L and M are 64*T1 for every transport', () => {
    for (const t of [timerB, timerF, timerH, timerL, timerM]) expect(t(c)).toBe(32_000);
  });

  it('D is at least 32 s over unreliable transports and 0 over reliable ones', () => {
    expect(timerD(c, false)).toBe(32_000);
    expect(timerD({ T1: 50, T2: 400, T4: 500 }, false)).toBe(32_000);
    expect(timerD({ T1: 1000, T2: 4000, T4: 5000 }, false)).toBe(64_000);
    expect(timerD(c, true)).toBe(0);
  });

  it('I and K are T4 unreliable / 0 reliable; J is 64*T1 unreliable / 0 reliable', () => {
    expect([timerI(c, false), timerK(c, false), timerJ(c, false)]).toEqual([5000, 5000, 32_000]);
    expect([timerI(c, true), timerK(c, true), timerJ(c, true)]).toEqual([0, 0, 0]);
  });

  it('resolveTimerConfig fills defaults, freezes, and rejects nonsense', () => {
    const config = resolveTimerConfig({ T1: 100 });
    expect(config).toEqual({ T1: 100, T2: 4000, T4: 5000 });
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => resolveTimerConfig({ T1: 0 })).toThrow(TimerConfigError);
    expect(() => resolveTimerConfig({ T2: Number.NaN })).toThrow(TimerConfigError);
    expect(() => resolveTimerConfig({ T1: 5000, T2: 4000 })).toThrow(/T2/);
  });
});
