/**
 * The far end of the load benchmark, in its own process so the gateway process is only the gateway: a SIP/UDP
 * trunk (a minimal UAS: every INVITE answered at once with 200 and a PCMU answer, the 2xx retransmitted until
 * the ACK per RFC 3261 §13.3.1.4, BYE/CANCEL/OPTIONS/UPDATE answered 200) and an RTP echo, one UDP socket per
 * call as a carrier's media gateway has, each packet returned to its source (symmetric RTP).
 *
 * The echo moves the packet index into the clear header: the light client writes its packet index into the
 * first 4 payload octets, which the browser side only has encrypted; setting CC = 1 turns those octets into a
 * CSRC (RFC 3550 §5.1), which the gateway relays untouched and the SRTP layer authenticates but does not
 * encrypt, so the load generator can read which packet came back without the client's SRTP keys. Length stays
 * 172 octets. The same echo serves the baseline "probe" socket the generator uses to time the path without the
 * gateway.
 *
 * Driven over IPC (bench/load/ipc.ts): start, counters, takeUasTimes.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { serializeSipMessage } from '../../src/signaling/serializer.ts';
import { createResponseTo, type SipRequest } from '../../src/signaling/message.ts';
import { callId as callIdOf, toTag as toTagOf } from '../../src/signaling/header-accessors.ts';
import { serve } from './ipc.ts';

const HOST = '127.0.0.1';
const T1 = 500;
const T2 = 4000;
const TIMER_H = 64 * T1;
/** Sockets bound ahead, so answering an INVITE never waits for a bind. */
const SPARE_SOCKETS = 64;

export interface TrunkCounters {
  invites: number;
  answered: number;
  rejected: number;
  inviteRetransmits: number;
  okRetransmits: number;
  acks: number;
  byes: number;
  reInvites: number;
  otherRequests: number;
  parseErrors: number;
  activeCalls: number;
  /** RTP packets received from the gateway on call sockets / echoed back. */
  rtpIn: number;
  rtpOut: number;
  /** RTCP or other non-RTP datagrams on call sockets (not echoed). */
  otherIn: number;
  probeIn: number;
}

interface TrunkCall {
  readonly callId: string;
  readonly number: string;
  readonly socket: dgram.Socket;
  readonly ok: Buffer;
  readonly to: { address: string; port: number };
  acked: boolean;
  interval: number;
  timer: NodeJS.Timeout | undefined;
  readonly answeredAt: number;
}

const counters: TrunkCounters = {
  invites: 0, answered: 0, rejected: 0, inviteRetransmits: 0, okRetransmits: 0, acks: 0, byes: 0, reInvites: 0,
  otherRequests: 0, parseErrors: 0, activeCalls: 0, rtpIn: 0, rtpOut: 0, otherIn: 0, probeIn: 0,
};
const calls = new Map<string, TrunkCall>();
const ended = new Set<string>();
const spare: dgram.Socket[] = [];
/** [call number, µs from the INVITE's arrival to the 200 leaving]: subtracted from the caller's setup time. */
let uasTimes: [number, number][] = [];
let sip: dgram.Socket;
let sipPort = 0;
let refilling = false;

/** The echo of one datagram, in the received buffer (Node gives each message its own). */
function echo(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): boolean {
  const b0 = msg[0]!;
  const b1 = msg[1]!;
  // RTP version 2 and not RTCP (packet types 200–204 share the port under rtcp-mux, RFC 5761 §4).
  if ((b0 & 0xc0) !== 0x80 || (b1 >= 200 && b1 <= 204) || msg.length < 16) return false;
  if ((b0 & 0x0f) === 0) msg[0] = b0 | 1;
  socket.send(msg, rinfo.port, rinfo.address);
  return true;
}

async function bindSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, HOST);
  await once(s, 'listening');
  s.setRecvBufferSize(256 * 1024);
  s.setSendBufferSize(256 * 1024);
  s.on('message', (msg, rinfo) => {
    counters.rtpIn++;
    if (echo(s, msg, rinfo)) counters.rtpOut++;
    else counters.otherIn++;
  });
  return s;
}

function refill(): void {
  if (refilling) return;
  refilling = true;
  void (async () => {
    try {
      while (spare.length < SPARE_SOCKETS) spare.push(await bindSocket());
    } finally {
      refilling = false;
    }
  })();
}

function answerSdp(port: number): string {
  return [
    'v=0', `o=echo-trunk ${Date.now()} 1 IN IP4 ${HOST}`, 's=-', `c=IN IP4 ${HOST}`, 't=0 0',
    `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=sendrecv', '',
  ].join('\r\n');
}

function send(data: Buffer, to: { address: string; port: number }): void {
  sip.send(data, to.port, to.address);
}

function reply(request: SipRequest, status: number, to: { address: string; port: number }): void {
  send(serializeSipMessage(createResponseTo(request, status)), to);
}

/** The number dialled: the Request-URI user (the gateway's outbound route passes it unchanged). */
function dialled(uri: string): string {
  return /^sips?:([^@;?]+)@/i.exec(uri)?.[1] ?? '';
}

function onInvite(request: SipRequest, from: dgram.RemoteInfo, arrivedAt: number): void {
  const id = callIdOf(request);
  const existing = calls.get(id);
  if (existing !== undefined) {
    if (toTagOf(request) !== undefined) {
      // A re-INVITE (the gateway's session refresh or a new offer): the same media, answered again.
      counters.reInvites++;
      const ok = createResponseTo(request, 200);
      ok.headers.append('Contact', `<sip:echo@${HOST}:${sipPort}>`);
      ok.headers.append('Content-Type', 'application/sdp');
      ok.body = Buffer.from(answerSdp(existing.socket.address().port));
      send(serializeSipMessage(ok), from);
      return;
    }
    // §17.2.1: a retransmission of the INVITE we answered gets the 2xx again.
    counters.inviteRetransmits++;
    send(existing.ok, existing.to);
    return;
  }
  if (ended.has(id)) return;
  counters.invites++;
  const offer = request.body.toString('utf8');
  if (!/^m=audio \d+ RTP\/AVP(?: \d+)* 0(?: |\r|\n|$)/m.test(offer)) {
    counters.rejected++;
    reply(request, 488, from);
    return;
  }
  const socket = spare.pop();
  refill();
  if (socket === undefined) {
    // No spare socket yet: 503 with Retry-After would be a carrier's answer; count it as a failed setup.
    counters.rejected++;
    reply(request, 503, from);
    return;
  }
  const ok = createResponseTo(request, 200, 'OK', randomBytes(6).toString('hex'));
  ok.headers.append('Contact', `<sip:echo@${HOST}:${sipPort}>`);
  ok.headers.append('Content-Type', 'application/sdp');
  ok.body = Buffer.from(answerSdp(socket.address().port));
  const bytes = serializeSipMessage(ok);
  const to = { address: from.address, port: from.port };
  const call: TrunkCall = { callId: id, number: dialled(request.uri), socket, ok: bytes, to, acked: false, interval: T1, timer: undefined, answeredAt: performance.now() };
  calls.set(id, call);
  counters.activeCalls = calls.size;
  send(bytes, to);
  counters.answered++;
  const n = Number(call.number);
  if (Number.isFinite(n)) uasTimes.push([n, Math.round((performance.now() - arrivedAt) * 1000)]);
  call.timer = setTimeout(() => retransmitOk(call), T1);
}

/** §13.3.1.4: the 2xx is retransmitted at T1, 2·T1, … capped at T2, until the ACK, for 64·T1. */
function retransmitOk(call: TrunkCall): void {
  if (call.acked || !calls.has(call.callId)) return;
  if (performance.now() - call.answeredAt > TIMER_H) return;
  counters.okRetransmits++;
  send(call.ok, call.to);
  call.interval = Math.min(call.interval * 2, T2);
  call.timer = setTimeout(() => retransmitOk(call), call.interval);
}

function endCall(call: TrunkCall): void {
  clearTimeout(call.timer);
  call.socket.close();
  calls.delete(call.callId);
  ended.add(call.callId);
  if (ended.size > 20_000) ended.clear();
  counters.activeCalls = calls.size;
}

function onSip(data: Buffer, from: dgram.RemoteInfo): void {
  const arrivedAt = performance.now();
  let msg;
  try {
    msg = parseSipMessage(data);
  } catch {
    counters.parseErrors++;
    return;
  }
  if (msg.type !== 'request') return; // we send no requests
  const call = calls.get(callIdOf(msg));
  switch (msg.method) {
    case 'INVITE':
      onInvite(msg, from, arrivedAt);
      return;
    case 'ACK':
      counters.acks++;
      if (call !== undefined) {
        call.acked = true;
        clearTimeout(call.timer);
      }
      return;
    case 'BYE':
      counters.byes++;
      if (call !== undefined) endCall(call);
      reply(msg, call !== undefined || ended.has(callIdOf(msg)) ? 200 : 481, from);
      return;
    default:
      counters.otherRequests++;
      reply(msg, 200, from);
  }
}

async function start(): Promise<{ sipPort: number; probePort: number }> {
  sip = dgram.createSocket('udp4');
  sip.bind(0, HOST);
  await once(sip, 'listening');
  sip.setRecvBufferSize(4 * 1024 * 1024);
  sip.setSendBufferSize(4 * 1024 * 1024);
  sipPort = sip.address().port;
  sip.on('message', onSip);
  const probe = await bindSocket();
  probe.removeAllListeners('message');
  probe.setRecvBufferSize(1024 * 1024);
  probe.on('message', (msg, rinfo) => {
    counters.probeIn++;
    echo(probe, msg, rinfo);
  });
  for (let i = 0; i < SPARE_SOCKETS; i++) spare.push(await bindSocket());
  return { sipPort, probePort: probe.address().port };
}

serve({
  start,
  counters: () => ({ ...counters }),
  takeUasTimes: () => {
    const out = uasTimes;
    uasTimes = [];
    return out;
  },
});
