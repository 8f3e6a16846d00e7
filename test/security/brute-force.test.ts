/**
 * Brute force and scanning against a real stack on loopback (UDP, TCP and WebSocket), through the real Registrar,
 * DigestServer and the SipGuard's ban list. Loopback is exempt by default, so these tests turn that off and use
 * distinct 127.0.0.x sources for the attacker and the legitimate user.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { once } from 'node:events';
import WebSocket from 'ws';
import { UdpPeer, TcpPeer } from '../signaling/helpers/sip-clients.ts';
import { DigestClient, selectChallenge } from '../../src/signaling/auth/digest-client.ts';
import type { SipResponse } from '../../src/signaling/message.ts';
import { SipGuard } from '../../src/security/sip-guard.ts';
import { REALM, startGuardedGateway } from './helpers/guarded-gateway.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

let seq = 0;
function request(method: string, user: string, from: { host: string; port: number }, extra: string[] = [], transport = 'UDP'): string {
  const n = ++seq;
  const uri = method === 'REGISTER' ? `sip:${REALM}` : `sip:${user}@${REALM}`;
  return [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${from.host}:${from.port};branch=z9hG4bK-bf-${n};rport`,
    'Max-Forwards: 70',
    `To: <sip:${user}@${REALM}>`,
    `From: <sip:${user}@${REALM}>;tag=bf${n}`,
    `Call-ID: bf-${n}@${from.host}`,
    `CSeq: ${n} ${method}`,
    `Contact: <sip:${user}@${from.host}:${from.port}>`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** The Authorization a client with `password` sends in answer to `response`'s challenge. */
function answer(response: SipResponse, user: string, password: string, method: string, uri: string, proxy = false): string {
  const challenge = selectChallenge(response.headers.getAll(proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate'));
  if (!challenge) throw new Error('no challenge');
  return `${proxy ? 'Proxy-Authorization' : 'Authorization'}: ${new DigestClient({ username: user, password }).authorize(challenge, method, uri)}`;
}

async function gateway(maxFailures = 5) {
  const guard = new SipGuard({ bans: { maxFailures, findTimeMs: 60_000, banTimeMs: 900_000, exemptLoopback: false } });
  const gw = await startGuardedGateway({ guard });
  cleanup.push(() => gw.close());
  return gw;
}

async function udpPeer(host: string) {
  const peer = await UdpPeer.open(host);
  cleanup.push(() => peer.socket.close());
  return peer;
}

/** The next final response (an INVITE server transaction sends 100 Trying first, RFC 3261 §17.2.1). */
async function final(peer: UdpPeer): Promise<SipResponse> {
  for (;;) {
    const res = (await peer.inbox.next()) as SipResponse;
    if (res.status >= 200) return res;
  }
}

/** The shape of a response with the values that differ per request (tags, nonces, branch, Call-ID) blanked out. */
function shape(res: SipResponse): string {
  const headers = [...res.headers].map((f) => {
    const value = f.value
      .replace(/nonce="[^"]*"/, 'nonce="…"')
      .replace(/tag=[^;>\s]+/, 'tag=…')
      .replace(/branch=[^;\s]+/, 'branch=…')
      .replace(/bf-?\d+/g, '#')
      .replace(/^\d+ (?=[A-Z]+$)/, 'N ')
      .replace(/sip:[a-z0-9]+@/i, 'sip:USER@');
    return `${f.name}: ${value}`;
  });
  return `${res.status} ${res.reason}\n${headers.join('\n')}`;
}

describe('password brute force', () => {
  it('bans the source after N wrong passwords; then even the right password from it gets no answer, while others are served', async () => {
    const gw = await gateway(5);
    const attacker = await udpPeer('127.0.0.2');
    const me = { host: '127.0.0.2', port: attacker.port };
    attacker.send(request('REGISTER', 'alice', me), gw.udpPort);
    let last = (await attacker.inbox.next()) as SipResponse;
    expect(last.status).toBe(401);
    for (let i = 1; i <= 5; i++) {
      attacker.send(request('REGISTER', 'alice', me, [answer(last, 'alice', `guess-${i}`, 'REGISTER', `sip:${REALM}`)]), gw.udpPort);
      last = (await attacker.inbox.next()) as SipResponse;
      expect(last.status).toBe(401); // each guess gets a fresh challenge, the 5th included
    }
    expect(gw.guard.isBanned('127.0.0.2')).toBe(true);
    expect(gw.guard.bans.banOf('127.0.0.2')?.reason).toBe('auth');

    // The right password from the banned source: dropped at the transport, before parsing.
    const parseErrors = gw.stack.counters.transport.parseErrors;
    const dropped = gw.stack.counters.transport.guardDropped;
    attacker.send(request('REGISTER', 'alice', me, [answer(last, 'alice', 'correct horse', 'REGISTER', `sip:${REALM}`)]), gw.udpPort);
    attacker.send('garbage that would not parse', gw.udpPort);
    expect(await attacker.inbox.quiet(400)).toBe(true);
    expect(gw.stack.counters.transport.guardDropped).toBe(dropped + 2);
    expect(gw.stack.counters.transport.parseErrors).toBe(parseErrors);
    expect(gw.registered).toEqual([]);

    // Alice from her own address is not affected.
    const alice = await udpPeer('127.0.0.3');
    const her = { host: '127.0.0.3', port: alice.port };
    alice.send(request('REGISTER', 'alice', her), gw.udpPort);
    const challenge = (await alice.inbox.next()) as SipResponse;
    alice.send(request('REGISTER', 'alice', her, [answer(challenge, 'alice', 'correct horse', 'REGISTER', `sip:${REALM}`)]), gw.udpPort);
    expect(((await alice.inbox.next()) as SipResponse).status).toBe(200);
  });

  it('closes the banned source’s open TCP and WebSocket flows and refuses new ones', async () => {
    const gw = await gateway(3);
    const ws = new WebSocket(gw.wsUrl, 'sip', { localAddress: '127.0.0.4' });
    ws.on('error', () => {});
    cleanup.push(() => ws.terminate());
    await once(ws, 'open');
    const tcp = await TcpPeer.open(gw.tcpPort, '127.0.0.1');
    cleanup.push(() => tcp.socket.destroy());
    const other = new WebSocket(gw.wsUrl, 'sip', { localAddress: '127.0.0.5' });
    other.on('error', () => {});
    cleanup.push(() => other.terminate());
    await once(other, 'open');

    // Wrong passwords over the WebSocket from 127.0.0.4.
    const me = { host: 'x.invalid', port: 0 };
    const replies: SipResponse[] = [];
    const { parseSipMessage } = await import('../../src/signaling/parser.ts');
    ws.on('message', (data: Buffer) => replies.push(parseSipMessage(data) as SipResponse));
    ws.send(request('REGISTER', 'bob', me, [], 'WS'));
    await expect.poll(() => replies.length).toBe(1);
    const closed = once(ws, 'close');
    for (let i = 0; i < 2; i++) {
      ws.send(request('REGISTER', 'bob', me, [answer(replies[0]!, 'bob', `nope${i}`, 'REGISTER', `sip:${REALM}`)], 'WS'));
      await expect.poll(() => replies.length).toBe(2 + i);
    }
    // The third failure bans the source: the gateway closes its flow (before the 401 could be sent on it).
    ws.send(request('REGISTER', 'bob', me, [answer(replies[0]!, 'bob', 'nope2', 'REGISTER', `sip:${REALM}`)], 'WS'));
    await closed;
    expect(gw.guard.isBanned('127.0.0.4')).toBe(true);

    // A new WebSocket from it never opens; 127.0.0.5's flow stays up; the TCP flow (127.0.0.1) is untouched.
    const again = new WebSocket(gw.wsUrl, 'sip', { localAddress: '127.0.0.4' });
    cleanup.push(() => again.terminate());
    await expect(once(again, 'open')).rejects.toThrow();
    expect(other.readyState).toBe(WebSocket.OPEN);
    expect(tcp.socket.destroyed).toBe(false);
    expect(gw.stack.counters.transport.connectionsRefused).toBeGreaterThanOrEqual(1);
  });
});

describe('scanner sweep (sipvicious-style)', () => {
  it('gets identical answers for unknown users and wrong passwords, REGISTER and INVITE alike, and is banned', async () => {
    const gw = await gateway(10);
    const scanner = await udpPeer('127.0.0.6');
    const me = { host: '127.0.0.6', port: scanner.port };
    const users = ['alice', 'admin', 'bob', '100', '1000', 'test'];
    const shapes = new Map<string, Set<string>>();
    const note = (kind: string, res: SipResponse) => {
      if (!shapes.has(kind)) shapes.set(kind, new Set());
      shapes.get(kind)!.add(shape(res));
    };
    const probed: string[] = [];
    for (const user of users) {
      if (gw.guard.isBanned('127.0.0.6')) break;
      probed.push(user);
      scanner.send(request('OPTIONS', user, me), gw.udpPort);
      note('OPTIONS', await final(scanner));
      scanner.send(request('REGISTER', user, me), gw.udpPort);
      const challenge = await final(scanner);
      note('REGISTER no credentials', challenge);
      scanner.send(request('REGISTER', user, me, [answer(challenge, user, 'password', 'REGISTER', `sip:${REALM}`)]), gw.udpPort);
      note('REGISTER wrong credentials', await final(scanner));
      scanner.send(request('INVITE', user, me), gw.udpPort);
      const invite407 = await final(scanner);
      note('INVITE no credentials', invite407);
      if (gw.guard.isBanned('127.0.0.6')) break;
      scanner.send(request('INVITE', user, me, [answer(invite407, user, '1234', 'INVITE', `sip:${user}@${REALM}`, true)]), gw.udpPort);
      note('INVITE wrong credentials', await final(scanner));
    }
    // One answer per kind of probe, whether the user exists or not.
    for (const [kind, set] of shapes) expect(set.size, `${kind}: ${[...set].join('\n---\n')}`).toBe(1);
    expect([...shapes.get('REGISTER wrong credentials')!][0]).toMatch(/^401 Unauthorized/);
    expect([...shapes.get('INVITE wrong credentials')!][0]).toMatch(/^407 Proxy Authentication Required/);
    // Known users (alice, bob) and unknown ones were both probed before the ban: 2 failures per user, banned at 10.
    expect(probed).toEqual(['alice', 'admin', 'bob', '100', '1000']);
    expect(gw.guard.isBanned('127.0.0.6')).toBe(true);
    scanner.send(request('OPTIONS', 'alice', me), gw.udpPort);
    expect(await scanner.inbox.quiet(300)).toBe(true);
  });

  it('drops a sweep of unauthenticated REGISTERs beyond the budget, and bans it once it lasts', async () => {
    const guard = new SipGuard({
      bans: { maxFailures: 3, findTimeMs: 60_000, exemptLoopback: false },
      messages: { rate: 10_000, burst: 10_000 },
      unauthenticated: { rate: 1000, burst: 20 },
    });
    const gw = await startGuardedGateway({ guard });
    cleanup.push(() => gw.close());
    const scanner = await udpPeer('127.0.0.7');
    const me = { host: '127.0.0.7', port: scanner.port };
    for (let i = 0; i < 200; i++) {
      scanner.send(request('REGISTER', `u${i}`, me), gw.udpPort);
      // Paced a little: 200 datagrams at once overflow the kernel's default receive buffer on loopback.
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 2));
    }
    await expect.poll(() => guard.counters.droppedUnauthenticated + scanner.inbox.messages.length, { timeout: 3000 }).toBe(200);
    expect(scanner.inbox.messages.length).toBeGreaterThanOrEqual(20);
    expect(scanner.inbox.messages.length).toBeLessThan(200);
    // A few seconds of it are a flood: one 'flood' failure per second, banned at the third.
    for (let s = 0; s < 3 && !guard.isBanned('127.0.0.7'); s++) {
      await new Promise((r) => setTimeout(r, 1000));
      for (let i = 0; i < 100; i++) scanner.send(request('REGISTER', `v${i}`, me), gw.udpPort);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(guard.isBanned('127.0.0.7')).toBe(true);
    expect(guard.bans.banOf('127.0.0.7')?.reason).toBe('flood');
  }, 15_000);
});
