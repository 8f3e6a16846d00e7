/**
 * The softphone page and the click-to-call widget in headless Chromium, driven through their real UI.
 * public/ is built with esbuild and served by a tiny static server; /sip on the same server is a scripted
 * SIP-over-WebSocket peer (sip-peer.ts) standing in for the gateway's signalling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildPublic } from '../../scripts/build-public.ts';
import type { SoftphoneHook } from '../../public/softphone/hook.ts';
import { CHROMIUM_ARGS, findChromium, launchChromium } from './browser.ts';
import { SipPeer } from './sip-peer.ts';
import { closedPort, serveStatic, type StaticServer } from './static-server.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * UPDATE_SCREENSHOTS=1 refreshes docs/screenshots/; otherwise the pictures go to a temp dir, so a test run does
 * not dirty the tree (they differ every run: random ports, timers).
 */
const screenshots =
  process.env['UPDATE_SCREENSHOTS'] === '1'
    ? path.join(root, 'docs', 'screenshots')
    : path.join(tmpdir(), 'webrtc-sip-gateway-screenshots');

const chromiumPath = await findChromium();
if (!chromiumPath) {
  const message = 'Chromium not found at /usr/bin/chromium (apt-get install chromium): the page tests need it.';
  if (process.env['CI'] === 'true') {
    describe('softphone page', () => {
      it('has a browser to run in', () => {
        expect.fail(message);
      });
    });
  } else {
    console.warn(`SKIPPING test/public/page.test.ts: ${message}`);
  }
}

type Hooked = { softphone: SoftphoneHook };

interface Snapshot {
  registration: SoftphoneHook['registration'];
  call: SoftphoneHook['call'];
  callInfo: SoftphoneHook['callInfo'];
  lastError: SoftphoneHook['lastError'];
  lastCall: SoftphoneHook['lastCall'];
  tone: SoftphoneHook['tone'];
}

function snapshot(page: Page): Promise<Snapshot> {
  return page.evaluate(() => {
    const s = (globalThis as unknown as Hooked).softphone;
    return {
      registration: s.registration,
      call: s.call,
      callInfo: s.callInfo,
      lastError: s.lastError,
      lastCall: s.lastCall,
      tone: s.tone,
    };
  });
}

async function waitFor(page: Page, field: 'registration' | 'call', value: string, timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    ([f, v]) => (globalThis as unknown as Hooked).softphone[f as 'registration' | 'call'] === v,
    [field, value] as const,
    { timeout },
  );
}

describe.skipIf(!chromiumPath)('softphone page', () => {
  let server: StaticServer;
  let peer: SipPeer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors = new WeakMap<Page, string[]>();

  beforeAll(async () => {
    await buildPublic();
    server = await serveStatic(path.join(root, 'public'));
    peer = new SipPeer(server.server);
    browser = await launchChromium(chromiumPath!);
    await mkdir(screenshots, { recursive: true });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    peer?.close();
    await server?.close();
  });

  async function open(
    options: { width?: number; height?: number; mobile?: boolean; url?: string } = {},
  ): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: options.width ?? 1280, height: options.height ?? 820 },
      ...(options.mobile ? { deviceScaleFactor: 2, isMobile: true, hasTouch: true } : {}),
    });
    contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    pageErrors.set(page, errors);
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(options.url ?? server.url);
    return page;
  }

  /** Close a page after checking nothing threw in it. */
  async function done(page: Page): Promise<void> {
    expect(pageErrors.get(page) ?? [], 'uncaught errors in the page').toEqual([]);
    await page.close();
  }

  async function signIn(page: Page, user = 'alice', password = 'demo'): Promise<void> {
    await page.getByLabel('User', { exact: true }).fill(user);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function signedIn(options: Parameters<typeof open>[0] = {}, user = 'alice'): Promise<Page> {
    const page = await open(options);
    await signIn(page, user);
    await waitFor(page, 'registration', 'registered');
    return page;
  }

  it('defaults the server URL to the page’s own /sip WebSocket and the domain to its host', async () => {
    const page = await open();
    await expect.poll(() => page.getByLabel('Server', { exact: true }).inputValue()).toBe(`ws://127.0.0.1:${server.port}/sip`);
    expect(await page.getByLabel('SIP domain').getAttribute('placeholder')).toContain('127.0.0.1');
    expect(await page.getByRole('status').textContent()).toContain('Signed out');
    expect((await snapshot(page)).registration).toBe('signed-out');
    await done(page);
  });

  it('remembers the settings across a reload, and the password only when asked to', async () => {
    const page = await open();
    const nowhere = `ws://127.0.0.1:${await closedPort()}/sip`;
    await page.getByLabel('Server', { exact: true }).fill(nowhere);
    await page.getByLabel('Display name').fill('Bob Example');
    await page.getByText('Advanced').click();
    await page.getByLabel('SIP domain').fill('example.test');
    await page.getByLabel('SIP INFO').check();
    await signIn(page, 'bob', 'secret');
    await waitFor(page, 'registration', 'failed');

    await page.reload();
    await expect.poll(() => page.getByLabel('Server', { exact: true }).inputValue()).toBe(nowhere);
    expect(await page.getByLabel('User', { exact: true }).inputValue()).toBe('bob');
    expect(await page.getByLabel('Display name').inputValue()).toBe('Bob Example');
    expect(await page.getByLabel('SIP domain').inputValue()).toBe('example.test');
    expect(await page.getByLabel('SIP INFO').isChecked()).toBe(true);
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    const stored = await page.evaluate(() => JSON.stringify((globalThis as unknown as { localStorage: { [k: string]: string } }).localStorage));
    expect(stored).not.toContain('secret');

    await page.getByLabel('Password', { exact: true }).fill('secret');
    await page.getByLabel('Remember password on this device').check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await waitFor(page, 'registration', 'failed');
    await page.reload();
    await expect.poll(() => page.getByLabel('Password', { exact: true }).inputValue()).toBe('secret');
    await done(page);
  });

  it('says "gateway unreachable" when nothing listens at the server URL', async () => {
    const page = await open();
    await page.getByLabel('Server', { exact: true }).fill(`ws://127.0.0.1:${await closedPort()}/sip`);
    await signIn(page);
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/Gateway unreachable/);
    expect(await page.getByRole('status').textContent()).toContain('Gateway unreachable');
    const state = await snapshot(page);
    expect(state.registration).toBe('failed');
    expect(state.lastError?.code).toBe('unreachable');
    // Back on the form, ready for a corrected address.
    expect(await page.getByRole('button', { name: 'Sign in' }).isEnabled()).toBe(true);
    await done(page);
  });

  it('registers through a digest challenge and shows Registered; a wrong password is named as such', async () => {
    const page = await signedIn();
    expect(await page.getByRole('status').textContent()).toContain(`Registered · alice@127.0.0.1`);
    expect(peer.isRegistered('alice')).toBe(true);
    const registers = peer.requests('REGISTER');
    expect(registers.at(-1)?.header('authorization')).toMatch(/^Digest /);
    expect(registers.at(-1)?.header('expires') ?? registers.at(-1)?.header('contact')).toMatch(/300/);
    // The hook is read-only.
    await page.evaluate(() => {
      try {
        (globalThis as unknown as { softphone: { registration: string } }).softphone.registration = 'x';
      } catch {
        // Strict-mode assignment to a getter-only property throws; either way nothing changes.
      }
    });
    expect((await snapshot(page)).registration).toBe('registered');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Signed out');
    await expect.poll(() => peer.isRegistered('alice')).toBe(false);

    await signIn(page, 'alice', 'wrong');
    await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/wrong user name or password/);
    const state = await snapshot(page);
    expect(state.registration).toBe('failed');
    expect(state.lastError).toMatchObject({ code: 'wrong-password', status: 401 });
    await done(page);
  });

  it('types on the dial pad with clicks and the keyboard; Enter calls and a busy callee is reported', async () => {
    const page = await signedIn();
    const number = page.getByLabel('Number to call');
    for (const key of ['1', '2', '3']) await page.getByRole('button', { name: key, exact: true }).click();
    // Focus is on the pad now, not in the field: typed keys still go to the number.
    await page.keyboard.type('4*#');
    expect(await number.inputValue()).toBe('1234*#');
    await page.keyboard.press('Backspace');
    await page.getByRole('button', { name: 'Delete last character' }).click();
    expect(await number.inputValue()).toBe('1234');
    await page.getByRole('button', { name: '0', exact: true }).click();
    expect(await number.inputValue()).toBe('12340');

    await number.fill('');
    await number.pressSequentially('busy');
    await number.press('Enter');
    await expect.poll(() => page.getByRole('alert').innerText()).toBe('busy is busy.');
    const state = await snapshot(page);
    expect(state.lastError).toMatchObject({ code: 'busy', status: 486, reason: 'Busy Here' });
    expect(state.lastCall).toMatchObject({ peer: 'busy', direction: 'outgoing', outcome: 'failed', detail: 'Busy' });
    expect(state.call).toBe('idle');
    expect(await page.getByRole('button', { name: 'Redial busy' }).isVisible()).toBe(true);
    await done(page);
  });

  it('names each way a call can fail: not found, unavailable, declined, trunk failure', async () => {
    const page = await signedIn();
    const cases: Array<[string, RegExp, string, number]> = [
      ['nobody', /nobody was not found/, 'not-found', 404],
      ['away', /away is not available right now/, 'unavailable', 480],
      ['decline', /decline declined the call/, 'declined', 603],
      ['trunk', /could not be completed: 503 Trunk Unavailable/, 'trunk-failure', 503],
    ];
    for (const [target, text, code, status] of cases) {
      await page.getByLabel('Number to call').fill(target);
      await page.getByRole('button', { name: 'Call', exact: true }).click();
      await expect.poll(() => page.getByRole('alert').innerText()).toMatch(text);
      expect((await snapshot(page)).lastError).toMatchObject({ code, status });
    }
    await done(page);
  });

  it('runs a call: ringback, active, mute, hold, DTMF over SIP INFO, Escape hangs up, redial from recent calls', async () => {
    const page = await open();
    await page.getByText('Advanced').click();
    await page.getByLabel('SIP INFO').check();
    await signIn(page);
    await waitFor(page, 'registration', 'registered');

    await page.getByLabel('Number to call').fill('echo');
    await page.getByRole('button', { name: 'Call', exact: true }).click();
    await waitFor(page, 'call', 'ringing');
    expect((await snapshot(page)).tone).toBe('ringback');
    await waitFor(page, 'call', 'active');
    const invite = peer.requests('INVITE').at(-1)!;
    expect(invite.startLine).toBe('INVITE sip:echo@127.0.0.1 SIP/2.0');
    expect(invite.body).toMatch(/a=candidate:/);
    expect(invite.body).toMatch(/m=audio/);
    expect(await page.getByText('Connected', { exact: true }).isVisible()).toBe(true);
    expect((await snapshot(page)).tone).toBeNull();
    // With the microphone open, the device list carries Chromium's fake devices by name.
    await expect.poll(() => page.getByLabel('Microphone', { exact: true }).locator('option').allTextContents()).toContain('Fake Default Audio Input');
    await expect.poll(() => page.evaluate(() => (globalThis as unknown as Hooked).softphone.micLevel)).toBeGreaterThan(0);

    await page.getByRole('button', { name: 'Mute' }).click();
    expect(await page.getByRole('button', { name: 'Mute' }).getAttribute('aria-pressed')).toBe('true');
    expect((await snapshot(page)).callInfo?.muted).toBe(true);

    const infosBefore = peer.requests('INFO').length;
    await page.getByRole('button', { name: 'Keypad' }).click();
    await page.getByRole('button', { name: '5', exact: true }).click();
    await page.keyboard.press('#');
    await expect.poll(() => peer.requests('INFO').length).toBe(infosBefore + 2);
    expect(peer.requests('INFO').slice(-2).map((m) => /Signal=(.)/.exec(m.body)?.[1])).toEqual(['5', '#']);
    expect((await snapshot(page)).callInfo).toMatchObject({ dtmfSent: '5#', dtmfTransport: 'info' });
    expect(await page.getByLabel('Tones sent').textContent()).toBe('5#');

    const invitesBefore = peer.requests('INVITE').length;
    await page.getByRole('button', { name: 'Hold' }).click();
    await expect.poll(async () => (await snapshot(page)).callInfo?.held).toBe(true);
    // JsSIP flags the hold at once and sends the re-INVITE right after.
    await expect.poll(() => peer.requests('INVITE').length).toBe(invitesBefore + 1);
    const reinvite = peer.requests('INVITE')[invitesBefore]!;
    expect(reinvite.body).toMatch(/a=sendonly/);
    expect(await page.getByText('On hold', { exact: true }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Hold' }).click();
    await expect.poll(async () => (await snapshot(page)).callInfo?.held).toBe(false);
    await expect.poll(() => peer.requests('INVITE').length).toBe(invitesBefore + 2);
    expect(peer.requests('INVITE')[invitesBefore + 1]!.body).toMatch(/a=sendrecv/);

    const byesBefore = peer.requests('BYE').length;
    await page.keyboard.press('Escape');
    await waitFor(page, 'call', 'idle');
    await expect.poll(() => peer.requests('BYE').length).toBe(byesBefore + 1);
    const after = await snapshot(page);
    expect(after.lastCall).toMatchObject({ peer: 'echo', direction: 'outgoing', outcome: 'answered' });
    expect(after.lastError).toBeNull();

    await page.getByRole('button', { name: 'Redial echo' }).first().click();
    await waitFor(page, 'call', 'active');
    await page.getByRole('button', { name: 'Hang up' }).click();
    await waitFor(page, 'call', 'idle');
    await done(page);
  });

  it('rings for an incoming call, shows the caller, Reject answers 603 and Accept connects', async () => {
    const page = await signedIn({}, 'bob');
    peer.invite('bob', { user: 'alice', displayName: 'Alice Caller' });
    await waitFor(page, 'call', 'incoming');
    expect(await page.getByRole('heading', { name: 'Alice Caller' }).isVisible()).toBe(true);
    expect((await snapshot(page)).tone).toBe('ring');
    expect(await page.title()).toBe('Incoming call from Alice Caller');
    await page.getByRole('button', { name: 'Reject call' }).click();
    await expect.poll(() => peer.responses.map((r) => r.status)).toContain(603);
    await waitFor(page, 'call', 'idle');
    expect((await snapshot(page)).lastCall).toMatchObject({ peer: 'Alice Caller', direction: 'incoming', outcome: 'rejected' });

    peer.invite('bob', { user: 'alice', displayName: 'Alice Caller' });
    await waitFor(page, 'call', 'incoming');
    await page.keyboard.press('Enter');
    await waitFor(page, 'call', 'active');
    await expect.poll(() => peer.responses.at(-1)?.status).toBe(200);
    const ok = peer.responses.at(-1)!;
    expect(ok.body).toMatch(/a=setup:active/);
    await page.getByRole('button', { name: 'Hang up' }).click();
    await waitFor(page, 'call', 'idle');
    expect((await snapshot(page)).lastCall).toMatchObject({ direction: 'incoming', outcome: 'answered' });
    await done(page);
  });

  it('explains a blocked microphone (getUserMedia NotAllowedError)', async () => {
    // A second browser without the fake permission UI: headless Chromium then denies the microphone.
    const strict = await launchChromium(chromiumPath!, CHROMIUM_ARGS.filter((a) => a !== '--use-fake-ui-for-media-stream'));
    try {
      const page = await strict.newPage();
      await page.goto(server.url);
      await signIn(page);
      await waitFor(page, 'registration', 'registered');
      await page.getByLabel('Number to call').fill('echo');
      await page.getByRole('button', { name: 'Call', exact: true }).click();
      await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/Microphone access was blocked/);
      expect((await snapshot(page)).lastError?.code).toBe('microphone-denied');
    } finally {
      await strict.close();
    }
  });

  it('fits a 375×667 phone screen without horizontal scrolling, in every view', async () => {
    const page = await open({ width: 375, height: 667, mobile: true });
    const overflow = (): Promise<number> =>
      page.evaluate(() => {
        const g = globalThis as unknown as { document: { documentElement: { scrollWidth: number } }; innerWidth: number };
        return g.document.documentElement.scrollWidth - g.innerWidth;
      });
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(screenshots, 'softphone-signin-phone.png') });

    await signIn(page);
    await waitFor(page, 'registration', 'registered');
    expect(await overflow()).toBeLessThanOrEqual(0);
    const call = await page.getByRole('button', { name: 'Call', exact: true }).boundingBox();
    expect(call!.y + call!.height).toBeLessThanOrEqual(667);
    for (const key of ['1', '5', '#']) {
      const box = await page.getByRole('button', { name: key, exact: true }).boundingBox();
      expect(Math.min(box!.width, box!.height)).toBeGreaterThanOrEqual(48);
    }
    await page.getByRole('button', { name: '5', exact: true }).tap();
    await page.getByRole('button', { name: '5', exact: true }).tap();
    await page.getByRole('button', { name: '0', exact: true }).tap();
    // Let the key-press animation finish before the picture.
    await page.waitForTimeout(250);
    await page.screenshot({ path: path.join(screenshots, 'softphone-phone.png') });

    await page.getByLabel('Number to call').fill('echo');
    await page.getByRole('button', { name: 'Call', exact: true }).tap();
    await waitFor(page, 'call', 'active');
    await page.getByRole('button', { name: 'Keypad' }).tap();
    expect(await overflow()).toBeLessThanOrEqual(0);
    const hangup = await page.getByRole('button', { name: 'Hang up' }).boundingBox();
    expect(hangup!.y + hangup!.height).toBeLessThanOrEqual(667);
    await page.getByRole('button', { name: 'Keypad' }).tap();
    await page.screenshot({ path: path.join(screenshots, 'softphone-call-phone.png') });
    await page.getByRole('button', { name: 'Hang up' }).tap();
    await waitFor(page, 'call', 'idle');
    await done(page);
  });

  it('takes the desktop screenshot of the sign-in form', async () => {
    const page = await open({ width: 1280, height: 800 });
    await page.getByLabel('User', { exact: true }).fill('alice');
    await page.getByLabel('Password', { exact: true }).fill('demo');
    await page.screenshot({ path: path.join(screenshots, 'softphone-signin.png') });
    await done(page);
  });

  it('click-to-call widget: calls its fixed target without registering, mutes, hangs up', async () => {
    const page = await open({ url: `${server.url}widget.html` });
    const host = page.locator('.sip-click-to-call').first();
    const registersBefore = peer.requests('REGISTER').length;
    await page.getByRole('button', { name: 'Call the echo test' }).click();
    await expect.poll(() => host.getAttribute('data-state')).toBe('active');
    const invite = peer.requests('INVITE').at(-1)!;
    expect(invite.startLine).toBe('INVITE sip:echo@127.0.0.1 SIP/2.0');
    expect(invite.header('from')).toMatch(/sip:alice@127\.0\.0\.1/);
    expect(peer.requests('REGISTER').length).toBe(registersBefore);

    await page.getByRole('button', { name: 'Mute' }).click();
    expect(await page.getByRole('button', { name: 'Mute' }).getAttribute('aria-pressed')).toBe('true');
    const byesBefore = peer.requests('BYE').length;
    await page.getByRole('button', { name: 'Hang up' }).click();
    await expect.poll(() => host.getAttribute('data-state')).toBe('idle');
    await expect.poll(() => peer.requests('BYE').length).toBe(byesBefore + 1);
    expect(await page.getByRole('button', { name: 'Call the echo test' }).isVisible()).toBe(true);
    await done(page);
  });

  it('click-to-call widget: reports an unreachable gateway', async () => {
    const port = await closedPort();
    const page = await open({ url: `${server.url}widget.html` });
    await page.evaluate((p) => {
      const d = (globalThis as unknown as { document: { createElement(t: string): { src: string; dataset: Record<string, string> }; body: { append(n: unknown): void } } }).document;
      const script = d.createElement('script');
      Object.assign(script.dataset, { target: 'echo', user: 'alice', password: 'demo', gateway: `ws://127.0.0.1:${p}/sip`, label: 'Call nowhere' });
      script.src = 'build/widget.js';
      d.body.append(script);
    }, port);
    await page.getByRole('button', { name: 'Call nowhere' }).click();
    const host = page.locator('.sip-click-to-call').last();
    await expect.poll(() => host.getAttribute('data-state')).toBe('failed');
    expect(await host.getAttribute('data-error')).toBe('unreachable');
    expect(await page.getByRole('alert').innerText()).toMatch(/Gateway unreachable/);
    await done(page);
  });
});
