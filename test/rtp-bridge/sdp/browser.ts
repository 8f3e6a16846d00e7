/**
 * A headless Chromium driven through playwright-core, for capturing real SDP and for checking that Chromium
 * accepts what the gateway emits. The page is served by a Playwright route on http://localhost/ (no socket: the
 * route fulfils it), because getUserMedia needs a secure context and localhost is one.
 *
 * The in-page code is plain JavaScript (the project's TypeScript has no DOM types); it keeps peer connections in
 * a table and exposes a few steps on `window.lab`.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM_PATH);
}

const LAB = `
window.lab = {
  pcs: new Map(),
  tracks: [],
  next: 1,
  async create({ audio = false, video = false, data = false } = {}) {
    const id = this.next++;
    const pc = new RTCPeerConnection();
    this.pcs.set(id, pc);
    pc.ontrack = (e) => this.tracks.push({ id, kind: e.track.kind, streams: e.streams.length });
    if (audio) {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      for (const t of stream.getTracks()) pc.addTrack(t, stream);
    }
    if (video) pc.addTransceiver('video');
    if (data) pc.createDataChannel('chat');
    return id;
  },
  gathered(pc) {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      const t = setTimeout(resolve, 5000);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
      });
    });
  },
  async offer(id) {
    const pc = this.pcs.get(id);
    await pc.setLocalDescription(await pc.createOffer());
    await this.gathered(pc);
    return pc.localDescription.sdp;
  },
  async answer(id, sdp, { audio = false } = {}) {
    const pc = this.pcs.get(id);
    await pc.setRemoteDescription({ type: 'offer', sdp });
    if (audio && pc.getSenders().every((s) => s.track === null)) {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      for (const t of stream.getTracks()) pc.addTrack(t, stream);
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await this.gathered(pc);
    return pc.localDescription.sdp;
  },
  async remote(id, type, sdp) {
    try {
      await this.pcs.get(id).setRemoteDescription({ type, sdp });
      return 'ok';
    } catch (e) {
      return String(e && e.message || e);
    }
  },
  direction(id, direction) {
    for (const t of this.pcs.get(id).getTransceivers()) {
      if (t.receiver.track.kind === 'audio') t.direction = direction;
    }
  },
  state(id) {
    const pc = this.pcs.get(id);
    return { signaling: pc.signalingState, transceivers: pc.getTransceivers().map((t) => ({ mid: t.mid, kind: t.receiver.track.kind, current: t.currentDirection })) };
  },
  close() {
    for (const pc of this.pcs.values()) pc.close();
    this.pcs.clear();
  },
};
`;

export interface Lab {
  readonly browser: Browser;
  readonly page: Page;
  readonly version: string;
  create(options?: { audio?: boolean; video?: boolean; data?: boolean }): Promise<number>;
  offer(pc: number): Promise<string>;
  answer(pc: number, offer: string, options?: { audio?: boolean }): Promise<string>;
  /** setRemoteDescription: 'ok' or Chromium's error message. */
  remote(pc: number, type: 'offer' | 'answer', sdp: string): Promise<string>;
  direction(pc: number, direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'): Promise<void>;
  state(pc: number): Promise<{ signaling: string; transceivers: { mid: string | null; kind: string; current: string | null }[] }>;
  tracks(): Promise<{ id: number; kind: string; streams: number }[]>;
  close(): Promise<void>;
}

export async function openLab(): Promise<Lab> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    await page.route('http://localhost/**', (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>sdp lab</title>' }),
    );
    await page.goto('http://localhost/');
    await page.evaluate(LAB);
    const call = <T>(expr: string, ...args: unknown[]): Promise<T> =>
      page.evaluate(`window.lab.${expr}(${args.map((a) => JSON.stringify(a)).join(',')})`) as Promise<T>;
    return {
      browser,
      page,
      version: browser.version(),
      create: (options = {}) => call('create', options),
      offer: (pc) => call('offer', pc),
      answer: (pc, offer, options = {}) => call('answer', pc, offer, options),
      remote: (pc, type, sdp) => call('remote', pc, type, sdp),
      direction: (pc, direction) => call('direction', pc, direction),
      state: (pc) => call('state', pc),
      tracks: () => page.evaluate('window.lab.tracks') as Promise<{ id: number; kind: string; streams: number }[]>,
      close: async () => {
        await page.evaluate('window.lab.close()').catch(() => undefined);
        await browser.close();
      },
    };
  } catch (err) {
    await browser.close();
    throw err;
  }
}
