/**
 * Running SIPp (Debian's sip-tester) from tests: as a UAC that runs to completion, or as a long-running UAS
 * (a trunk) that the test stops. SIPp writes its logs into its cwd, so each run gets a temporary directory,
 * removed on success and kept (and quoted) on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SIPP_SCENARIOS = fileURLToPath(new URL('../sipp/', import.meta.url));

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
  calls?: number;
  extra?: readonly string[];
  /** SIPp's own global timeout (`-timeout`), so a broken run ends by itself. */
  timeoutSeconds?: number;
}

function args(o: SippOptions): string[] {
  const a: string[] = [];
  if (o.remote) a.push(o.remote);
  if (typeof o.scenario === 'string') a.push('-sf', path.join(SIPP_SCENARIOS, o.scenario));
  else a.push('-sn', o.scenario.builtin);
  a.push('-i', '127.0.0.1', '-t', o.transport ?? 'u1', '-nostdin', '-trace_err', '-timeout', `${o.timeoutSeconds ?? 30}s`, '-timeout_error');
  if (o.localPort !== undefined) a.push('-p', String(o.localPort));
  if (o.calls !== undefined) a.push('-m', String(o.calls));
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
    this.child = spawn('sipp', args(options), { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.#stdout = (this.#stdout + d.toString()).slice(-20_000)));
    this.child.stderr!.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-20_000)));
    this.done = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (code) => resolve({ code, stdout: this.#stdout, stderr: this.#stderr, dir: this.dir }));
    });
  }

  /** Stops a UAS; resolves when it has exited. */
  async stop(): Promise<SippResult> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.done;
  }
}

export function runSipp(options: SippOptions): Promise<SippResult> {
  return new SippProcess(options).done;
}

/** '' and the directory removed when SIPp succeeded; otherwise its logs, for an assertion message. */
export function sippReport(run: SippResult): string {
  if (run.code === 0) {
    fs.rmSync(run.dir, { recursive: true, force: true });
    return '';
  }
  const logs = fs.existsSync(run.dir)
    ? fs.readdirSync(run.dir).map((f) => `--- ${f}\n${fs.readFileSync(path.join(run.dir, f), 'utf8').slice(-4000)}`)
    : [];
  return `sipp exited ${run.code} (files kept in ${run.dir})\n${run.stderr.slice(-2000)}\n${logs.join('\n')}`;
}
