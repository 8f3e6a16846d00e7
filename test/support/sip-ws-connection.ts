/**
 * The test phone's SIP transport: one WebSocket with the `sip` subprotocol (RFC 7118 §4), one SIP message per
 * text frame as JsSIP sends them (§5.1 allows binary too; JsSIP writes strings). Incoming frames, text or
 * binary, go through the project's parser; a frame that does not parse is recorded as a protocol violation and
 * dropped, as JsSIP drops it. Every message in either direction is kept in a bounded trace for assertions.
 */
import WebSocket from 'ws';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { serializeSipMessage } from '../../src/signaling/serializer.ts';
import type { SipMessage } from '../../src/signaling/message.ts';
import { TestPhoneError, withTimeout } from './phone-errors.ts';

export interface TraceEntry {
  dir: 'in' | 'out';
  /** Date.now() when sent or received. */
  at: number;
  msg: SipMessage;
  text: string;
}

export interface SipWsConnectionOptions {
  url: string;
  connectTimeoutMs?: number;
  /** Messages kept in `trace` (oldest dropped first). Default 2000. */
  traceLimit?: number;
}

export class SipWsConnection {
  readonly trace: TraceEntry[] = [];
  /** What the peer did wrong: unparsable frames, a wrong subprotocol, … Tests assert it stays empty. */
  readonly violations: string[] = [];
  onMessage: (msg: SipMessage) => void = () => {};
  onClose: (code: number, reason: string) => void = () => {};
  readonly #ws: WebSocket;
  readonly #traceLimit: number;
  #closed = false;

  private constructor(ws: WebSocket, traceLimit: number) {
    this.#ws = ws;
    this.#traceLimit = traceLimit;
    ws.on('message', (data, isBinary) => this.#receive(toBuffer(data), isBinary));
    ws.on('close', (code, reason) => {
      this.#closed = true;
      this.onClose(code, reason.toString('utf8'));
    });
    // After 'open' an error is always followed by 'close', which is where the phone reacts.
    ws.on('error', () => {});
  }

  static async connect(options: SipWsConnectionOptions): Promise<SipWsConnection> {
    const ws = new WebSocket(options.url, 'sip', { perMessageDeflate: false, handshakeTimeout: options.connectTimeoutMs ?? 5000 });
    const opened = new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (error) => reject(new TestPhoneError('PHONE_CLOSED', `WebSocket to ${options.url} failed: ${error.message}`, { cause: error })));
      ws.once('unexpected-response', (_req, res) => {
        reject(new TestPhoneError('PHONE_CLOSED', `WebSocket upgrade to ${options.url} answered HTTP ${res.statusCode}`));
      });
    });
    try {
      await withTimeout(opened, options.connectTimeoutMs ?? 5000, `WebSocket connect to ${options.url}`);
    } catch (error) {
      ws.terminate();
      throw error;
    }
    // RFC 7118 §4: the server MUST select "sip"; a client must not talk SIP on a connection that did not.
    if (ws.protocol !== 'sip') {
      ws.terminate();
      throw new TestPhoneError('PHONE_PROTOCOL', `server selected WebSocket subprotocol "${ws.protocol}", not "sip"`);
    }
    return new SipWsConnection(ws, options.traceLimit ?? 2000);
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(msg: SipMessage): void {
    if (this.#closed || this.#ws.readyState !== WebSocket.OPEN) {
      throw new TestPhoneError('PHONE_CLOSED', 'the WebSocket is closed');
    }
    const bytes = serializeSipMessage(msg);
    const text = bytes.toString('utf8');
    this.#record('out', msg, text);
    this.#ws.send(text);
  }

  /** Closes the WebSocket (1000); resolves when it is closed, forcing it after `timeoutMs`. */
  async close(timeoutMs = 1000): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    const done = new Promise<void>((resolve) => this.#ws.once('close', () => resolve()));
    this.#ws.close(1000);
    try {
      await withTimeout(done, timeoutMs, 'WebSocket close');
    } catch {
      this.#ws.terminate();
    }
  }

  /** Drops the TCP connection without a closing handshake, as a crashed browser tab would. */
  terminate(): void {
    this.#ws.terminate();
  }

  #receive(data: Buffer, isBinary: boolean): void {
    const text = data.toString('utf8');
    // RFC 7118 has no keep-alive inside frames; an empty or whitespace-only frame carries no message.
    if (text.trim().length === 0) return;
    let msg: SipMessage;
    try {
      msg = parseSipMessage(data);
    } catch (error) {
      this.violations.push(`unparsable ${isBinary ? 'binary' : 'text'} frame (${(error as Error).message}): ${text.slice(0, 120)}`);
      return;
    }
    this.#record('in', msg, text);
    this.onMessage(msg);
  }

  #record(dir: 'in' | 'out', msg: SipMessage, text: string): void {
    this.trace.push({ dir, at: Date.now(), msg, text });
    if (this.trace.length > this.#traceLimit) this.trace.splice(0, this.trace.length - this.#traceLimit);
  }
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
