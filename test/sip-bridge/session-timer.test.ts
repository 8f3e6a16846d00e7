/**
 * Session timers (RFC 4028): the header grammar and both negotiations on real requests (JsSIP's INVITE asks for
 * 90 s without a refresher), the timer's schedule with fake timers, and whole calls between two real stacks on
 * loopback where the refresher keeps the session alive (5 UPDATE refreshes, 45 s apart) and its silence ends it.
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import type { SipRequest, SipResponse } from '../../src/signaling/message.ts';
import {
  DEFAULT_SESSION_TIMER,
  expiryDelayMs,
  negotiateAsUas,
  negotiatedFromResponse,
  parseSessionExpires,
  readMinSE,
  readSessionExpires,
  refreshDelayMs,
  resolveSessionTimerConfig,
  SessionTimer,
  SessionTimerError,
} from '../../src/sip-bridge/session-timer.ts';
import { InviteServerSession } from '../../src/sip-bridge/invite-server-session.ts';
import { InviteClientSession } from '../../src/sip-bridge/invite-client-session.ts';
import { SDP_A, SDP_B, startUa, until, type Ua } from './session-helpers.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanup.splice(0).reverse()) await c();
});

function invite(extra: string[]): SipRequest {
  const lines = [
    'INVITE sip:1000@gw.example.com SIP/2.0',
    'Via: SIP/2.0/WSS 3v5r1k9j0s2c.invalid;branch=z9hG4bK4917262',
    'Max-Forwards: 69',
    'To: <sip:1000@gw.example.com>',
    'From: "Alice" <sip:alice@gw.example.com>;tag=l2ekrfc0rd',
    'Call-ID: q5m5e1sc4u1ifk8p6sqv',
    'CSeq: 8392 INVITE',
    'Contact: <sip:2kbm1l8i@3v5r1k9j0s2c.invalid;transport=ws;ob>',
    ...extra,
    'Content-Length: 0',
  ];
  return parseSipMessage(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`)) as SipRequest;
}

function ok(extra: string[]): SipResponse {
  const lines = ['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@b>;tag=1', 'To: <sip:c@d>;tag=2', 'Call-ID: x', 'CSeq: 1 INVITE', ...extra, 'Content-Length: 0'];
  return parseSipMessage(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`)) as SipResponse;
}

const config = resolveSessionTimerConfig({ interval: 1800, minSE: 90 });

describe('Session-Expires and Min-SE (RFC 4028 §4, §5)', () => {
  it('parses the interval and the refresher, also from the compact form x', () => {
    expect(parseSessionExpires('1800;refresher=uac')).toEqual({ interval: 1800, refresher: 'uac' });
    expect(parseSessionExpires('90')).toEqual({ interval: 90, refresher: undefined });
    expect(parseSessionExpires('4000 ; refresher=UAS ; x=y')).toEqual({ interval: 4000, refresher: 'uas' });
    expect(readSessionExpires(invite(['x: 600;refresher=uas']))).toEqual({ interval: 600, refresher: 'uas' });
    expect(readMinSE(invite(['Min-SE: 120']))).toBe(120);
  });

  it('refuses garbage with a 400 SessionTimerError', () => {
    for (const bad of ['', 'abc', '0', '90;refresher=both', '-5', '99999999999']) {
      try {
        parseSessionExpires(bad);
        expect.fail(`accepted "${bad}"`);
      } catch (error) {
        expect(error).toBeInstanceOf(SessionTimerError);
        expect((error as SessionTimerError).status).toBe(400);
      }
    }
    expect(() => readMinSE(invite(['Min-SE: soon']))).toThrow(SessionTimerError);
  });

  it('config: Min-SE never below 90 s, the interval not below Min-SE', () => {
    expect(DEFAULT_SESSION_TIMER).toEqual({ interval: 1800, minSE: 90, refresher: 'uac' });
    expect(() => resolveSessionTimerConfig({ minSE: 30 })).toThrow(/minSE/);
    expect(() => resolveSessionTimerConfig({ interval: 60 })).toThrow(/interval/);
  });
});

describe('UAS negotiation (§9)', () => {
  it("JsSIP's INVITE (Session-Expires: 90, Supported: timer, no refresher): the UAC refreshes, Require: timer", () => {
    const decision = negotiateAsUas(invite(['Session-Expires: 90', 'Supported: timer,ice,replaces,outbound']), config);
    expect(decision).toEqual({ kind: 'timer', interval: 90, refresher: 'uac', role: 'remote', require: true });
  });

  it('an interval below our Min-SE is rejected with 422 naming it', () => {
    expect(negotiateAsUas(invite(['Session-Expires: 60', 'Supported: timer']), config)).toEqual({ kind: 'reject', minSE: 90 });
    const strict = resolveSessionTimerConfig({ interval: 1800, minSE: 300 });
    expect(negotiateAsUas(invite(['Session-Expires: 200', 'Supported: timer']), strict)).toEqual({ kind: 'reject', minSE: 300 });
  });

  it('the refresher the request names is kept', () => {
    expect(negotiateAsUas(invite(['Session-Expires: 600;refresher=uas', 'Supported: timer']), config))
      .toEqual({ kind: 'timer', interval: 600, refresher: 'uas', role: 'local', require: true });
  });

  it('a Session-Expires inserted by a proxy for a UAC without timer support: we refresh, no Require', () => {
    expect(negotiateAsUas(invite(['Session-Expires: 1800']), config))
      .toEqual({ kind: 'timer', interval: 1800, refresher: 'uas', role: 'local', require: false });
    expect(negotiateAsUas(invite(['Session-Expires: 1800;refresher=uac']), config))
      .toEqual({ kind: 'timer', interval: 1800, refresher: 'uas', role: 'local', require: false });
  });

  it('Supported: timer without Session-Expires: we ask for ours (at least their Min-SE), the UAC refreshes', () => {
    expect(negotiateAsUas(invite(['Supported: timer']), config)).toEqual({ kind: 'timer', interval: 1800, refresher: 'uac', role: 'remote', require: true });
    expect(negotiateAsUas(invite(['Supported: timer', 'Min-SE: 3600']), config)).toMatchObject({ interval: 3600 });
  });

  it('no timer support and no Session-Expires: no timer', () => {
    expect(negotiateAsUas(invite([]), config)).toEqual({ kind: 'none' });
  });
});

describe('UAC reading the 2xx (§7.2)', () => {
  it('refresher=uac means us, uas the peer, no Session-Expires no timer, garbage no timer', () => {
    expect(negotiatedFromResponse(ok(['Session-Expires: 1800;refresher=uac', 'Require: timer']))).toEqual({ interval: 1800, role: 'local' });
    expect(negotiatedFromResponse(ok(['Session-Expires: 90;refresher=uas']))).toEqual({ interval: 90, role: 'remote' });
    expect(negotiatedFromResponse(ok([]))).toBeUndefined();
    expect(negotiatedFromResponse(ok(['Session-Expires: never']))).toBeUndefined();
  });
});

describe('SessionTimer (§10)', () => {
  it('the refresher fires at half the interval; the other side at expiry minus min(32 s, interval/3)', () => {
    vi.useFakeTimers();
    expect(refreshDelayMs(90)).toBe(45_000);
    expect(expiryDelayMs(90)).toBe(60_000);
    expect(expiryDelayMs(1800)).toBe(1_768_000);
    const fired: string[] = [];
    const timer = new SessionTimer({ refresh: () => fired.push('refresh'), expire: () => fired.push('expire') });
    timer.start(90, 'local');
    vi.advanceTimersByTime(44_999);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['refresh']);
    timer.start(90, 'remote');
    expect(timer.liveTimers).toBe(1);
    vi.advanceTimersByTime(59_999);
    expect(fired).toEqual(['refresh']);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['refresh', 'expire']);
    timer.start(1800, 'remote');
    timer.stop();
    expect(timer.liveTimers).toBe(0);
    expect(timer.running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a handler that throws does not escape the timer', () => {
    vi.useFakeTimers();
    const timer = new SessionTimer({ refresh: () => { throw new Error('bad owner'); }, expire: () => {} });
    timer.start(90, 'local');
    expect(() => vi.advanceTimersByTime(45_000)).not.toThrow();
  });
});

/** Fake the protocol timers; leave setImmediate and performance real so loopback I/O still flows. */
function fakeProtocolTimers(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
}

async function call(a: Ua, b: Ua, clientTimer: { interval: number; refresher?: 'uac' | 'uas' }) {
  let server: InviteServerSession | undefined;
  b.onInvite = (request, transaction, channel) => {
    server = new InviteServerSession(b.stack, request, transaction, channel, { table: b.table, localContact: `<sip:b@127.0.0.1:${b.port('UDP')}>` });
    server.accept({ sdp: SDP_B });
  };
  const client = new InviteClientSession(a.stack, {
    table: a.table,
    requestUri: `sip:b@127.0.0.1:${b.port('UDP')}`,
    from: '<sip:a@127.0.0.1>',
    to: '<sip:b@127.0.0.1>',
    contact: `<sip:a@127.0.0.1:${a.port('UDP')}>`,
    target: { protocol: 'UDP', host: '127.0.0.1', port: b.port('UDP') },
    sdp: SDP_A,
    sessionTimer: { interval: clientTimer.interval, refresher: clientTimer.refresher },
  });
  client.start();
  await until(() => server?.state === 'confirmed' && client.state === 'confirmed', 'the call');
  return { client, server: server! };
}

describe('session timers on a call between two stacks', () => {
  it('a call survives 5 refresh UPDATEs 45 s apart, and ends with a BYE when they stop', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    const { client, server } = await call(a, b, { interval: 90 });
    // The UAS chose the UAC (the browser-like side) as refresher, with Require: timer.
    expect(client.sessionTimer).toEqual({ interval: 90, refresher: 'local' });
    expect(server.sessionTimer).toEqual({ interval: 90, refresher: 'remote' });
    let incoming = 0;
    let outgoing = 0;
    server.on('refreshed', (direction) => direction === 'incoming' && incoming++);
    client.on('refreshed', (direction) => direction === 'outgoing' && outgoing++);
    const expired: string[] = [];
    server.on('expired', (reason) => {
      expired.push(reason);
      void server.bye();
    });
    for (let i = 1; i <= 5; i++) {
      await vi.advanceTimersByTimeAsync(45_000);
      await until(() => incoming === i && outgoing === i, `refresh ${i}`);
      expect(server.state).toBe('confirmed');
    }
    expect(expired).toEqual([]);
    expect(b.stack.counters.transport.messagesIn.UDP).toBeGreaterThanOrEqual(2 + 5); // INVITE, ACK, 5 UPDATEs
    // The refresher goes silent (closed without BYE): 60 s (90 − 30) after the last refresh the UAS gives up.
    client.close();
    await vi.advanceTimersByTimeAsync(59_000);
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(expired).toEqual(['no-refresh']);
    await until(() => server.terminated, 'BYE');
    expect(a.table.answered[481]).toBe(1); // the closed side no longer knows the dialog
    expect(a.table.size + b.table.size).toBe(0);
    expect(client.liveTimers + server.liveTimers).toBe(0);
  });

  it('refreshes with a re-INVITE offering the unchanged SDP when the peer does not allow UPDATE', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup, { methods: ['INVITE', 'BYE'] });
    const { client, server } = await call(a, b, { interval: 120, refresher: 'uac' });
    expect(client.remoteAllow?.has('UPDATE')).toBe(false);
    expect(client.sessionTimer).toEqual({ interval: 120, refresher: 'local' });
    let refreshed = 0;
    client.on('refreshed', () => refreshed++);
    for (let i = 1; i <= 2; i++) {
      await vi.advanceTimersByTimeAsync(60_000);
      await until(() => refreshed === i, `re-INVITE refresh ${i}`);
    }
    // Each re-INVITE's 2xx was ACKed (the initial ACK plus two).
    await until(() => b.acks.length === 3, 'ACKs');
    expect(b.acks.map((ack) => ack.headers.get('cseq'))).toEqual(['1 ACK', '2 ACK', '3 ACK']);
    expect(server.state).toBe('confirmed');
    expect(client.remoteSdp).toBe(SDP_B);
    await client.bye();
    await until(() => server.terminated, 'BYE');
  });
});
