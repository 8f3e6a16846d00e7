import { expect, it, afterEach } from 'vitest';
import { SipStack } from '../../src/signaling/sip-stack.ts';
import { parseConfig } from '../../src/config/load.ts';
import { TrunkRegistration } from '../../src/sip-bridge/trunk-registration.ts';
import { describeWith } from '../support/tools.ts';
import { SippProcess, sippReport } from '../support/sipp.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeWith(['sipp'], 'trunk registration against a SIPp registrar', () => {
  for (const [password, expected] of [['gw-secret', 'registered'], ['wrong', 'failed']] as const) {
    it(`answers the 401 challenge and ends ${expected} (password ${password})`, async () => {
      const port = 25000 + Math.floor(Math.random() * 2000);
      const sipp = new SippProcess({ scenario: 'registrar-uas.xml', localPort: port, calls: 1, timeoutSeconds: 20 });
      cleanup.push(() => sipp.stop());
      const stack = new SipStack({ listeners: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }], http: false, userAgent: 'gw-test' });
      await stack.start();
      cleanup.push(() => stack.close());
      const cfg = parseConfig(
        `trunks:\n  - { name: carrier, host: 127.0.0.1, port: ${port}, username: gw-user, password: ${password}, realm: trunk.test, register: { enabled: true, expires: 300 } }\n`,
        'test',
        {},
      );
      const reg = new TrunkRegistration(stack, cfg.trunks[0]!);
      cleanup.push(() => reg.close());
      reg.start();
      await until(() => reg.state === expected);
      if (expected === 'registered') {
        // The registrar granted 120 s, less than the 300 asked: the refresh follows the grant.
        expect(reg.expiresAt - Date.now()).toBeLessThanOrEqual(120_000);
        expect(reg.expiresAt - Date.now()).toBeGreaterThan(100_000);
        const result = await sipp.done;
        expect(result.code, sippReport(result)).toBe(0);
      } else {
        expect(reg.lastReason).toBe('403 Forbidden');
      }
    });
  }
});
