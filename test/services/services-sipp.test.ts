/**
 * SIPp (Debian's sip-tester) as the caller: its built-in `uac` scenario (INVITE with SDP, 200, ACK, BYE) against
 * the services peer over UDP. Under CI=true a missing sipp binary fails; elsewhere the test is skipped. SIPp
 * writes its logs into its cwd, so it runs in a temporary directory, kept and shown when a run fails.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServicesPeer } from '../../src/services/services-peer.ts';

const HAVE_SIPP = spawnSync('sh', ['-c', 'command -v sipp'], { stdio: 'ignore' }).status === 0;
const IN_CI = process.env.CI === 'true';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface SippRun {
  code: number | null;
  stderr: string;
  dir: string;
}

function runSipp(args: string[]): Promise<SippRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipp-services-'));
  return new Promise((resolve, reject) => {
    const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, dir }));
  });
}

function report(run: SippRun): string {
  if (run.code === 0) {
    fs.rmSync(run.dir, { recursive: true, force: true });
    return '';
  }
  const logs = fs.readdirSync(run.dir).map((f) => `--- ${f}\n${fs.readFileSync(path.join(run.dir, f), 'utf8').slice(-4000)}`);
  return `sipp exited ${run.code} (files kept in ${run.dir})\n${run.stderr.slice(-2000)}\n${logs.join('\n')}`;
}

function sippArgs(port: number, service: string, transport: 'u1' | 't1'): string[] {
  // SIPp binds its media port even when it sends no RTP: an even port of its own, away from everyone's ranges.
  const mediaPort = 46000 + 2 * Math.floor(Math.random() * 1000);
  return [
    `127.0.0.1:${port}`,
    '-sn', 'uac',
    '-s', service,
    '-m', '3',
    '-t', transport,
    '-i', '127.0.0.1',
    '-p', '0',
    '-mp', String(mediaPort),
    '-r', '10',
    '-nostdin',
    '-timeout', '20s',
    '-timeout_error',
    '-trace_err',
  ];
}

describe.runIf(HAVE_SIPP || IN_CI)('SIPp calling the services peer', () => {
  it('completes 3 calls of the uac scenario to tone over TCP', async () => {
    expect(HAVE_SIPP, 'sipp (Debian sip-tester) must be installed when CI=true').toBe(true);
    const peer = new ServicesPeer({ port: 0, tcp: true, portPool: { min: 40700, max: 40799 } });
    await peer.start();
    cleanup.push(() => peer.close());
    const run = await runSipp(sippArgs(peer.tcpPort, 'tone', 't1'));
    expect(run.code, report(run)).toBe(0);
    report(run);
    expect(peer.counters.answered).toBe(3);
    expect(peer.mediaPortsInUse).toBe(0);
  });

  it('completes 3 calls of the standard uac scenario to echo (sipp -sn uac -s echo -m 3)', async () => {
    expect(HAVE_SIPP, 'sipp (Debian sip-tester) must be installed when CI=true').toBe(true);
    const peer = new ServicesPeer({ port: 0, portPool: { min: 40600, max: 40699 } });
    await peer.start();
    cleanup.push(() => peer.close());
    const ended: string[] = [];
    peer.on('call-ended', (_id, reason) => ended.push(reason));
    const run = await runSipp(sippArgs(peer.port, 'echo', 'u1'));
    expect(run.code, report(run)).toBe(0);
    report(run);
    expect(peer.counters.answered).toBe(3);
    expect(ended).toEqual(['bye', 'bye', 'bye']);
    expect(peer.calls).toBe(0);
    expect(peer.mediaPortsInUse).toBe(0);
  });
});

if (!HAVE_SIPP && !IN_CI) console.warn('services-sipp: sipp is not installed (apt install sip-tester); SIPp tests skipped');
