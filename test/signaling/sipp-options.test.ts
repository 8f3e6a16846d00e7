/**
 * SIPp (Debian's sip-tester) against the real stack on loopback. Under CI=true a missing sipp binary fails the
 * suite; elsewhere these tests are skipped with a message. SIPp writes its log/error files into its cwd, so it
 * runs in a temporary directory that is removed afterwards (kept and printed when a run fails).
 */
import { it, expect, afterEach } from 'vitest';
import { SipStack } from '../../src/signaling/sip-stack.ts';
import { createResponseTo } from '../../src/signaling/message.ts';
import { runSipp, sippReport, type SippResult } from '../support/sipp.ts';
import { describeWith } from '../support/tools.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Runs sipp as a UAC against 127.0.0.1:port; resolves when it exits (it has its own global timeout). */
function sipp(scenario: string, port: number, transport: 'u1' | 't1', calls: number, extra: string[] = []): Promise<SippResult> {
  return runSipp({ scenario, remote: `127.0.0.1:${port}`, transport, calls, bindLocal: true, service: 'gateway', rate: 20, timeoutSeconds: 20, extra });
}

async function startStack() {
  const stack = new SipStack({
    listeners: [
      { protocol: 'UDP', host: '127.0.0.1', port: 0 },
      { protocol: 'TCP', host: '127.0.0.1', port: 0 },
    ],
    http: false,
    userAgent: 'gw-sipp-test',
  });
  await stack.start();
  cleanup.push(() => stack.close());
  return stack;
}

describeWith(['sipp'], 'SIPp against the SIP stack', () => {
  it.each([
    ['UDP', 'u1'],
    ['TCP', 't1'],
  ] as const)('answers 5 OPTIONS over %s with 200', async (protocol, mode) => {
    const stack = await startStack();
    const run = await sipp('options-uac.xml', stack.port(protocol), mode, 5);
    expect(run.code, sippReport(run)).toBe(0);
    expect(stack.counters.optionsAnswered).toBe(5);
    expect(stack.counters.transport.messagesIn[protocol]).toBeGreaterThanOrEqual(5);
    expect(stack.counters.transport.parseErrors).toBe(0);
  });

  it('absorbs a retransmitted INVITE: two INVITEs with one branch make one server transaction, the 100 is re-sent', async () => {
    const stack = await startStack();
    let tuCalls = 0;
    stack.setTransactionUser({
      methods: ['INVITE'],
      onRequest: (request, transaction) => {
        tuCalls++;
        const tag = `busy${tuCalls}`;
        // Later than the retransmitted INVITE, which the scenario sends as soon as the 100 Trying arrives.
        const timer = setTimeout(() => transaction.respond(createResponseTo(request, 486, undefined, tag)), 300);
        cleanup.push(() => clearTimeout(timer));
      },
    });
    const calls = 3;
    // -nr: SIPp's own retransmission logic would take the gateway's (correct, byte-identical) 100 retransmission
    // for a duplicate and re-send its INVITE in reply; the scenario itself does the retransmitting here.
    const run = await sipp('invite-retransmit-uac.xml', stack.port('UDP'), 'u1', calls, ['-nr']);
    expect(run.code, sippReport(run)).toBe(0);
    expect(tuCalls).toBe(calls);
    expect(stack.counters.serverTransactions).toBe(calls);
    // Two INVITEs and at least one ACK per call reached the gateway.
    expect(stack.counters.transport.messagesIn.UDP).toBeGreaterThanOrEqual(3 * calls);
    expect(stack.transactions.stats.discardedRequests).toBe(0);
  });
});
