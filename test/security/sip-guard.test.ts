import { describe, it, expect } from 'vitest';
import { SipGuard } from '../../src/security/sip-guard.ts';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import type { SipRequest } from '../../src/signaling/message.ts';

function clocks() {
  let mono = 0;
  let wall = 1_700_000_000_000;
  return { now: () => mono, wall: () => wall, advance: (ms: number) => ((mono += ms), (wall += ms)) };
}

function request(method: string, extra: string[] = [], toTag = ''): SipRequest {
  return parseSipMessage(Buffer.from([
    `${method} sip:alice@gw.test SIP/2.0`,
    'Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK776asdhds',
    'Max-Forwards: 70',
    `To: <sip:alice@gw.test>${toTag}`,
    'From: <sip:scanner@203.0.113.5>;tag=1928301774',
    'Call-ID: a84b4c76e66710',
    `CSeq: 1 ${method}`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'))) as SipRequest;
}

describe('SipGuard', () => {
  it('drops a banned source’s packets and refuses its connections, counting both', () => {
    const c = clocks();
    const guard = new SipGuard({ bans: { maxFailures: 2, exemptLoopback: false, now: c.wall }, now: c.now });
    expect(guard.allowPacket('203.0.113.5')).toBe(true);
    guard.recordFailure('203.0.113.5', 'auth');
    guard.recordFailure('203.0.113.5', 'auth');
    expect(guard.allowPacket('203.0.113.5')).toBe(false);
    expect(guard.allowConnection('203.0.113.5')).toBe(false);
    expect(guard.allowPacket('203.0.113.6')).toBe(true);
    expect(guard.counters).toMatchObject({ droppedBanned: 1, refusedConnections: 1 });
  });

  it('drops messages over the per-source rate, and bans a flood that lasts, not a burst', () => {
    const c = clocks();
    const guard = new SipGuard({
      bans: { maxFailures: 5, findTimeMs: 60_000, exemptLoopback: false, now: c.wall },
      messages: { rate: 50, burst: 100 },
      now: c.now,
    });
    // A burst over the budget: the excess is dropped, one flood report, no ban.
    let allowed = 0;
    for (let i = 0; i < 300; i++) if (guard.allowPacket('198.51.100.1')) allowed++;
    expect(allowed).toBe(100);
    expect(guard.isBanned('198.51.100.1')).toBe(false);
    // 1,000 packets a second for five seconds: one flood report per second → banned.
    for (let s = 0; s < 5 && !guard.isBanned('198.51.100.1'); s++) {
      for (let i = 0; i < 1000; i++) {
        c.advance(1);
        guard.allowPacket('198.51.100.1');
      }
    }
    expect(guard.isBanned('198.51.100.1')).toBe(true);
    expect(guard.bans.banOf('198.51.100.1')?.reason).toBe('flood');
    expect(guard.counters.droppedRate).toBeGreaterThan(3000);
  });

  it('gives opening requests without credentials a smaller budget; credentials, dialogs and ACK/BYE do not spend it', () => {
    const c = clocks();
    const guard = new SipGuard({ bans: { exemptLoopback: false, now: c.wall }, unauthenticated: { rate: 1, burst: 3 }, now: c.now });
    const src = '203.0.113.5';
    expect([1, 2, 3, 4].map(() => guard.allowRequest(src, request('REGISTER')))).toEqual([true, true, true, false]);
    expect(guard.allowRequest(src, request('INVITE'))).toBe(false);
    expect(guard.allowRequest(src, request('OPTIONS'))).toBe(false);
    expect(guard.allowRequest(src, request('REGISTER', ['Authorization: Digest username="alice", realm="gw.test", nonce="x", uri="sip:gw.test", response="00"']))).toBe(true);
    expect(guard.allowRequest(src, request('INVITE', ['Proxy-Authorization: Bearer abc.def.ghi']))).toBe(true);
    expect(guard.allowRequest(src, request('INVITE', [], ';tag=8321234356'))).toBe(true); // a re-INVITE
    expect(guard.allowRequest(src, request('BYE', [], ';tag=8321234356'))).toBe(true);
    expect(guard.allowRequest(src, request('ACK'))).toBe(true);
    expect(guard.counters.droppedUnauthenticated).toBe(3);
    c.advance(1000);
    expect(guard.allowRequest(src, request('REGISTER'))).toBe(true);
  });

  it('lets exempt sources (trunks, loopback by default) through every budget', () => {
    const c = clocks();
    const guard = new SipGuard({ bans: { exempt: ['192.0.2.0/24'], now: c.wall }, messages: { rate: 1, burst: 1 }, unauthenticated: { rate: 1, burst: 1 }, now: c.now });
    for (let i = 0; i < 1000; i++) {
      expect(guard.allowPacket('192.0.2.10')).toBe(true);
      expect(guard.allowPacket('127.0.0.1')).toBe(true);
      expect(guard.allowRequest('192.0.2.10', request('INVITE'))).toBe(true);
    }
    expect(guard.recordFailure('192.0.2.10', 'not-trunk')).toBe('exempt');
    expect(guard.counters.droppedRate).toBe(0);
  });

  it('counts malformed messages as failures and tells watchers about bans', () => {
    const guard = new SipGuard({ bans: { maxFailures: 3, exemptLoopback: false } });
    let notified = 0;
    guard.watchBlocked(() => notified++);
    for (let i = 0; i < 3; i++) guard.onBadMessage('203.0.113.50');
    expect(guard.isBanned('203.0.113.50')).toBe(true);
    expect(guard.bans.banOf('203.0.113.50')?.reason).toBe('malformed');
    expect(notified).toBe(1);
    expect(guard.counters.badMessages).toBe(3);
  });
});
