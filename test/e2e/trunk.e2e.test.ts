/**
 * End to end with a SIP trunk: SIPp is the carrier. The browser calls out through an outbound route and hears
 * SIPp echo its audio; SIPp calls in through an inbound route and alice's page rings, she accepts, and the
 * A-law capture SIPp plays reaches her ears; DTMF keyed on the page arrives at the trunk as RFC 4733 events.
 * Everything runs in a namespace that has only loopback.
 */
import { afterEach, expect, it, vi } from 'vitest';
import path from 'node:path';
import { Softphone } from './harness/browser.ts';
import { NODE, PORTS, ROOT, USERS, sippTrunkConfig } from './harness/gateway.ts';
import type { NsProcess } from './harness/process.ts';
import { startSipp, type SippRun } from './harness/sipp.ts';
import { describeE2E, setupSuite } from './harness/suite.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

/** SIPp's media port (-mp) and the Node RTP endpoint's port, inside the namespace. */
const SIPP_MEDIA = 6000;
const RTP_ENDPOINT = 6010;

interface Rfc4733Line {
  type: 'event';
  pt: number;
  event: number;
  end: boolean;
  duration: number;
  volume: number;
  source: string;
}

describeE2E('e2e: calls through a SIP trunk (SIPp)', () => {
  const suite = setupSuite({ config: sippTrunkConfig() });
  const cleanups: Array<() => Promise<unknown>> = [];
  let phone: Softphone | undefined;

  afterEach(async () => {
    await phone?.close();
    phone = undefined;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    // Whatever a test did, the gateway must have no call left.
    await expect.poll(() => suite.gateway.activeCalls(), { timeout: 5000 }).toEqual([]);
  });

  async function alice(options: { sipInfo?: boolean } = {}): Promise<Softphone> {
    phone = await Softphone.open(suite.browser.browser, suite.gateway.pageUrl);
    if (options.sipInfo) await phone.useSipInfoDtmf();
    await phone.signIn(USERS.alice.name, USERS.alice.password);
    return phone;
  }

  function sipp(run: SippRun): SippRun {
    cleanups.push(async () => {
      await run.stop();
      run.cleanup();
    });
    return run;
  }

  /** A trunk UAS that answers and sends its media to `rtpPort` (SIPp's own echo when it is SIPP_MEDIA). */
  function trunkUas(rtpPort: number): SippRun {
    return sipp(
      startSipp(suite.ns, {
        scenario: 'e2e-uas.xml',
        localPort: PORTS.trunk,
        mediaPort: SIPP_MEDIA,
        rtpEcho: rtpPort === SIPP_MEDIA,
        keys: { rtp_port: rtpPort, codec: 0, codec_name: 'PCMU' },
        timeoutSeconds: 45,
      }),
    );
  }

  async function rtpEndpoint(): Promise<NsProcess> {
    const endpoint = suite.ns.spawn(NODE, [path.join(ROOT, 'test/e2e/harness/rtp-endpoint.ts'), String(RTP_ENDPOINT)], { label: 'rtp-endpoint' });
    cleanups.push(() => endpoint.stop());
    await endpoint.waitForLine((l) => l.includes('"listening"'), 'listening');
    return endpoint;
  }

  /** Everything a failed assertion needs to be diagnosed. */
  async function failure(error: unknown, run?: SippRun): Promise<Error> {
    const parts = [(error as Error).message];
    if (phone) parts.push(await phone.describe());
    if (run) parts.push(run.report());
    parts.push(suite.gateway.output(30_000));
    return new Error(parts.join('\n'), { cause: error });
  }

  it('calls a number routed to the trunk; SIPp answers with plain RTP and echoes it; audio comes back', async () => {
    const uas = trunkUas(SIPP_MEDIA);
    const page = await alice();
    try {
      await page.dial('+15551230001');
      await page.waitFor('call', 'active', 15_000);
      const audio = await page.waitForAudio({ minPackets: 50 });
      expect(audio.totalAudioEnergy).toBeGreaterThan(0);

      // What reached the carrier: the dialled number at the trunk, our caller ID, plain RTP/AVP (no ICE/DTLS).
      const invite = uas.messages().split(/-{20,}/).find((m) => /INVITE sip:/.test(m)) ?? '';
      expect(invite).toMatch(/^INVITE sip:\+15551230001@127\.0\.0\.1:5080 SIP\/2\.0/m);
      expect(invite).toMatch(/^From: .*<sip:\+15550000001@127\.0\.0\.1>/m);
      expect(invite).toMatch(/^m=audio \d+ RTP\/AVP /m);
      expect(invite).toMatch(/^c=IN IP4 127\.0\.0\.1/m);
      expect(invite).not.toMatch(/a=(candidate|fingerprint|ice-ufrag|crypto)/);

      await page.button('Hang up');
      await page.waitFor('call', 'idle');
      expect(await page.byeOutcome()).toEqual({ status: 200, crossed: 0 });
      // SIPp got the BYE and finished its one call successfully.
      expect(await uas.done(10_000)).toEqual({ code: 0, signal: null });
    } catch (error) {
      throw await failure(error, uas);
    }
  });

  it('rings alice for a call from the trunk; she accepts, hears the A-law SIPp plays, and SIPp hangs up', async () => {
    const page = await alice();
    const uac = sipp(
      startSipp(suite.ns, {
        scenario: 'e2e-uac-pcap.xml',
        remote: `127.0.0.1:${PORTS.sip}`,
        service: '+15559990001',
        localPort: PORTS.trunk,
        mediaPort: SIPP_MEDIA,
        durationMs: 6000,
        timeoutSeconds: 45,
      }),
    );
    try {
      await page.waitFor('call', 'incoming', 15_000);
      expect(await page.hook('callInfo')).toMatchObject({ direction: 'incoming', peer: 'SIPp Caller' });
      await page.button('Accept call');
      await page.waitFor('call', 'active');
      const audio = await page.waitForAudio({ minPackets: 50, timeoutMs: 5000 });
      expect(audio.codec).toMatch(/PCMA/i);
      expect(audio.totalAudioEnergy).toBeGreaterThan(0);

      // SIPp sends BYE after 6 s of talk: the page must end the call by itself.
      await page.waitFor('call', 'idle', 15_000);
      expect(await page.hook('lastCall')).toMatchObject({ direction: 'incoming', outcome: 'answered' });
      expect(await uac.done(10_000)).toEqual({ code: 0, signal: null });
    } catch (error) {
      throw await failure(error, uac);
    }
  });

  it('a key pressed on the page reaches the trunk as RFC 4733 event 5 with the negotiated payload type', async () => {
    const endpoint = await rtpEndpoint();
    const uas = trunkUas(RTP_ENDPOINT);
    const page = await alice();
    try {
      await page.dial('+15551230002');
      await page.waitFor('call', 'active', 15_000);
      // Audio first: the endpoint is receiving the call's RTP before the key press.
      await endpoint.waitForLine((l) => l.includes('"type":"stats"'), 'RTP at the trunk');
      await page.button('Keypad');
      await page.button('5');

      const line = await endpoint.waitForLine((l) => /"type":"event".*"event":5,"end":true/.test(l), 'RFC 4733 end packet for 5', 5000);
      const event = JSON.parse(line) as Rfc4733Line;
      const offered = /a=rtpmap:(\d+) telephone-event\/8000/.exec(uas.messages())?.[1];
      expect(event.pt).toBe(Number(offered));
      expect(event.duration).toBeGreaterThan(0);
      expect(await page.hook('callInfo')).toMatchObject({ dtmfSent: '5', dtmfTransport: 'rfc4733' });
      // Exactly one key press: every event packet is digit 5.
      const events = endpoint.lines.filter((l) => l.includes('"type":"event"')).map((l) => JSON.parse(l) as Rfc4733Line);
      expect(new Set(events.map((e) => e.event))).toEqual(new Set([5]));

      await page.button('Hang up');
      await page.waitFor('call', 'idle');
      expect(await uas.done(10_000)).toEqual({ code: 0, signal: null });
    } catch (error) {
      throw await failure(error, uas);
    }
  });

  it('a key sent by the page as SIP INFO reaches the trunk as RFC 4733 (the gateway converts it)', async () => {
    const endpoint = await rtpEndpoint();
    const uas = trunkUas(RTP_ENDPOINT);
    const page = await alice({ sipInfo: true });
    try {
      await page.dial('+15551230003');
      await page.waitFor('call', 'active', 15_000);
      await endpoint.waitForLine((l) => l.includes('"type":"stats"'), 'RTP at the trunk');
      await page.button('Keypad');
      await page.button('#');
      expect(await page.hook('callInfo')).toMatchObject({ dtmfSent: '#', dtmfTransport: 'info' });
      // RFC 4733 §3.2: '#' is event 11.
      await endpoint.waitForLine((l) => /"type":"event".*"event":11,"end":true/.test(l), 'RFC 4733 end packet for #', 5000);
      expect(page.sipMessages(/^→[^\n]*\nINFO /).length).toBe(1);

      await page.button('Hang up');
      await page.waitFor('call', 'idle');
      expect(await uas.done(10_000)).toEqual({ code: 0, signal: null });
    } catch (error) {
      throw await failure(error, uas);
    }
  });
});
