/**
 * Browser → trunk through the gateway, with a real SIPp UAS as the trunk: the call connects and audio comes back
 * (SIPp echoes RTP); the trunk's digest challenge is answered; CANCEL before the answer, and the CANCEL/200 race;
 * the trunk hanging up, early media, hold and resume in either direction; the trunk's refusals mapped to what the
 * caller sees; a trunk that is down (UDP: no answer; TCP: connection refused).
 */
import { describe, it, expect, afterEach } from 'vitest';
import { Cleanup, DIALING_USERS, expectReleased, freePort, gatewayFor, phoneFor, startSipp, trunkYaml, type SippPeer } from './harness.ts';
import { describeWith } from '../support/tools.ts';
import { TestPhoneError } from '../support/phone-errors.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function outboundConfig(trunk: { port: number }, options: Parameters<typeof trunkYaml>[1] & { extra?: string } = {}): string {
  return `${DIALING_USERS}trunks:
${trunkYaml(trunk, options)}routes:
  outbound:
    - { match: '\\+1555[0-9]+', trunk: carrier }
${options.extra ?? ''}`;
}

async function trunk(scenario: string, options: Partial<Parameters<typeof startSipp>[0]> = {}): Promise<SippPeer> {
  return cleanup.add(await startSipp({ scenario, ...options }), (p) => p.stop());
}

describeWith(['sipp'], 'outbound calls to a SIP trunk (SIPp UAS)', () => {
  it('connects, echoes the caller’s RTP back through the trunk, and ends on both sides with BYE', async () => {
    const sipp = await trunk('gw-uas-echo.xml', { echo: true });
    const gw = cleanup.add(await gatewayFor(outboundConfig(sipp)), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());

    const call = await alice.call('+15551230001');
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio((a) => a.markers.filter((m) => m.stream === sending.stream).length >= 25, 5000);
    const mine = call.audio.markers.filter((m) => m.stream === sending.stream);
    // Frames come back in order (SIPp echoes, the gateway relays payloads untouched).
    expect(mine.map((m) => m.frame)).toEqual([...mine.map((m) => m.frame)].sort((a, b) => a - b));
    expect(call.audio.payloadTypes).toEqual([0]);
    sending.stop();

    const bye = await call.hangup();
    expect(bye?.status).toBe(200);
    await sipp.succeeded();
    expect(sipp.messages()).toMatch(/^BYE sip:trunk@127\.0\.0\.1/m);
    // The trunk saw plain RTP/AVP, never the browser's DTLS/ICE.
    const invite = /^INVITE [\s\S]*?(?=^SIP\/2\.0 100)/m.exec(sipp.messages())?.[0] ?? '';
    expect(invite).toMatch(/^m=audio \d+ RTP\/AVP /m);
    expect(invite).not.toMatch(/a=fingerprint|a=ice-ufrag|a=candidate/);
    await expectReleased(gw);
  });

  it('answers the trunk’s 401 challenge with the configured credentials, and the call connects', async () => {
    const sipp = await trunk('gw-uas-auth.xml', { echo: true, keys: { user: 'gw-account', password: 'trunk-secret' } });
    const gw = cleanup.add(
      await gatewayFor(outboundConfig(sipp, { auth: { username: 'gw-account', password: 'trunk-secret' } })),
      (g) => g.close(),
    );
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());

    const call = await alice.call('+15551230002');
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio((a) => a.markers.some((m) => m.stream === sending.stream), 5000);
    sending.stop();
    await call.hangup();
    await sipp.succeeded();
    const messages = sipp.messages();
    expect(messages).toMatch(/^Authorization: Digest [^\n]*username="gw-account"/im);
    await expectReleased(gw);
  });

  it('fails the call with 503 (not the trunk’s 401) when the trunk challenges the credentials again', async () => {
    const sipp = await trunk('gw-uas-auth.xml', { keys: { user: 'gw-account', password: 'the-real-one' } });
    const gw = cleanup.add(
      await gatewayFor(outboundConfig(sipp, { auth: { username: 'gw-account', password: 'a-wrong-one' } })),
      (g) => g.close(),
    );
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const error = await alice.call('+15551230003').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestPhoneError);
    expect(error).toMatchObject({ status: 503, reason: 'Trunk authentication failed' });
    await sipp.succeeded();
    await expectReleased(gw);
  });

  it('CANCELs the trunk when the caller hangs up while it rings; both sides end', async () => {
    const sipp = await trunk('gw-uas-cancel.xml');
    const gw = cleanup.add(await gatewayFor(outboundConfig(sipp)), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());

    const call = alice.invite('+15551230004');
    const [status] = await call.next('progress');
    expect(status).toBe(180);
    const final = await call.hangup();
    expect(final?.status).toBe(487);
    const ended = await call.ended;
    expect(ended.by).toBe('local');
    await sipp.succeeded();
    expect(sipp.messages()).toMatch(/^CANCEL sip:/m);
    await expectReleased(gw);
  });

  it('when the trunk answers just as the CANCEL arrives, the gateway ACKs and BYEs the unwanted 200', async () => {
    const sipp = await trunk('gw-uas-cancel-race.xml');
    const gw = cleanup.add(await gatewayFor(outboundConfig(sipp)), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());

    const call = alice.invite('+15551230005');
    await call.next('progress');
    const final = await call.hangup();
    expect(final?.status).toBe(487);
    await call.ended;
    // The scenario requires the ACK for its 200 and then a BYE, answered 200.
    await sipp.succeeded();
    const messages = sipp.messages();
    expect(messages).toMatch(/^ACK sip:trunk@/m);
    expect(messages).toMatch(/^BYE sip:trunk@/m);
    await expectReleased(gw);
  });

  it('when the trunk hangs up, the browser’s call ends with BYE', async () => {
    const sipp = await trunk('gw-uas-hangup.xml', { echo: true, pauseMs: 1000 });
    const gw = cleanup.add(await gatewayFor(outboundConfig(sipp)), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('+15551230008');
    expect(await call.ended).toEqual({ by: 'remote', reason: 'BYE' });
    await sipp.succeeded();
    await expectReleased(gw);
  });

  it('relays early media: the caller hears the trunk (183 with SDP) before the 200', async () => {
    const sipp = await trunk('gw-uas-early-media.xml', { echo: true, pauseMs: 1500 });
    const gw = cleanup.add(await gatewayFor(outboundConfig(sipp)), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('+15551230009', { early: true });
    expect(call.state).toBe('early');
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio((a) => a.markers.filter((m) => m.stream === sending.stream).length >= 10, 1200);
    expect(call.state).toBe('early');
    await call.answered;
    const before = call.audio.markers.filter((m) => m.stream === sending.stream).length;
    await call.waitForAudio((a) => a.markers.filter((m) => m.stream === sending.stream).length >= before + 10);
    sending.stop();
    await call.hangup();
    await sipp.succeeded();
    await expectReleased(gw);
  });

  it('relays the trunk’s hold and resume to the browser as re-INVITEs; audio comes back after the resume', async () => {
    const sipp = await trunk('gw-uas-hold.xml', { echo: true, pauseMs: 1000 });
    const gw = cleanup.add(await gatewayFor(outboundConfig(sipp)), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('+15551230011');
    const held = call.next('hold');
    const resumed = call.next('unhold');
    expect(await held).toEqual(['remote']);
    expect(await resumed).toEqual(['remote']);
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio((a) => a.markers.filter((m) => m.stream === sending.stream).length >= 10, 3000);
    sending.stop();
    await call.hangup();
    await sipp.succeeded();
    expect(sipp.logs()).toMatch(/hold answered with a=recvonly/);
    expect(sipp.logs()).toMatch(/resume answered with a=sendrecv/);
    await expectReleased(gw);
  });

  it('relays the caller’s hold and resume to the trunk as plain re-INVITEs; audio comes back after the resume', async () => {
    const sipp = await trunk('gw-uas-reinvite.xml', { echo: true });
    const gw = cleanup.add(await gatewayFor(outboundConfig(sipp)), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const call = await alice.call('+15551230013');
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio((a) => a.markers.some((m) => m.stream === sending.stream));
    await call.hold();
    await call.resume();
    const frame = call.audio.markers.filter((m) => m.stream === sending.stream).at(-1)?.frame ?? -1;
    await call.waitForAudio((a) => a.markers.filter((m) => m.stream === sending.stream && m.frame > frame).length >= 10, 3000);
    sending.stop();
    await call.hangup();
    await sipp.succeeded();
    expect(sipp.logs()).toMatch(/hold offer a=sendonly/);
    expect(sipp.logs()).toMatch(/resume offer a=sendrecv/);
    // The re-offers reached the trunk as plain RTP/AVP, without the browser's DTLS/ICE attributes.
    expect(sipp.messages()).not.toMatch(/a=fingerprint|a=ice-ufrag|RTP\/SAVPF/);
    await expectReleased(gw);
  });

  it('a cancelled call stops counting against the caller’s concurrent-call limit', async () => {
    // alice may have 2 calls at once; 3 cancelled calls in a row, then a 4th call, must all be allowed.
    const sipp = await trunk('gw-uas-cancel.xml', { calls: 3 });
    const yaml = outboundConfig(sipp).replace(/(name: alice[^\n]*)maxCalls: 200/, '$1maxCalls: 2');
    expect(yaml).toMatch(/name: alice.*maxCalls: 2 }/);
    const gw = cleanup.add(await gatewayFor(yaml), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    for (let i = 0; i < 3; i++) {
      const call = alice.invite('+15551230012');
      await call.next('progress');
      expect((await call.hangup())?.status).toBe(487);
    }
    await sipp.succeeded();
    const call = await alice.call('echo');
    await call.hangup();
    await expectReleased(gw);
  });

  for (const [status, reason, scenario] of [
    [486, 'Busy Here', 'gw-uas-busy.xml'],
    [603, 'Decline', 'gw-uas-decline.xml'],
    [404, 'Not Found', 'gw-uas-not-found.xml'],
  ] as const) {
    it(`passes the trunk’s ${status} ${reason} on to the caller`, async () => {
      const sipp = await trunk(scenario);
      const gw = cleanup.add(await gatewayFor(outboundConfig(sipp)), (g) => g.close());
      const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
      const call = alice.invite('+15551230006');
      const error = await call.answered.catch((e: unknown) => e);
      expect(error).toMatchObject({ status, reason });
      const ended = await call.ended;
      expect(ended.by).toBe('remote');
      await sipp.succeeded();
      await expectReleased(gw);
    });
  }

  it('fails fast with 408 and a reason phrase when nothing answers at the trunk’s address', async () => {
    const deadPort = await freePort();
    // T1 = 100 ms: the INVITE, never answered, may not be CANCELled (RFC 3261 §9.1) and lives until Timer B (64·T1).
    const gw = cleanup.add(await gatewayFor(outboundConfig({ port: deadPort }, { extra: 'limits: { noResponseTimeout: 2 }\n' }), { t1: 100 }), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const started = Date.now();
    const error = (await alice.call('+15551230007').catch((e: unknown) => e)) as TestPhoneError;
    const took = Date.now() - started;
    expect(error).toBeInstanceOf(TestPhoneError);
    expect([408, 503]).toContain(error.status);
    expect(error.reason?.length ?? 0).toBeGreaterThan(0);
    expect(took).toBeGreaterThan(1500);
    expect(took).toBeLessThan(10_000);
    await expectReleased(gw, { timeoutMs: 10_000 });
  });

  it('fails at once with 503 and a reason phrase when the trunk refuses the TCP connection', async () => {
    const deadPort = await freePort();
    const gw = cleanup.add(await gatewayFor(outboundConfig({ port: deadPort }, { transport: 'tcp' })), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    const started = Date.now();
    const error = (await alice.call('+15551230014').catch((e: unknown) => e)) as TestPhoneError;
    expect(error).toBeInstanceOf(TestPhoneError);
    expect(error.status).toBe(503);
    expect(error.reason?.length ?? 0).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(2000);
    await expectReleased(gw, { transactions: true });
  });
});

describe('outbound routing without a trunk involved', () => {
  it('refuses a number no outbound route matches with 404 and the reason', async () => {
    const gw = cleanup.add(await gatewayFor(outboundConfig({ port: 9 })), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    await expect(alice.call('+4930123456')).rejects.toMatchObject({ status: 404, reason: 'No route to destination' });
    await expectReleased(gw);
  });
});
