/**
 * End to end, graceful shutdown: SIGTERM while alice is on a call through the SIPp trunk. The gateway must end
 * the call on both sides with BYE (the page goes idle, SIPp's BYE handling completes its call), and exit 0.
 */
import { expect, it, vi } from 'vitest';
import { Softphone } from './harness/browser.ts';
import { PORTS, USERS, sippTrunkConfig } from './harness/gateway.ts';
import { startSipp } from './harness/sipp.ts';
import { describeE2E, setupSuite } from './harness/suite.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

describeE2E('e2e: graceful shutdown during a call', () => {
  const suite = setupSuite({ config: sippTrunkConfig() });

  it('SIGTERM ends the call with BYE on both sides, then the gateway exits 0', async () => {
    const uas = startSipp(suite.ns, {
      scenario: 'e2e-uas.xml',
      localPort: PORTS.trunk,
      mediaPort: 6000,
      rtpEcho: true,
      keys: { rtp_port: 6000, codec: 0, codec_name: 'PCMU' },
      timeoutSeconds: 45,
    });
    const alice = await Softphone.open(suite.browser.browser, suite.gateway.pageUrl);
    try {
      await alice.signIn(USERS.alice.name, USERS.alice.password);
      await alice.dial('+15551230009');
      await alice.waitFor('call', 'active', 15_000);
      await alice.waitForAudio();

      const exit = await suite.gateway.stop();
      expect(exit).toMatchObject({ code: 0, signal: null, killed: false });
      // The page was told with a BYE (not just a dropped WebSocket) …
      await alice.waitFor('call', 'idle');
      expect(alice.requestsReceived('BYE')).toHaveLength(1);
      // … and so was the trunk: SIPp answered the BYE and finished its call successfully.
      expect(await uas.done(10_000), uas.report()).toEqual({ code: 0, signal: null });
      const logs = suite.gateway.logs;
      expect(logs.some((e) => e.msg === 'gateway stopped')).toBe(true);
      expect(suite.gateway.activeCalls()).toEqual([]);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await alice.describe()}\n${uas.report()}\n${suite.gateway.output(30_000)}`, { cause: error });
    } finally {
      await alice.close();
      await uas.stop();
      uas.cleanup();
    }
  });
});
