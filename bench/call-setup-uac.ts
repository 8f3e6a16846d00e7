/**
 * The call-setup benchmark's trunk: a SIP/UDP UAC in the benchmark process that places calls into the gateway
 * the way a carrier does (INVITE with a plain RTP/AVP offer, ACK, BYE after a hold time), with the RFC 3261
 * timers a real UAC runs over UDP — Timer A retransmits the INVITE until a response arrives (§17.1.1.2), Timer
 * E the BYE (§17.1.2.2) — so an overloaded gateway shows up as retransmissions and failures, not as silence.
 *
 * Each call is numbered; the number rides in the From user (`+1555` + 7 digits), which the B2BUA copies into
 * the INVITE it sends to the browser, so the answering agent can tell which call it got. Timestamps are
 * performance.now() in ms, taken right before a send and on receipt.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { parseSipMessage } from '../src/signaling/parser.ts';
import { serializeSipMessage } from '../src/signaling/serializer.ts';
import { createResponseTo, type SipMessage, type SipResponse } from '../src/signaling/message.ts';
import { callId as callIdOf, contacts, cseq as cseqOf, toTag as toTagOf } from '../src/signaling/header-accessors.ts';

const T1 = 500;
const T2 = 4000;

export interface UacOptions {
  /** The gateway's SIP/UDP listener. */
  readonly target: { readonly host: string; readonly port: number };
  /** Dialled numbers (Request-URI users), used round robin. */
  readonly dids: readonly string[];
  /** Time between the 200 and our BYE. */
  readonly holdMs: number;
  /** A call with no final response this long after its INVITE counts as a timeout failure. */
  readonly finalTimeoutMs?: number;
}

export interface UacCounters {
  started: number;
  answered: number;
  /** Non-2xx final responses by status, and 'timeout'. */
  failed: Map<string, number>;
  inviteRetransmits: number;
  /** 2xx that arrived again (the gateway had not seen our ACK in time). */
  okRetransmits: number;
  byeRetransmits: number;
  byeOk: number;
  byeFailed: number;
  /** Calls the gateway hung up (a BYE towards us). */
  remoteByes: number;
  parseErrors: number;
}

interface UacCall {
  readonly seq: number;
  readonly callId: string;
  readonly fromTag: string;
  readonly did: string;
  readonly invite: Buffer;
  state: 'calling' | 'proceeding' | 'confirmed' | 'terminating' | 'done';
  toTag: string | undefined;
  remoteTarget: string | undefined;
  bye: Buffer | undefined;
  ack: Buffer | undefined;
  retransmitTimer: NodeJS.Timeout | undefined;
  interval: number;
  deadline: NodeJS.Timeout | undefined;
}

export class TrunkUac {
  readonly counters: UacCounters = {
    started: 0, answered: 0, failed: new Map(), inviteRetransmits: 0, okRetransmits: 0,
    byeRetransmits: 0, byeOk: 0, byeFailed: 0, remoteByes: 0, parseErrors: 0,
  };
  /** performance.now() at each call's first INVITE send, by call number. */
  readonly inviteSentAt: number[] = [];
  /** performance.now() at each call's first 2xx, by call number. */
  readonly okReceivedAt: number[] = [];
  readonly #socket: dgram.Socket;
  readonly #o: UacOptions;
  readonly #calls = new Map<string, UacCall>();
  readonly #local: string;
  readonly #sdp: string;
  #closed = false;

  private constructor(socket: dgram.Socket, options: UacOptions, mediaPort: number) {
    this.#socket = socket;
    this.#o = options;
    this.#local = `127.0.0.1:${socket.address().port}`;
    this.#sdp = [
      'v=0', `o=carrier ${Date.now()} 1 IN IP4 127.0.0.1`, 's=SIP Call', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=audio ${mediaPort} RTP/AVP 0 8 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=ptime:20', 'a=sendrecv', '',
    ].join('\r\n');
    socket.on('message', (data) => this.#receive(data));
  }

  /** `mediaPort`: the port our offer names (nothing is sent to it during a setup benchmark). */
  static async create(options: UacOptions, mediaPort: number): Promise<TrunkUac> {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    socket.setRecvBufferSize(4 * 1024 * 1024);
    socket.setSendBufferSize(4 * 1024 * 1024);
    return new TrunkUac(socket, options, mediaPort);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  /** Calls not finished yet (set up, held, or being torn down). */
  get active(): number {
    return this.#calls.size;
  }

  get failures(): number {
    let n = 0;
    for (const v of this.counters.failed.values()) n += v;
    return n;
  }

  startCall(seq: number): void {
    if (this.#closed) return;
    const callId = `${randomBytes(9).toString('base64url')}@bench.invalid`;
    const fromTag = randomBytes(5).toString('hex');
    const did = this.#o.dids[seq % this.#o.dids.length]!;
    const { host, port } = this.#o.target;
    const body = this.#sdp;
    const invite = Buffer.from(
      `INVITE sip:${did}@${host}:${port} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP ${this.#local};branch=z9hG4bK${randomBytes(8).toString('hex')};rport\r\n` +
        'Max-Forwards: 70\r\n' +
        `From: "Bench ${seq}" <sip:+1555${String(seq).padStart(7, '0')}@carrier.invalid>;tag=${fromTag}\r\n` +
        `To: <sip:${did}@${host}>\r\n` +
        `Call-ID: ${callId}\r\n` +
        'CSeq: 1 INVITE\r\n' +
        `Contact: <sip:carrier@${this.#local}>\r\n` +
        'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n' +
        'User-Agent: bench-trunk\r\n' +
        'Content-Type: application/sdp\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const call: UacCall = {
      seq, callId, fromTag, did, invite, state: 'calling', toTag: undefined, remoteTarget: undefined,
      bye: undefined, ack: undefined, retransmitTimer: undefined, interval: T1, deadline: undefined,
    };
    this.#calls.set(callId, call);
    this.counters.started++;
    this.inviteSentAt[seq] = performance.now();
    this.#send(invite);
    call.retransmitTimer = setTimeout(() => this.#retransmitInvite(call), T1);
    call.deadline = setTimeout(() => this.#fail(call, 'timeout'), this.#o.finalTimeoutMs ?? 8000);
  }

  #send(data: Buffer): void {
    this.#socket.send(data, this.#o.target.port, this.#o.target.host);
  }

  /** §17.1.1.2 Timer A: doubling, while no response at all has arrived (a provisional stops it). */
  #retransmitInvite(call: UacCall): void {
    if (call.state !== 'calling') return;
    this.counters.inviteRetransmits++;
    this.#send(call.invite);
    call.interval *= 2;
    call.retransmitTimer = setTimeout(() => this.#retransmitInvite(call), call.interval);
  }

  #receive(data: Buffer): void {
    let msg: SipMessage;
    try {
      msg = parseSipMessage(data);
    } catch {
      this.counters.parseErrors++;
      return;
    }
    if (msg.type === 'request') {
      // Only BYE (the gateway hanging up) and OPTIONS keepalives are expected; anything else is acknowledged.
      if (msg.method === 'ACK') return;
      if (msg.method === 'BYE') {
        this.counters.remoteByes++;
        const call = this.#calls.get(callIdOf(msg));
        if (call !== undefined) this.#finish(call);
      }
      this.#send(serializeSipMessage(createResponseTo(msg, 200)));
      return;
    }
    const call = this.#calls.get(callIdOf(msg));
    if (call === undefined) return;
    const { method } = cseqOf(msg);
    if (method === 'INVITE') this.#onInviteResponse(call, msg);
    else if (method === 'BYE' && msg.status >= 200) this.#onByeResponse(call, msg);
  }

  #onInviteResponse(call: UacCall, res: SipResponse): void {
    if (res.status < 200) {
      if (call.state === 'calling') {
        call.state = 'proceeding';
        clearTimeout(call.retransmitTimer);
      }
      return;
    }
    if (res.status < 300) {
      if (call.state === 'calling' || call.state === 'proceeding') {
        const now = performance.now();
        this.okReceivedAt[call.seq] = now;
        this.counters.answered++;
        clearTimeout(call.retransmitTimer);
        clearTimeout(call.deadline);
        call.state = 'confirmed';
        call.toTag = toTagOf(res);
        const contact = contacts(res);
        call.remoteTarget = contact === '*' || contact[0] === undefined ? `sip:${call.did}@${this.#o.target.host}` : contact[0].uri;
        call.ack = this.#inDialog('ACK', 1, call);
        this.#send(call.ack);
        call.retransmitTimer = setTimeout(() => this.#sendBye(call), this.#o.holdMs);
      } else if (call.ack !== undefined) {
        // §13.2.2.4: every retransmission of the 2xx is ACKed again.
        this.counters.okRetransmits++;
        this.#send(call.ack);
      }
      return;
    }
    // §17.1.1.3: a non-2xx final is ACKed hop by hop with the INVITE's branch.
    this.#send(this.#nonSuccessAck(call, res));
    if (call.state === 'calling' || call.state === 'proceeding') this.#fail(call, String(res.status));
  }

  #sendBye(call: UacCall): void {
    if (call.state !== 'confirmed') return;
    call.state = 'terminating';
    call.bye = this.#inDialog('BYE', 2, call);
    call.interval = T1;
    this.#send(call.bye);
    call.retransmitTimer = setTimeout(() => this.#retransmitBye(call), T1);
    call.deadline = setTimeout(() => {
      this.counters.byeFailed++;
      this.#finish(call);
    }, this.#o.finalTimeoutMs ?? 8000);
  }

  /** §17.1.2.2 Timer E: doubling up to T2. */
  #retransmitBye(call: UacCall): void {
    if (call.state !== 'terminating' || call.bye === undefined) return;
    this.counters.byeRetransmits++;
    this.#send(call.bye);
    call.interval = Math.min(call.interval * 2, T2);
    call.retransmitTimer = setTimeout(() => this.#retransmitBye(call), call.interval);
  }

  #onByeResponse(call: UacCall, res: SipResponse): void {
    if (call.state !== 'terminating') return;
    if (res.status < 300) this.counters.byeOk++;
    else this.counters.byeFailed++;
    this.#finish(call);
  }

  #fail(call: UacCall, why: string): void {
    if (call.state !== 'calling' && call.state !== 'proceeding') return;
    this.counters.failed.set(why, (this.counters.failed.get(why) ?? 0) + 1);
    this.#finish(call);
  }

  #finish(call: UacCall): void {
    call.state = 'done';
    clearTimeout(call.retransmitTimer);
    clearTimeout(call.deadline);
    this.#calls.delete(call.callId);
  }

  #inDialog(method: 'ACK' | 'BYE', seq: number, call: UacCall): Buffer {
    return Buffer.from(
      `${method} ${call.remoteTarget} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP ${this.#local};branch=z9hG4bK${randomBytes(8).toString('hex')};rport\r\n` +
        'Max-Forwards: 70\r\n' +
        `From: "Bench ${call.seq}" <sip:+1555${String(call.seq).padStart(7, '0')}@carrier.invalid>;tag=${call.fromTag}\r\n` +
        `To: <sip:${call.did}@${this.#o.target.host}>${call.toTag === undefined ? '' : `;tag=${call.toTag}`}\r\n` +
        `Call-ID: ${call.callId}\r\n` +
        `CSeq: ${seq} ${method}\r\n` +
        'Content-Length: 0\r\n\r\n',
    );
  }

  #nonSuccessAck(call: UacCall, res: SipResponse): Buffer {
    const inviteText = call.invite.toString('latin1');
    const via = /^Via: (.*)$/m.exec(inviteText)![1]!.trimEnd();
    const to = res.headers.get('To') ?? `<sip:${call.did}@${this.#o.target.host}>`;
    const { host, port } = this.#o.target;
    return Buffer.from(
      `ACK sip:${call.did}@${host}:${port} SIP/2.0\r\nVia: ${via}\r\nMax-Forwards: 70\r\n` +
        `From: "Bench ${call.seq}" <sip:+1555${String(call.seq).padStart(7, '0')}@carrier.invalid>;tag=${call.fromTag}\r\n` +
        `To: ${to}\r\nCall-ID: ${call.callId}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`,
    );
  }

  /** Waits until every call has finished (or `ms` passed). */
  async drain(ms: number): Promise<void> {
    const until = performance.now() + ms;
    while (this.#calls.size > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const call of this.#calls.values()) {
      clearTimeout(call.retransmitTimer);
      clearTimeout(call.deadline);
    }
    this.#calls.clear();
    this.#socket.close();
  }
}
