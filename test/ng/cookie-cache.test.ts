import { describe, it, expect } from 'vitest';
import { CookieCache } from '../../src/ng/cookie-cache.ts';
import type { ReplyTarget } from '../../src/ng/cookie-cache.ts';

function target(id: string): ReplyTarget & { got: string[] } {
  const got: string[] = [];
  return { id, got, send: (reply) => got.push(reply.toString()) };
}

const cookie = (c: string) => Buffer.from(c);

describe('CookieCache', () => {
  it('runs a new cookie once and answers its retransmission with the same bytes', () => {
    const cache = new CookieCache();
    const a = target('10.0.0.1:5000');
    const first = cache.lookup('10.0.0.1', cookie('c1'), a);
    expect(first.status).toBe('run');
    if (first.status === 'run') first.finish(Buffer.from('c1 d6:result2:oke'));
    expect(a.got).toEqual(['c1 d6:result2:oke']);
    expect(cache.lookup('10.0.0.1', cookie('c1'), a)).toEqual({ status: 'replayed' });
    expect(a.got).toEqual(['c1 d6:result2:oke', 'c1 d6:result2:oke']);
  });

  it('a retransmission while the command runs joins it: one run, one reply per destination', () => {
    const cache = new CookieCache();
    const a = target('10.0.0.1:5000');
    const b = target('10.0.0.1:5002');
    const first = cache.lookup('10.0.0.1', cookie('c1'), a);
    expect(cache.lookup('10.0.0.1', cookie('c1'), a)).toEqual({ status: 'joined' });
    expect(cache.lookup('10.0.0.1', cookie('c1'), b)).toEqual({ status: 'joined' });
    expect(a.got).toEqual([]);
    if (first.status === 'run') first.finish(Buffer.from('R'));
    expect(a.got).toEqual(['R']);
    expect(b.got).toEqual(['R']);
  });

  it('keeps sources apart: the same cookie from another proxy is a new command', () => {
    const cache = new CookieCache();
    expect(cache.lookup('10.0.0.1', cookie('c1'), target('x')).status).toBe('run');
    expect(cache.lookup('10.0.0.2', cookie('c1'), target('y')).status).toBe('run');
  });

  it('forgets replies after the TTL (30 s by default)', () => {
    let now = 1_000_000;
    const cache = new CookieCache({ now: () => now });
    const first = cache.lookup('s', cookie('c1'), target('t'));
    if (first.status === 'run') first.finish(Buffer.from('R'));
    now += 29_999;
    expect(cache.lookup('s', cookie('c1'), target('t')).status).toBe('replayed');
    now += 1;
    expect(cache.lookup('s', cookie('c1'), target('t')).status).toBe('run');
  });

  it('stays within its entry and byte bounds, dropping the oldest first', () => {
    const cache = new CookieCache({ maxEntries: 3, maxBytes: 10 });
    for (const c of ['a', 'b', 'c', 'd']) {
      const r = cache.lookup('s', cookie(c), target('t'));
      if (r.status === 'run') r.finish(Buffer.from('12'));
    }
    expect(cache.size).toBe(3);
    const again = cache.lookup('s', cookie('a'), target('t'));
    expect(again.status).toBe('run');
    if (again.status === 'run') again.finish(Buffer.from('12'));
    const big = cache.lookup('s', cookie('big'), target('t'));
    if (big.status === 'run') big.finish(Buffer.alloc(9));
    // 9 bytes + any other reply exceeds 10: only the newest entry remains.
    expect(cache.size).toBe(1);
    expect(cache.lookup('s', cookie('big'), target('t')).status).toBe('replayed');
  });
});
