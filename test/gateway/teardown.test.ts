/**
 * Calls that end without a BYE from a phone: the browser's WebSocket closes mid-call (a closed tab, a crashed
 * one), or the media stops (media timeout). The gateway ends the call on the other side with BYE, and on the
 * browser's side too when it is still there.
 */
import { it, expect, afterEach, describe } from 'vitest';
import { Cleanup, DIALING_USERS, expectReleased, gatewayFor, phoneFor, startSipp, trunkYaml } from './harness.ts';
import { describeWith } from '../support/tools.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function trunkConfig(sipp: { port: number }): string {
  return `${DIALING_USERS}trunks:\n${trunkYaml(sipp)}routes:\n  outbound:\n    - { match: '\\+1555[0-9]+', trunk: carrier }\n`;
}

describe('a browser’s connection drops mid-call', () => {
  it('closing the tab (WebSocket close) hangs up the other browser with BYE', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const bob = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());
    const outgoing = alice.invite('bob');
    const incoming = await bob.waitForIncoming();
    await incoming.answer();
    await outgoing.answered;

    await alice.close();
    expect(await incoming.ended).toEqual({ by: 'remote', reason: 'BYE' });
    await expectReleased(gw);
    // The closed flow took alice's registration with it.
    expect(gw.location.lookup('sip:alice@127.0.0.1')).toEqual([]);
  });

  it('a crashed tab (TCP reset, no close handshake) hangs up the other browser with BYE', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const bob = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());
    const outgoing = alice.invite('bob');
    const incoming = await bob.waitForIncoming();
    await incoming.answer();
    await outgoing.answered;

    alice.kill();
    expect(await incoming.ended).toEqual({ by: 'remote', reason: 'BYE' });
    await expectReleased(gw);
  });
});

describe('the gateway ends calls itself', () => {
  it('at the maximum call duration, with BYE to both browsers', async () => {
    const gw = cleanup.add(await gatewayFor('limits: { maxCallDuration: 1.5 }\n'), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const bob = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());
    const outgoing = alice.invite('bob');
    const incoming = await bob.waitForIncoming();
    await incoming.answer();
    await outgoing.answered;
    const answeredAt = Date.now();
    const [a, b] = await Promise.all([outgoing.ended, incoming.ended]);
    expect(a).toEqual({ by: 'remote', reason: 'BYE' });
    expect(b).toEqual({ by: 'remote', reason: 'BYE' });
    expect(Date.now() - answeredAt).toBeGreaterThan(1200);
    await expectReleased(gw);
  });
});

describeWith(['sipp'], 'teardown towards a trunk', () => {
  it('a browser that goes away mid-call: the trunk gets BYE', async () => {
    const sipp = cleanup.add(await startSipp({ scenario: 'gw-uas-echo.xml', echo: true }), (p) => p.stop());
    const gw = cleanup.add(await gatewayFor(trunkConfig(sipp)), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('+15551230030');
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio(10);
    sending.stop();
    await alice.close();
    await sipp.succeeded();
    expect(sipp.messages()).toMatch(/^BYE sip:trunk@/m);
    await expectReleased(gw);
  });

  it('a gateway shutting down mid-call hangs up both sides with BYE', async () => {
    const sipp = cleanup.add(await startSipp({ scenario: 'gw-uas-echo.xml', echo: true }), (p) => p.stop());
    const gw = await gatewayFor(trunkConfig(sipp));
    cleanup.add(gw, (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('+15551230032');
    // Once the gateway has our ACK its BYE need not wait for it (RFC 3261 §15).
    await new Promise((r) => setTimeout(r, 200));
    await gw.close();
    await sipp.succeeded();
    expect(await call.ended).toEqual({ by: 'remote', reason: 'BYE' });
  });

  it('media timeout: when RTP stops in both directions the gateway sends BYE to both sides', async () => {
    const sipp = cleanup.add(await startSipp({ scenario: 'gw-uas-echo.xml', echo: true }), (p) => p.stop());
    const gw = cleanup.add(await gatewayFor(trunkConfig(sipp), { mediaTimeout: 2 }), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('+15551230031');
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio(10);
    // Audio keeps the call up past the timeout…
    await new Promise((r) => setTimeout(r, 2500));
    expect(call.state).toBe('confirmed');
    // … silence ends it.
    const stoppedAt = Date.now();
    sending.stop();
    const ended = await call.ended;
    const after = Date.now() - stoppedAt;
    expect(ended).toEqual({ by: 'remote', reason: 'BYE' });
    expect(after).toBeGreaterThan(1500);
    expect(after).toBeLessThan(5000);
    await sipp.succeeded();
    expect(sipp.messages()).toMatch(/^BYE sip:trunk@/m);
    await expectReleased(gw);
  });
});
