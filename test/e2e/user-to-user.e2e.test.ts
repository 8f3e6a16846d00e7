/**
 * End to end between two browsers: alice and bob, each in a browser context of their own (own storage, own fake
 * microphone), both registered on the gateway; alice calls bob, the gateway bridges two WebRTC legs (both media
 * anchored), both hear each other, hold and resume keep the media going, and a hang-up on one side ends both.
 */
import { afterEach, expect, it, vi } from 'vitest';
import type { CallStatsSample } from '../../public/common/call-stats.ts';
import { Softphone } from './harness/browser.ts';
import { USERS } from './harness/gateway.ts';
import { describeE2E, setupSuite } from './harness/suite.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

describeE2E('e2e: alice calls bob, browser to browser through the gateway', () => {
  const suite = setupSuite();
  const phones: Softphone[] = [];

  afterEach(async () => {
    for (const phone of phones.splice(0)) await phone.close();
    await expect.poll(() => suite.gateway.activeCalls(), { timeout: 5000 }).toEqual([]);
  });

  async function signedIn(user: keyof typeof USERS): Promise<Softphone> {
    const phone = await Softphone.open(suite.browser.browser, suite.gateway.pageUrl);
    phones.push(phone);
    await phone.signIn(USERS[user].name, USERS[user].password);
    return phone;
  }

  async function failure(error: unknown): Promise<Error> {
    const parts = [(error as Error).message];
    for (const phone of phones) parts.push(await phone.describe(8));
    parts.push(suite.gateway.output(30_000));
    return new Error(parts.join('\n'), { cause: error });
  }

  /** alice → bob, accepted, audio both ways. */
  async function connected(): Promise<{ alice: Softphone; bob: Softphone; a: CallStatsSample; b: CallStatsSample }> {
    const bob = await signedIn('bob');
    const alice = await signedIn('alice');
    await alice.dial('bob');
    await bob.waitFor('call', 'incoming', 15_000);
    expect(await bob.hook('callInfo')).toMatchObject({ direction: 'incoming', peer: 'Alice' });
    await alice.waitFor('call', 'ringing');
    await bob.button('Accept call');
    await Promise.all([alice.waitFor('call', 'active'), bob.waitFor('call', 'active')]);
    const [a, b] = await Promise.all([alice.waitForAudio({ minPackets: 50 }), bob.waitForAudio({ minPackets: 50 })]);
    return { alice, bob, a, b };
  }

  it('both hear each other; hold and resume keep audio flowing both ways; bob hangs up and both end', async () => {
    try {
      const { alice, bob, a, b } = await connected();
      expect(a.totalAudioEnergy).toBeGreaterThan(0);
      expect(b.totalAudioEnergy).toBeGreaterThan(0);

      await alice.button('Hold');
      await expect.poll(async () => (await alice.hook('callInfo'))?.held).toBe(true);
      await expect.poll(async () => (await bob.hook('callInfo'))?.remoteHeld).toBe(true);
      // RFC 3264 §8.4: alice offers a=sendonly, bob answers recvonly and stops sending: alice's inbound stalls.
      await new Promise((r) => setTimeout(r, 300));
      const heldAt = await alice.stats();
      await new Promise((r) => setTimeout(r, 1000));
      const stillHeld = await alice.stats();
      expect(stillHeld!.packetsReceived - heldAt!.packetsReceived).toBeLessThan(10);

      await alice.button('Hold');
      await expect.poll(async () => (await alice.hook('callInfo'))?.held).toBe(false);
      await expect.poll(async () => (await bob.hook('callInfo'))?.remoteHeld).toBe(false);
      const [resumedA, resumedB] = await Promise.all([alice.stats(), bob.stats()]);
      // After resume, audio keeps arriving on both sides: more packets and more energy than at resume time.
      await Promise.all([alice.waitForAudio({ since: resumedA, minPackets: 50 }), bob.waitForAudio({ since: resumedB, minPackets: 50 })]);

      await bob.button('Hang up');
      await Promise.all([alice.waitFor('call', 'idle'), bob.waitFor('call', 'idle')]);
      expect(await bob.byeOutcome()).toEqual({ status: 200, crossed: 0 });
      expect(alice.requestsReceived('BYE')).toHaveLength(1);
      expect(await alice.hook('lastCall')).toMatchObject({ peer: 'bob', direction: 'outgoing', outcome: 'answered' });
      expect(await bob.hook('lastCall')).toMatchObject({ direction: 'incoming', outcome: 'answered' });
      expect([...alice.errors, ...bob.errors]).toEqual([]);
    } catch (error) {
      throw await failure(error);
    }
  });

  it('a hang-up by the caller ends the callee too', async () => {
    try {
      const { alice, bob } = await connected();
      await alice.button('Hang up');
      await Promise.all([alice.waitFor('call', 'idle'), bob.waitFor('call', 'idle')]);
      expect(await alice.byeOutcome()).toEqual({ status: 200, crossed: 0 });
      expect(bob.requestsReceived('BYE')).toHaveLength(1);
      expect(await bob.hook('lastCall')).toMatchObject({ direction: 'incoming', outcome: 'answered' });
    } catch (error) {
      throw await failure(error);
    }
  });
});
