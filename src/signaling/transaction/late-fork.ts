/**
 * What a UAC owes a 2xx it does not want (RFC 3261 §13.2.2.4): "The UAC core MUST generate an ACK request for each
 * 2xx received from the transaction layer", and then, for a dialog it does not want to keep, "it MUST terminate
 * the dialog by sending a BYE request". A forking proxy may pass several 2xx; RFC 6026 keeps the INVITE client
 * transaction in Accepted for 64*T1 exactly so that these late ones reach the UAC.
 *
 * Pure: builds the ACK and the BYE from the INVITE and the 2xx alone (no dialog object, no call), the way §12.1.2
 * builds the UAC's dialog state — remote target from the 2xx's Contact, route set from its Record-Route in reverse
 * order — and §12.2.1.1 a request inside it; and says where such a request goes (§8.1.2 with §12.2.1.1).
 */
import { createRequest, type SipRequest, type SipResponse } from '../message.ts';
import { Headers } from '../headers.ts';
import { parseNameAddr } from '../name-addr.ts';
import { parseUri, requestUriForm } from '../uri.ts';
import type { TransportProtocol } from '../transport.ts';
import type { ChannelTarget } from '../transports/config.ts';
import { readCSeq } from './matching.ts';

export interface LateForkRequests {
  ack: SipRequest;
  bye: SipRequest;
  /**
   * §8.1.2: the URI both go to — the first route when it is a loose router, else the Request-URI ("If the first
   * element in the route set indicated a strict router … the procedures MUST be applied to the Request-URI").
   */
  nextHop: string;
}

/** The URI of a name-addr (Contact, Record-Route value), or undefined when it cannot be read. */
function uriOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const uri = parseNameAddr(value).uri;
    return uri === '*' ? undefined : uri;
  } catch {
    return undefined;
  }
}

/** §19.1.1: a route whose URI carries `lr` is a loose router (§16.12); an unreadable one is kept as a Route value. */
export function isLooseRoute(route: string): boolean {
  const uri = uriOf(route);
  if (uri === undefined) return true;
  try {
    const parsed = parseUri(uri);
    return parsed.kind === 'sip' && parsed.params.has('lr');
  } catch {
    return true;
  }
}

/**
 * The ACK (§13.2.2.4: "constructed in the same way as for any request sent within a dialog … The sequence number
 * of the CSeq header field MUST be the same as the INVITE being acknowledged … The ACK MUST contain the same
 * credentials as the INVITE") and the BYE (next CSeq in that dialog) for `response`, a 2xx to `invite`.
 * Undefined when the 2xx lacks a To tag or the INVITE its From, Call-ID or CSeq. A 2xx without a readable Contact
 * (a §12.1.2 violation) is answered at the Request-URI, the only target known.
 */
export function lateForkRequests(invite: SipRequest, response: SipResponse): LateForkRequests | undefined {
  const from = invite.headers.get('from');
  const to = response.headers.get('to');
  const callId = invite.headers.get('call-id');
  const seq = readCSeq(invite)?.seq;
  if (from === undefined || to === undefined || callId === undefined || seq === undefined) return undefined;
  if (!/;\s*tag\s*=/i.test(to)) return undefined;
  const remoteTarget = uriOf(response.headers.getAll('contact')[0]) ?? invite.uri;
  const routes = response.headers.getAll('record-route').reverse();
  // §12.2.1.1: the Request-URI is the remote target, in the form §19.1.1 allows there (no headers, no method).
  let uri = requestUriForm(remoteTarget);
  let nextHop = remoteTarget;
  if (routes.length > 0 && !isLooseRoute(routes[0]!)) {
    // §12.2.1.1 strict routing: the first route becomes the Request-URI, the remote target the last Route.
    uri = requestUriForm(uriOf(routes.shift()!) ?? remoteTarget);
    routes.push(`<${remoteTarget}>`);
    nextHop = uri;
  } else if (routes.length > 0) {
    nextHop = uriOf(routes[0]) ?? remoteTarget;
  }
  const build = (method: 'ACK' | 'BYE', cseq: number): SipRequest => {
    const headers = new Headers();
    for (const route of routes) headers.append('Route', route);
    headers.append('Max-Forwards', '70');
    headers.append('From', from);
    headers.append('To', to);
    headers.append('Call-ID', callId);
    headers.append('CSeq', `${cseq} ${method}`);
    if (method === 'ACK') {
      for (const name of ['Authorization', 'Proxy-Authorization']) for (const value of invite.headers.getAll(name)) headers.append(name, value);
    }
    return createRequest(method, uri, headers);
  };
  return { ack: build('ACK', seq), bye: build('BYE', seq + 1), nextHop };
}

const TRANSPORTS: Readonly<Record<string, TransportProtocol>> = { udp: 'UDP', tcp: 'TCP', tls: 'TLS', ws: 'WS', wss: 'WSS' };

/**
 * The transport target of a next-hop URI (`nextHop` above): the URI's `transport` decides the protocol, `sips:`
 * means TLS; without either, `fallback` (the protocol the INVITE went over). `maddr` wins over the host (§19.1.1).
 * Undefined for a URI that is not sip/sips. RFC 3263 SRV/NAPTR is not done (as everywhere in the stack).
 */
export function targetOf(hop: string, fallback: TransportProtocol): ChannelTarget | undefined {
  let uri;
  try {
    uri = parseUri(hop);
  } catch {
    return undefined;
  }
  if (uri.kind !== 'sip') return undefined;
  const transport = uri.params.get('transport');
  let protocol = typeof transport === 'string' ? TRANSPORTS[transport.toLowerCase()] : undefined;
  if (protocol === undefined) protocol = uri.scheme === 'sips' ? (fallback === 'WSS' ? 'WSS' : 'TLS') : fallback;
  const maddr = uri.params.get('maddr');
  return { protocol, host: typeof maddr === 'string' ? maddr : uri.host, ...(uri.port === undefined ? {} : { port: uri.port }) };
}
