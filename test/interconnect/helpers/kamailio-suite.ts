/**
 * What the Kamailio suites share: the gate (Kamailio and SIPp installed; under CI=true a missing one FAILS the
 * suite, as describeWith does for the other tools), and reading what our media node saw from its debug log.
 */
import { describe, it } from 'vitest';
import { haveTool, IN_CI } from '../../support/tools.ts';
import { haveKamailio, type TestProcess } from './processes.ts';

/** Debian bookworm's packages; `rtpengine`, `tm`, `rr`, `nathelper`, `xhttp`, … are in kamailio itself. */
export const KAMAILIO_INSTALL = 'apt-get install -y kamailio kamailio-websocket-modules';

/** `describe` that needs Kamailio and SIPp (and `extra`: another reason it cannot run, or null). */
export function describeWithKamailio(name: string, body: () => void, extra: string | null = null): void {
  const missing: string[] = [];
  if (!haveKamailio()) missing.push(`kamailio (${KAMAILIO_INSTALL})`);
  if (!haveTool('sipp')) missing.push('sipp (apt-get install -y sip-tester)');
  if (extra !== null) missing.push(extra);
  if (missing.length === 0) {
    describe(name, body);
  } else if (IN_CI) {
    describe(name, () => {
      it(`needs ${missing.join(', ')}`, () => {
        throw new Error(`missing under CI: ${missing.join('; ')}`);
      });
    });
  } else {
    describe.skip(`${name} [skipped: ${missing.join('; ')}]`, body);
  }
}

/** The ng commands our media node logged (LOG_LEVEL=debug: one `ng command` line each), for one Call-ID. */
export function ngCommandsFor(node: TestProcess | { lines: readonly string[] }, callId: string): string[] {
  const out: string[] = [];
  for (const line of node.lines) {
    if (!line.startsWith('{')) continue;
    try {
      const event = JSON.parse(line) as { msg?: string; callId?: string; command?: string };
      if (event.msg === 'ng command' && event.callId === callId && typeof event.command === 'string') out.push(event.command);
    } catch {
      // not a log line
    }
  }
  return out;
}
