/**
 * The Via header (RFC 3261 §20.42, §18.2.1) with the RFC 3581 `rport` and `received` parameters.
 * `sent-by` is `host[:port]`, where host may be an IPv6 reference `[2001:db8::1]`.
 */
import { SipParseError } from './parse-error.ts';
import { parseParams, serializeParams, type Params } from './params.ts';

export interface Via {
  protocolName: string;
  protocolVersion: string;
  /** Upper case: UDP, TCP, TLS, SCTP, WS, WSS. */
  transport: string;
  /** Host as written; IPv6 references keep their brackets. */
  host: string;
  port: number | undefined;
  params: Params;
}

/** RFC 3261 §8.1.1.7: a branch that starts with this cookie was built by an RFC 3261 element. */
export const MAGIC_COOKIE = 'z9hG4bK';

const VIA_RE = /^([A-Za-z0-9.!%*_+`'~-]+)[ \t]*\/[ \t]*([A-Za-z0-9.!%*_+`'~-]+)[ \t]*\/[ \t]*([A-Za-z0-9.!%*_+`'~-]+)[ \t]+(.+)$/;

export function parseVia(value: string): Via {
  const m = VIA_RE.exec(value.trim());
  if (!m) throw new SipParseError(`malformed Via "${value}"`);
  const rest = m[4]!;
  const semi = rest.indexOf(';');
  const sentBy = (semi === -1 ? rest : rest.slice(0, semi)).trim();
  const { host, port } = parseHostPort(sentBy, 'Via sent-by');
  const params = parseParams(semi === -1 ? '' : rest.slice(semi), 'Via parameter');
  const rport = params.get('rport');
  if (rport !== undefined && rport !== null && !isPort(rport)) throw new SipParseError(`invalid Via rport "${rport}"`);
  const ttl = params.get('ttl');
  if (ttl !== undefined && (ttl === null || !/^\d{1,3}$/.test(ttl) || Number(ttl) > 255)) {
    throw new SipParseError(`invalid Via ttl "${ttl}"`);
  }
  const branch = params.get('branch');
  if (branch === null) throw new SipParseError('Via branch without a value');
  return {
    protocolName: m[1]!.toUpperCase(),
    protocolVersion: m[2]!,
    transport: m[3]!.toUpperCase(),
    host,
    port,
    params,
  };
}

export function serializeVia(via: Via): string {
  const port = via.port === undefined ? '' : `:${via.port}`;
  return `${via.protocolName}/${via.protocolVersion}/${via.transport} ${via.host}${port}${serializeParams(via.params)}`;
}

export function viaBranch(via: Via): string | undefined {
  return via.params.get('branch') ?? undefined;
}

function isPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65535;
}

/** `host[:port]` with IPv6 references; throws SipParseError naming `what` on a bad value. */
export function parseHostPort(text: string, what: string): { host: string; port: number | undefined } {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) throw new SipParseError(`unterminated IPv6 reference in ${what} "${text}"`);
    host = text.slice(0, close + 1);
    const after = text.slice(close + 1);
    if (after.length > 0) {
      if (!after.startsWith(':')) throw new SipParseError(`malformed ${what} "${text}"`);
      portText = after.slice(1);
    }
    if (!/^\[[0-9A-Fa-f:.]+\]$/.test(host)) throw new SipParseError(`invalid IPv6 reference in ${what} "${text}"`);
  } else {
    const colon = text.lastIndexOf(':');
    host = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? undefined : text.slice(colon + 1);
    if (!/^[A-Za-z0-9.-]+$/.test(host)) throw new SipParseError(`invalid host in ${what} "${text}"`);
  }
  if (portText !== undefined && !isPort(portText.trim())) throw new SipParseError(`invalid port in ${what} "${text}"`);
  return { host, port: portText === undefined ? undefined : Number(portText.trim()) };
}
