/**
 * The UAS half of a SIP dialog (RFC 3261 §12), kept as small as the services peer needs: the state a 2xx to an
 * INVITE creates (§12.1.1), the checks on requests inside it (§12.2.2), and the requests we send in it — BYE —
 * with their route set and next hop (§12.2.1.1, §8.1.2). Pure: no I/O, no timers.
 */
import { createRequest, type SipRequest } from '../signaling/message.ts';
import { callId as readCallId, contacts, cseq, from, fromTag, recordRoutes, to } from '../signaling/header-accessors.ts';
import { serializeNameAddr } from '../signaling/name-addr.ts';
import { SipParseError } from '../signaling/parse-error.ts';
import { isSipUri, parseUri, uriParam } from '../signaling/uri.ts';
import type { ChannelTarget } from '../signaling/transport-layer.ts';
import type { TransportProtocol } from '../signaling/transport.ts';

export interface UasDialog {
  readonly callId: string;
  readonly localTag: string;
  /** The caller's From tag; '' for an RFC 2543 caller that sent none (§12.1.1 "null"). */
  readonly remoteTag: string;
  /** Our To value with our tag: the From of every request we send in the dialog. */
  readonly local: string;
  /** The caller's From value: the To of every request we send. */
  readonly remote: string;
  /** §12.1.1: "The remote target MUST be set to the URI from the Contact header field of the request." */
  remoteTarget: string;
  /** §12.1.1: the Record-Route URIs of the request, in order (name-addr strings, parameters kept). */
  readonly routeSet: readonly string[];
  /** §12.1.1: "The remote sequence number MUST be set to the value of the sequence number in the CSeq". */
  remoteSeq: number;
  /** §12.1.1: the local sequence number is empty until we send; §8.1.1.5: then any value below 2**31. */
  localSeq: number | undefined;
}

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\n${localTag}\n${remoteTag}`;
}

/** The key of the dialog an in-dialog request (or the ACK of our 2xx) belongs to: To tag is ours. */
export function requestDialogKey(request: SipRequest): string | undefined {
  const local = to(request).params.get('tag');
  if (local === undefined || local === null) return undefined;
  return dialogKey(readCallId(request), local, fromTag(request) ?? '');
}

/** The Contact URI of a dialog-creating (or target-refreshing) request; §8.1.1.8 makes it mandatory in INVITE. */
export function contactUri(request: SipRequest): string {
  const list = contacts(request);
  if (list === '*' || list.length !== 1) throw new SipParseError('an INVITE needs exactly one Contact URI (RFC 3261 §8.1.1.8)');
  return list[0]!.uri;
}

/** §12.1.1: the dialog state of a UAS answering `invite` with a 2xx carrying To tag `localTag`. */
export function createUasDialog(invite: SipRequest, localTag: string): UasDialog {
  const toValue = to(invite);
  const localParams = new Map(toValue.params);
  localParams.set('tag', localTag);
  return {
    callId: readCallId(invite),
    localTag,
    remoteTag: fromTag(invite) ?? '',
    local: serializeNameAddr({ ...toValue, params: localParams }),
    remote: serializeNameAddr(from(invite)),
    remoteTarget: contactUri(invite),
    routeSet: recordRoutes(invite).map((r) => serializeNameAddr(r)),
    remoteSeq: cseq(invite).seq,
    localSeq: undefined,
  };
}

/**
 * §12.2.2: "If the remote sequence number was not empty, but the sequence number of the request is lower than the
 * remote sequence number, the request is out of order and MUST be rejected with a 500". Returns false for such a
 * request; otherwise the remote sequence number moves on. (Equal is fine: a CANCEL or ACK shares the number.)
 */
export function acceptRemoteSeq(dialog: UasDialog, request: SipRequest): boolean {
  const seq = cseq(request).seq;
  if (seq < dialog.remoteSeq) return false;
  dialog.remoteSeq = seq;
  return true;
}

/**
 * A request inside the dialog (§12.2.1.1): Request-URI and Route from the remote target and route set (loose
 * routing when the first route has `lr`, else the §12.2.1.1 strict-routing form), From/To/Call-ID of the dialog,
 * the next local CSeq. The Via is the transaction layer's.
 */
export function buildInDialogRequest(dialog: UasDialog, method: string, userAgent: string): SipRequest {
  const seq = dialog.localSeq === undefined ? 1 + Math.floor(Math.random() * 0x10000) : dialog.localSeq + 1;
  dialog.localSeq = seq;
  let uri = dialog.remoteTarget;
  let routes = [...dialog.routeSet];
  const first = routes[0];
  if (first !== undefined && !isLooseRoute(first)) {
    uri = uriOf(first);
    routes = [...routes.slice(1), `<${dialog.remoteTarget}>`];
  }
  const headers: Array<[string, string]> = [
    ...routes.map((r): [string, string] => ['Route', r]),
    ['Max-Forwards', '70'],
    ['From', dialog.local],
    ['To', dialog.remote],
    ['Call-ID', dialog.callId],
    ['CSeq', `${seq} ${method}`],
    ['User-Agent', userAgent],
  ];
  return createRequest(method, uri, headers);
}

/** §8.1.2: the next hop is the first Route if there is one (loose or strict), else the Request-URI. */
export function nextHop(request: SipRequest): ChannelTarget {
  const route = request.headers.get('route');
  return uriTarget(route === undefined ? request.uri : uriOf(firstElement(route)));
}

/** RFC 3263 without DNS: host, port and transport of a SIP URI (sips → TLS; maddr is not honoured). */
export function uriTarget(text: string): ChannelTarget {
  const uri = parseUri(text);
  if (!isSipUri(uri)) throw new SipParseError(`cannot send to a ${uri.scheme} URI`);
  const transport = uriParam(uri, 'transport')?.toUpperCase();
  const protocol: TransportProtocol =
    uri.scheme === 'sips' ? 'TLS' : transport === 'TCP' ? 'TCP' : transport === 'TLS' ? 'TLS' : transport === 'WS' ? 'WS' : transport === 'WSS' ? 'WSS' : 'UDP';
  const host = uri.host.startsWith('[') ? uri.host.slice(1, -1) : uri.host;
  return uri.port === undefined ? { protocol, host } : { protocol, host, port: uri.port };
}

function firstElement(value: string): string {
  // A Route row may hold several comma-separated values; URIs in name-addr form cannot contain a bare comma.
  const gt = value.indexOf('>');
  return gt === -1 ? value : value.slice(0, gt + 1);
}

function uriOf(nameAddr: string): string {
  const lt = nameAddr.indexOf('<');
  const gt = nameAddr.indexOf('>', lt);
  return lt === -1 || gt === -1 ? nameAddr.trim() : nameAddr.slice(lt + 1, gt);
}

function isLooseRoute(nameAddr: string): boolean {
  const uri = parseUri(uriOf(nameAddr));
  return isSipUri(uri) && uri.params.has('lr');
}
