/**
 * External tools the end-to-end tests drive (SIPp, Chromium). Under CI=true a missing tool is a failure, never a
 * skip: `describeWith(tool)` turns into a suite with one failing test. Elsewhere the suite is skipped with a
 * message saying what to install.
 */
import { describe, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const IN_CI = process.env.CI === 'true';

const INSTALL: Record<string, string> = {
  sipp: 'apt-get install -y sip-tester',
  chromium: 'apt-get install -y chromium',
  ip: 'apt-get install -y iproute2',
};

export function haveTool(name: 'sipp' | 'chromium' | 'ip'): boolean {
  if (name === 'chromium') return existsSync('/usr/bin/chromium');
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** `describe` that needs `tools`; see the module comment for CI behaviour. */
export function describeWith(tools: ReadonlyArray<'sipp' | 'chromium' | 'ip'>, name: string, body: () => void): void {
  const missing = tools.filter((t) => !haveTool(t));
  if (missing.length === 0) {
    describe(name, body);
  } else if (IN_CI) {
    describe(name, () => {
      it(`needs ${missing.join(', ')}`, () => {
        throw new Error(`missing tool(s) under CI: ${missing.map((m) => `${m} (${INSTALL[m]})`).join(', ')}`);
      });
    });
  } else {
    describe.skip(`${name} [skipped: install ${missing.map((m) => INSTALL[m]).join('; ')}]`, body);
  }
}
