/**
 * One media worker process: `node src/media-node.ts --supervised …` forked with the gateway's own Node binary and
 * flags (process.execPath, process.execArgv), an IPC channel, stdout shared with the gateway (its JSON log lines
 * join the gateway's) and stderr kept (bounded) for the error message if it cannot start.
 *
 * The channel carries everything (worker-protocol.ts): ng commands and replies, the worker's media events, its
 * readiness. No ng port is opened: nothing on the machine but the gateway can drive a worker's media.
 * The worker exits when the channel closes, so a gateway that dies (even by SIGKILL) leaves no worker behind.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../errors.ts';
import { logger } from '../log.ts';
import { TypedEmitter } from '../typed-events.ts';
import { ngFromWire, ngToWire, parseWorkerMessage, type MediaEventMessage, type SupervisorMessage } from './worker-protocol.ts';

const MEDIA_NODE_SCRIPT = fileURLToPath(new URL('../media-node.ts', import.meta.url));
const STDERR_KEPT = 4096;
const log = logger.child({ component: 'media-worker' });

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Node's inspector flags: a worker inheriting the gateway's `--inspect=HOST:PORT` could only fail to bind it. */
const INSPECTOR_FLAG = /^--(?:inspect|inspect-brk|inspect-wait|inspect-port|debug-port)(?:=|$)/;

/**
 * The gateway's Node flags for a worker (`--max-semi-space-size`, `--cpu-prof`, `--conditions`, …), without the
 * inspector ones (as node:cluster does, a debugger is attached to one process at a time).
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    if (!INSPECTOR_FLAG.test(arg)) out.push(arg);
    // `--inspect-port 9230`: the value is the next argument.
    else if ((arg === '--inspect-port' || arg === '--debug-port') && i + 1 < execArgv.length) i++;
  }
  return out;
}

export class WorkerStartError extends GatewayError {
  constructor(message: string, cause?: unknown) {
    super('MEDIA_WORKER_START', message, { cause });
  }
}

export interface WorkerProcessOptions {
  /** For messages: `worker-1`. */
  name: string;
  /** media-node flags besides --supervised (interface, ports, timeout, ICE, codecs). */
  args: readonly string[];
  /** How long the worker may take to say it is ready (default 15 s: a loaded machine imports slowly). */
  readyTimeoutMs?: number;
  /** The worker's LOG_LEVEL (default the gateway's environment). */
  logLevel?: string;
}

export type WorkerProcessEvents = {
  /** An ng message (a reply) from the worker. */
  ng: [message: Buffer];
  /** A media event of the worker's (timeout, DTMF, failed leg). */
  media: [event: MediaEventMessage];
};

export class WorkerProcess extends TypedEmitter<WorkerProcessEvents> {
  readonly name: string;
  readonly pid: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<WorkerExit>;
  readonly #child: ChildProcess;
  #exit: WorkerExit | undefined;

  /** Forks the worker and waits for it to be ready; a worker that exits or stays silent first is killed and rejected. */
  static async start(options: WorkerProcessOptions): Promise<WorkerProcess> {
    const child = fork(MEDIA_NODE_SCRIPT, ['--supervised', ...options.args], {
      execPath: process.execPath,
      execArgv: workerExecArgv(process.execArgv),
      env: options.logLevel === undefined ? process.env : { ...process.env, LOG_LEVEL: options.logLevel },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'json',
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT);
    });
    const exited = new Promise<WorkerExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      // A fork that failed to spawn emits 'error' and no 'exit'.
      child.once('error', () => {
        if (child.exitCode === null && child.signalCode === null && child.pid === undefined) resolve({ code: null, signal: null });
      });
    });
    const timeoutMs = options.readyTimeoutMs ?? 15_000;
    let onMessage: ((raw: unknown) => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new WorkerStartError(`media worker ${options.name} did not report ready within ${timeoutMs} ms`)), timeoutMs);
        child.on('message', (onMessage = (raw) => {
          const message = parseWorkerMessage(raw);
          if (message?.type === 'ready') {
            clearTimeout(timer);
            resolve();
          } else if (message?.type === 'failed') {
            clearTimeout(timer);
            reject(new WorkerStartError(`media worker ${options.name} could not start: ${message.message}`));
          }
        }));
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(new WorkerStartError(`media worker ${options.name} could not be started: ${err.message}`, err));
        });
        void exited.then((exit) => {
          clearTimeout(timer);
          const why = stderr.trim().split('\n')[0] ?? '';
          reject(new WorkerStartError(`media worker ${options.name} exited (code ${exit.code}, signal ${exit.signal}) before it was ready${why ? `: ${why}` : ''}`));
        });
      });
    } catch (err) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      throw err;
    } finally {
      // From here the WorkerProcess reads the channel.
      if (onMessage !== undefined) child.off('message', onMessage);
    }
    return new WorkerProcess(options.name, child, exited);
  }

  private constructor(name: string, child: ChildProcess, exited: Promise<WorkerExit>) {
    super();
    this.name = name;
    this.#child = child;
    this.pid = child.pid!;
    this.exited = exited.then((exit) => (this.#exit = exit));
    child.on('message', (raw) => {
      const message = parseWorkerMessage(raw);
      if (message === undefined) log.warn({ worker: name, pid: this.pid }, 'media worker sent an unknown message; ignored');
      else if (message.type === 'ng') this.emit('ng', ngFromWire(message.data));
      else if (message.type !== 'ready' && message.type !== 'failed') this.emit('media', message);
    });
    // A failed kill() is reported as 'error' on the child; unheard, it would take the gateway down.
    child.on('error', (err) => log.warn({ worker: name, pid: this.pid, err: err.message }, 'media worker process error'));
  }

  /**
   * Sends an ng message over the channel. A channel already closed (the worker exiting) drops it: the request
   * then fails at its deadline, or at once when the exit is handled (MediaWorker aborts its client).
   */
  sendNg(message: Buffer): void {
    if (!this.#child.connected) return;
    const out: SupervisorMessage = { type: 'ng', data: ngToWire(message) };
    this.#child.send(out, (err) => {
      if (err) log.debug({ worker: this.name, pid: this.pid, err: err.message }, 'ng message to the media worker not sent');
    });
  }

  get running(): boolean {
    return this.#exit === undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** SIGKILL, for a worker that no longer answers; `exited` tells when it is gone. */
  kill(): void {
    if (this.running) this.#child.kill('SIGKILL');
  }

  /**
   * SIGTERM (the worker stops taking ng commands, lets running ones answer, closes its media), then SIGKILL if it
   * has not exited after `graceMs`. Resolves with how it exited.
   */
  async stop(graceMs: number): Promise<WorkerExit> {
    if (this.running) this.#child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) this.#child.kill('SIGKILL');
    }, graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      if (this.#child.connected) this.#child.disconnect();
    }
  }
}
