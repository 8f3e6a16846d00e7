/**
 * ng to a supervised media worker over its IPC channel (an NgTransport for NgClient / RemoteMediaNode): the same
 * cookie-framed messages as over UDP, with no port a local user could send commands to. The channel delivers in
 * order or not at all, so the client never retransmits on it.
 */
import type { NgTransport } from '../ng/ng-client.ts';
import type { WorkerProcess } from './worker-process.ts';

export class WorkerNgTransport implements NgTransport {
  readonly label: string;
  readonly reliable = true;
  readonly #process: WorkerProcess;
  #handler: ((message: Buffer) => void) | undefined;

  constructor(process: WorkerProcess) {
    this.#process = process;
    this.label = `ipc:${process.name} (pid ${process.pid})`;
  }

  send(message: Buffer): void {
    this.#process.sendNg(message);
  }

  receive(handler: (message: Buffer) => void): void {
    if (this.#handler !== undefined) this.#process.off('ng', this.#handler);
    this.#handler = handler;
    this.#process.on('ng', handler);
  }

  async close(): Promise<void> {
    if (this.#handler !== undefined) this.#process.off('ng', this.#handler);
    this.#handler = undefined;
  }
}
