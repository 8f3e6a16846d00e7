/**
 * What JsSIP 3.x puts on the wire, as constants and two builders, so the test phone's messages look like a
 * browser's (conventions copied from node_modules/jssip/lib: SIPMessage.js OutgoingRequest.toString and
 * IncomingRequest.reply, Registrator.js, RTCSession.js, Transactions.js, Constants.js):
 *
 *  - requests: `Route*`, `Via`, `Max-Forwards: 69`, `To`, `From`, `Call-ID`, `CSeq`, [credentials], the
 *    method's own headers, then `Allow`, `Supported`, `User-Agent`, `Content-Length`;
 *  - responses: `Record-Route*` (INVITE 101–200 only), `Via*`, `To` (tagged above 100), `From`, `Call-ID`, `CSeq`,
 *    the extra headers, `Allow`/`Accept` (OPTIONS, 405, 415), `Supported`, `Content-Type: application/sdp`
 *    whenever there is a body, `Content-Length`. No User-Agent in responses.
 *
 * `Allow` is the list of JsSIP 3.x before SUBSCRIBE support (3.13 adds SUBSCRIBE): the phone does not implement
 * SUBSCRIBE and must not advertise it.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { createRequest, createResponse, reasonPhrase, type SipRequest, type SipResponse } from '../../src/signaling/message.ts';
import { Headers } from '../../src/signaling/headers.ts';
import { cseq, toTag } from '../../src/signaling/header-accessors.ts';

export const ALLOW = 'INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY';
export const ACCEPT = 'application/sdp, application/dtmf-relay';
export const MAX_FORWARDS = '69';
export const DEFAULT_USER_AGENT = 'TestPhone';
/** JsSIP's session timer defaults (Constants.js SESSION_EXPIRES / MIN_SESSION_EXPIRES). */
export const SESSION_EXPIRES = 90;
export const MIN_SESSION_EXPIRES = 60;
export const REGISTER_EXPIRES = 600;
/** RFC 3261 §17.1.1.1 T1/T2 and §17.2.1 Timer H, which JsSIP's UAS core uses for 2xx retransmission and ACK wait. */
export const T1 = 500;
export const T2 = 4000;
export const TIMER_H = 64 * T1;

const BASE32 = '0123456789abcdefghijklmnopqrstuv';

/** JsSIP's Utils.createRandomToken: `size` characters of base-32 digits. */
export function randomToken(size: number): string {
  let token = '';
  for (let i = 0; i < size; i++) token += BASE32[randomInt(32)];
  return token;
}

/** Utils.newTag. */
export function newTag(): string {
  return randomToken(10);
}

/** Transactions.js: `z9hG4bK` followed by a random number below 10^7. */
export function newBranch(): string {
  return `z9hG4bK${randomInt(10_000_000)}`;
}

export function newUuid(): string {
  return randomUUID();
}

/** The Supported option tags JsSIP writes on a request (OutgoingRequest.toString, session timers enabled). */
export function requestSupported(method: string): string {
  switch (method) {
    case 'REGISTER': return 'path,gruu,outbound';
    case 'INVITE': return 'timer,ice,replaces,outbound';
    case 'UPDATE': return 'timer,ice,outbound';
    default: return 'outbound';
  }
}

/** The Supported option tags JsSIP writes on a response (IncomingRequest.reply). */
export function responseSupported(method: string, hasBody: boolean): string {
  switch (method) {
    case 'INVITE': return 'timer,ice,replaces,outbound';
    case 'UPDATE': return hasBody ? 'timer,ice,replaces,outbound' : 'timer,replaces,outbound';
    default: return 'outbound';
  }
}

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

export interface RequestSpec {
  method: string;
  uri: string;
  via: string;
  to: string;
  from: string;
  callId: string;
  cseq: number;
  /** Route values, one row each (RFC 3261 §12.2.1.1: the dialog's route set). */
  routes?: readonly string[];
  /** Headers after CSeq, in order (credentials first, then e.g. Contact, Content-Type, Session-Expires). */
  headers?: HeaderList;
  body?: string;
  userAgent?: string;
}

export function buildRequest(spec: RequestSpec): SipRequest {
  const headers = new Headers();
  for (const route of spec.routes ?? []) headers.append('Route', route);
  headers.append('Via', spec.via);
  headers.append('Max-Forwards', MAX_FORWARDS);
  headers.append('To', spec.to);
  headers.append('From', spec.from);
  headers.append('Call-ID', spec.callId);
  headers.append('CSeq', `${spec.cseq} ${spec.method}`);
  for (const [name, value] of spec.headers ?? []) headers.append(name, value);
  headers.append('Allow', ALLOW);
  headers.append('Supported', requestSupported(spec.method));
  headers.append('User-Agent', spec.userAgent ?? DEFAULT_USER_AGENT);
  return createRequest(spec.method, spec.uri, headers, spec.body ?? '');
}

export interface ReplySpec {
  reason?: string;
  /** The To tag for a response above 100 when the request has none (a new dialog). */
  toTag?: string;
  headers?: HeaderList;
  /** An SDP body (JsSIP labels every response body application/sdp). */
  body?: string;
}

export function buildReply(request: SipRequest, status: number, spec: ReplySpec = {}): SipResponse {
  const headers = new Headers();
  if (request.method === 'INVITE' && status > 100 && status <= 200) {
    for (const field of request.headers) if (field.key === 'record-route') headers.append('Record-Route', field.value);
  }
  for (const field of request.headers) if (field.key === 'via') headers.append('Via', field.value);
  const to = request.headers.get('to') ?? '';
  headers.append('To', status > 100 && toTag(request) === undefined ? `${to};tag=${spec.toTag ?? newTag()}` : to);
  headers.append('From', request.headers.get('from') ?? '');
  headers.append('Call-ID', request.headers.get('call-id') ?? '');
  headers.append('CSeq', `${cseq(request).seq} ${request.method}`);
  for (const [name, value] of spec.headers ?? []) headers.append(name, value);
  if (request.method === 'OPTIONS') {
    headers.append('Allow', ALLOW);
    headers.append('Accept', ACCEPT);
  } else if (status === 405) {
    headers.append('Allow', ALLOW);
  } else if (status === 415) {
    headers.append('Accept', ACCEPT);
  }
  const body = spec.body ?? '';
  headers.append('Supported', responseSupported(request.method, body.length > 0));
  if (body.length > 0) headers.append('Content-Type', 'application/sdp');
  return createResponse(status, spec.reason ?? reasonPhrase(status), headers, body);
}

/** `Signal=5\r\nDuration=160` (RTCSession/DTMF.js; no CRLF after the last line). */
export function dtmfRelayBody(tone: string, durationMs: number): string {
  return `Signal=${tone}\r\nDuration=${durationMs}`;
}

/** The tone and duration of an application/dtmf-relay body, as JsSIP's DTMF.init_incoming reads them. */
export function parseDtmfRelay(body: string): { tone: string; duration: number | undefined } | undefined {
  const signal = /^Signal\s*?=\s*?([0-9A-D#*])/im.exec(body);
  if (!signal) return undefined;
  const duration = /^Duration\s*=\s*(\d+)/im.exec(body);
  return { tone: signal[1]!.toUpperCase(), duration: duration ? Number(duration[1]) : undefined };
}
