/**
 * Overload protection (src/signaling/overload.ts): while saturated, new out-of-dialog INVITEs get 503 with
 * Retry-After (RFC 3261 §21.5.4) before the TU sees them; in-dialog requests, ACK and CANCEL still pass.
 * The SipStack tests use a real UDP socket on loopback; the signal logic is also tested with an injected delay.
 */
import { describe, it, expect, afterEach, vi } from 'vitest';
import { SipStack, type SipStackOptions, type SipTransactionUser } from '../../src/signaling/sip-stack.ts';
import { createResponseTo, type SipRequest, type SipResponse } from '../../src/signaling/message.ts';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { newTag } from '../../src/signaling/transaction/branch.ts';
import type { ServerTransaction } from '../../src/signaling/transaction/transaction-layer.ts';
import { OverloadControl } from '../../src/signaling/overload.ts';
import { UdpPeer } from './helpers/sip-clients.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A TU that keeps every INVITE unanswered (a call ringing) and answers anything else 200. */
function holdingTu() {
  const invites: Array<{ request: SipRequest; tx: ServerTransaction }> = [];
  const others: SipRequest[] = [];
  const tu: SipTransactionUser = {
    methods: ['INVITE', 'BYE', 'REGISTER'],
    onRequest(request, tx) {
      if (request.method === 'INVITE') {
        invites.push({ request, tx });
        return;
      }
      others.push(request);
      tx.respond(createResponseTo(request, 200, undefined, newTag()));
    },
  };
  return { tu, invites, others };
}

async function stackWith(overload: SipStackOptions['overload'], tu: SipTransactionUser) {
  const stack = new SipStack({ listeners: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }], http: false, userAgent: 'gw-test', overload });
  stack.setTransactionUser(tu);
  await stack.start();
  cleanup.push(() => stack.close());
  const peer = await UdpPeer.open();
  cleanup.push(() => peer.close());
  return { stack, peer, port: stack.port('UDP') };
}

function request(method: string, branch: string, callId: string, opts: { toTag?: string; cseq?: number } = {}): string {
  return (
    `${method} sip:bob@127.0.0.1 SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=${branch};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>${opts.toTag ? `;tag=${opts.toTag}` : ''}\r\n` +
    `Call-ID: ${callId}\r\nCSeq: ${opts.cseq ?? 1} ${method}\r\n` +
    `Contact: <sip:alice@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n`
  );
}

describe('SipStack overload protection (real UDP socket)', () => {
  it('answers a new INVITE 503 with Retry-After once maxCallsInSetup calls are in setup, without reaching the TU', async () => {
    const { tu, invites } = holdingTu();
    const { stack, peer, port } = await stackWith({ maxCallsInSetup: 1, maxEventLoopDelayMs: 0, retryAfterSeconds: 7 }, tu);

    peer.send(request('INVITE', 'z9hG4bK-first', 'call-1'), port);
    expect(await peer.inbox.next()).toMatchObject({ type: 'response', status: 100 });
    expect(invites).toHaveLength(1);
    expect(stack.transactions.callsInSetup).toBe(1);

    peer.send(request('INVITE', 'z9hG4bK-second', 'call-2'), port);
    const refused = (await peer.inbox.next()) as SipResponse;
    expect(refused).toMatchObject({ type: 'response', status: 503 });
    expect(refused.headers.get('retry-after')).toBe('7');
    expect(refused.headers.get('call-id')).toBe('call-2');
    expect(refused.headers.get('to')).toMatch(/;tag=/);
    expect(invites).toHaveLength(1);
    expect(stack.overload.counters.shed).toBe(1);
    expect(stack.overload.reason).toBe('calls-in-setup');
    // The refused INVITE is not a call in setup: only the held one is.
    expect(stack.transactions.callsInSetup).toBe(1);

    // A retransmission of the refused INVITE is answered from its transaction, not evaluated (or counted) again.
    peer.send(request('INVITE', 'z9hG4bK-second', 'call-2'), port);
    expect(await peer.inbox.next()).toMatchObject({ status: 503 });
    expect(stack.overload.counters.shed).toBe(1);
    // §17.2.1: the ACK for the 503 is absorbed by the transaction (nothing comes back).
    peer.send(request('ACK', 'z9hG4bK-second', 'call-2', { toTag: refused.headers.get('to')!.split('tag=')[1] }), port);
    expect(await peer.inbox.quiet(200)).toBe(true);
  });

  it('never sheds in-dialog requests or CANCEL, and accepts INVITEs again once a call leaves setup', async () => {
    const { tu, invites, others } = holdingTu();
    const { stack, peer, port } = await stackWith({ maxCallsInSetup: 1, maxEventLoopDelayMs: 0 }, tu);

    peer.send(request('INVITE', 'z9hG4bK-a', 'call-a'), port);
    expect(await peer.inbox.next()).toMatchObject({ status: 100 });

    // In-dialog (To tag): passes even though the gateway is at its limit.
    peer.send(request('BYE', 'z9hG4bK-bye', 'call-x', { toTag: 'b1' }), port);
    expect(await peer.inbox.next()).toMatchObject({ status: 200 });
    expect(others.map((r) => r.method)).toEqual(['BYE']);
    // Out-of-dialog, but not a shed method (default: INVITE only).
    peer.send(request('REGISTER', 'z9hG4bK-reg', 'reg-1'), port);
    expect(await peer.inbox.next()).toMatchObject({ status: 200 });

    // The held call gets its final response: it leaves setup, and the next INVITE is served.
    const held = invites[0]!;
    held.tx.respond(createResponseTo(held.request, 486, undefined, newTag()));
    expect(await peer.inbox.next()).toMatchObject({ status: 486 });
    expect(stack.transactions.callsInSetup).toBe(0);
    peer.send(request('INVITE', 'z9hG4bK-b', 'call-b'), port);
    expect(await peer.inbox.next()).toMatchObject({ status: 100 });
    expect(invites).toHaveLength(2);
    expect(stack.overload.counters.shed).toBe(0);
  });

  it('sheds REGISTER too when configured', async () => {
    const { tu, others } = holdingTu();
    const { peer, port } = await stackWith({ maxCallsInSetup: 1, maxEventLoopDelayMs: 0, methods: ['INVITE', 'REGISTER'] }, tu);
    peer.send(request('INVITE', 'z9hG4bK-a', 'call-a'), port);
    expect(await peer.inbox.next()).toMatchObject({ status: 100 });
    peer.send(request('REGISTER', 'z9hG4bK-reg', 'reg-1'), port);
    const refused = await peer.inbox.next();
    expect(refused).toMatchObject({ status: 503 });
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(others).toHaveLength(0);
  });

  it('sheds nothing when disabled', async () => {
    const { tu, invites } = holdingTu();
    const { stack, peer, port } = await stackWith({ enabled: false, maxCallsInSetup: 1 }, tu);
    peer.send(request('INVITE', 'z9hG4bK-a', 'call-a'), port);
    expect(await peer.inbox.next()).toMatchObject({ status: 100 });
    peer.send(request('INVITE', 'z9hG4bK-b', 'call-b'), port);
    expect(await peer.inbox.next()).toMatchObject({ status: 100 });
    expect(invites).toHaveLength(2);
    expect(stack.overload.counters.shed).toBe(0);
  });

  it('notices a blocked event loop with the built-in lag timer, and the end of it', async () => {
    const { tu } = holdingTu();
    const { stack } = await stackWith({ maxEventLoopDelayMs: 50, maxCallsInSetup: 0, sampleIntervalMs: 100 }, tu);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const until = Date.now() + 600;
    while (Date.now() < until) {
      // busy: the event loop is blocked for 600 ms
    }
    const deadline = Date.now() + 3000;
    while (stack.overload.counters.episodes === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(stack.overload.counters.episodes).toBeGreaterThanOrEqual(1);
    // An idle loop ends the episode (a window's mean below half the threshold).
    while (stack.overload.reason !== undefined && Date.now() < deadline + 3000) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(stack.overload.reason).toBeUndefined();
  });
});

describe('OverloadControl signals', () => {
  const invite = parseSipMessage(Buffer.from(request('INVITE', 'z9hG4bK-x', 'c'))) as SipRequest;
  const reInvite = parseSipMessage(Buffer.from(request('INVITE', 'z9hG4bK-y', 'c', { toTag: 't' }))) as SipRequest;

  it('enters on a window above the threshold and leaves only below half of it (hysteresis)', () => {
    let delay = 0;
    const control = new OverloadControl({ maxEventLoopDelayMs: 100, maxCallsInSetup: 0 }, { callsInSetup: () => 0, eventLoopDelayMs: () => delay });
    control.sample();
    expect(control.shouldShed(invite)).toBe(false);
    delay = 150;
    control.sample();
    expect(control.reason).toBe('event-loop-delay');
    expect(control.shouldShed(invite)).toBe(true);
    expect(control.shouldShed(reInvite)).toBe(false);
    delay = 80; // below the threshold, not below half: still overloaded
    control.sample();
    expect(control.shouldShed(invite)).toBe(true);
    delay = 40;
    control.sample();
    expect(control.reason).toBeUndefined();
    expect(control.shouldShed(invite)).toBe(false);
    expect(control.counters).toMatchObject({ shed: 2, episodes: 1 });
  });

  it('counts the new INVITE itself among the calls in setup', () => {
    let inSetup = 3; // includes the INVITE being decided
    const control = new OverloadControl({ maxEventLoopDelayMs: 0, maxCallsInSetup: 3 }, { callsInSetup: () => inSetup });
    expect(control.shouldShed(invite)).toBe(false);
    inSetup = 4;
    expect(control.shouldShed(invite)).toBe(true);
    inSetup = 1;
    control.sample(); // the sampler ends a calls-in-setup episode without waiting for another INVITE
    expect(control.reason).toBeUndefined();
  });

  it('without the event-loop sampler, a calls-in-setup episode still ends on time, and its timer runs only during it', () => {
    vi.useFakeTimers();
    try {
      let inSetup = 0;
      const control = new OverloadControl({ maxEventLoopDelayMs: 0, maxCallsInSetup: 2, sampleIntervalMs: 100 }, { callsInSetup: () => inSetup });
      control.start();
      expect(vi.getTimerCount()).toBe(0); // nothing runs while not overloaded
      inSetup = 3;
      expect(control.shouldShed(invite)).toBe(true);
      expect(control.reason).toBe('calls-in-setup');
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(100);
      expect(control.reason).toBe('calls-in-setup'); // still 3 in setup
      inSetup = 1; // answered: no INVITE arrives to notice
      vi.advanceTimersByTime(100);
      expect(control.reason).toBeUndefined();
      expect(vi.getTimerCount()).toBe(0);
      expect(control.counters.episodes).toBe(1);
      control.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('sheds only the methods that can be shed', () => {
    const control = new OverloadControl({ maxEventLoopDelayMs: 0, maxCallsInSetup: 1, methods: ['INVITE', 'OPTIONS'] }, { callsInSetup: () => 5 });
    expect(control.shouldShed(invite)).toBe(true);
    const optionsRequest = { ...invite, method: 'OPTIONS' };
    expect(control.shouldShed(optionsRequest)).toBe(true);
    expect(control.shouldShed({ ...invite, method: 'REGISTER' })).toBe(false);
    control.stop();
  });
});
