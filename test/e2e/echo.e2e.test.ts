/**
 * End to end, everything real, inside a namespace with only loopback: alice signs in on the softphone page in
 * headless Chromium, calls the built-in `echo` service through the gateway (WebRTC leg ↔ plain RTP leg ↔ the
 * services peer over real SIP/UDP), and hears her own microphone come back.
 */
import { expect, it, vi } from 'vitest';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PHONE, Softphone } from './harness/browser.ts';
import { ROOT, USERS } from './harness/gateway.ts';
import { describeE2E, setupSuite } from './harness/suite.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

/** UPDATE_SCREENSHOTS=1 refreshes docs/screenshots/; otherwise the pictures go to a temp dir (they differ every run). */
const SCREENSHOTS =
  process.env['UPDATE_SCREENSHOTS'] === '1' ? path.join(ROOT, 'docs', 'screenshots') : path.join(tmpdir(), 'webrtc-sip-gateway-screenshots');

describeE2E('e2e: a browser calls the echo service through the gateway', () => {
  const suite = setupSuite();

  it('signs in, calls echo, gets its own audio back, hangs up: both sides end', async () => {
    const alice = await Softphone.open(suite.browser.browser, suite.gateway.pageUrl);
    try {
      await alice.signIn(USERS.alice.name, USERS.alice.password);
      await alice.dial('echo');
      await alice.waitFor('call', 'active', 15_000);
      const callId = (await suite.gateway.waitForLog((e) => e.msg === 'call answered', 'call answered')).callId;
      expect(suite.gateway.activeCalls()).toHaveLength(1);

      const audio = await alice.waitForAudio({ minPackets: 50 });
      expect(audio.packetsReceived).toBeGreaterThanOrEqual(50);
      expect(audio.totalAudioEnergy).toBeGreaterThan(0);
      expect(audio.packetsSent).toBeGreaterThan(0);
      expect(audio.candidatePairState).toBe('succeeded');

      await alice.button('Hang up');
      await alice.waitFor('call', 'idle');
      expect(await alice.hook('lastCall')).toMatchObject({ peer: 'echo', direction: 'outgoing', outcome: 'answered' });
      // RFC 3261 §15.1.2: the gateway answers the page's BYE with 200 and does not BYE the page back.
      expect(await alice.byeOutcome()).toEqual({ status: 200, crossed: 0 });
      const ended = await suite.gateway.waitForLog((e) => e.msg === 'call ended' && e.callId === callId, 'call ended');
      expect(ended['why']).not.toMatch(/media failed/);
      await expect.poll(() => suite.gateway.activeCalls()).toEqual([]);
      expect(alice.errors).toEqual([]);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await alice.describe()}\n${suite.gateway.output(30_000)}`, { cause: error });
    } finally {
      await alice.close();
    }
  });

  it('takes screenshots of a real call, desktop and phone size', async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const shots: Array<[string, Parameters<typeof Softphone.open>[2], keyof typeof USERS]> = [
      ['e2e-call-desktop.png', { width: 1280, height: 800 }, 'alice'],
      ['e2e-call-phone.png', PHONE, 'bob'],
    ];
    for (const [file, size, user] of shots) {
      const phone = await Softphone.open(suite.browser.browser, suite.gateway.pageUrl, size);
      try {
        await phone.signIn(USERS[user].name, USERS[user].password);
        await phone.dial('echo');
        await phone.waitFor('call', 'active', 15_000);
        await phone.waitForAudio();
        // The quality panel updates once a second and the level meter animates: let both show real values.
        await phone.page.waitForTimeout(2200);
        await phone.screenshot(path.join(SCREENSHOTS, file));
        await phone.button('Hang up');
        await phone.waitFor('call', 'idle');
        expect(phone.errors).toEqual([]);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${await phone.describe()}\n${suite.gateway.output(30_000)}`, { cause: error });
      } finally {
        await phone.close();
      }
    }
    await expect.poll(() => suite.gateway.activeCalls()).toEqual([]);
  });
});
