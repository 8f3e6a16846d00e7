/**
 * Browser ↔ browser through the gateway: two WebRTC legs, each terminated by the gateway (ICE, DTLS-SRTP) and
 * relayed between them. Audio both ways, hold and resume by re-INVITE (RFC 3264 §8.4), hang-up from either side.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { Cleanup, expectReleased, gatewayFor, phoneFor } from './harness.ts';
import type { TestCall } from '../support/test-phone.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Frames of `stream` received by `call` after frame `after`. */
function heard(call: TestCall, stream: number, after = -1): number {
  return call.audio.markers.filter((m) => m.stream === stream && m.frame > after).length;
}

function lastFrame(call: TestCall, stream: number): number {
  return call.audio.markers.filter((m) => m.stream === stream).at(-1)?.frame ?? -1;
}

describe('a browser calls another browser through the gateway', () => {
  it('connects with audio both ways, holds and resumes, and ends on both sides when the callee hangs up', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const bob = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());

    const outgoing = alice.invite('bob');
    const incoming = await bob.waitForIncoming();
    expect(incoming.request.headers.get('from')).toMatch(/"Alice" <sip:alice@/);
    await incoming.ring();
    expect((await outgoing.next('progress'))[0]).toBe(180);
    await incoming.answer();
    await outgoing.answered;

    const fromAlice = outgoing.startSending({ pt: 0, everyMs: 20 });
    const fromBob = incoming.startSending({ pt: 0, everyMs: 20 });
    await Promise.all([
      incoming.waitForAudio(() => heard(incoming, fromAlice.stream) >= 20),
      outgoing.waitForAudio(() => heard(outgoing, fromBob.stream) >= 20),
    ]);
    // Each hears the other, never itself.
    expect(heard(outgoing, fromAlice.stream)).toBe(0);
    expect(heard(incoming, fromBob.stream)).toBe(0);

    // Hold: alice's offer says sendonly; bob is told (his answer is recvonly), alice hears nothing from bob.
    const bobHeld = incoming.next('hold');
    await outgoing.hold();
    expect(await bobHeld).toEqual(['remote']);
    await outgoing.waitForSilence(300, 3000);
    const aliceFrameAtHold = lastFrame(incoming, fromAlice.stream);
    await incoming.waitForAudio(() => heard(incoming, fromAlice.stream, aliceFrameAtHold) >= 5);

    // Resume: audio flows both ways again.
    const bobResumed = incoming.next('unhold');
    await outgoing.resume();
    expect(await bobResumed).toEqual(['remote']);
    const bobFrame = lastFrame(outgoing, fromBob.stream);
    const aliceFrame = lastFrame(incoming, fromAlice.stream);
    await Promise.all([
      outgoing.waitForAudio(() => heard(outgoing, fromBob.stream, bobFrame) >= 15),
      incoming.waitForAudio(() => heard(incoming, fromAlice.stream, aliceFrame) >= 15),
    ]);

    fromAlice.stop();
    fromBob.stop();
    const bye = await incoming.hangup();
    expect(bye?.status).toBe(200);
    expect(await outgoing.ended).toEqual({ by: 'remote', reason: 'BYE' });
    expect(alice.violations).toEqual([]);
    expect(bob.violations).toEqual([]);
    await expectReleased(gw);
  });

  it('the caller hangs up while the callee rings: the callee’s phone is cancelled', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const bob = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());
    const outgoing = alice.invite('bob');
    const incoming = await bob.waitForIncoming();
    await incoming.ring();
    await outgoing.next('progress');
    expect((await outgoing.hangup())?.status).toBe(487);
    expect(await incoming.ended).toEqual({ by: 'remote', reason: 'CANCEL' });
    await expectReleased(gw);
  });

  it('when one of the callee’s two ringing phones goes away (tab closed), the other still rings and can answer', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const bobDesk = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());
    const bobMobile = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());
    const outgoing = alice.invite('bob');
    const [atDesk, onMobile] = await Promise.all([bobDesk.waitForIncoming(), bobMobile.waitForIncoming()]);
    await Promise.all([atDesk.ring(), onMobile.ring()]);
    await bobDesk.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(outgoing.state).toBe('early');
    expect(onMobile.state).toBe('incoming');
    await onMobile.answer();
    await outgoing.answered;
    const sending = outgoing.startSending({ pt: 0, everyMs: 20 });
    await onMobile.waitForAudio((a) => a.markers.some((m) => m.stream === sending.stream));
    await outgoing.hangup();
    expect(await onMobile.ended).toEqual({ by: 'remote', reason: 'BYE' });
    await expectReleased(gw);
  });

  it('when two of the callee’s phones answer at once, one gets the call and the other a BYE', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const bobDesk = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());
    const bobMobile = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());
    const outgoing = alice.invite('bob');
    const both = await Promise.all([bobDesk.waitForIncoming(), bobMobile.waitForIncoming()]);
    await Promise.all(both.map((call) => call.answer()));
    await outgoing.answered;
    // RFC 3261 §13.2.2.4 on the B2BUA's side: the second 2xx is ACKed and then ended with BYE.
    const loser = await Promise.race(both.map((call) => call.ended.then(() => call)));
    expect(loser.endedBy).toEqual({ by: 'remote', reason: 'BYE' });
    const winner = both.find((call) => call !== loser)!;
    const sending = outgoing.startSending({ pt: 0, everyMs: 20 });
    await winner.waitForAudio((a) => a.markers.some((m) => m.stream === sending.stream));
    expect(winner.state).toBe('confirmed');
    await outgoing.hangup();
    expect(await winner.ended).toEqual({ by: 'remote', reason: 'BYE' });
    await expectReleased(gw);
  });

  it('rejects with the callee’s status: bob busy → 486 to alice', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const bob = cleanup.add(await phoneFor(gw, 'bob'), (p) => p.close());
    const outgoing = alice.invite('bob');
    (await bob.waitForIncoming()).reject(486);
    await expect(outgoing.answered).rejects.toMatchObject({ status: 486, reason: 'Busy Here' });
    await expectReleased(gw);
  });

  it('answers 480 when the callee has no registered phone', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    await expect(alice.call('bob')).rejects.toMatchObject({ status: 480 });
    await expectReleased(gw);
  });
});
