/**
 * Channels for transaction tests: real implementations of the `Channel` interface that keep what was sent
 * (RecordingChannel) or carry it to another transaction layer after a network delay, optionally losing
 * messages (LinkedChannel). Plus builders for real SIP messages.
 */
import type { Channel, Endpoint, TransportProtocol } from '../../../src/signaling/transport.ts';
import { TransportError } from '../../../src/signaling/transport.ts';
import { createRequest, createResponseTo, type SipMessage, type SipRequest, type SipResponse } from '../../../src/signaling/message.ts';
import type { TransactionLayer } from '../../../src/signaling/transaction/transaction-layer.ts';

export class RecordingChannel implements Channel {
  readonly protocol: TransportProtocol;
  readonly reliable: boolean;
  readonly local: Endpoint = { address: '127.0.0.1', port: 5060 };
  readonly remote: Endpoint = { address: '127.0.0.1', port: 5070 };
  readonly flowId: string;
  readonly sent: SipMessage[] = [];
  /** `Date.now()` at each send (fake timers make this the simulated clock). */
  readonly sentAt: number[] = [];
  /** When set, every send fails: synchronously (inside send) or on a later microtask. */
  failure: { mode: 'sync' | 'async'; error: TransportError } | undefined;

  constructor(reliable: boolean) {
    this.reliable = reliable;
    this.protocol = reliable ? 'TCP' : 'UDP';
    this.flowId = `${this.protocol.toLowerCase()}:127.0.0.1:5060-127.0.0.1:5070`;
  }

  via(branch: string): string {
    return `SIP/2.0/${this.protocol} 127.0.0.1:5060;branch=${branch};rport`;
  }

  send(message: SipMessage, onError?: (error: TransportError) => void): void {
    this.sent.push(message);
    this.sentAt.push(Date.now());
    const failure = this.failure;
    if (failure === undefined || onError === undefined) return;
    if (failure.mode === 'sync') onError(failure.error);
    else queueMicrotask(() => onError(failure.error));
  }

  failWith(mode: 'sync' | 'async', message = 'connection reset'): TransportError {
    const error = new TransportError(message, { code: 'SIP_TRANSPORT_RESET' });
    this.failure = { mode, error };
    return error;
  }

  /** Times (ms since `since`) at which messages satisfying `which` were sent. */
  timesOf(which: (m: SipMessage) => boolean, since: number): number[] {
    return this.sent.flatMap((m, i) => (which(m) ? [this.sentAt[i]! - since] : []));
  }

  requests(method?: string): SipRequest[] {
    return this.sent.filter((m): m is SipRequest => m.type === 'request' && (method === undefined || m.method === method));
  }

  responses(status?: number): SipResponse[] {
    return this.sent.filter((m): m is SipResponse => m.type === 'response' && (status === undefined || m.status === status));
  }
}

/**
 * One direction of a simulated network between two transaction layers: `send` delivers to `peer` after
 * `delayMs` (a timer, so fake timers drive it), dropping messages for which `drop` says so.
 */
export class LinkedChannel extends RecordingChannel {
  peer: { layer: TransactionLayer; channel: Channel } | undefined;
  readonly delayMs: number;
  drop: (message: SipMessage, index: number) => boolean = () => false;

  constructor(reliable: boolean, delayMs = 10) {
    super(reliable);
    this.delayMs = delayMs;
  }

  override send(message: SipMessage, onError?: (error: TransportError) => void): void {
    const index = this.sent.length;
    super.send(message, onError);
    if (this.drop(message, index) || this.peer === undefined) return;
    const { layer, channel } = this.peer;
    setTimeout(() => {
      if (message.type === 'request') layer.receiveRequest(message, channel);
      else layer.receiveResponse(message);
    }, this.delayMs);
  }
}

export function link(a: TransactionLayer, b: TransactionLayer, reliable: boolean): { aToB: LinkedChannel; bToA: LinkedChannel } {
  const aToB = new LinkedChannel(reliable);
  const bToA = new LinkedChannel(reliable);
  aToB.peer = { layer: b, channel: bToA };
  bToA.peer = { layer: a, channel: aToB };
  return { aToB, bToA };
}

let seq = 0;

/** A request as a UAC core would hand it to the transaction layer (no Via: the layer adds it). */
export function buildRequest(method: string, options: { cseq?: number; via?: string; toTag?: string; callId?: string } = {}): SipRequest {
  seq++;
  const headers: [string, string][] = [];
  if (options.via !== undefined) headers.push(['Via', options.via]);
  headers.push(
    ['Max-Forwards', '70'],
    ['Route', '<sip:proxy1.example.com;lr>'],
    ['Route', '<sip:proxy2.example.com;lr>'],
    ['From', '"Alice" <sip:alice@example.com>;tag=fromtag1'],
    ['To', options.toTag === undefined ? '<sip:bob@example.com>' : `<sip:bob@example.com>;tag=${options.toTag}`],
    ['Call-ID', options.callId ?? `call-${seq}@127.0.0.1`],
    ['CSeq', `${options.cseq ?? 1} ${method}`],
    ['Contact', '<sip:alice@127.0.0.1:5060>'],
  );
  return createRequest(method, 'sip:bob@example.com', headers, method === 'INVITE' ? 'v=0\r\n' : '');
}

/** A response as the far end builds it (§8.2.6.2), with `toTag` on finals. */
export function respondTo(request: SipRequest, status: number, toTag?: string): SipResponse {
  return createResponseTo(request, status, undefined, toTag);
}

export const T1 = 500;
export const T2 = 4000;
export const T4 = 5000;
