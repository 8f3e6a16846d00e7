/**
 * One SIP dialog of the test phone (RFC 3261 §12): its ID, the URIs, the remote target and route set, and both
 * CSeq spaces. Built from the request and response that create it (§12.1.1 UAS, §12.1.2 UAC); builds the
 * requests sent inside it (§12.2.1.1) with JsSIP's header conventions (Dialog.js _createRequest: URIs only in
 * From/To, no display names).
 */
import type { SipRequest, SipResponse } from '../../src/signaling/message.ts';
import { callId, cseq, contacts, from, fromTag, recordRoutes, to, toTag } from '../../src/signaling/header-accessors.ts';
import { serializeNameAddr } from '../../src/signaling/name-addr.ts';
import { buildRequest, type HeaderList } from './jssip-wire.ts';
import { TestPhoneError } from './phone-errors.ts';

export interface InDialogSpec {
  via: string;
  /** For ACK and CANCEL the INVITE's number; otherwise the next local one is taken. */
  cseq?: number;
  headers?: HeaderList;
  body?: string;
  userAgent?: string;
}

export class SipDialog {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly localUri: string;
  readonly remoteUri: string;
  remoteTarget: string;
  routeSet: string[];
  /** Undefined until the first request we send (a UAS dialog starts without one, §12.1.1). */
  localSeq: number | undefined;
  remoteSeq: number | undefined;
  state: 'early' | 'confirmed';

  private constructor(init: {
    callId: string; localTag: string; remoteTag: string; localUri: string; remoteUri: string; remoteTarget: string;
    routeSet: string[]; localSeq: number | undefined; remoteSeq: number | undefined; state: 'early' | 'confirmed';
  }) {
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localUri = init.localUri;
    this.remoteUri = init.remoteUri;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.state = init.state;
  }

  /** §12.1.2: the route set is the Record-Route of the response, reversed; the remote target its Contact. */
  static asUac(request: SipRequest, response: SipResponse): SipDialog {
    const remoteTag = toTag(response);
    if (remoteTag === undefined) throw new TestPhoneError('PHONE_PROTOCOL', `${response.status} creates a dialog but has no To tag`);
    return new SipDialog({
      callId: callId(request),
      localTag: fromTag(request) ?? '',
      remoteTag,
      localUri: from(request).uri,
      remoteUri: to(request).uri,
      remoteTarget: contactUri(response),
      routeSet: recordRoutes(response).map(serializeNameAddr).reverse(),
      localSeq: cseq(request).seq,
      remoteSeq: undefined,
      state: response.status < 200 ? 'early' : 'confirmed',
    });
  }

  /** §12.1.1: the route set is the Record-Route of the request, in order; the remote target its Contact. */
  static asUas(request: SipRequest, localTag: string): SipDialog {
    return new SipDialog({
      callId: callId(request),
      localTag,
      remoteTag: fromTag(request) ?? '',
      localUri: to(request).uri,
      remoteUri: from(request).uri,
      remoteTarget: contactUri(request),
      routeSet: recordRoutes(request).map(serializeNameAddr),
      localSeq: undefined,
      remoteSeq: cseq(request).seq,
      state: 'early',
    });
  }

  /** §13.2.2.4: a 2xx confirms the dialog and its Record-Route (reversed) replaces the early route set. */
  confirm(response?: SipResponse): void {
    this.state = 'confirmed';
    if (response) {
      this.routeSet = recordRoutes(response).map(serializeNameAddr).reverse();
      this.remoteTarget = contactUri(response);
    }
  }

  nextCseq(): number {
    // Dialog.js: a UAS dialog starts its local sequence at a random number below 10000.
    this.localSeq = (this.localSeq ?? Math.floor(Math.random() * 10000)) + 1;
    return this.localSeq;
  }

  matches(msg: SipRequest): boolean {
    return callId(msg) === this.callId && toTag(msg) === this.localTag && fromTag(msg) === this.remoteTag;
  }

  /**
   * §12.2.2: a request whose CSeq is lower than the last one is out of order (500), except the ACK for a 2xx
   * (it carries its INVITE's number). Returns false when the request must be refused.
   */
  acceptRemoteCseq(request: SipRequest): boolean {
    const seq = cseq(request).seq;
    if (this.remoteSeq === undefined || seq > this.remoteSeq) {
      this.remoteSeq = seq;
      return true;
    }
    return seq === this.remoteSeq || request.method === 'ACK';
  }

  /** §12.2.1.1: Request-URI = remote target, Route = route set, tags from the dialog ID. */
  request(method: string, spec: InDialogSpec): SipRequest {
    return buildRequest({
      method,
      uri: this.remoteTarget,
      via: spec.via,
      to: `<${this.remoteUri}>;tag=${this.remoteTag}`,
      from: `<${this.localUri}>;tag=${this.localTag}`,
      callId: this.callId,
      cseq: spec.cseq ?? this.nextCseq(),
      routes: this.routeSet,
      headers: spec.headers ?? [],
      ...(spec.body === undefined ? {} : { body: spec.body }),
      ...(spec.userAgent === undefined ? {} : { userAgent: spec.userAgent }),
    });
  }
}

/** The URI of the first Contact (the dialog's remote target, §12.1). */
export function contactUri(msg: SipRequest | SipResponse): string {
  const list = contacts(msg);
  if (list === '*' || list.length === 0) throw new TestPhoneError('PHONE_PROTOCOL', 'a dialog-creating message without a Contact');
  return list[0]!.uri;
}
