/**
 * Test harness for the INVITE session layer: real SipStacks on 127.0.0.1 ephemeral ports, each with a DialogTable
 * wired into its transaction user the way the B2BUA does it, a raw WebSocket "browser", and waiting helpers that
 * work with real and with fake timers (they yield with setImmediate, which the tests never fake).
 */
import { once } from 'node:events';
import dgram from 'node:dgram';
import WebSocket from 'ws';
import { SipStack, type SipStackOptions } from '../../src/signaling/sip-stack.ts';
import { afterEach, expect, vi } from 'vitest';
import { createResponseTo, type SipRequest, type SipMessage } from '../../src/signaling/message.ts';
import type { Channel } from '../../src/signaling/transport.ts';
import type { InviteServerTransaction } from '../../src/signaling/transaction/invite-server-transaction.ts';
import type { ServerTransaction } from '../../src/signaling/transaction/transaction-layer.ts';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { DialogTable } from '../../src/sip-bridge/dialog-table.ts';
import type { ClientSessionOptions } from '../../src/sip-bridge/invite-client-session.ts';
import type { ServerSessionOptions } from '../../src/sip-bridge/invite-server-session.ts';
import type { TimerConfig } from '../../src/signaling/transaction/timers.ts';

export const SDP_A =
  'v=0\r\no=- 1001 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n';
export const SDP_B =
  'v=0\r\no=- 2002 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n';

export function hold(sdp: string, direction: 'sendonly' | 'recvonly' | 'inactive' | 'sendrecv'): string {
  return sdp.replace(/a=(sendrecv|sendonly|recvonly|inactive)/, `a=${direction}`).replace(/o=- (\d+) (\d+)/, (_m, id, v) => `o=- ${id} ${Number(v) + 1}`);
}

export type InviteHandler = (request: SipRequest, transaction: InviteServerTransaction, channel: Channel) => void;

export interface Ua {
  stack: SipStack;
  table: DialogTable;
  /** New INVITEs (no To tag) go here. */
  onInvite: InviteHandler | undefined;
  /** Runs first for every request; returning true means the test answered it. */
  intercept: ((request: SipRequest, transaction: ServerTransaction) => boolean) | undefined;
  acks: SipRequest[];
  port(protocol: 'UDP' | 'TCP' | 'WS'): number;
}

export interface UaOptions {
  timers?: Partial<TimerConfig>;
  /** Methods the transaction user claims (they make up Allow). */
  methods?: string[];
  ws?: boolean;
  userAgent?: string;
}

/** A stack whose transaction user routes through a dialog table, as the B2BUA will. */
export async function startUa(cleanup: Array<() => unknown>, options: UaOptions = {}): Promise<Ua> {
  const stackOptions: SipStackOptions = {
    listeners: [
      { protocol: 'UDP', host: '127.0.0.1', port: 0 },
      { protocol: 'TCP', host: '127.0.0.1', port: 0 },
    ],
    http: options.ws ? { host: '127.0.0.1', port: 0, wsPath: '/sip', publicDir: 'public' } : false,
    userAgent: options.userAgent ?? 'session-test',
    timers: options.timers,
  };
  const stack = new SipStack(stackOptions);
  const table = new DialogTable({ userAgent: stackOptions.userAgent });
  const ua: Ua = {
    stack,
    table,
    onInvite: undefined,
    intercept: undefined,
    acks: [],
    port: (protocol) => stack.port(protocol),
  };
  stack.setTransactionUser({
    methods: options.methods ?? ['INVITE', 'BYE', 'UPDATE', 'INFO', 'MESSAGE', 'NOTIFY', 'REFER'],
    supported: ['timer'],
    onRequest: (request, transaction, channel) => {
      if (ua.intercept?.(request, transaction)) return;
      if (table.dispatchRequest(request, transaction) !== 'out-of-dialog') return;
      if (request.method === 'INVITE' && ua.onInvite) ua.onInvite(request, transaction as InviteServerTransaction, channel);
      else transaction.respond(respond(request, 403));
    },
    onAck: (ack) => {
      ua.acks.push(ack);
      table.dispatchAck(ack);
    },
    onCancel: (cancel, cancelTx, target) => table.dispatchCancel(cancel, cancelTx, target),
    onStrayResponse: (response) => table.dispatchStrayResponse(response),
  });
  await stack.start();
  cleanup.push(() => stack.close());
  return ua;
}

function respond(request: SipRequest, status: number) {
  return createResponseTo(request, status, undefined, 'test');
}

/**
 * A test file's cleanups: each test pushes what it opened; after it, real timers and mocks come back and the
 * cleanups run, the last first. Call once per file.
 */
export function cleanupAfterEach(): Array<() => unknown> {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  return cleanup;
}

/** Fakes the protocol timers only: setImmediate stays real, so `tick` still lets loopback I/O through. */
export function fakeProtocolTimers(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
}

/** Lets every transaction timer run out (Timer D's 32 s floor included); then no transaction or dialog is left. */
export async function expectSettled(uas: Ua[]): Promise<void> {
  await vi.advanceTimersByTimeAsync(40_000);
  for (const ua of uas) {
    expect(ua.stack.transactions.counts).toEqual(NO_TRANSACTIONS);
    expect(ua.table.size).toBe(0);
  }
}

/**
 * One turn of the event loop for I/O: a short real sleep, or with fake timers a setImmediate (never faked here)
 * so that loopback traffic is delivered while simulated time stands still.
 */
export function tick(): Promise<void> {
  return new Promise<void>((resolve) => (vi.isFakeTimers() ? setImmediate(resolve) : setTimeout(resolve, 2)));
}

/** Yields to I/O until `condition` holds, for at most `ms` of real time. */
export async function until(condition: () => boolean, what = 'condition', ms = 8000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick();
  }
}

/** Resolves with the arguments of the next `event`. */
export function next<A extends unknown[]>(emitter: { once(event: string, listener: (...args: A) => void): unknown }, event: string): Promise<A> {
  return new Promise((resolve) => emitter.once(event, (...args: A) => resolve(args)));
}

/** Records every event of a session as `name` or `name:detail` (a string argument or a response's status). */
export function record(session: object, events: string[], names: string[]): void {
  const emitter = session as { on(event: string, listener: (...args: unknown[]) => void): unknown };
  for (const name of names) {
    emitter.on(name, (...args: unknown[]) => {
      const first = args[0];
      const detail = typeof first === 'string' ? `:${first}` : first && typeof first === 'object' && 'status' in first ? `:${(first as { status: number }).status}` : '';
      events.push(`${name}${detail}`);
    });
  }
}

/** A raw SIP-over-WebSocket client (RFC 7118) standing in for a browser: sends text as written, parses replies. */
export class WsBrowser {
  readonly ws: WebSocket;
  readonly messages: SipMessage[] = [];
  #taken = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      try {
        this.messages.push(parseSipMessage(Buffer.from(data)));
      } catch {
        // a test asserting on messages fails on the missing one
      }
    });
  }

  static async connect(port: number, cleanup: Array<() => unknown>): Promise<WsBrowser> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/sip`, 'sip');
    ws.on('error', () => {});
    cleanup.push(() => ws.terminate());
    await once(ws, 'open');
    return new WsBrowser(ws);
  }

  send(lines: string[], body = ''): void {
    this.ws.send(`${[...lines, `Content-Length: ${Buffer.byteLength(body)}`].join('\r\n')}\r\n\r\n${body}`);
  }

  /** The next message not taken yet that satisfies `match` (others before it are skipped). */
  async next(match: (m: SipMessage) => boolean = () => true, what = 'a message', ms = 8000): Promise<SipMessage> {
    const deadline = performance.now() + ms;
    for (;;) {
      while (this.#taken < this.messages.length) {
        const m = this.messages[this.#taken++]!;
        if (match(m)) return m;
      }
      if (performance.now() > deadline) throw new Error(`no ${what} from the gateway`);
      await tick();
    }
  }
}

export const isResponse = (status: number, method?: string) => (m: SipMessage) =>
  m.type === 'response' && m.status === status && (method === undefined || (m.headers.get('cseq') ?? '').endsWith(method));
export const isRequest = (method: string) => (m: SipMessage) => m.type === 'request' && m.method === method;


export type Protocol = 'UDP' | 'TCP';

/** An InviteClientSession on `a` calling `b` over `protocol`. */
export function clientOptions(a: Ua, b: Ua, protocol: Protocol, extra: Partial<ClientSessionOptions> = {}): ClientSessionOptions {
  const transport = protocol === 'TCP' ? ';transport=tcp' : '';
  return {
    table: a.table,
    requestUri: `sip:bob@127.0.0.1:${b.port(protocol)}${transport}`,
    from: '"Alice" <sip:alice@127.0.0.1>',
    to: '<sip:bob@127.0.0.1>',
    contact: `<sip:alice@127.0.0.1:${a.port(protocol)}${transport}>`,
    target: { protocol, host: '127.0.0.1', port: b.port(protocol) },
    sdp: SDP_A,
    ...extra,
  };
}

export function serverOptions(b: Ua, protocol: Protocol | 'WS', extra: Partial<ServerSessionOptions> = {}): ServerSessionOptions {
  const transport = protocol === 'UDP' ? '' : `;transport=${protocol.toLowerCase()}`;
  return { table: b.table, localContact: `<sip:bob@127.0.0.1:${b.port(protocol)}${transport}>`, ...extra };
}

export const NO_TRANSACTIONS = { inviteClient: 0, nonInviteClient: 0, inviteServer: 0, nonInviteServer: 0, retransmitters: 0, pendingCancels: 0, timers: 0 };

// ---- SIPp (test/support/sipp.ts) as the far end -----------------------------------------------------------

/** A UDP port that was free a moment ago (for SIPp as UAS, which must be told its port). */
export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
