/**
 * Late offer from a trunk (RFC 3261 §13.2.1 / §14): a real SIPp UAC sends an INVITE without SDP to a registered
 * browser. The gateway offers the browser (WebRTC, from a placeholder of the trunk), puts a plain RTP/AVP offer in
 * its 200, takes the trunk's answer from the ACK and relays RTP both ways; an ACK without an answer ends the call
 * with BYE on both sides (§13.3.1.4), and so does one that keeps only a codec the browser does not send. After
 * the ACK's answer, every SDP either peer gets is one o= version on from the last it saw (RFC 3264 §8), through
 * re-INVITEs from both sides and one without SDP. Everything the call held is given back.
 */
import { it, expect, afterEach } from 'vitest';
import { Cleanup, DIALING_USERS, expectReleased, gatewayFor, inboundTrunkGateway, phoneFor, resourcesOf, startSipp, trunkCallsIn, trunkYaml, waitFor, type SippPeer } from './harness.ts';
import { describeWith } from '../support/tools.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The SDP of the first 200 OK to the INVITE that SIPp received (up to the next message in its log). */
function offerIn200(sipp: SippPeer): string {
  const log = sipp.messages();
  const start = log.search(/^SIP\/2\.0 200 OK/m);
  if (start < 0) return '';
  const message = log.slice(start).split(/^-{5,}|^(?:ACK|BYE) sip:/m)[0]!;
  return message.slice(message.indexOf('v=0'));
}

/** The SDP bodies of the messages SIPp received (what the gateway sent the trunk), in order. */
function sdpsReceivedBy(sipp: SippPeer): string[] {
  return sipp
    .messages()
    .split(/^-{10,}.*$/m)
    .filter((chunk) => /message received/.test(chunk) && chunk.includes('\nv=0'))
    .map((chunk) => chunk.slice(chunk.indexOf('\nv=0') + 1).trim());
}

/**
 * RFC 3264 §8 over the SDPs one peer got from the gateway, in order: one o= session id, and the version after the
 * previous one when the SDP changed, the same when it did not (a retransmission, or our offer in a 2xx to an
 * offerless re-INVITE). Returns the versions.
 */
function expectVersionSteps(sdps: readonly string[]): number[] {
  const parsed = sdps.map((sdp) => {
    const m = /^o=\S+ (\d+) (\d+) /m.exec(sdp);
    expect(m, sdp).not.toBeNull();
    return { id: m![1]!, version: Number(m![2]), body: sdp.replace(/^o=.*$/m, '').replace(/\r/g, '').trim() };
  });
  for (let i = 1; i < parsed.length; i++) {
    const [before, now] = [parsed[i - 1]!, parsed[i]!];
    expect(now.id).toBe(before.id);
    expect(now.version, `SDP ${i}:\n${sdps[i]}\nafter\n${sdps[i - 1]}`).toBe(before.version + (now.body === before.body ? 0 : 1));
  }
  return parsed.map((p) => p.version);
}

describeWith(['sipp'], 'late offer: a trunk’s INVITE without SDP (SIPp UAC)', () => {
  it('offers plain RTP/AVP at the gateway’s address in the 200, takes the answer from the ACK, RTP flows both ways', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const baseline = await resourcesOf(gw);
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-late-offer.xml', { echo: true, pauseMs: 3000 });

    const call = await alice.waitForIncoming(10_000);
    // The browser gets a real WebRTC offer although the trunk sent none.
    expect(call.request.body.toString()).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF /m);
    expect(call.request.body.toString()).toMatch(/^a=fingerprint:/m);
    await call.ring();
    await call.answer();
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    // Phone → gateway → SIPp at the address of its ACK answer (echoed) → gateway → phone: our frames come back.
    await call.waitForAudio((a) => a.markers.filter((m) => m.stream === sending.stream).length >= 25, 4000);
    expect(await call.ended).toEqual({ by: 'remote', reason: 'BYE' });
    await sipp.succeeded();

    const offer = offerIn200(sipp);
    expect(offer).toMatch(/^c=IN IP4 127\.0\.0\.1\r?$/m);
    expect(offer).toMatch(/^m=audio [1-9]\d* RTP\/AVP( \d+)* 0( |\r?$)/m);
    expect(offer).toMatch(/^a=rtpmap:101 telephone-event\/8000/m);
    expect(offer).not.toMatch(/SAVP|a=fingerprint|a=ice-/);
    const stats = await gw.media.statistics();
    expect(stats.packetsRelayed).toBeGreaterThan(50);
    await expectReleased(gw, { baseline });
  });

  it('after the answer in the ACK, re-INVITEs both ways (and one without SDP) bring each peer the next o= version', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const baseline = await resourcesOf(gw);
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-late-offer-reinvites.xml', { echo: true });

    const call = await alice.waitForIncoming(10_000);
    const toBrowser = [call.request.body.toString()];
    call.on('reinvite', (request) => toBrowser.push(request.body.toString()));
    await call.answer(); // resolves on the browser's ACK
    const [callId] = await gw.media.list();
    await waitFor(async () => (await gw.media.query(callId!))?.legs.some((l) => l.kind === 'plain' && l.remote?.port === sipp.mediaPort), 'the trunk leg took the ACK’s answer');
    // The browser holds: a re-INVITE to the trunk, our answer back to the browser.
    const held = await call.hold();
    toBrowser.splice(1, 0, held.body.toString());
    // SIPp re-offers, re-INVITEs without SDP (its answer in the ACK moves its audio), re-offers again, hangs up.
    await waitFor(async () => (await gw.media.query(callId!))?.legs.some((l) => l.kind === 'plain' && l.remote?.port === sipp.mediaPort + 2), 'the trunk leg moved to the port of the re-INVITE’s ACK answer', 10_000);
    expect(await call.ended).toEqual({ by: 'remote', reason: 'BYE' });
    await sipp.succeeded();

    // The browser: the offer, the answer to its hold, the trunk's two re-offers — each one version on.
    expect(toBrowser).toHaveLength(4);
    const browserVersions = expectVersionSteps(toBrowser);
    expect(browserVersions).toEqual([0, 1, 2, 3].map((n) => browserVersions[0]! + n));
    // The trunk: the offer in the 200, the browser's hold, the answer to its re-offer, our offer in the 200 to its
    // offerless re-INVITE (unchanged: same version), the answer to its last re-offer.
    const toTrunk = sdpsReceivedBy(sipp);
    const trunkVersions = expectVersionSteps(toTrunk);
    expect([...new Set(trunkVersions)]).toEqual([0, 1, 2, 3].map((n) => trunkVersions[0]! + n));
    await expectReleased(gw, { baseline });
  });

  it('an ACK without the answer ends the call with BYE to the trunk and to the browser', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const baseline = await resourcesOf(gw);
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-late-offer-no-answer.xml');

    const call = await alice.waitForIncoming(10_000);
    await call.answer();
    expect(await call.ended).toEqual({ by: 'remote', reason: 'BYE' });
    // SIPp's scenario only passes once the gateway's BYE came (and was answered).
    await sipp.succeeded();
    expect(sipp.messages()).toMatch(/^BYE sip:/m);
    await expectReleased(gw, { baseline });
  });

  it('an ACK whose answer has no codec of our offer ends the call with BYE on both sides', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const baseline = await resourcesOf(gw);
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-late-offer-bad-answer.xml');

    const call = await alice.waitForIncoming(10_000);
    await call.answer();
    expect(await call.ended).toEqual({ by: 'remote', reason: 'BYE' });
    await sipp.succeeded();
    await expectReleased(gw, { baseline });
  });

  it('an ACK whose answer keeps only a codec the browser does not send (PCMA, the browser sends PCMU) ends the call with BYE', async () => {
    const gw = await inboundTrunkGateway(cleanup);
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const baseline = await resourcesOf(gw);
    const sipp = await trunkCallsIn(cleanup, gw, 'gw-uac-late-offer-pcma-answer.xml');

    const call = await alice.waitForIncoming(10_000);
    await call.answer();
    expect(await call.ended).toEqual({ by: 'remote', reason: 'BYE' });
    await sipp.succeeded();
    // The browser's answer put PCMU first (what it sends), and our offer in the 200 offered PCMA as well.
    expect(offerIn200(sipp)).toMatch(/^m=audio \d+ RTP\/AVP 0 8( |\r?$)/m);
    await expectReleased(gw, { baseline });
  });

  it('browser → trunk: the trunk’s re-INVITE without SDP gets our offer in the 200; the answer in its ACK moves the audio', async () => {
    const sipp = cleanup.add(await startSipp({ scenario: 'gw-uas-reinvite-offerless.xml', echo: true, pauseMs: 1000 }), (p) => p.stop());
    const gw = cleanup.add(
      await gatewayFor(`${DIALING_USERS}trunks:\n${trunkYaml(sipp)}routes:\n  outbound:\n    - { match: '\\+1555[0-9]+', trunk: carrier }\n`),
      (g) => g.close(),
    );
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('+15551230042');
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio((a) => a.markers.some((m) => m.stream === sending.stream), 3000);
    const [callId] = await gw.media.list();
    // After the re-INVITE's ACK the trunk leg sends to the answer's port, and the echo from there comes back.
    await waitFor(async () => {
      const legs = (await gw.media.query(callId!))?.legs ?? [];
      return legs.some((l) => l.kind === 'plain' && l.remote?.port === sipp.mediaPort + 2);
    }, 'the trunk leg moved to the ACK answer’s port', 5000);
    const frame = call.audio.markers.filter((m) => m.stream === sending.stream).at(-1)?.frame ?? -1;
    await call.waitForAudio((a) => a.markers.filter((m) => m.stream === sending.stream && m.frame > frame).length >= 10, 3000);
    sending.stop();
    await call.hangup();
    await sipp.succeeded();
    expect(sipp.logs()).toMatch(/re-INVITE offer m=audio \d+ RTP\/AVP /);
    // The browser saw nothing of it: a refresh with the same media is no business of the other side.
    await expectReleased(gw);
  });
});
