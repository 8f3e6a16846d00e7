/**
 * SIPp (Debian's sip-tester 3.6.1) inside a test namespace: a trunk-side UAS that answers the gateway, or a UAC
 * that calls in through the trunk. Each run gets a temp dir as cwd (SIPp writes its message trace and error log
 * there); `report()` quotes them for assertion messages.
 *
 * Media: `-rtp_echo` echoes every RTP packet that reaches `-mp` back to its source (SIPp's own echo thread, so
 * the SDP must name [media_port]); `play_pcap_audio` in a scenario sends the RTP of a capture, e.g. the G.711
 * A-law one Debian ships in /usr/share/sip-tester/g711a.pcap.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sippArgs, sippFiles, sippLog, type SippOptions as RunnerOptions } from '../../support/sipp.ts';
import type { Netns } from './netns.ts';
import type { ExitInfo, NsProcess } from './process.ts';

export const SIPP_PCAPS = '/usr/share/sip-tester';

/** The options of test/support/sipp.ts that apply here: a scenario file, a fixed SIP port, UDP. */
export type SippOptions = Pick<
  RunnerOptions,
  'remote' | 'mediaPort' | 'rtpEcho' | 'keys' | 'globals' | 'service' | 'durationMs' | 'calls' | 'timeoutSeconds'
> & {
  /** A scenario file name under test/sipp/. */
  scenario: string;
  /** SIP port SIPp binds (`-p`). */
  localPort: number;
};

export class SippRun {
  readonly process: NsProcess;
  readonly dir: string;

  constructor(proc: NsProcess, dir: string) {
    this.process = proc;
    this.dir = dir;
  }

  get exited(): Promise<ExitInfo> {
    return this.process.exited;
  }

  /** Wait for SIPp to finish by itself (it exits after `-m` calls); 0 means every call succeeded. */
  async done(timeoutMs = 30_000): Promise<ExitInfo> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const result = await Promise.race([this.process.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') throw new Error(`SIPp did not finish within ${timeoutMs} ms\n${this.report()}`);
    return result;
  }

  /** SIGTERM (SIGKILL after 5 s); for a UAS a test no longer needs. */
  stop(): Promise<ExitInfo> {
    return this.process.stop({ timeoutMs: 5000 });
  }

  /** The message trace: every SIP message SIPp sent and received. */
  messages(): string {
    return sippLog(this.dir, '_messages.log');
  }

  /** SIPp's files and output, for an assertion message. */
  report(chars = 12_000): string {
    const files = sippFiles(this.dir, chars);
    return `sipp ${this.process.exit ? `exited ${JSON.stringify(this.process.exit)}` : 'running'} (dir ${this.dir})\n${this.process.stderr.slice(-3000)}\n${files.join('\n')}`;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The command line of test/support/sipp.ts, plus the message and `<log>` traces, with the namespace's process. */
export function startSipp(ns: Netns, o: SippOptions): SippRun {
  const dir = mkdtempSync(path.join(tmpdir(), 'gwe2e-sipp-'));
  const args = sippArgs({
    ...o,
    calls: o.calls ?? 1,
    timeoutSeconds: o.timeoutSeconds ?? 60,
    extra: ['-mi', '127.0.0.1', '-trace_msg', '-trace_logs'],
  });
  const proc = ns.spawn('sipp', args, { cwd: dir, label: `sipp ${o.scenario}` });
  return new SippRun(proc, dir);
}
