/**
 * SIPp (Debian's sip-tester 3.6.1) inside a test namespace: a trunk-side UAS that answers the gateway, or a UAC
 * that calls in through the trunk. Each run gets a temp dir as cwd (SIPp writes its message trace and error log
 * there); `report()` quotes them for assertion messages.
 *
 * Media: `-rtp_echo` echoes every RTP packet that reaches `-mp` back to its source (SIPp's own echo thread, so
 * the SDP must name [media_port]); `play_pcap_audio` in a scenario sends the RTP of a capture, e.g. the G.711
 * A-law one Debian ships in /usr/share/sip-tester/g711a.pcap.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './gateway.ts';
import type { Netns } from './netns.ts';
import type { ExitInfo, NsProcess } from './process.ts';

export const SCENARIOS = path.join(ROOT, 'test/sipp');
export const SIPP_PCAPS = '/usr/share/sip-tester';

export interface SippOptions {
  /** A scenario file name under test/sipp/. */
  scenario: string;
  /** `host:port` to send to (UAC); omitted for a UAS. */
  remote?: string;
  /** SIP port SIPp binds (`-p`). */
  localPort: number;
  /** RTP port (`-mp`): [media_port] in the scenario. */
  mediaPort?: number;
  /** Echo RTP received on the media port (`-rtp_echo`). */
  rtpEcho?: boolean;
  /** `-key name value`: [name] in the scenario. */
  keys?: Record<string, string | number>;
  /** `-set name value`: the global variable [$name] (declared with <Global variables=…/>). */
  globals?: Record<string, string | number>;
  /** Request-URI user part for a UAC (`-s`). */
  service?: string;
  /** `-d`: how long a `<pause/>` without attributes lasts (ms). */
  durationMs?: number;
  /** Calls before exiting (`-m`); default 1. */
  calls?: number;
  /** SIPp's own global timeout, so a broken run ends by itself. */
  timeoutSeconds?: number;
}

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
    return this.#files('_messages.log');
  }

  /** SIPp's files and output, for an assertion message. */
  report(chars = 12_000): string {
    const files = existsSync(this.dir)
      ? readdirSync(this.dir).map((f) => `--- ${f}\n${readFileSync(path.join(this.dir, f), 'utf8').slice(-chars)}`)
      : [];
    return `sipp ${this.process.exit ? `exited ${JSON.stringify(this.process.exit)}` : 'running'} (dir ${this.dir})\n${this.process.stderr.slice(-3000)}\n${files.join('\n')}`;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  #files(suffix: string): string {
    if (!existsSync(this.dir)) return '';
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(suffix))
      .map((f) => readFileSync(path.join(this.dir, f), 'utf8'))
      .join('\n');
  }
}

export function startSipp(ns: Netns, o: SippOptions): SippRun {
  const dir = mkdtempSync(path.join(tmpdir(), 'gwe2e-sipp-'));
  const args: string[] = [];
  if (o.remote) args.push(o.remote);
  args.push('-sf', path.join(SCENARIOS, o.scenario));
  args.push('-i', '127.0.0.1', '-mi', '127.0.0.1', '-p', String(o.localPort), '-t', 'u1');
  args.push('-m', String(o.calls ?? 1), '-nostdin', '-trace_msg', '-trace_err', '-trace_logs');
  args.push('-timeout', `${o.timeoutSeconds ?? 60}s`, '-timeout_error');
  if (o.mediaPort !== undefined) args.push('-mp', String(o.mediaPort));
  if (o.rtpEcho) args.push('-rtp_echo');
  if (o.service) args.push('-s', o.service);
  if (o.durationMs !== undefined) args.push('-d', String(o.durationMs));
  for (const [key, value] of Object.entries(o.keys ?? {})) args.push('-key', key, String(value));
  for (const [name, value] of Object.entries(o.globals ?? {})) args.push('-set', name, String(value));
  const proc = ns.spawn('sipp', args, { cwd: dir, label: `sipp ${o.scenario}` });
  return new SippRun(proc, dir);
}
