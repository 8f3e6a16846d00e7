/**
 * Running SIPp (Debian's sip-tester) from tests: as a UAC that runs to completion, or as a long-running UAS
 * (a trunk) that the test stops. SIPp writes its logs into its cwd, so each run gets a temporary directory,
 * removed on success and kept (and quoted) on failure.
 *
 * `sippArgs` and the log readers are shared with the end-to-end harness (test/e2e/harness/sipp.ts), which runs
 * the same command line inside a network namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveTool } from './tools.ts';

export const SIPP_SCENARIOS = fileURLToPath(new URL('../sipp/', import.meta.url));
export const HAVE_SIPP = haveTool('sipp');

export interface SippResult {
  code: number | null;
  stdout: string;
  stderr: string;
  dir: string;
}

export interface SippOptions {
  /** A scenario file under test/sipp/, or a built-in (`-sn uac`) given as `{ builtin: 'uac' }`. */
  scenario: string | { builtin: string };
  /** `host:port` of the remote side (for a UAC), omitted for a UAS. */
  remote?: string;
  /** Local port SIPp listens on (`-p`). */
  localPort?: number;
  transport?: 'u1' | 't1' | 'un';
  /** Calls before exiting (`-m`). */
  calls?: number;
  /** `-r`: calls per second (UAC). */
  rate?: number;
  /** `-s`: the Request-URI user of a UAC. */
  service?: string;
  /** `-bind_local`: send from the `-i` address (127.0.0.1) rather than the wildcard. */
  bindLocal?: boolean;
  /** RTP port (`-mp`): [media_port] in the scenario. */
  mediaPort?: number;
  /** Echo RTP received on the media port (`-rtp_echo`). */
  rtpEcho?: boolean;
  /** `-d`: how long a `<pause/>` without attributes lasts (ms). */
  durationMs?: number;
  /** `-key name value`: [name] in the scenario. */
  keys?: Record<string, string | number>;
  /** `-set name value`: the global variable [$name] (declared with <Global variables=…/>). */
  globals?: Record<string, string | number>;
  extra?: readonly string[];
  /** SIPp's own global timeout (`-timeout`), so a broken run ends by itself. */
  timeoutSeconds?: number;
}

/** SIPp's command line for `o`: always on 127.0.0.1, without a keyboard, with an error trace. */
export function sippArgs(o: SippOptions): string[] {
  const a: string[] = [];
  if (o.remote) a.push(o.remote);
  if (typeof o.scenario === 'string') a.push('-sf', path.join(SIPP_SCENARIOS, o.scenario));
  else a.push('-sn', o.scenario.builtin);
  a.push('-i', '127.0.0.1', '-t', o.transport ?? 'u1', '-nostdin', '-trace_err', '-timeout', `${o.timeoutSeconds ?? 30}s`, '-timeout_error');
  if (o.localPort !== undefined) a.push('-p', String(o.localPort));
  if (o.calls !== undefined) a.push('-m', String(o.calls));
  if (o.rate !== undefined) a.push('-r', String(o.rate));
  if (o.service !== undefined) a.push('-s', o.service);
  if (o.bindLocal) a.push('-bind_local');
  if (o.mediaPort !== undefined) a.push('-mp', String(o.mediaPort));
  if (o.rtpEcho) a.push('-rtp_echo');
  if (o.durationMs !== undefined) a.push('-d', String(o.durationMs));
  for (const [key, value] of Object.entries(o.keys ?? {})) a.push('-key', key, String(value));
  for (const [name, value] of Object.entries(o.globals ?? {})) a.push('-set', name, String(value));
  a.push(...(o.extra ?? []));
  return a;
}

export class SippProcess {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly done: Promise<SippResult>;
  #stdout = '';
  #stderr = '';

  constructor(options: SippOptions) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipp-'));
    this.child = spawn('sipp', sippArgs(options), { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.#stdout = (this.#stdout + d.toString()).slice(-20_000)));
    this.child.stderr!.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-20_000)));
    this.done = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (code) => resolve({ code, stdout: this.#stdout, stderr: this.#stderr, dir: this.dir }));
    });
  }

  /** Stops a UAS (SIGKILL for a run that must not linger); resolves when it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<SippResult> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.done;
  }
}

export function runSipp(options: SippOptions): Promise<SippResult> {
  return new SippProcess(options).done;
}

/** The files of a run's directory whose names end with `suffix` (e.g. `_messages.log` of -trace_msg), joined. */
export function sippLog(dir: string, suffix: string): string {
  if (!fs.existsSync(dir)) return '';
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('\n');
}

/** Every file of a run's directory, its last `chars` characters under a `--- name` line, for assertion messages. */
export function sippFiles(dir: string, chars = 4000): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).map((f) => `--- ${f}\n${fs.readFileSync(path.join(dir, f), 'utf8').slice(-chars)}`);
}

/** '' and the directory removed when SIPp succeeded; otherwise its logs, for an assertion message. */
export function sippReport(run: SippResult): string {
  if (run.code === 0) {
    fs.rmSync(run.dir, { recursive: true, force: true });
    return '';
  }
  return `sipp exited ${run.code} (files kept in ${run.dir})\n${run.stderr.slice(-2000)}\n${sippFiles(run.dir).join('\n')}`;
}
