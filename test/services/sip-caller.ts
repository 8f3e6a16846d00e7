/**
 * A bare SIP caller over UDP for the services peer tests: messages built with the project's createRequest and
 * serializer, responses parsed with its parser, and every transaction rule (ACK, retransmission) left to the test
 * so each one says exactly what goes on the wire. Plus an RTP socket helper.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { createRequest, createResponseTo, type SipMessage, type SipRequest, type SipResponse } from '../../src/signaling/message.ts';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { serializeSipMessage } from '../../src/signaling/serializer.ts';

const rand = (): string => randomBytes(6).toString('hex');

export interface Dialog {
  readonly callId: string;
  readonly fromTag: string;
  readonly user: string;
  toTag: string | undefined;
  cseq: number;
  readonly invite: SipRequest;
}

/** Waits for messages matching a predicate; unmatched ones stay queued for later waits. */
class Queue<T> {
  readonly items: T[] = [];
  readonly #waiters: Array<() => void> = [];

  push(item: T): void {
    this.items.push(item);
    for (const w of this.#waiters.splice(0)) w();
  }

  async take(match: (item: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.items.findIndex(match);
      if (i !== -1) return this.items.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

export class SipCaller {
  readonly socket: dgram.Socket;
  readonly inbox = new Queue<SipMessage>();
  readonly #peerPort: number;

  private constructor(socket: dgram.Socket, peerPort: number) {
    this.socket = socket;
    this.#peerPort = peerPort;
    socket.on('message', (data) => {
      try {
        this.inbox.push(parseSipMessage(data));
      } catch {
        // a test that expected it fails on the missing message
      }
    });
  }

  static async open(peerPort: number): Promise<SipCaller> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new SipCaller(socket, peerPort);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(message: SipMessage): void {
    this.socket.send(serializeSipMessage(message), this.#peerPort, '127.0.0.1');
  }

  via(branch = `z9hG4bK${rand()}`): string {
    return `SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch};rport`;
  }

  /** Sends an INVITE to `user` (Request-URI user) with `sdp` (none when undefined). */
  invite(user: string, sdp: string | undefined, extra: Array<[string, string]> = []): Dialog {
    const callId = `${rand()}@services-test`;
    const fromTag = rand();
    const headers: Array<[string, string]> = [
      ['Via', this.via()],
      ['Max-Forwards', '70'],
      ['From', `"Tester" <sip:tester@127.0.0.1>;tag=${fromTag}`],
      ['To', `<sip:${user}@127.0.0.1:${this.#peerPort}>`],
      ['Call-ID', callId],
      ['CSeq', '1 INVITE'],
      ['Contact', `<sip:tester@127.0.0.1:${this.port}>`],
      ...extra,
    ];
    if (sdp !== undefined && !extra.some(([name]) => name.toLowerCase() === 'content-type')) headers.push(['Content-Type', 'application/sdp']);
    const invite = createRequest('INVITE', `sip:${user}@127.0.0.1:${this.#peerPort}`, headers, sdp ?? '');
    this.send(invite);
    return { callId, fromTag, user, toTag: undefined, cseq: 1, invite };
  }

  /** An OPTIONS outside any dialog. */
  options(user: string): Dialog {
    const callId = `${rand()}@services-test`;
    const fromTag = rand();
    const request = createRequest('OPTIONS', `sip:${user}@127.0.0.1:${this.#peerPort}`, [
      ['Via', this.via()],
      ['Max-Forwards', '70'],
      ['From', `<sip:tester@127.0.0.1>;tag=${fromTag}`],
      ['To', `<sip:${user}@127.0.0.1:${this.#peerPort}>`],
      ['Call-ID', callId],
      ['CSeq', '1 OPTIONS'],
    ]);
    this.send(request);
    return { callId, fromTag, user, toTag: undefined, cseq: 1, invite: request };
  }

  /** The next response to `method` (CSeq) of the call, optionally with a given status. */
  response(dialog: Dialog, method: string, status?: number | ((s: number) => boolean), timeoutMs = 3000): Promise<SipResponse> {
    const ok = typeof status === 'function' ? status : (s: number) => status === undefined || s === status;
    return this.inbox.take(
      (m): boolean =>
        m.type === 'response' && m.headers.get('call-id') === dialog.callId && m.headers.get('cseq')!.endsWith(` ${method}`) && ok(m.status),
      timeoutMs,
      `${String(status ?? '')} response to ${method}`,
    ) as Promise<SipResponse>;
  }

  /** A final response to the INVITE (skipping provisionals); remembers the To tag. */
  async final(dialog: Dialog, timeoutMs = 3000): Promise<SipResponse> {
    const response = await this.response(dialog, 'INVITE', (s) => s >= 200, timeoutMs);
    dialog.toTag = /;\s*tag=([^;>\s]+)/.exec(response.headers.get('to') ?? '')?.[1];
    return response;
  }

  /** A request from the peer in this call (BYE). */
  request(dialog: Dialog, method: string, timeoutMs = 3000): Promise<SipRequest> {
    return this.inbox.take(
      (m): boolean => m.type === 'request' && m.method === method && m.headers.get('call-id') === dialog.callId,
      timeoutMs,
      `${method} from the peer`,
    ) as Promise<SipRequest>;
  }

  /** §13.2.2.4: the ACK for a 2xx is a new transaction-less request with the INVITE's CSeq number. */
  ack(dialog: Dialog, cseq = dialog.cseq, sdp?: string): void {
    this.send(this.#inDialog(dialog, 'ACK', cseq, sdp));
  }

  /** §17.1.1.3: the ACK for a non-2xx final response is part of the INVITE transaction: same Via branch. */
  ackFailure(dialog: Dialog, response: SipResponse): void {
    const invite = dialog.invite;
    this.send(
      createRequest('ACK', invite.uri, [
        ['Via', invite.headers.get('via')!],
        ['Max-Forwards', '70'],
        ['From', invite.headers.get('from')!],
        ['To', response.headers.get('to')!],
        ['Call-ID', dialog.callId],
        ['CSeq', `${dialog.cseq} ACK`],
      ]),
    );
  }

  /** A new in-dialog request (BYE, re-INVITE, OPTIONS) with the next CSeq. */
  inDialog(dialog: Dialog, method: string, sdp?: string): SipRequest {
    dialog.cseq++;
    const request = this.#inDialog(dialog, method, dialog.cseq, sdp);
    this.send(request);
    return request;
  }

  cancel(dialog: Dialog): void {
    const invite = dialog.invite;
    const cancel = createRequest('CANCEL', invite.uri, [
      ['Via', invite.headers.get('via')!],
      ['Max-Forwards', '70'],
      ['From', invite.headers.get('from')!],
      ['To', invite.headers.get('to')!],
      ['Call-ID', dialog.callId],
      ['CSeq', '1 CANCEL'],
    ]);
    this.send(cancel);
  }

  /** 200 to a request from the peer. */
  ok(request: SipRequest): void {
    this.send(createResponseTo(request, 200));
  }

  close(): void {
    this.socket.close();
  }

  #inDialog(dialog: Dialog, method: string, cseq: number, sdp?: string): SipRequest {
    const headers: Array<[string, string]> = [
      ['Via', this.via()],
      ['Max-Forwards', '70'],
      ['From', `"Tester" <sip:tester@127.0.0.1>;tag=${dialog.fromTag}`],
      ['To', `<sip:${dialog.user}@127.0.0.1:${this.#peerPort}>;tag=${dialog.toTag}`],
      ['Call-ID', dialog.callId],
      ['CSeq', `${cseq} ${method}`],
      ['Contact', `<sip:tester@127.0.0.1:${this.port}>`],
    ];
    if (sdp !== undefined) headers.push(['Content-Type', 'application/sdp']);
    return createRequest(method, `sip:${dialog.user}@127.0.0.1:${this.#peerPort}`, headers, sdp ?? '');
  }
}

/** An SDP offer as a plain SIP phone writes it. */
export function offerSdp(opts: { port: number; codecs?: string; extra?: string[]; direction?: string; address?: string }): string {
  const address = opts.address ?? '127.0.0.1';
  const codecs = opts.codecs ?? '0 8 101';
  const lines = [
    'v=0',
    'o=tester 123456 654321 IN IP4 127.0.0.1',
    's=test',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${opts.port} RTP/AVP ${codecs}`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    ...(opts.extra ?? []),
    `a=${opts.direction ?? 'sendrecv'}`,
  ];
  return lines.join('\r\n') + '\r\n';
}

/** A UDP socket that collects datagrams with their arrival time and source. */
export class RtpSocket {
  readonly socket: dgram.Socket;
  readonly packets: Array<{ data: Buffer; at: number; port: number }> = [];
  #waiters: Array<() => void> = [];

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (data, rinfo) => {
      this.packets.push({ data, at: performance.now(), port: rinfo.port });
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async open(): Promise<RtpSocket> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RtpSocket(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(data, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  async waitFor(count: number, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.packets.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.packets.length} of ${count} RTP packets within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** The audio m-line port and c= address of an SDP answer. */
export function answerMedia(sdp: string): { port: number; address: string; formats: string[]; direction: string | undefined } {
  const m = /^m=audio (\d+) \S+ ([\d ]+)$/m.exec(sdp);
  const c = /^c=IN IP4 (\S+)$/m.exec(sdp);
  const d = /^a=(sendrecv|sendonly|recvonly|inactive)$/m.exec(sdp);
  if (!m || !c) throw new Error(`no audio in answer:\n${sdp}`);
  return { port: Number(m[1]), address: c[1]!, formats: m[2]!.trim().split(' '), direction: d?.[1] };
}
