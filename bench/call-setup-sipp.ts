/**
 * A second load shape for the call-setup benchmark: SIPp's built-in `uac` scenario (Debian's sip-tester) as the
 * trunk, at a fixed rate, against a gateway whose agents answer as in the main benchmark. It confirms the setup
 * rate with a UAC we did not write: SIPp counts successful and failed calls and its own retransmissions, and
 * times INVITE → 200 per call (`-trace_rtt`, millisecond resolution; this includes the agent).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuMs, freePort } from './call-setup-gateway.ts';
import { percentile } from './report.ts';

export interface SippCheck {
  readonly rate: number;
  readonly calls: number;
  readonly successful: number;
  readonly failed: number;
  readonly retransmissions: number;
  /** Calls completed per second of SIPp's run. */
  readonly callsPerSecond: number;
  /** SIPp's INVITE → 200 response time after the warm-up, ms (1 ms resolution). */
  readonly responseTimeP50Ms: number;
  readonly responseTimeP99Ms: number;
  readonly gatewayCpuMsPerCall: number;
  readonly exitCode: number | null;
  readonly command: string;
}

export interface SippCheckOptions {
  readonly target: { readonly host: string; readonly port: number };
  readonly did: string;
  readonly rate: number;
  readonly seconds: number;
  readonly holdMs: number;
  /** SIPp raises its rate linearly (`-rate_increase` every second) from rate/10 to `rate` over about this long. */
  readonly warmupSeconds: number;
  /** The gateway's pid, for its CPU over the run. */
  readonly pid: number;
}

function lastStats(file: string): Map<string, string> {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const header = lines[0]!.split(';');
  const last = lines[lines.length - 1]!.split(';');
  return new Map(header.map((h, i) => [h, last[i] ?? '']));
}

export async function runSippCheck(o: SippCheckOptions): Promise<SippCheck> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-sipp-'));
  const steps = Math.max(1, Math.round(o.warmupSeconds));
  const start = Math.max(1, Math.round(o.rate / steps));
  const calls = Math.round(o.rate * o.seconds + (o.rate * o.warmupSeconds) / 2);
  const localPort = await freePort();
  const args = [
    `${o.target.host}:${o.target.port}`, '-sn', 'uac', '-s', o.did, '-i', '127.0.0.1', '-p', String(localPort),
    '-r', String(start), '-rate_increase', String(start), '-rate_max', String(o.rate), '-no_rate_quit', '-m', String(calls), '-d', String(o.holdMs), '-l', String(Math.max(1000, o.rate * 10)),
    '-nostdin', '-trace_stat', '-stf', 'stats.csv', '-fd', '1', '-trace_rtt', '-rtt_freq', '1',
    '-timeout', `${o.seconds + 60}s`, '-timeout_error', '-max_recv_loops', '10000', '-max_sched_loops', '10000',
  ];
  const cpu0 = cpuMs(o.pid);
  const t0 = performance.now();
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuMs(o.pid) - cpu0;
  try {
    const stats = lastStats(path.join(dir, 'stats.csv'));
    const n = (k: string): number => Number(stats.get(k) ?? Number.NaN);
    const rttFile = readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
    const rtts = rttFile === undefined
      ? []
      : readFileSync(path.join(dir, rttFile), 'utf8').trim().split('\n').slice(1)
          .map((l) => l.split(';').map(Number))
          .filter(([at]) => at! >= o.warmupSeconds * 1000) // Date_ms: ms since SIPp started; the warm-up is left out
          .map(([, rtt]) => rtt!);
    const successful = n('SuccessfulCall(C)');
    // SIPp's elapsed time includes the warm-up and the last calls' hold time; the rate is over the full-rate part.
    const sendingSeconds = Math.max(0.001, elapsed - o.holdMs / 1000 - o.warmupSeconds / 2);
    return {
      rate: o.rate,
      calls,
      successful,
      failed: n('FailedCall(C)'),
      retransmissions: n('Retransmissions(C)'),
      callsPerSecond: Math.round((successful / sendingSeconds) * 10) / 10,
      responseTimeP50Ms: percentile(rtts, 50),
      responseTimeP99Ms: percentile(rtts, 99),
      gatewayCpuMsPerCall: Math.round((cpu / Math.max(1, successful)) * 1000) / 1000,
      exitCode,
      command: `sipp ${args.join(' ')}`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
