import { describe, it, expect } from 'vitest';
import { RateLimiter } from '../../src/security/rate-limiter.ts';
import { LruMap } from '../../src/security/lru-map.ts';

function clock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('RateLimiter (per-source token buckets)', () => {
  it('lets a source spend its burst at once, then only the refill rate', () => {
    const c = clock();
    const limiter = new RateLimiter({ rate: 10, burst: 5, now: c.now });
    for (let i = 0; i < 5; i++) expect(limiter.take('192.0.2.1')).toBe(true);
    expect(limiter.take('192.0.2.1')).toBe(false);
    c.advance(100); // 10/s → one token per 100 ms
    expect(limiter.take('192.0.2.1')).toBe(true);
    expect(limiter.take('192.0.2.1')).toBe(false);
    c.advance(10_000); // refills to the burst, never beyond
    expect(limiter.available('192.0.2.1')).toBe(5);
  });

  it('keeps sources apart: one source over its budget does not spend another’s', () => {
    const c = clock();
    const limiter = new RateLimiter({ rate: 1, burst: 2, now: c.now });
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([true, true, false]);
    expect([limiter.take('b'), limiter.take('b')]).toEqual([true, true]);
  });

  it('spends nothing when a take of several tokens does not fit', () => {
    const c = clock();
    const limiter = new RateLimiter({ rate: 1, burst: 3, now: c.now });
    expect(limiter.take('a', 2)).toBe(true);
    expect(limiter.take('a', 2)).toBe(false);
    expect(limiter.take('a', 1)).toBe(true);
  });

  it('never grows past maxKeys under a spoofed-source flood, forgetting the least recently seen', () => {
    const c = clock();
    const limiter = new RateLimiter({ rate: 1, burst: 1, maxKeys: 1000, now: c.now });
    limiter.take('victim');
    for (let i = 0; i < 100_000; i++) limiter.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(limiter.size).toBe(1000);
    expect(limiter.evictions).toBe(100_000 + 1 - 1000);
    // Forgotten means a fresh bucket: the limiter fails open for evicted keys, it never blocks them.
    expect(limiter.take('victim')).toBe(true);
  });

  it('keeps a recently seen source while evicting idle ones', () => {
    const limiter = new RateLimiter({ rate: 1, burst: 2, maxKeys: 3, now: () => 0 });
    limiter.take('busy');
    limiter.take('x');
    limiter.take('busy'); // touched: now the most recent
    limiter.take('y');
    limiter.take('z'); // evicts x, the least recently used
    expect(limiter.available('busy')).toBe(0);
    expect(limiter.take('busy')).toBe(false);
  });

  it('sweeps keys whose bucket has refilled', () => {
    const c = clock();
    const limiter = new RateLimiter({ rate: 10, burst: 10, now: c.now });
    limiter.take('a', 10);
    limiter.take('b', 1);
    c.advance(150); // b is full again (0.15 s × 10/s ≥ 1), a is not
    limiter.sweep();
    expect(limiter.size).toBe(1);
    expect(limiter.available('a')).toBeCloseTo(1.5);
  });

  it('refuses nonsensical limits', () => {
    expect(() => new RateLimiter({ rate: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ rate: 1, burst: 0 })).toThrow(RangeError);
    expect(() => new LruMap(0)).toThrow(RangeError);
  });
});
