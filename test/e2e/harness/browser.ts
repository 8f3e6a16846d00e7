/**
 * Headless Chromium inside a test namespace, and the softphone page driven through its real UI.
 *
 * Playwright talks to Chromium over `--remote-debugging-pipe` (fds 3 and 4), so the browser can live in another
 * network namespace while the test process stays outside: `executablePath` is a generated wrapper script that
 * runs `exec ip netns exec <ns> /usr/bin/chromium "$@"` (exec all the way down: the pipes and the pid are
 * Chromium's own). Playwright gives each launch a fresh --user-data-dir.
 *
 * Inside a namespace that has only `lo`, Chromium gathers no ICE candidates at all unless loopback is allowed
 * (`--allow-loopback-in-peer-connection`); with it, its host candidates are 127.0.0.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { CallStatsSample } from '../../../public/common/call-stats.ts';
import type { SoftphoneHook } from '../../../public/softphone/hook.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../public/browser.ts';
import type { Netns } from './netns.ts';

export const E2E_CHROMIUM_ARGS = [...CHROMIUM_ARGS, '--allow-loopback-in-peer-connection'];

export interface NsBrowser {
  readonly browser: Browser;
  /** Closes every context and the browser, removes the wrapper. */
  close(): Promise<void>;
}

/** Launch Chromium inside `ns`. */
export async function launchBrowser(ns: Netns, args: readonly string[] = E2E_CHROMIUM_ARGS): Promise<NsBrowser> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gwe2e-chromium-'));
  const wrapper = path.join(dir, 'chromium-in-netns.sh');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec '${ns.name}' '${CHROMIUM_PATH}' "$@"\n`, { mode: 0o755 });
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: wrapper, args: [...args], timeout: 30_000 });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    browser,
    async close() {
      for (const context of browser.contexts()) await context.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type Hooked = { softphone: SoftphoneHook };

export interface OpenOptions {
  width?: number;
  height?: number;
  /** Phone emulation: 2× pixels, touch. */
  mobile?: boolean;
}

export const PHONE: OpenOptions = { width: 375, height: 667, mobile: true };

/** One softphone page in a browser context of its own (own storage, own microphone). */
export class Softphone {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Uncaught errors in the page; tests assert this stays empty. */
  readonly errors: string[] = [];
  /** Console messages (for failure reports). */
  readonly console: string[] = [];
  /** SIP over WebSocket as the page sent (→) and received (←) it: the browser side's SIP trace. */
  readonly sip: string[] = [];

  constructor(context: BrowserContext, page: Page) {
    this.context = context;
    this.page = page;
    page.on('pageerror', (error) => this.errors.push(error.message));
    page.on('console', (msg) => {
      this.console.push(`${msg.type()}: ${msg.text()}`);
      if (this.console.length > 500) this.console.shift();
    });
    page.on('websocket', (ws) => {
      const record = (dir: string, payload: string | Buffer): void => {
        this.sip.push(`${dir} ${new Date().toISOString()}\n${payload.toString()}`);
        if (this.sip.length > 400) this.sip.shift();
      };
      ws.on('framesent', (frame) => record('→', frame.payload));
      ws.on('framereceived', (frame) => record('←', frame.payload));
    });
  }

  static async open(browser: Browser, url: string, options: OpenOptions = {}): Promise<Softphone> {
    const context = await browser.newContext({
      viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
      ...(options.mobile ? { deviceScaleFactor: 2, isMobile: true, hasTouch: true } : {}),
    });
    // JsSIP logs through the `debug` module, switched on from localStorage before the bundle loads.
    if (process.env['E2E_JSSIP_DEBUG'] === '1') {
      await context.addInitScript(() => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('debug', 'JsSIP:*'));
    }
    const page = await context.newPage();
    const phone = new Softphone(context, page);
    await page.goto(url);
    await page.waitForFunction(() => typeof (globalThis as unknown as Partial<Hooked>).softphone === 'object');
    return phone;
  }

  /** Fill the sign-in form (server URL: the page's default, its own /sip) and wait until registered. */
  async signIn(user: string, password: string, timeoutMs = 10_000): Promise<void> {
    await this.page.getByLabel('User', { exact: true }).fill(user);
    await this.page.getByLabel('Password', { exact: true }).fill(password);
    await this.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await this.waitFor('registration', 'registered', timeoutMs);
  }

  /** Use SIP INFO instead of RFC 4733 for DTMF (Advanced settings); before signing in. */
  async useSipInfoDtmf(): Promise<void> {
    await this.page.getByText('Advanced').click();
    await this.page.getByLabel('SIP INFO').check();
  }

  async dial(target: string): Promise<void> {
    await this.page.getByLabel('Number to call', { exact: true }).fill(target);
    await this.page.getByRole('button', { name: 'Call', exact: true }).click();
  }

  async button(name: string): Promise<void> {
    await this.page.getByRole('button', { name, exact: true }).click();
  }

  hook<K extends 'registration' | 'call' | 'callInfo' | 'lastError' | 'lastCall' | 'tone'>(field: K): Promise<SoftphoneHook[K]> {
    return this.page.evaluate((f) => (globalThis as unknown as Hooked).softphone[f], field) as Promise<SoftphoneHook[K]>;
  }

  /**
   * Wait until `window.softphone[field] === value`; the error names the value it had instead. Registration
   * 'failed' is final (the page went back to its form), so waiting for anything else stops there at once.
   */
  async waitFor(field: 'registration' | 'call', value: string, timeoutMs = 10_000): Promise<void> {
    const giveUp = field === 'registration' && value !== 'failed' ? 'failed' : null;
    try {
      await this.page.waitForFunction(
        ([f, v, stop]) => {
          const now = (globalThis as unknown as Hooked).softphone[f as 'registration' | 'call'];
          return now === v || (stop !== null && now === stop);
        },
        [field, value, giveUp] as const,
        { timeout: timeoutMs, polling: 50 },
      );
    } catch (error) {
      throw await this.#stateError(field, value, `after ${timeoutMs} ms\n${(error as Error).message.split('\n')[0]}`);
    }
    if ((await this.hook(field)) !== value) throw await this.#stateError(field, value, '');
  }

  async #stateError(field: 'registration' | 'call', value: string, detail: string): Promise<Error> {
    const now = await this.hook(field).catch(() => '(page gone)');
    const lastError = await this.hook('lastError').catch(() => null);
    return new Error(
      `softphone.${field} is "${String(now)}", not "${value}"${detail ? ` ${detail}` : ''}` + (lastError ? `; lastError ${JSON.stringify(lastError)}` : ''),
    );
  }

  stats(): Promise<CallStatsSample | null> {
    return this.page.evaluate(() => (globalThis as unknown as Hooked).softphone.getStats());
  }

  /**
   * Wait until audio really arrives: inbound RTP packets grow by at least `minPackets` past `since` and the
   * decoded audio energy rises above `since`'s (so silence or comfort noise does not count). Returns the sample.
   */
  async waitForAudio(
    options: { since?: CallStatsSample | null; minPackets?: number; timeoutMs?: number } = {},
  ): Promise<CallStatsSample> {
    const since = options.since ?? null;
    const minPackets = options.minPackets ?? 25;
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    let last: CallStatsSample | null = null;
    for (;;) {
      last = await this.stats();
      if (
        last &&
        last.packetsReceived - (since?.packetsReceived ?? 0) >= minPackets &&
        (last.totalAudioEnergy ?? 0) > (since?.totalAudioEnergy ?? 0)
      ) {
        return last;
      }
      if (Date.now() > deadline) {
        throw new Error(`no audio arrived: since ${JSON.stringify(since)}, now ${JSON.stringify(last)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async screenshot(file: string): Promise<void> {
    await this.page.screenshot({ path: file });
  }

  /** SIP messages over the page's WebSocket whose start line or CSeq matches `pattern`. */
  sipMessages(pattern: RegExp): string[] {
    return this.sip.filter((m) => pattern.test(m));
  }

  /** Requests of `method` the page received from the gateway (e.g. a BYE for a call it hung up itself). */
  requestsReceived(method: string): string[] {
    return this.sip.filter((m) => m.startsWith('←') && sipLines(m)[0]?.startsWith(`${method} `));
  }

  /**
   * After the page hung up: the gateway's final answer to the page's BYE (waited for up to 5 s) and the BYEs the
   * gateway sent the page for that same dialog. A clean hang-up is `{ status: 200, crossed: 0 }`.
   */
  async byeOutcome(): Promise<{ status: number | null; crossed: number }> {
    const deadline = Date.now() + 5000;
    while (this.responseTo('BYE') === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const sent = this.sip.filter((m) => m.startsWith('→') && sipLines(m)[0]?.startsWith('BYE ')).at(-1);
    const callId = sent ? header(sent, 'call-id') : undefined;
    return { status: this.responseTo('BYE'), crossed: this.requestsReceived('BYE').filter((m) => header(m, 'call-id') === callId).length };
  }

  /** The final status the gateway gave to the last `method` request the page sent; null while there is none. */
  responseTo(method: string): number | null {
    const sent = this.sip.filter((m) => m.startsWith('→') && sipLines(m)[0]?.startsWith(`${method} `)).at(-1);
    if (sent === undefined) return null;
    const key = `${header(sent, 'call-id')} ${header(sent, 'cseq')}`;
    for (const m of this.sip) {
      if (!m.startsWith('←')) continue;
      const status = /^SIP\/2\.0 (\d{3}) /.exec(sipLines(m)[0] ?? '')?.[1];
      if (status && Number(status) >= 200 && `${header(m, 'call-id')} ${header(m, 'cseq')}` === key) return Number(status);
    }
    return null;
  }

  /** Diagnostics for an assertion message. */
  async describe(sipMessages = 12): Promise<string> {
    const state = await this.page
      .evaluate(() => {
        const s = (globalThis as unknown as Hooked).softphone;
        return { registration: s.registration, call: s.call, callInfo: s.callInfo, lastError: s.lastError, lastCall: s.lastCall };
      })
      .catch((e: unknown) => String(e));
    return `page state ${JSON.stringify(state)}\nerrors ${JSON.stringify(this.errors)}\nconsole (tail):\n${this.console.slice(-40).join('\n')}\nSIP over WebSocket (last ${sipMessages}):\n${this.sip.slice(-sipMessages).join('\n')}`;
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
  }
}

/** The SIP message of a recorded frame, as lines (the first line of the record is direction and time). */
function sipLines(record: string): string[] {
  return record.split(/\r?\n/).slice(1);
}

function header(record: string, name: string): string | undefined {
  const line = sipLines(record).find((l) => l.toLowerCase().startsWith(`${name}:`));
  return line?.slice(name.length + 1).trim();
}
