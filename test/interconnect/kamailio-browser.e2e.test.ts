/**
 * End to end with a real browser: headless Chromium runs the softphone page (JsSIP), signs in to KAMAILIO (not to
 * our gateway) over SIP/WebSocket and calls a SIPp trunk that echoes RTP. Kamailio's rtpengine module drives OUR
 * media node over ng (rtpengine_offer/answer/delete, test/interconnect/kamailio.cfg), which bridges Chromium's
 * DTLS-SRTP/ICE to SIPp's plain RTP/AVP. The page hears its own microphone come back; hanging up makes
 * rtpengine_delete() empty the node.
 *
 * Everything runs inside a network namespace that has only `lo` (test/e2e/harness/netns.ts): Chromium, Kamailio,
 * the media node, SIPp and the static server that serves the page (Kamailio cannot serve it). The test process
 * stays outside and talks to them over pipes; the node is asked over ng from inside (helpers/ng-cli.ts).
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Softphone, launchBrowser, type NsBrowser } from '../e2e/harness/browser.ts';
import { createNetns, netnsProblem, type Netns, addressesIn } from '../e2e/harness/netns.ts';
import type { NsProcess } from '../e2e/harness/process.ts';
import { startSipp } from '../e2e/harness/sipp.ts';
import { acquireE2ELock } from '../e2e/harness/suite.ts';
import { haveTool } from '../support/tools.ts';
import { describeWithKamailio, ngCommandsFor } from './helpers/kamailio-suite.ts';
import { NODE, ROOT, kamailioArgs } from './helpers/processes.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

/** Fixed ports: the namespace is ours alone. */
const PORTS = { sip: 5060, ws: 8088, ng: 2223, trunk: 5080, trunkMedia: 6000, mediaMin: 30000, mediaMax: 30099 } as const;
const NG = `udp:127.0.0.1:${PORTS.ng}`;

function whyNot(): string | null {
  const problem = netnsProblem();
  if (problem !== null) return problem;
  if (!haveTool('chromium')) return 'chromium (apt-get install -y chromium)';
  return null;
}

describeWithKamailio(
  'e2e: Chromium (JsSIP) → Kamailio (WS) → SIPp trunk, media through our node driven by Kamailio over ng',
  () => {
    let release: (() => void) | undefined;
    let ns: Netns;
    let node: NsProcess;
    let kamailio: NsProcess;
    let page: NsProcess;
    let browser: NsBrowser;
    let kamailioDir: string;
    let pageUrl: string;

    /** One ng command asked from inside the namespace. */
    async function ng(request: Record<string, unknown>): Promise<Record<string, unknown>> {
      const run = await ns.run(NODE, [path.join(ROOT, 'test/interconnect/helpers/ng-cli.ts'), NG, JSON.stringify(request)], { cwd: ROOT });
      const reply = JSON.parse(run.output.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
      if (run.code !== 0) throw new Error(`ng ${JSON.stringify(request)} failed: ${run.output}`);
      return reply;
    }

    beforeAll(async () => {
      release = await acquireE2ELock();
      ns = await createNetns();
      expect((await addressesIn(ns)).every((a) => a.startsWith('lo '))).toBe(true);
      // The node first: Kamailio pings it once when it starts and sets aside a node that does not answer.
      node = ns.spawn(
        NODE,
        ['src/media-node.ts', '--listen-ng', `127.0.0.1:${PORTS.ng}`, '--interface', '127.0.0.1', '--port-min', String(PORTS.mediaMin), '--port-max', String(PORTS.mediaMax)],
        { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'debug' }, label: 'media-node' },
      );
      await node.waitForLine((l) => l.includes('"media node listening"'), "'media node listening'", 20_000);
      kamailioDir = mkdtempSync(path.join(tmpdir(), 'interconnect-kamailio-'));
      const args = kamailioArgs({ sipPort: PORTS.sip, wsPort: PORTS.ws, ng: NG, trunk: `sip:127.0.0.1:${PORTS.trunk}` }, kamailioDir);
      kamailio = ns.spawn('kamailio', args, { cwd: kamailioDir, label: 'kamailio' });
      const probe = ns.spawn(NODE, [path.join(ROOT, 'test/e2e/harness/probe.ts'), `sip-udp:127.0.0.1:${PORTS.sip}`, '--timeout-ms', '15000'], { label: 'probe' });
      if ((await probe.exited).code !== 0) throw new Error(`Kamailio does not answer OPTIONS: ${probe.stdout}\n${kamailio.output()}`);
      await kamailio.waitForLine((l) => /rtpengine instance <udp:127\.0\.0\.1:\d+> found/.test(l), 'the rtpengine module finding our node', 5000);
      page = ns.spawn(NODE, [path.join(ROOT, 'test/interconnect/helpers/static-page.ts'), path.join(ROOT, 'public')], { cwd: ROOT, label: 'static-page' });
      const listening = JSON.parse(await page.waitForLine((l) => l.includes('"listening"'), 'the page server listening')) as { listening: number };
      pageUrl = `http://127.0.0.1:${listening.listening}/`;
      browser = await launchBrowser(ns);
    }, 660_000); // the e2e lock may be held by another e2e file for minutes

    afterAll(async () => {
      try {
        await browser?.close();
        await page?.stop();
        if (kamailio) {
          const exit = await kamailio.stop({ timeoutMs: 5000 });
          expect(exit.killed, `kamailio did not stop on SIGTERM\n${kamailio.output()}`).toBe(false);
        }
        await node?.stop();
      } finally {
        await ns?.close();
        if (kamailioDir) rmSync(kamailioDir, { recursive: true, force: true });
        release?.();
      }
    });

    it('the page signs in to Kamailio, calls the trunk, hears its own audio echoed by SIPp, hangs up: the node ends empty', async () => {
      const uas = startSipp(ns, {
        scenario: '../interconnect/kamailio-uas.xml',
        localPort: PORTS.trunk,
        mediaPort: PORTS.trunkMedia,
        rtpEcho: true,
        timeoutSeconds: 45,
      });
      const phone = await Softphone.open(browser.browser, pageUrl);
      try {
        await phone.page.getByLabel('Server', { exact: true }).fill(`ws://127.0.0.1:${PORTS.ws}`);
        // Kamailio's test registrar does not challenge: any password goes.
        await phone.signIn('alice', 'not-checked');
        const dialled = Date.now();
        await phone.dial('+15551230001');
        await phone.waitFor('call', 'active', 15_000);
        const answeredMs = Date.now() - dialled;
        const audio = await phone.waitForAudio({ minPackets: 50 });
        expect(audio.totalAudioEnergy).toBeGreaterThan(0);
        expect(audio.candidatePairState).toBe('succeeded');

        // The browser offered DTLS-SRTP with host candidates on loopback only; the trunk got plain RTP.
        const invite = phone.sipMessages(/^→[\s\S]*INVITE sip:/).at(0) ?? '';
        expect(invite).toMatch(/UDP\/TLS\/RTP\/SAVPF/);
        for (const [, address] of invite.matchAll(/a=candidate:\S+ \d+ udp \d+ (\S+) /g)) expect(address).toBe('127.0.0.1');
        const atTrunk = uas.messages().split(/-{20,}/).find((m) => /^\s*INVITE sip:/m.test(m)) ?? '';
        expect(atTrunk).toMatch(/^m=audio \d+ RTP\/AVP /m);
        expect(atTrunk).not.toMatch(/a=(candidate|fingerprint|ice-ufrag)/);

        // Our node holds the call, both sides moving packets (browser → node as SRTP, SIPp's echo → node as RTP).
        const calls = (await ng({ command: 'list' }))['calls'] as string[];
        expect(calls).toHaveLength(1);
        const callId = calls[0]!;
        const query = await ng({ command: 'query', 'call-id': callId });
        const legs = Object.values(query['tags'] as Record<string, { medias: Array<{ protocol: string; streams: Array<{ stats: { packets: number } }> }> }>);
        const packets = Object.fromEntries(legs.map((l) => [l.medias[0]!.protocol, l.medias[0]!.streams[0]!.stats.packets]));
        expect(packets['UDP/TLS/RTP/SAVPF']).toBeGreaterThan(50);
        expect(packets['RTP/AVP']).toBeGreaterThan(50);

        await phone.button('Hang up');
        await phone.waitFor('call', 'idle');
        await expect.poll(async () => (await ng({ command: 'list' }))['calls'], { timeout: 5000 }).toEqual([]);
        // The node's log may lag its UDP replies: wait for the delete line.
        let commands: string[] = [];
        await expect.poll(() => (commands = ngCommandsFor(node, callId)), { timeout: 5000 }).toContain('delete');
        expect(commands[0]).toBe('offer');
        expect(commands).toContain('answer');
        expect(commands.at(-1)).toBe('delete');
        expect(await uas.done(10_000)).toEqual({ code: 0, signal: null });
        expect(phone.errors).toEqual([]);
        console.info(`[kamailio-browser] dial → active ${answeredMs} ms; ${audio.packetsReceived} packets heard; ng: ${commands.join(', ')}`);
      } catch (error) {
        throw new Error(
          [(error as Error).message, await phone.describe(), kamailio.output(6000), node.output(4000), uas.report(6000)].join('\n'),
          { cause: error },
        );
      } finally {
        await phone.close();
        await uas.stop();
        uas.cleanup();
      }
    });
  },
  whyNot(),
);
