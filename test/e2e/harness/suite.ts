/**
 * What every end-to-end file needs: `describeE2E` (skip with a message, or fail under CI=true, when a tool or
 * root is missing), a cross-process lock so e2e files never run at the same time as each other even when
 * vitest runs files in parallel (2 shared cores: two Chromiums and two gateways at once would measure the
 * machine, not the gateway), and `setupSuite` — namespace, gateway, browser — with teardown that checks the
 * gateway shuts down cleanly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeWith, IN_CI } from '../../support/tools.ts';
import { launchBrowser, type NsBrowser } from './browser.ts';
import { startGateway, type GatewayOptions, type GatewayProcess } from './gateway.ts';
import { createNetns, netnsProblem, type Netns } from './netns.ts';

/** `describe` for an e2e suite: needs ip, chromium and sipp, and root for namespaces. */
export function describeE2E(name: string, body: () => void): void {
  const problem = netnsProblem();
  if (problem === null) {
    describeWith(['ip', 'chromium', 'sipp'], name, body);
  } else if (IN_CI) {
    describe(name, () => {
      it('can create a network namespace', () => {
        throw new Error(`under CI the end-to-end tests must run: ${problem}`);
      });
    });
  } else {
    describe.skip(`${name} [skipped: ${problem}]`, body);
  }
}

const LOCK = path.join(tmpdir(), 'webrtc-sip-gateway-e2e.lock');

function lockHolder(): number | null {
  try {
    return Number(readFileSync(path.join(LOCK, 'pid'), 'utf8')) || null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the e2e lock (mkdir is atomic); a lock whose owner died is broken. Returns the release function. */
export async function acquireE2ELock(timeoutMs = 600_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(path.join(LOCK, 'pid'), String(process.pid));
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = lockHolder();
      // Files in one process run one after another: a lock this process still holds was left by an earlier
      // file whose afterAll did not finish, and a lock whose owner died is stale.
      if (holder !== null && (holder === process.pid || !alive(holder))) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`e2e lock ${LOCK} still held by pid ${holder} after ${timeoutMs} ms`);
      await sleep(250);
    }
  }
}

export interface Suite {
  ns: Netns;
  gateway: GatewayProcess;
  browser: NsBrowser;
}

/**
 * beforeAll/afterAll for a file: lock, namespace, gateway (with `options`), Chromium. The returned object is
 * filled in by beforeAll. afterAll stops the gateway with SIGTERM and asserts it exited 0.
 */
export function setupSuite(options: GatewayOptions = {}): Suite {
  const suite = {} as Suite;
  let release: (() => void) | undefined;
  beforeAll(async () => {
    release = await acquireE2ELock();
    suite.ns = await createNetns();
    suite.gateway = await startGateway(suite.ns, options);
    suite.browser = await launchBrowser(suite.ns);
  }, 660_000);

  afterAll(async () => {
    try {
      await suite.browser?.close();
      if (suite.gateway) {
        const exit = await suite.gateway.stop();
        // E2E_LOG_DIR=<dir> keeps every gateway's full log (JSON lines) for reading after a run.
        const logDir = process.env['E2E_LOG_DIR'];
        if (logDir) {
          mkdirSync(logDir, { recursive: true });
          writeFileSync(path.join(logDir, `${suite.ns.name}-gateway.log`), suite.gateway.process.stdout + suite.gateway.process.stderr);
        }
        expect(exit, `gateway shutdown\n${suite.gateway.output(8000)}`).toMatchObject({ code: 0, signal: null, killed: false });
        suite.gateway.cleanup();
      }
    } finally {
      await suite.ns?.close();
      release?.();
    }
  }, 60_000);
  return suite;
}
