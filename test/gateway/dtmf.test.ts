/**
 * DTMF from a browser: JsSIP sends INFO application/dtmf-relay; the gateway answers it and plays the digit as
 * RFC 4733 telephone-events on the other side's RTP. The built-in echo service reports the events it receives
 * (and echoes them back, so the browser hears its own digit as RTP too); a SIPp trunk echoes them.
 */
import { it, expect, afterEach, describe } from 'vitest';
import { Cleanup, DIALING_USERS, expectReleased, gatewayFor, phoneFor, startSipp, trunkYaml, waitFor } from './harness.ts';
import { describeWith } from '../support/tools.ts';
import type { TestCall } from '../support/test-phone.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/**
 * The RFC 4733 §2.3 event codes the call received. The meter keeps payloads without their type; a
 * telephone-event payload is 4 bytes, an audio frame 160.
 */
function eventsHeard(call: TestCall): number[] {
  return call.audio.payloads.filter((p) => p.length === 4).map((p) => p[0]!);
}

describe('INFO DTMF from a browser to the echo service', () => {
  it('turns INFO "Signal=5" into RFC 4733 events the far end decodes as 5', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const services = gw.services!;
    const digits: string[] = [];
    services.on('dtmf', (_callId, digit) => digits.push(digit));
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('echo');
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio(10);

    const response = await call.sendInfoDtmf('5');
    expect(response.status).toBe(200);
    await waitFor(() => digits.length > 0, 'the echo service to report a digit', 3000);
    expect(digits).toEqual(['5']);
    // The echo service sends the events back: the browser gets them on its telephone-event payload type.
    await call.waitForAudio((a) => a.payloadTypes.includes(126), 3000);
    expect(eventsHeard(call)).toContain(5);

    await call.sendInfoDtmf('#');
    await waitFor(() => digits.length > 1, 'a second digit', 3000);
    expect(digits).toEqual(['5', '#']);
    sending.stop();
    await call.hangup();
    await expectReleased(gw);
  });

  it('answers an INFO it cannot relay with 415 and keeps the call', async () => {
    const gw = cleanup.add(await gatewayFor(), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('echo');
    await expect(call.sendInfo('application/x-unknown', 'hello')).rejects.toMatchObject({ status: 415 });
    expect(call.state).toBe('confirmed');
    await call.hangup();
  });
});

describeWith(['sipp'], 'INFO DTMF from a browser towards a trunk', () => {
  it('sends the digit to the trunk as RFC 4733 on the negotiated payload type', async () => {
    const sipp = cleanup.add(await startSipp({ scenario: 'gw-uas-echo-dtmf.xml', echo: true }), (p) => p.stop());
    const gw = cleanup.add(
      await gatewayFor(`${DIALING_USERS}trunks:\n${trunkYaml(sipp)}routes:\n  outbound:\n    - { match: '\\+1555[0-9]+', trunk: carrier }\n`),
      (g) => g.close(),
    );
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('+15551230020');
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio(10);
    await call.sendInfoDtmf('7');
    // SIPp echoes the RFC 4733 packets; the gateway maps them back to the browser's telephone-event type.
    await call.waitForAudio((a) => a.payloadTypes.includes(126), 3000);
    expect(eventsHeard(call)).toContain(7);
    sending.stop();
    await call.hangup();
    await sipp.succeeded();
  });
});
