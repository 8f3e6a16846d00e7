/**
 * Request/reply over the IPC channel of a forked child: the load benchmark's driver calls methods of its worker
 * and echo-trunk processes (`child.call('addCalls', …)`) and awaits their results. Control traffic only (a few
 * messages per ramp step); nothing on the packet path goes through here.
 */
import { fork, type ChildProcess } from 'node:child_process';

interface Request {
  readonly id: number;
  readonly method: string;
  readonly args: unknown[];
}

interface Reply {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: string;
}

export type Handlers = Record<string, (...args: never[]) => unknown>;

/** In the child: answers the driver's calls with `handlers`; exits when the driver goes away. */
export function serve(handlers: Handlers): void {
  process.on('message', (m: Request) => {
    const handler = handlers[m.method] as ((...args: unknown[]) => unknown) | undefined;
    Promise.resolve()
      .then(() => {
        if (handler === undefined) throw new Error(`unknown method ${m.method}`);
        return handler(...m.args);
      })
      .then(
        (result) => process.send?.({ id: m.id, result } satisfies Reply),
        (err: unknown) => process.send?.({ id: m.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Reply),
      );
  });
  process.on('disconnect', () => process.exit(0));
}

/** In the driver: one forked child and its pending calls. */
export class ChildHandle {
  readonly name: string;
  readonly process: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;

  constructor(name: string, file: string, args: readonly string[] = [], execArgv: readonly string[] = []) {
    this.name = name;
    // Signalling-rate log lines from src/ code the children import (the light client's DTLS) are not wanted.
    const env = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
    this.process = fork(file, [...args], { execArgv: [...execArgv], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.process.on('message', (m: Reply) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`${name}: ${m.error}`));
      else p.resolve(m.result);
    });
    this.process.on('exit', (code, signal) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${name} exited (${code ?? signal})`));
      this.#pending.clear();
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return Promise.reject(new Error(`${this.name} is not running`));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.process.send({ id, method, args } satisfies Request);
    });
  }

  /** Disconnects (the child exits on it), then SIGKILL after `ms` if it is still there. */
  async exit(ms = 5000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((r) => this.process.once('exit', r));
    if (this.process.connected) this.process.disconnect();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  }
}
