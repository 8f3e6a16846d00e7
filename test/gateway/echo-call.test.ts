import { describe, it, expect, afterEach } from 'vitest';
import { gatewayFor } from './harness.ts';
import { TestPhone } from '../support/test-phone.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('a browser calls the built-in echo service through the gateway', () => {
  it('registers, calls echo, hears its own audio back, hangs up, and everything is released', async () => {
    const gw = await gatewayFor();
    cleanup.push(() => gw.close());
    const alice = await TestPhone.connect({ url: gw.urls.ws, user: 'alice', password: 'demo', domain: '127.0.0.1' });
    cleanup.push(() => alice.close());
    await alice.register();
    const call = await alice.call('echo');
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    await call.waitForAudio(50);
    expect(call.audio.packetsReceived).toBeGreaterThanOrEqual(50);
    sending.stop();
    await call.hangup();
    await call.ended;
    // Media ports, calls and transactions back to nothing.
    await new Promise((r) => setTimeout(r, 300));
    expect(gw.b2bua.activeCalls).toBe(0);
    expect((await gw.media.statistics()).sessions).toBe(0);
  });
});
