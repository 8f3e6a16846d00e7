/**
 * Raw SIP peers for loopback tests: they send bytes exactly as written (so malformed input stays malformed) and
 * parse what comes back with the project's parser.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { parseSipMessage } from '../../../src/signaling/parser.ts';
import { StreamFramer } from '../../../src/signaling/framing.ts';
import type { SipMessage } from '../../../src/signaling/message.ts';

/** Collects messages and lets a test wait for the n-th one (or check that none came within a time). */
class Inbox {
  readonly messages: SipMessage[] = [];
  readonly raw: Buffer[] = [];
  #waiters: Array<() => void> = [];

  /** Messages that did not parse (a test asserting on messages then fails on a missing one, not a crash). */
  readonly unparsable: Buffer[] = [];

  push(data: Buffer): void {
    this.raw.push(data);
    try {
      this.messages.push(parseSipMessage(data));
    } catch {
      this.unparsable.push(data);
    }
    for (const w of this.#waiters.splice(0)) w();
  }

  async next(timeoutMs = 3000): Promise<SipMessage> {
    const index = this.#taken++;
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length <= index) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message #${index + 1} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.messages[index]!;
  }

  /** Resolves true when nothing (more) arrived within `ms`. */
  async quiet(ms = 300): Promise<boolean> {
    const before = this.messages.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.messages.length === before;
  }

  #taken = 0;
}

export class UdpPeer {
  readonly inbox = new Inbox();
  readonly socket: dgram.Socket;
  readonly from: Array<{ address: string; port: number }> = [];

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (data, rinfo) => {
      this.from.push({ address: rinfo.address, port: rinfo.port });
      this.inbox.push(data);
    });
  }

  static async open(host = '127.0.0.1'): Promise<UdpPeer> {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return new UdpPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(text: string | Buffer, port: number, host = '127.0.0.1'): void {
    this.socket.send(typeof text === 'string' ? Buffer.from(text) : text, port, host);
  }

  close(): void {
    this.socket.close();
  }
}

export class TcpPeer {
  readonly inbox = new Inbox();
  readonly socket: net.Socket;
  pongs = 0;
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const framer = new StreamFramer({
      message: (data) => this.inbox.push(data),
      ping: () => {},
      error: () => socket.destroy(),
    });
    socket.on('data', (chunk: Buffer) => {
      if (chunk.toString() === '\r\n') this.pongs++;
      else framer.push(chunk);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static async open(port: number, host = '127.0.0.1'): Promise<TcpPeer> {
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new TcpPeer(socket);
  }

  get port(): number {
    return this.socket.localPort!;
  }

  send(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}

let counter = 0;

/** An OPTIONS request as a UA would send it; `via` replaces the whole Via value. */
export function options(opts: { transport?: string; host?: string; port?: number; via?: string; extra?: string; uri?: string; branch?: string; toTag?: string } = {}): string {
  const n = ++counter;
  const transport = opts.transport ?? 'UDP';
  const via = opts.via ?? `SIP/2.0/${transport} ${opts.host ?? '127.0.0.1'}:${opts.port ?? 5999};branch=${opts.branch ?? `z9hG4bK-opt-${n}-${Date.now()}`};rport`;
  return (
    `OPTIONS ${opts.uri ?? 'sip:gateway@127.0.0.1'} SIP/2.0\r\n` +
    `Via: ${via}\r\n` +
    'Max-Forwards: 70\r\n' +
    `From: <sip:tester@127.0.0.1>;tag=from-${n}\r\n` +
    `To: <sip:gateway@127.0.0.1>${opts.toTag ? `;tag=${opts.toTag}` : ''}\r\n` +
    `Call-ID: options-${n}-${Date.now()}@127.0.0.1\r\n` +
    'CSeq: 1 OPTIONS\r\n' +
    (opts.extra ?? '') +
    'Content-Length: 0\r\n\r\n'
  );
}
