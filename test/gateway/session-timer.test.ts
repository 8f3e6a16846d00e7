/**
 * RFC 4028 session timers through the B2BUA: JsSIP refreshes with a bodyless UPDATE every Session-Expires/2
 * (45 s); the gateway answers each refresh itself (each side's timer is its own) and never forwards it, and the
 * call goes on; a browser that stops refreshing is hung up (§10). The first tests send the refreshes back to
 * back (each answered, kept on its side); the last drives the clock with fake timers (setTimeout only: sockets,
 * werift's timers/promises and the media plane's performance.now() stay real).
 */
import { it, expect, afterEach, describe, vi } from 'vitest';
import { Cleanup, DIALING_USERS, gatewayFor, phoneFor, startSipp, trunkYaml } from './harness.ts';
import { describeWith } from '../support/tools.ts';
import type { TestCall, TestPhone } from '../support/test-phone.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function refreshFiveTimes(call: TestCall): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const response = await call.refresh('UPDATE');
    expect(response.status).toBe(200);
    // RFC 4028 §9: the 2xx carries the interval and names the refresher.
    expect(response.headers.get('session-expires')).toMatch(/^\d+;refresher=(uac|uas)$/);
    expect(call.state).toBe('confirmed');
  }
}

function inDialogRequests(phone: TestPhone, method: string): number {
  return phone.trace.filter((t) => t.dir === 'in' && t.msg.type === 'request' && t.msg.method === method).length;
}

describe('session refreshes from a browser', () => {
  it('answers five UPDATE refreshes locally; the callee sees none, and audio still flows after them', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const bob = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());
    const outgoing = alice.invite('bob');
    const incoming = await bob.waitForIncoming();
    await incoming.answer();
    await outgoing.answered;

    await refreshFiveTimes(outgoing);
    // And the callee's refreshes stay on its side too.
    await refreshFiveTimes(incoming);

    const sending = outgoing.startSending({ pt: 0, everyMs: 20 });
    await incoming.waitForAudio((a) => a.markers.filter((m) => m.stream === sending.stream).length >= 10);
    sending.stop();
    expect(inDialogRequests(bob, 'UPDATE')).toBe(0);
    expect(inDialogRequests(alice, 'UPDATE')).toBe(0);
    expect(inDialogRequests(bob, 'INVITE')).toBe(1);
    await outgoing.hangup();
    await incoming.ended;
  });
});

describe('session expiry over time (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a call refreshed every 45 s outlives the 90 s interval; once the refreshes stop, both sides get BYE', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const bob = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());
    const outgoing = alice.invite('bob');
    const incoming = await bob.waitForIncoming();
    await incoming.answer();
    const ok = await outgoing.answered;
    // JsSIP asks for 90 s; the browser refreshes (RFC 4028 §9: refresher=uac when the UAC supports timers).
    expect(ok.headers.get('session-expires')).toBe('90;refresher=uac');
    // Media up first, on the real clock (ICE and DTLS handshake timers are setTimeouts too); from here on new
    // timeouts are fake — the session timer is restarted by each refresh, so it runs on the fake clock.
    const sending = outgoing.startSending({ pt: 0, everyMs: 20 });
    const heard = (after: number) => incoming.audio.markers.filter((m) => m.stream === sending.stream && m.frame > after).length;
    await incoming.waitForAudio(() => heard(-1) > 0);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'], shouldAdvanceTime: true });
    expect((await outgoing.refresh('UPDATE')).status).toBe(200);

    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(45_000);
      expect(outgoing.endedBy).toBeUndefined();
      expect((await outgoing.refresh('UPDATE')).status).toBe(200);
    }
    // 225 s into a 90 s session: still up on both sides, and audio flows.
    expect(incoming.state).toBe('confirmed');
    const lastFrame = incoming.audio.markers.filter((m) => m.stream === sending.stream).at(-1)?.frame ?? -1;
    await incoming.waitForAudio(() => heard(lastFrame) >= 5);
    sending.stop();
    expect(inDialogRequests(bob, 'UPDATE')).toBe(0);

    // No refresh any more: §10, BYE at expiry − min(32, 90/3) = 60 s after the last refresh.
    await vi.advanceTimersByTimeAsync(55_000);
    expect(outgoing.state).toBe('confirmed');
    await vi.advanceTimersByTimeAsync(6_000);
    vi.useRealTimers();
    expect(await outgoing.ended).toEqual({ by: 'remote', reason: 'BYE' });
    expect(await incoming.ended).toEqual({ by: 'remote', reason: 'BYE' });
  });
});

describeWith(['sipp'], 'session refreshes towards a trunk', () => {
  it('never forwards the browser’s UPDATE refreshes to the trunk (SIPp fails on any request but BYE)', async () => {
    const sipp = cleanup.add(await startSipp({ scenario: 'gw-uas-echo.xml', echo: true }), (p) => p.stop());
    const gw = cleanup.add(
      await gatewayFor(`${DIALING_USERS}trunks:\n${trunkYaml(sipp)}routes:\n  outbound:\n    - { match: '\\+1555[0-9]+', trunk: carrier }\n`),
      (g) => g.close(),
    );
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('+15551230010');
    await refreshFiveTimes(call);
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio((a) => a.markers.filter((m) => m.stream === sending.stream).length >= 10);
    sending.stop();
    await call.hangup();
    await sipp.succeeded();
    expect(sipp.messages()).not.toMatch(/^(UPDATE|INVITE) sip:trunk/m);
  });
});
