/**
 * The server-transport rules applied to every received request, as pure functions on the message:
 * RFC 3261 §18.2.1 (`received`) with RFC 3581 §4 (`rport`), the §18.2.2 / RFC 3581 §4 choice of where a response
 * goes, and the answer to a request that failed to parse (§8.2 habits: 400 naming the fault, 505, 513).
 */
import { isIP } from 'node:net';
import { createResponseTo, reasonPhrase, type SipResponse } from '../message.ts';
import { Headers } from '../headers.ts';
import type { PartialMessage, SipParseError } from '../parse-error.ts';
import { parseVia, serializeVia, type Via } from '../via.ts';
import type { Endpoint } from '../transport.ts';

/** The Via host without IPv6 brackets. */
export function viaAddress(via: Via): string {
  return via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
}

/** Two IP literals compared in canonical form (`::1` equals `0:0:0:0:0:0:0:1`); names compare as text. */
export function sameAddress(a: string, b: string): boolean {
  if (a.toLowerCase() === b.toLowerCase()) return true;
  if (isIP(a) === 6 && isIP(b) === 6) {
    try {
      return new URL(`http://[${a}]/`).hostname === new URL(`http://[${b}]/`).hostname;
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * Parses the top Via and stamps it in place:
 * §18.2.1: "If the host portion of the sent-by … differs from the source IP address of the packet, the server
 * MUST add a received parameter". RFC 3581 §4: with `rport` present the server MUST add `received` even when
 * equal, and MUST set an empty `rport` to the source port. Returns the stamped Via, or undefined when there is
 * no readable top Via (such a request cannot be answered: there is nowhere to send the response).
 */
export function stampTopVia(headers: Headers, source: Endpoint): Via | undefined {
  const top = headers.getAll('via')[0];
  if (top === undefined) return undefined;
  let via: Via;
  try {
    via = parseVia(top);
  } catch {
    return undefined;
  }
  const hasRport = via.params.has('rport');
  if (hasRport || !sameAddress(viaAddress(via), source.address)) via.params.set('received', source.address);
  if (hasRport && via.params.get('rport') === null) via.params.set('rport', String(source.port));
  headers.shift('via');
  headers.prepend('Via', serializeVia(via));
  return via;
}

/** RFC 3263 §4 / RFC 3261 §19.1.2 default ports. */
export function defaultPort(protocol: string): number {
  switch (protocol.toUpperCase()) {
    case 'TLS':
      return 5061;
    case 'WS':
      return 80;
    case 'WSS':
      return 443;
    default:
      return 5060;
  }
}

/**
 * Where a response to a request received over UDP goes (§18.2.2 unreliable unicast, RFC 3581 §4): the `received`
 * address and, when `rport` carries a port, that port; otherwise the sent-by port or 5060. `maddr` is ignored
 * (multicast responses are not supported).
 */
export function udpResponseDestination(via: Via): Endpoint {
  const address = via.params.get('received') ?? viaAddress(via);
  const rport = via.params.get('rport');
  const port = rport !== undefined && rport !== null ? Number(rport) : (via.port ?? 5060);
  return { address, port };
}

/**
 * §18.2.2, reliable transport whose connection is gone: "open a connection to the IP address in the received
 * parameter, if present, using the port in the sent-by value, or the default port for that transport".
 */
export function reliableResponseTarget(via: Via): { host: string; port: number } {
  return { host: via.params.get('received') ?? viaAddress(via), port: via.port ?? defaultPort(via.transport) };
}

const SINGLE_COPIED: ReadonlySet<string> = new Set(['from', 'to', 'call-id', 'cseq']);

/** Whether the partial message holds what a response needs (§8.2.6.2: Via, From, To, Call-ID, CSeq copied). */
function answerable(partial: PartialMessage | undefined): partial is PartialMessage & { type: 'request' } {
  if (partial?.type !== 'request') return false;
  // §17: an ACK is never answered; a broken ACK is dropped.
  if (partial.method?.toUpperCase() === 'ACK') return false;
  const h = partial.headers;
  return h.has('via') && h.has('from') && h.has('to') && h.has('call-id') && h.has('cseq');
}

/** A reason phrase carrying the fault: printable ASCII only, bounded, so it cannot inject a header. */
export function faultReason(status: number, fault: string): string {
  const clean = fault.replace(/[^\x20-\x7e]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120);
  return clean.length > 0 ? `${reasonPhrase(status)} (${clean})` : reasonPhrase(status);
}

/**
 * The response to a request that failed to parse, or undefined when it cannot or must not be answered. The
 * status comes from the error (400, 505, 513) and is forced into 4xx–6xx: a malformed request never gets a 2xx.
 * The partial's top Via is stamped like any received request's, so the answer is routed the same way.
 */
export function answerParseError(
  error: SipParseError,
  source: Endpoint,
  toTag: string,
): { response: SipResponse; via: Via } | undefined {
  const partial = error.partial;
  if (!answerable(partial)) return undefined;
  // Every Via, and only the first From, To, Call-ID and CSeq: a request rejected for carrying two CSeqs must not
  // get a response that carries them both.
  const headers = new Headers();
  const taken = new Set<string>();
  for (const field of partial.headers) {
    if (field.key === 'via') headers.append(field.name, field.value);
    else if (SINGLE_COPIED.has(field.key) && !taken.has(field.key)) {
      taken.add(field.key);
      headers.append(field.name, field.value);
    }
  }
  const via = stampTopVia(headers, source);
  if (via === undefined) return undefined;
  const status = error.status !== undefined && error.status >= 400 && error.status <= 699 ? error.status : 400;
  const reason = status === 400 ? faultReason(400, error.message) : reasonPhrase(status);
  const response = createResponseTo({ headers }, status, reason, toTag);
  return { response, via };
}
