/**
 * Trunk → browser through the gateway, with a real SIPp UAC as the trunk: the DID's user rings and answers, RTP
 * flows both ways (SIPp echoes it), SIPp hangs up; a user with two registered phones gets both rung and the loser
 * cancelled; a user with no registration gets 480; a source that is not a trunk gets 403 and no call.
 */
import { it, expect, afterEach } from 'vitest';
import { Cleanup, expectReleased, inboundTrunkGateway, phoneFor, sleep, trunkCallsIn, type SippPeer } from './harness.ts';
import { describeWith } from '../support/tools.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The final status line SIPp logged (gw-uac-refused.xml). */
function refusal(sipp: SippPeer): string {
  return /final (SIP\/2\.0 \d{3} [^\r\n]*)/.exec(sipp.logs())?.[1] ?? `(none logged)\n${sipp.messages()}`;
}

describeWith(['sipp'], 'inbound calls from a SIP trunk (SIPp UAC)', () => {
  it('rings the DID’s user, who answers; RTP flows both ways; the trunk’s BYE ends the browser’s call', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-inbound.xml', { echo: true, pauseMs: 3000 });

    const call = await alice.waitForIncoming(10_000);
    expect(call.request.headers.get('from')).toMatch(/\+15557770000/);
    await call.ring();
    await call.answer();
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    // Phone → gateway → SIPp (plain RTP) → echoed → gateway → phone (SRTP): our own frames come back.
    await call.waitForAudio((a) => a.markers.filter((m) => m.stream === sending.stream).length >= 25, 3000);
    const ended = await call.ended;
    expect(ended).toEqual({ by: 'remote', reason: 'BYE' });
    await sipp.succeeded();
    // The trunk saw its call answered with plain RTP/AVP.
    expect(sipp.messages()).toMatch(/^SIP\/2\.0 200 OK[\s\S]*?^m=audio \d+ RTP\/AVP 0/m);
    await expectReleased(gw);
  });

  it('rings both of a user’s phones; one answers, the other is cancelled', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const desk = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const mobile = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-inbound.xml', { echo: true, pauseMs: 2000 });

    const [atDesk, onMobile] = await Promise.all([desk.waitForIncoming(10_000), mobile.waitForIncoming(10_000)]);
    await Promise.all([atDesk.ring(), onMobile.ring()]);
    await onMobile.answer();
    const cancelled = await atDesk.ended;
    expect(cancelled).toEqual({ by: 'remote', reason: 'CANCEL' });
    const sending = onMobile.startSending({ pt: 0, everyMs: 20 });
    await onMobile.waitForAudio((a) => a.markers.some((m) => m.stream === sending.stream), 3000);
    expect(await onMobile.ended).toEqual({ by: 'remote', reason: 'BYE' });
    await sipp.succeeded();
    // The CANCEL said why (RFC 3326): answered elsewhere, so phones do not log a missed call.
    const cancel = desk.trace.find((t) => t.dir === 'in' && t.msg.type === 'request' && t.msg.method === 'CANCEL');
    expect(cancel?.msg.headers.get('reason')).toMatch(/cause=200/);
    await expectReleased(gw);
  });

  it('when one of the user’s phones declines (603), the other stops ringing and the trunk gets 603', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const desk = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const mobile = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-refused.xml');
    const [atDesk, onMobile] = await Promise.all([desk.waitForIncoming(10_000), mobile.waitForIncoming(10_000)]);
    await Promise.all([atDesk.ring(), onMobile.ring()]);
    onMobile.reject(603, 'Decline');
    expect(await atDesk.ended).toEqual({ by: 'remote', reason: 'CANCEL' });
    await sipp.succeeded();
    expect(refusal(sipp)).toMatch(/^SIP\/2\.0 603 Decline/);
    await expectReleased(gw);
  });

  it('the trunk’s caller gives up while the browser rings: the browser’s call ends, cancelled', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-cancel.xml', { pauseMs: 500 });
    const call = await alice.waitForIncoming(10_000);
    await call.ring();
    expect(await call.ended).toEqual({ by: 'remote', reason: 'CANCEL' });
    await sipp.succeeded();
    await expectReleased(gw);
  });

  it('answers 480 when the DID’s user has no registered phone', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-refused.xml');
    await sipp.succeeded();
    expect(refusal(sipp)).toMatch(/^SIP\/2\.0 480 /);
    await expectReleased(gw);
  });

  it('answers 404 for a number no inbound route has', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-refused.xml', { service: '+15559999999' });
    await sipp.succeeded();
    expect(refusal(sipp)).toMatch(/^SIP\/2\.0 404 /);
  });

  it('refuses an INVITE from an address that is no trunk with 403, and no phone rings', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    let rang = false;
    alice.on('incoming', () => (rang = true));
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-refused.xml', { address: '127.0.0.2' });
    await sipp.succeeded();
    expect(refusal(sipp)).toMatch(/^SIP\/2\.0 403 /);
    await sleep(200);
    expect(rang).toBe(false);
    expect(gw.b2bua.activeCalls).toBe(0);
  });
});
