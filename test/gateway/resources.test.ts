/**
 * Nothing leaks: after 100 calls of each kind — browser → echo service, trunk → browser, browser ↔ browser,
 * cancelled before the answer, refused by the far end — the gateway is back where it started: no call, no dialog
 * table entry, no media session or port, no transaction, no transaction timer or 2xx retransmitter. (Session
 * timers and media timers belong to sessions and media sessions, which are counted; the process-wide timer count
 * is not asserted: the test phones' werift DTLS clients keep retransmitting flights of handshakes a closed call
 * interrupted for up to 33 s, and the services peer's UDP transactions run Timers J/L at its own T1.)
 *
 * T1 is 50 ms so that UDP transactions (Timers J, L, M = 64·T1) finish within seconds of their call; the
 * cancelled and refused calls go to trunks over TCP, where the INVITE client transaction ends at once (Timer D
 * is 0 on a reliable transport, and at least 32 s on UDP whatever T1 is).
 */
import { it, expect, beforeAll, afterAll } from 'vitest';
import { DIALING_USERS, expectReleased, gatewayFor, phoneFor, resourcesOf, startSipp, trunkYaml, waitFor, type GatewayResources, type SippPeer } from './harness.ts';
import type { Gateway } from '../../src/gateway.ts';
import { describeWith } from '../support/tools.ts';
import type { IncomingCall, TestPhone } from '../support/test-phone.ts';

const CALLS = 100;
const AT_ONCE = 10;

/** Runs `n` calls, `size` at a time. */
async function inBatches(n: number, size: number, call: (i: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < n; start += size) {
    await Promise.all(Array.from({ length: Math.min(size, n - start) }, (_, k) => call(start + k)));
  }
}

describeWith(['sipp'], 'resources after many calls', () => {
  let gw: Gateway & { sipPort: number };
  let alice: TestPhone;
  let bob: TestPhone;
  let ringing: SippPeer;
  let busy: SippPeer;
  let baseline: GatewayResources;
  const answerAll = (call: IncomingCall): void => void call.answer().catch(() => {});

  beforeAll(async () => {
    ringing = await startSipp({ scenario: 'gw-uas-cancel.xml', transport: 'tcp', calls: CALLS, timeoutSeconds: 120 });
    busy = await startSipp({ scenario: 'gw-uas-busy.xml', transport: 'tcp', calls: CALLS, timeoutSeconds: 120 });
    const yaml = `${DIALING_USERS}trunks:
${trunkYaml(ringing, { name: 'ringing', transport: 'tcp' })}${trunkYaml(busy, { name: 'busy', transport: 'tcp' })}routes:
  outbound:
    - { match: '\\+15551[0-9]+', trunk: ringing }
    - { match: '\\+15552[0-9]+', trunk: busy }
  inbound:
    - { match: '\\+1555000[0-9]+', users: [bob] }
limits: { callsPerMinutePerUser: 100000 }
`;
    gw = await gatewayFor(yaml, { t1: 50 });
    alice = await phoneFor(gw, 'alice');
    bob = await phoneFor(gw, 'bob');
    baseline = await resourcesOf(gw);
    expect(baseline).toEqual({ calls: 0, dialogs: 0, mediaSessions: 0, ports: 0, transactions: 0, transactionTimers: 0, retransmitters: 0 });
  }, 30_000);

  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await gw?.close();
    await ringing?.stop();
    await busy?.stop();
  });

  it(`${CALLS} calls to the echo service`, async () => {
    await inBatches(CALLS, AT_ONCE, async () => {
      const call = await alice.call('echo');
      const sending = call.startSending({ pt: 0, everyMs: 20 });
      await call.waitForAudio(3);
      sending.stop();
      await call.hangup();
      await call.ended;
    });
    // The echo service got its BYE from the gateway for every call.
    await waitFor(() => gw.services!.calls === 0, 'the echo service to end its calls', 5000);
    await expectReleased(gw, { baseline, transactions: true, timeoutMs: 8000 });
  }, 60_000);

  it(`${CALLS} calls from a trunk to a browser`, async () => {
    bob.on('incoming', answerAll);
    try {
      const uac = await startSipp({
        scenario: 'gw-uac-inbound.xml', remote: `127.0.0.1:${gw.sipPort}`, service: '+15550001000', echo: true,
        calls: CALLS, concurrent: AT_ONCE, rate: 50, pauseMs: 200, timeoutSeconds: 60,
      });
      try {
        await uac.succeeded(60_000);
      } finally {
        await uac.stop();
      }
    } finally {
      bob.off('incoming', answerAll);
    }
    await expectReleased(gw, { baseline, transactions: true, timeoutMs: 8000 });
  }, 70_000);

  it(`${CALLS} calls from a browser to a browser`, async () => {
    bob.on('incoming', answerAll);
    try {
      await inBatches(CALLS, AT_ONCE, async () => {
        const call = await alice.call('bob');
        await call.hangup();
        await call.ended;
      });
    } finally {
      bob.off('incoming', answerAll);
    }
    await expectReleased(gw, { baseline, transactions: true, timeoutMs: 8000 });
  }, 60_000);

  it(`${CALLS} calls cancelled while the trunk rings`, async () => {
    await inBatches(CALLS, AT_ONCE, async (i) => {
      const call = alice.invite(`+15551${String(i).padStart(6, '0')}`);
      await call.next('progress');
      const final = await call.hangup();
      expect(final?.status).toBe(487);
    });
    await ringing.succeeded(10_000);
    await expectReleased(gw, { baseline, transactions: true, timeoutMs: 8000 });
  }, 60_000);

  it(`${CALLS} calls the trunk refuses`, async () => {
    await inBatches(CALLS, AT_ONCE, async (i) => {
      const call = alice.invite(`+15552${String(i).padStart(6, '0')}`);
      await expect(call.answered).rejects.toMatchObject({ status: 486 });
    });
    await busy.succeeded(10_000);
    await expectReleased(gw, { baseline, transactions: true, timeoutMs: 8000 });
  }, 60_000);
});
