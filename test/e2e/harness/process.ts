/**
 * A process running inside a test namespace: its output kept (bounded) and split into lines that tests can
 * wait for, its exit observable, and a stop that escalates from SIGTERM to SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Netns } from './netns.ts';

export interface NsProcessOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Shown in error messages; default the command's base name. */
  label?: string;
  /** How much of each stream to keep for error messages (characters). */
  keep?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type LineListener = (line: string, stream: 'stdout' | 'stderr') => void;

export class NsProcessError extends Error {
  readonly code = 'E2E_PROCESS';
}

export class NsProcess {
  readonly child: ChildProcess;
  readonly label: string;
  readonly exited: Promise<ExitInfo>;
  /** Every complete stdout line, in order (bounded to the last 20 000). */
  readonly lines: string[] = [];
  #exit: ExitInfo | null = null;
  #stdout = '';
  #stderr = '';
  readonly #keep: number;
  readonly #listeners = new Set<LineListener>();
  /** stdout and stderr lines, for waitForLine on lines already seen. */
  readonly #all: string[] = [];

  constructor(ns: Netns, command: string, args: readonly string[], options: NsProcessOptions = {}) {
    this.label = options.label ?? command.split('/').pop()!;
    this.#keep = options.keep ?? 200_000;
    this.child = spawn('ip', ns.argv(command, args), {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#split(this.child.stdout!, 'stdout');
    this.#split(this.child.stderr!, 'stderr');
    this.exited = new Promise((resolve) => {
      this.child.on('error', (error) => {
        this.#stderr += `\nspawn failed: ${error.message}`;
        this.#exit ??= { code: null, signal: null };
        resolve(this.#exit);
      });
      this.child.on('close', (code, signal) => {
        this.#exit ??= { code, signal };
        resolve(this.#exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exit(): ExitInfo | null {
    return this.#exit;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** The tail of both streams, for a failure message. */
  output(chars = 6000): string {
    return `--- ${this.label} stdout (tail)\n${this.#stdout.slice(-chars)}\n--- ${this.label} stderr (tail)\n${this.#stderr.slice(-chars)}`;
  }

  onLine(listener: LineListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves with the first stdout/stderr line (already seen or future) that `match` accepts. Rejects when the
   * process exits first or after `timeoutMs`, quoting its output.
   */
  waitForLine(match: (line: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    const seen = this.#all.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        off();
        fn();
      };
      const timer = setTimeout(
        () => finish(() => reject(new NsProcessError(`${this.label}: no ${what} within ${timeoutMs} ms\n${this.output()}`))),
        timeoutMs,
      );
      const off = this.onLine((line) => {
        if (match(line)) finish(() => resolve(line));
      });
      void this.exited.then((exit) =>
        finish(() =>
          reject(new NsProcessError(`${this.label} exited (code ${exit.code}, signal ${exit.signal}) before ${what}\n${this.output()}`)),
        ),
      );
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.#exit === null && this.child.exitCode === null && this.child.signalCode === null) {
      try {
        this.child.kill(signal);
      } catch {
        // Already gone.
      }
    }
  }

  /** SIGTERM (or `signal`), then SIGKILL after `timeoutMs`; resolves with how it exited. */
  async stop(options: { signal?: NodeJS.Signals; timeoutMs?: number } = {}): Promise<ExitInfo & { killed: boolean }> {
    if (this.#exit) return { ...this.#exit, killed: false };
    this.kill(options.signal ?? 'SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.kill('SIGKILL');
    }, options.timeoutMs ?? 10_000);
    const exit = await this.exited;
    clearTimeout(timer);
    return { ...exit, killed };
  }

  #split(stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr'): void {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      if (name === 'stdout') this.#stdout = (this.#stdout + chunk).slice(-this.#keep);
      else this.#stderr = (this.#stderr + chunk).slice(-this.#keep);
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl).replace(/\r$/, '');
        partial = partial.slice(nl + 1);
        if (name === 'stdout') push(this.lines, line);
        push(this.#all, line);
        for (const listener of [...this.#listeners]) listener(line, name);
      }
    });
  }
}

function push(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > 20_000) lines.splice(0, lines.length - 20_000);
}
