/**
 * SIPp (Debian's sip-tester) against the real stack on loopback. Under CI=true a missing sipp binary fails the
 * suite; elsewhere these tests are skipped with a message. SIPp writes its log/error files into its cwd, so it
 * runs in a temporary directory that is removed afterwards (kept and printed when a run fails).
 */
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SipStack } from '../../src/signaling/sip-stack.ts';
import { createResponseTo } from '../../src/signaling/message.ts';

const SCENARIOS = fileURLToPath(new URL('../sipp/', import.meta.url));
const HAVE_SIPP = spawnSync('sh', ['-c', 'command -v sipp'], { stdio: 'ignore' }).status === 0;
const IN_CI = process.env.CI === 'true';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface SippRun {
  code: number | null;
  stdout: string;
  stderr: string;
  dir: string;
}

/** Runs sipp as a UAC against 127.0.0.1:port; resolves when it exits (it has its own global timeout). */
function sipp(scenario: string, port: number, transport: 'u1' | 't1', calls: number, extra: string[] = []): Promise<SippRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipp-'));
  const args = [
    `127.0.0.1:${port}`,
    '-sf', path.join(SCENARIOS, scenario),
    '-m', String(calls),
    '-t', transport,
    '-i', '127.0.0.1',
    '-bind_local',
    '-s', 'gateway',
    '-r', '20',
    '-nostdin',
    '-timeout', '20s',
    '-timeout_error',
    '-trace_err',
    ...extra,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, dir }));
  });
}

/** Removes sipp's directory on success; on failure returns its error log to show in the assertion message. */
function report(run: SippRun): string {
  if (run.code === 0) {
    fs.rmSync(run.dir, { recursive: true, force: true });
    return '';
  }
  const logs = fs.readdirSync(run.dir).map((f) => `--- ${f}\n${fs.readFileSync(path.join(run.dir, f), 'utf8').slice(-4000)}`);
  return `sipp exited ${run.code} (files kept in ${run.dir})\n${run.stderr.slice(-2000)}\n${logs.join('\n')}`;
}

async function startStack() {
  const stack = new SipStack({
    listeners: [
      { protocol: 'UDP', host: '127.0.0.1', port: 0 },
      { protocol: 'TCP', host: '127.0.0.1', port: 0 },
    ],
    http: false,
    userAgent: 'gw-sipp-test',
  });
  await stack.start();
  cleanup.push(() => stack.close());
  return stack;
}

if (!HAVE_SIPP && IN_CI) {
  describe('SIPp', () => {
    it('is installed (CI=true requires the sipp binary from the sip-tester package)', () => {
      expect.fail('sipp not found on PATH; install Debian package sip-tester');
    });
  });
} else if (!HAVE_SIPP) {
  describe.skip('SIPp (skipped: sipp not found on PATH; install Debian package sip-tester)', () => {
    it('runs the scenarios', () => {});
  });
} else {
  describe('SIPp against the SIP stack', () => {
    it.each([
      ['UDP', 'u1'],
      ['TCP', 't1'],
    ] as const)('answers 5 OPTIONS over %s with 200', async (protocol, mode) => {
      const stack = await startStack();
      const run = await sipp('options-uac.xml', stack.port(protocol), mode, 5);
      expect(run.code, report(run)).toBe(0);
      expect(stack.counters.optionsAnswered).toBe(5);
      expect(stack.counters.transport.messagesIn[protocol]).toBeGreaterThanOrEqual(5);
      expect(stack.counters.transport.parseErrors).toBe(0);
    });

    it('absorbs a retransmitted INVITE: two INVITEs with one branch make one server transaction, the 100 is re-sent', async () => {
      const stack = await startStack();
      let tuCalls = 0;
      stack.setTransactionUser({
        methods: ['INVITE'],
        onRequest: (request, transaction) => {
          tuCalls++;
          const tag = `busy${tuCalls}`;
          // Later than the retransmitted INVITE, which the scenario sends as soon as the 100 Trying arrives.
          const timer = setTimeout(() => transaction.respond(createResponseTo(request, 486, undefined, tag)), 300);
          cleanup.push(() => clearTimeout(timer));
        },
      });
      const calls = 3;
      // -nr: SIPp's own retransmission logic would take the gateway's (correct, byte-identical) 100 retransmission
      // for a duplicate and re-send its INVITE in reply; the scenario itself does the retransmitting here.
      const run = await sipp('invite-retransmit-uac.xml', stack.port('UDP'), 'u1', calls, ['-nr']);
      expect(run.code, report(run)).toBe(0);
      expect(tuCalls).toBe(calls);
      expect(stack.counters.serverTransactions).toBe(calls);
      // Two INVITEs and at least one ACK per call reached the gateway.
      expect(stack.counters.transport.messagesIn.UDP).toBeGreaterThanOrEqual(3 * calls);
      expect(stack.transactions.stats.discardedRequests).toBe(0);
    });
  });
}
