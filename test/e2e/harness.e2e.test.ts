/**
 * The end-to-end harness itself, without the gateway: the namespace has only loopback; Chromium inside it loads
 * a page from a server inside it and offers ICE candidates on 127.0.0.1 only; the SIPp scenarios the trunk tests
 * use complete a call against each other with RTP reaching the Node endpoint; closing removes everything.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { launchBrowser, type NsBrowser } from './harness/browser.ts';
import { NODE, ROOT } from './harness/gateway.ts';
import { addressesIn, createNetns, type Netns } from './harness/netns.ts';
import { startSipp } from './harness/sipp.ts';
import { acquireE2ELock, describeE2E } from './harness/suite.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const PAGE = `<!doctype html><title>netns</title><h1>inside</h1>`;

/** The few browser APIs the candidate check uses (the node typecheck has no DOM lib). */
interface BrowserGlobals {
  RTCPeerConnection: new () => {
    addTrack(track: unknown, stream: unknown): void;
    createOffer(): Promise<unknown>;
    setLocalDescription(description: unknown): Promise<void>;
    onicecandidate: ((e: { candidate: { candidate: string } | null }) => void) | null;
    onicegatheringstatechange: (() => void) | null;
    iceGatheringState: string;
    close(): void;
  };
  navigator: { mediaDevices: { getUserMedia(c: { audio: boolean }): Promise<{ getAudioTracks(): unknown[] }> } };
}

describeE2E('e2e harness: namespace, Chromium and SIPp on loopback only', () => {
  let release: () => void;
  let ns: Netns;
  let browser: NsBrowser;

  beforeAll(async () => {
    release = await acquireE2ELock();
    ns = await createNetns();
    browser = await launchBrowser(ns);
  }, 660_000);

  afterAll(async () => {
    await browser?.close();
    await ns?.close();
    release?.();
  });

  it('the namespace has loopback and nothing else', async () => {
    expect((await addressesIn(ns)).sort()).toEqual(['lo inet 127.0.0.1/8', 'lo inet6 ::1/128']);
  });

  it('Chromium in the namespace loads a page served inside it and gathers ICE candidates on 127.0.0.1 only', async () => {
    const server = ns.spawn(
      NODE,
      ['-e', `require('node:http').createServer((q, r) => r.end(${JSON.stringify(PAGE)})).listen(8080, '127.0.0.1', () => console.log('listening'))`],
      { label: 'http' },
    );
    try {
      await server.waitForLine((l) => l === 'listening', 'listening');
      const page = await browser.browser.newPage();
      await page.goto('http://127.0.0.1:8080/');
      expect(await page.textContent('h1')).toBe('inside');
      const candidates = await page.evaluate(async () => {
        const g = globalThis as unknown as BrowserGlobals;
        const pc = new g.RTCPeerConnection();
        const stream = await g.navigator.mediaDevices.getUserMedia({ audio: true });
        pc.addTrack(stream.getAudioTracks()[0]!, stream);
        const found: string[] = [];
        pc.onicecandidate = (e) => {
          if (e.candidate?.candidate) found.push(e.candidate.candidate);
        };
        await pc.setLocalDescription(await pc.createOffer());
        await new Promise<void>((resolve) => {
          pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
          setTimeout(resolve, 5000);
        });
        pc.close();
        return found;
      });
      await page.close();
      const udp = candidates.filter((c) => / udp /i.test(c));
      expect(udp.length, candidates.join('\n')).toBeGreaterThan(0);
      for (const c of candidates) expect(c.split(' ')[4]).toBe('127.0.0.1');
    } finally {
      await server.stop();
    }
  });

  it('the SIPp scenarios complete a call against each other, with the UAC’s A-law RTP at the endpoint', async () => {
    const endpoint = ns.spawn(NODE, [path.join(ROOT, 'test/e2e/harness/rtp-endpoint.ts'), '6010'], { label: 'rtp-endpoint' });
    await endpoint.waitForLine((l) => l.includes('"listening"'), 'listening');
    const uas = startSipp(ns, { scenario: 'e2e-uas.xml', localPort: 5080, mediaPort: 6000, keys: { rtp_port: 6010, codec: 8, codec_name: 'PCMA' }, timeoutSeconds: 20 });
    const uac = startSipp(ns, {
      scenario: 'e2e-uac-pcap.xml',
      remote: '127.0.0.1:5080',
      service: '+15559990001',
      localPort: 5090,
      mediaPort: 6100,
      durationMs: 1500,
      timeoutSeconds: 20,
    });
    try {
      expect(await uac.done(), uac.report()).toEqual({ code: 0, signal: null });
      expect(await uas.done(), uas.report()).toEqual({ code: 0, signal: null });
      expect(uas.messages()).toMatch(/^m=audio 6010 RTP\/AVP 8 101$/m);
      await endpoint.stop();
      const stats = endpoint.lines.filter((l) => l.includes('"stats"')).map((l) => JSON.parse(l) as { byPt: Record<string, { packets: number }>; source: string });
      const last = stats.at(-1);
      expect(last?.source).toBe('127.0.0.1:6100');
      expect(last?.byPt['8']?.packets).toBeGreaterThan(40);
    } finally {
      await endpoint.stop();
      for (const run of [uas, uac]) {
        await run.stop();
        run.cleanup();
      }
    }
  });

  it('closing the namespace stops its processes and deletes it', async () => {
    const other = await createNetns();
    const sleeper = other.spawn('sleep', ['300']);
    await new Promise((r) => setTimeout(r, 100));
    await other.close();
    expect((await sleeper.exited).signal).toBe('SIGTERM');
    const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(list).not.toContain(other.name);
    expect(list).toContain(ns.name);
  });
});
