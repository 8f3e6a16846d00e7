/**
 * A SIP dialog (RFC 3261 §12): the peer-to-peer state one side of a call keeps — Call-ID, tags, CSeq numbers,
 * the remote target and the route set — and the construction of requests inside it. The B2BUA keeps two of
 * these per call, one towards each side, with nothing shared between them (own Call-ID, tags, CSeq, Contact).
 * Pure state: sending is the owner's business (a browser's dialog is bound to its WebSocket flow).
 *
 * Every input here comes from the network, so every failure is a DialogError carrying the status to answer
 * with (400 for a malformed message, 500 for an out-of-order CSeq, §12.2.2); nothing else is thrown.
 */
import { Headers } from '../signaling/headers.ts';
import { createRequest, type SipRequest, type SipResponse } from '../signaling/message.ts';
import { parseCSeq } from '../signaling/cseq.ts';
import { parseNameAddr } from '../signaling/name-addr.ts';
import { parseUri, requestUriForm } from '../signaling/uri.ts';
import { newTag as pooledTag } from '../signaling/transaction/branch.ts';
import { GatewayError } from '../errors.ts';

export type DialogState = 'early' | 'confirmed' | 'terminated';

export class DialogError extends GatewayError {
  constructor(message: string, status = 400) {
    super('SIP_DIALOG', message, { status });
  }
}

/** §19.3: "at least 32 bits of randomness"; 64 here, from the transaction layer's pooled generator. */
export const newTag: () => string = pooledTag;

/** §8.1.1.4: globally unique over space and time (128 random bits); `@host` is optional and only helps reading logs. */
export function newCallId(host?: string): string {
  const id = `${pooledTag()}${pooledTag()}`;
  return host === undefined ? id : `${id}@${host}`;
}

/** The `tag` parameter of a From/To value, if any (undefined for a malformed value). */
export function tagOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return parseNameAddr(value).params.get('tag') ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * The key a dialog is filed under: Call-ID (case-sensitive, §20.8) and both tags (compared case-insensitively,
 * as the transaction layer does: §7.3.1 makes parameter values case-insensitive unless stated otherwise).
 */
export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\n${localTag.toLowerCase()}\n${remoteTag.toLowerCase()}`;
}

function uriOfNameAddr(value: string): string {
  try {
    return parseNameAddr(value).uri;
  } catch (error) {
    throw new DialogError(`malformed address "${value.slice(0, 80)}": ${(error as Error).message}`);
  }
}

/** A From/To value without its tag, display name and URI kept as written. */
function stripTag(value: string): string {
  const close = value.lastIndexOf('>');
  if (close === -1) {
    // addr-spec form: header parameters start at the first ";" (§20.10).
    return value.replace(/;\s*tag\s*=\s*[^;\s]+/i, '');
  }
  return value.slice(0, close + 1) + value.slice(close + 1).replace(/;\s*tag\s*=\s*[^;\s]+/i, '');
}

function required(message: SipRequest | SipResponse, name: string): string {
  const value = message.headers.get(name);
  if (value === undefined) throw new DialogError(`missing ${name}`);
  return value;
}

function seqOf(message: SipRequest | SipResponse): number {
  try {
    return parseCSeq(required(message, 'CSeq')).seq;
  } catch (error) {
    if (error instanceof DialogError) throw error;
    throw new DialogError(`malformed CSeq: ${(error as Error).message}`);
  }
}

/** The first Contact URI, or undefined when there is none. */
function contactUri(message: SipRequest | SipResponse): string | undefined {
  const contact = message.headers.getAll('Contact')[0];
  return contact === undefined ? undefined : uriOfNameAddr(contact);
}

/** §12.1.1: "the 'secure' flag is set to TRUE" for a SIPS Request-URI (TLS to the next hop is the owner's part). */
function isSips(uri: string): boolean {
  return uri.slice(0, 5).toLowerCase() === 'sips:';
}

export interface DialogInit {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** From (UAC) / To (UAS) value without its tag: the local party as the peer sees it. */
  localUri: string;
  remoteUri: string;
  localSeq: number;
  remoteSeq: number | undefined;
  remoteTarget: string;
  /** Route values (name-addr, `<sip:p1;lr>`) in the order they go into Route. */
  routeSet: string[];
  localContact: string;
  secure: boolean;
  state: DialogState;
}

export interface DialogRequestOptions {
  /** ACK reuses the INVITE's CSeq number (§13.2.2.4); everything else takes the next local one. */
  cseq?: number;
  body?: Buffer | string;
  contentType?: string;
  headers?: ReadonlyArray<readonly [string, string]>;
}

export class Dialog {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly localUri: string;
  readonly remoteUri: string;
  localSeq: number;
  remoteSeq: number | undefined;
  remoteTarget: string;
  routeSet: string[];
  localContact: string;
  readonly secure: boolean;
  state: DialogState;

  constructor(init: DialogInit) {
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localUri = init.localUri;
    this.remoteUri = init.remoteUri;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localContact = init.localContact;
    this.secure = init.secure;
    this.state = init.state;
  }

  /**
   * §12.1.2: the UAC's dialog from a response with a To tag (1xx → early, 2xx → confirmed). "The route set MUST
   * be set to the list of URIs in the Record-Route header field from the response, taken in reverse order";
   * "The remote target MUST be set to the URI from the Contact header field of the response". A 1xx without
   * Contact keeps the Request-URI as target until a later response brings one; a 2xx must carry it.
   */
  static fromUac(request: SipRequest, response: SipResponse, localContact: string): Dialog {
    const remoteTag = tagOf(response.headers.get('To'));
    const localTag = tagOf(request.headers.get('From'));
    const callId = request.headers.get('Call-ID');
    if (remoteTag === undefined || localTag === undefined || callId === undefined) {
      throw new DialogError('response without dialog identifiers (To tag, From tag, Call-ID)');
    }
    const target = contactUri(response);
    if (target === undefined && response.status >= 200) throw new DialogError('2xx without Contact');
    return new Dialog({
      callId,
      localTag,
      remoteTag,
      localUri: stripTag(required(request, 'From')),
      remoteUri: stripTag(required(request, 'To')),
      localSeq: seqOf(request),
      remoteSeq: undefined,
      remoteTarget: target ?? request.uri,
      routeSet: response.headers.getAll('Record-Route').reverse(),
      localContact,
      secure: isSips(request.uri),
      state: response.status >= 200 ? 'confirmed' : 'early',
    });
  }

  /**
   * §12.1.1: the UAS's dialog from a dialog-creating request and the tag it puts in its To. "The route set MUST
   * be set to the list of URIs in the Record-Route header field from the request, taken in order"; the remote
   * sequence number is the request's CSeq; "The local sequence number MUST be empty" — the first request we send
   * gets 1 (any value works, §12.2.1.1 only needs it to grow).
   */
  static fromUas(request: SipRequest, localTag: string, localContact: string, state: DialogState = 'early'): Dialog {
    const remoteTag = tagOf(request.headers.get('From'));
    const callId = request.headers.get('Call-ID');
    if (remoteTag === undefined || callId === undefined) throw new DialogError('request without From tag or Call-ID');
    const target = contactUri(request);
    if (target === undefined) throw new DialogError('dialog-creating request without Contact');
    return new Dialog({
      callId,
      localTag,
      remoteTag,
      localUri: stripTag(required(request, 'To')),
      remoteUri: stripTag(required(request, 'From')),
      localSeq: 0,
      remoteSeq: seqOf(request),
      remoteTarget: target,
      routeSet: request.headers.getAll('Record-Route'),
      localContact,
      secure: isSips(request.uri),
      state,
    });
  }

  get id(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  /** Whether an in-dialog request belongs here: its Call-ID, To tag (ours) and From tag (theirs). */
  matchesRequest(request: SipRequest): boolean {
    const to = tagOf(request.headers.get('To'));
    const from = tagOf(request.headers.get('From'));
    return (
      request.headers.get('Call-ID') === this.callId &&
      to !== undefined && to.toLowerCase() === this.localTag.toLowerCase() &&
      from !== undefined && from.toLowerCase() === this.remoteTag.toLowerCase()
    );
  }

  /**
   * §12.2.2, a request inside the dialog. "If the remote sequence number was not empty, but the sequence number
   * of the request is lower than the remote sequence number, the request is out of order and MUST be rejected
   * with a 500"; otherwise the remote sequence number becomes the request's. ACK and CANCEL carry the number of
   * the request they belong to and are not counted. "When a UAS receives a target refresh request, it MUST
   * replace the dialog's remote target URI with the URI from the Contact header field in that request, if
   * present" — re-INVITE (§12.2) and UPDATE (RFC 3311 §5.2).
   */
  receiveRequest(request: SipRequest): void {
    const seq = seqOf(request);
    if (request.method !== 'ACK' && request.method !== 'CANCEL') {
      if (this.remoteSeq !== undefined && seq < this.remoteSeq) {
        throw new DialogError(`CSeq ${seq} out of order (last ${this.remoteSeq})`, 500);
      }
    }
    let target: string | undefined;
    if (request.method === 'INVITE' || request.method === 'UPDATE') target = contactUri(request);
    // Only once the request is known good does the dialog change.
    if (request.method !== 'ACK' && request.method !== 'CANCEL') this.remoteSeq = seq;
    if (target !== undefined) this.remoteTarget = target;
  }

  /**
   * §12.2.1.2: "When a UAC receives a 2xx response to a target refresh request, it MUST replace the dialog's
   * remote target URI with the URI from the Contact header field in that response, if present."
   */
  receiveTargetRefreshResponse(response: SipResponse): void {
    if (response.status < 200 || response.status >= 300) return;
    const target = contactUri(response);
    if (target !== undefined) this.remoteTarget = target;
  }

  /**
   * A UAC early dialog meets the 2xx with the same tag (§13.2.2.4): "the dialog MUST be transitioned to the
   * "confirmed" state, and the route set for the dialog MUST be recomputed based on the 2xx response" — and the
   * remote target is the 2xx's Contact. A later 1xx on an early dialog may bring the Contact an earlier one lacked.
   */
  updateFromResponse(response: SipResponse): void {
    const target = contactUri(response);
    if (response.status >= 200 && response.status < 300) {
      if (target === undefined) throw new DialogError('2xx without Contact');
      this.routeSet = response.headers.getAll('Record-Route').reverse();
      this.remoteTarget = target;
      this.state = 'confirmed';
    } else if (target !== undefined && this.state === 'early') {
      this.remoteTarget = target;
    }
  }

  /**
   * §12.2.1.1, a request inside the dialog. With a loose-routing (or empty) route set the Request-URI is the
   * remote target and the route set goes into Route as it is. Strict routing (RFC 2543 next hop: first route
   * without `lr`): "the UAC MUST place the first URI from the route set into the Request-URI, stripping any
   * parameters that are not allowed in a Request-URI. The UAC MUST add a Route header field containing the
   * remainder of the route set values in order, including all parameters. The UAC MUST then place the remote
   * target URI into the Route header field as the last value."
   */
  createRequest(method: string, options: DialogRequestOptions = {}): SipRequest {
    const seq = options.cseq ?? ++this.localSeq;
    const headers = new Headers();
    // §12.2.1.1 with the §19.1.1 table: a Contact's `method` and headers do not belong in the Request-URI.
    let uri = requestUriForm(this.remoteTarget);
    const routes = this.routeSet.slice();
    if (routes.length > 0 && !isLooseRoute(routes[0]!)) {
      uri = requestUriForm(uriOfNameAddr(routes.shift()!));
      routes.push(`<${this.remoteTarget}>`);
    }
    for (const r of routes) headers.append('Route', r);
    headers.append('Max-Forwards', '70');
    headers.append('From', `${this.localUri};tag=${this.localTag}`);
    headers.append('To', `${this.remoteUri};tag=${this.remoteTag}`);
    headers.append('Call-ID', this.callId);
    headers.append('CSeq', `${seq} ${method}`);
    // §12.2.1.1 / §8.1.1.8: target refresh requests (and INVITE) need a Contact; BYE, ACK and CANCEL do not.
    if (method === 'INVITE' || method === 'UPDATE' || method === 'REFER' || method === 'SUBSCRIBE' || method === 'NOTIFY') {
      headers.append('Contact', this.localContact);
    }
    for (const [name, value] of options.headers ?? []) headers.append(name, value);
    const body = options.body ?? Buffer.alloc(0);
    if (body.length > 0 && !headers.has('Content-Type')) headers.append('Content-Type', options.contentType ?? 'application/sdp');
    return createRequest(method, uri, headers, body);
  }
}

/** A route whose URI carries `lr` (§19.1.1) is a loose router (§16.12). */
export function isLooseRoute(route: string): boolean {
  try {
    const uri = parseUri(parseNameAddr(route, { requireBrackets: true }).uri);
    return uri.kind === 'sip' && uri.params.has('lr');
  } catch {
    // A route we cannot read cannot be a strict router we could address either; keep it as a Route value.
    return true;
  }
}
