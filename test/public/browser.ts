/**
 * Finding and launching the system Chromium for the page tests. Under CI=true a missing browser is an error;
 * elsewhere the suite is skipped with a message. If apt/dpkg is running (Chromium being installed), wait for it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--disable-background-networking',
  // Real host candidates instead of mDNS names: no multicast queries leave the machine.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

function packageManagerRunning(): boolean {
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        if (comm === 'apt' || comm === 'apt-get' || comm === 'dpkg' || comm === 'unattended-upgr') return true;
      } catch {
        // The process ended while we looked.
      }
    }
  } catch {
    // No /proc: nothing to wait for.
  }
  return false;
}

/** The Chromium path, or null if there is none (after waiting up to `maxWaitMs` for a running install). */
export async function findChromium(maxWaitMs = 300_000): Promise<string | null> {
  const deadline = Date.now() + maxWaitMs;
  while (!existsSync(CHROMIUM_PATH) && packageManagerRunning() && Date.now() < deadline) {
    await sleep(2000);
  }
  return existsSync(CHROMIUM_PATH) ? CHROMIUM_PATH : null;
}

/** Launch; while dpkg is still unpacking Chromium's libraries a launch can fail, so retry until it is done. */
export async function launchChromium(path: string, args = CHROMIUM_ARGS, maxWaitMs = 300_000): Promise<Browser> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    try {
      return await chromium.launch({ executablePath: path, args });
    } catch (error) {
      if (!packageManagerRunning() || Date.now() > deadline) throw error;
      await sleep(2000);
    }
  }
}
