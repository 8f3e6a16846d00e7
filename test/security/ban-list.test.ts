import { describe, it, expect } from 'vitest';
import { BanList } from '../../src/security/ban-list.ts';
import { canonicalAddress, ipv6Words, isLoopback, sourceKey, AddressSet } from '../../src/security/addresses.ts';

function clock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('BanList (fail2ban-style sliding window)', () => {
  it('bans a source on its Nth failure inside the window, for banTime', () => {
    const c = clock();
    const bans = new BanList({ maxFailures: 3, findTimeMs: 60_000, banTimeMs: 900_000, exemptLoopback: false, now: c.now });
    expect(bans.recordFailure('203.0.113.5', 'auth')).toBe('counted');
    c.advance(1000);
    expect(bans.recordFailure('203.0.113.5', 'auth')).toBe('counted');
    expect(bans.isBanned('203.0.113.5')).toBe(false);
    expect(bans.recordFailure('203.0.113.5', 'auth')).toBe('banned');
    expect(bans.isBanned('203.0.113.5')).toBe(true);
    expect(bans.banOf('203.0.113.5')).toMatchObject({ source: '203.0.113.5', reason: 'auth', until: c.now() + 900_000 });
    expect(bans.recordFailure('203.0.113.5', 'auth')).toBe('already-banned');
    c.advance(900_000 - 1);
    expect(bans.isBanned('203.0.113.5')).toBe(true);
    c.advance(1);
    expect(bans.isBanned('203.0.113.5')).toBe(false);
    // After the ban the count starts afresh.
    expect(bans.recordFailure('203.0.113.5', 'auth')).toBe('counted');
  });

  it('is a sliding window: failures spread wider than findTime never ban', () => {
    const c = clock();
    const bans = new BanList({ maxFailures: 3, findTimeMs: 10_000, exemptLoopback: false, now: c.now });
    for (let i = 0; i < 50; i++) {
      expect(bans.recordFailure('198.51.100.7', 'auth')).toBe('counted');
      c.advance(5001); // three failures always span > 10 s
    }
    // …but three within the last 10 s do, whatever came before.
    c.advance(1);
    bans.recordFailure('198.51.100.7', 'auth');
    c.advance(1);
    expect(bans.recordFailure('198.51.100.7', 'auth')).toBe('banned');
  });

  it('never bans loopback by default, but does when told to (tests ban 127.0.0.x)', () => {
    const byDefault = new BanList({ maxFailures: 1 });
    expect(byDefault.recordFailure('127.0.0.1', 'auth')).toBe('exempt');
    expect(byDefault.recordFailure('::1', 'auth')).toBe('exempt');
    expect(byDefault.recordFailure('::ffff:127.0.0.5', 'auth')).toBe('exempt');
    expect(byDefault.ban('127.0.0.1')).toBe(false);
    expect(byDefault.counters.exemptFailures).toBe(3);

    const strict = new BanList({ maxFailures: 1, exemptLoopback: false });
    expect(strict.recordFailure('127.0.0.7', 'auth')).toBe('banned');
    expect(strict.isBanned('127.0.0.7')).toBe(true);
    expect(strict.isBanned('127.0.0.8')).toBe(false);
  });

  it('never bans configured CIDRs or what the dynamic predicate (the trunk ACL) exempts', () => {
    const bans = new BanList({ maxFailures: 1, exempt: ['198.51.100.0/24', '2001:db8:5::/48'], isExempt: (a) => a === '203.0.113.9' });
    expect(bans.recordFailure('198.51.100.200', 'not-trunk')).toBe('exempt');
    expect(bans.recordFailure('2001:db8:5:1::1', 'malformed')).toBe('exempt');
    expect(bans.recordFailure('203.0.113.9', 'auth')).toBe('exempt');
    expect(bans.recordFailure('203.0.113.10', 'auth')).toBe('banned');
  });

  it('counts IPv6 sources per /64, so rotating through one prefix does not escape the ban', () => {
    const bans = new BanList({ maxFailures: 4, exemptLoopback: false });
    for (let i = 1; i <= 3; i++) expect(bans.recordFailure(`2001:db8:1:2::${i.toString(16)}`, 'auth')).toBe('counted');
    expect(bans.recordFailure('2001:db8:1:2:ffff:ffff:ffff:fffe', 'auth')).toBe('banned');
    expect(bans.isBanned('2001:db8:1:2:abcd::1')).toBe(true);
    expect(bans.isBanned('2001:db8:1:3::1')).toBe(false);
  });

  it('tells listeners about each ban, and a throwing listener does not undo it', () => {
    const bans = new BanList({ maxFailures: 2, exemptLoopback: false });
    const seen: string[] = [];
    bans.onBan(() => {
      throw new Error('bad listener');
    });
    const off = bans.onBan((ban) => seen.push(`${ban.source}:${ban.reason}`));
    bans.recordFailure('192.0.2.1', 'malformed');
    bans.recordFailure('192.0.2.1', 'flood');
    expect(seen).toEqual(['192.0.2.1:flood']);
    expect(bans.isBanned('192.0.2.1')).toBe(true);
    off();
    bans.ban('192.0.2.2');
    expect(seen).toHaveLength(1);
    expect(bans.bans().map((b) => b.source)).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(bans.unban('192.0.2.1')).toBe(true);
    expect(bans.isBanned('192.0.2.1')).toBe(false);
  });

  it('holds bounded state under a spoofed-source flood of failures and sweeps what expired', () => {
    const c = clock();
    const bans = new BanList({ maxFailures: 2, findTimeMs: 1000, banTimeMs: 5000, maxTracked: 500, maxBans: 200, exemptLoopback: false, now: c.now });
    for (let i = 0; i < 20_000; i++) {
      const source = `10.0.${(i >> 8) & 255}.${i & 255}`;
      bans.recordFailure(source, 'malformed');
      if (i % 3 === 0) bans.recordFailure(source, 'malformed');
    }
    expect(bans.size.tracked).toBeLessThanOrEqual(500);
    expect(bans.size.banned).toBeLessThanOrEqual(200);
    c.advance(6000);
    bans.sweep();
    expect(bans.size).toEqual({ tracked: 0, banned: 0 });
    expect(bans.counters.failures.malformed).toBeGreaterThan(20_000);
  });
});

describe('source addresses', () => {
  it('spells each address one way', () => {
    expect(canonicalAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalAddress('2001:DB8::1')).toBe('2001:db8::1');
    expect(canonicalAddress('fe80::1%eth0')).toBe('fe80::1');
    expect(canonicalAddress('192.0.2.1')).toBe('192.0.2.1');
  });

  it('recognizes loopback in every spelling, and nothing else', () => {
    for (const a of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopback(a), a).toBe(true);
    for (const a of ['128.0.0.1', '::2', '::', '192.0.2.1', 'localhost', '1::1', '::ffff:192.0.2.1']) expect(isLoopback(a), a).toBe(false);
  });

  it('expands IPv6 literals, embedded IPv4 included', () => {
    expect(ipv6Words('2001:db8::1')).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
    expect(ipv6Words('::')).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(ipv6Words('64:ff9b::192.0.2.33')).toEqual([0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0221]);
    expect(ipv6Words('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(ipv6Words('192.0.2.1')).toBeUndefined();
    expect(ipv6Words('not an address')).toBeUndefined();
  });

  it('keys IPv4 by address and IPv6 by /64', () => {
    expect(sourceKey('192.0.2.1')).toBe('192.0.2.1');
    expect(sourceKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(sourceKey('2001:db8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(sourceKey('2001:0DB8:0000:0001:ffff::9')).toBe('2001:db8:0:1::/64');
  });

  it('matches addresses and blocks', () => {
    const set = new AddressSet(['203.0.113.0/24', '198.51.100.7', '2001:db8::/32']);
    expect(set.has('203.0.113.77')).toBe(true);
    expect(set.has('::ffff:203.0.113.77')).toBe(true);
    expect(set.has('198.51.100.7')).toBe(true);
    expect(set.has('198.51.100.8')).toBe(false);
    expect(set.has('2001:db8:ffff::1')).toBe(true);
    expect(set.has('2001:db9::1')).toBe(false);
    expect(() => new AddressSet(['10.0.0.0/33'])).toThrow(RangeError);
    expect(() => new AddressSet(['example.com'])).toThrow(RangeError);
  });
});
