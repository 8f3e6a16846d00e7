/**
 * SIPp (Debian's sip-tester) as the caller: its built-in `uac` scenario (INVITE with SDP, 200, ACK, BYE) against
 * the services peer over UDP. Under CI=true a missing sipp binary fails; elsewhere the test is skipped. SIPp
 * writes its logs into its cwd, so it runs in a temporary directory, kept and shown when a run fails.
 */
import { it, expect, afterEach } from 'vitest';
import { ServicesPeer } from '../../src/services/services-peer.ts';
import { runSipp, sippReport, type SippOptions } from '../support/sipp.ts';
import { describeWith } from '../support/tools.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function sippOptions(port: number, service: string, transport: 'u1' | 't1'): SippOptions {
  // SIPp binds its media port even when it sends no RTP: an even port of its own, away from everyone's ranges.
  const mediaPort = 46000 + 2 * Math.floor(Math.random() * 1000);
  return {
    scenario: { builtin: 'uac' },
    remote: `127.0.0.1:${port}`,
    service,
    calls: 3,
    transport,
    localPort: 0,
    mediaPort,
    rate: 10,
    timeoutSeconds: 20,
  };
}

describeWith(['sipp'], 'SIPp calling the services peer', () => {
  it('completes 3 calls of the uac scenario to tone over TCP', async () => {
    const peer = new ServicesPeer({ port: 0, tcp: true, portPool: { min: 40700, max: 40799 } });
    await peer.start();
    cleanup.push(() => peer.close());
    const run = await runSipp(sippOptions(peer.tcpPort, 'tone', 't1'));
    expect(run.code, sippReport(run)).toBe(0);
    expect(peer.counters.answered).toBe(3);
    expect(peer.mediaPortsInUse).toBe(0);
  });

  it('completes 3 calls of the standard uac scenario to echo (sipp -sn uac -s echo -m 3)', async () => {
    const peer = new ServicesPeer({ port: 0, portPool: { min: 40600, max: 40699 } });
    await peer.start();
    cleanup.push(() => peer.close());
    const ended: string[] = [];
    peer.on('call-ended', (_id, reason) => ended.push(reason));
    const run = await runSipp(sippOptions(peer.port, 'echo', 'u1'));
    expect(run.code, sippReport(run)).toBe(0);
    expect(peer.counters.answered).toBe(3);
    expect(ended).toEqual(['bye', 'bye', 'bye']);
    expect(peer.calls).toBe(0);
    expect(peer.mediaPortsInUse).toBe(0);
  });
});
