/**
 * The Via header (RFC 3261 §20.42, §18.2.1) with the RFC 3581 `rport` and `received` parameters.
 * `sent-by` is `host[:port]`, where host may be an IPv6 reference `[2001:db8::1]`.
 */
import { SipParseError } from './parse-error.ts';
import { parseParams, serializeParams, type Params } from './params.ts';
import { TOKEN, charTable } from './grammar.ts';

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


function tokenEnd(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) break;
    i++;
  }
  return i;
}

function wsEnd(text: string, i: number): number {
  while (i < text.length && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09)) i++;
  return i;
}

/**
 * via-parm = sent-protocol LWS sent-by *( SEMI via-params ), sent-protocol = name SLASH version SLASH transport
 * (§25, with the LWS RFC 4475 §3.1.1.1 puts around the slashes). Scanned by hand: it runs once per message.
 */
export function parseVia(value: string): Via {
  const text = value.trim();
  const malformed = (): never => {
    throw new SipParseError(`malformed Via "${value}"`);
  };
  const nameEnd = tokenEnd(text, 0);
  let i = wsEnd(text, nameEnd);
  if (nameEnd === 0 || text.charCodeAt(i) !== 0x2f /* / */) malformed();
  const versionStart = wsEnd(text, i + 1);
  const versionEnd = tokenEnd(text, versionStart);
  i = wsEnd(text, versionEnd);
  if (versionEnd === versionStart || text.charCodeAt(i) !== 0x2f) malformed();
  const transportStart = wsEnd(text, i + 1);
  const transportEnd = tokenEnd(text, transportStart);
  const restStart = wsEnd(text, transportEnd);
  if (transportEnd === transportStart || restStart === transportEnd || restStart >= text.length) malformed();
  const rest = text.slice(restStart);
  const semi = rest.indexOf(';');
  const sentBy = (semi === -1 ? rest : rest.slice(0, semi)).trim();
  const { host, port } = parseHostPort(sentBy, 'Via sent-by');
  const params = parseParams(semi === -1 ? '' : rest.slice(semi), 'Via parameter');
  const rport = params.get('rport');
  if (rport !== undefined && rport !== null && !isPort(rport)) throw new SipParseError(`invalid Via rport "${rport}"`);
  const ttl = params.get('ttl');
  if (ttl !== undefined && (ttl === null || !isDigits(ttl, 3) || Number(ttl) > 255)) {
    throw new SipParseError(`invalid Via ttl "${ttl}"`);
  }
  const branch = params.get('branch');
  if (branch === null) throw new SipParseError('Via branch without a value');
  return {
    protocolName: text.slice(0, nameEnd).toUpperCase(),
    protocolVersion: text.slice(versionStart, versionEnd),
    transport: text.slice(transportStart, transportEnd).toUpperCase(),
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

function isDigits(text: string, max: number): boolean {
  if (text.length === 0 || text.length > max) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function isPort(text: string): boolean {
  return isDigits(text, 5) && Number(text) <= 65535;
}

const HOST = charTable('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-');

function isHostChars(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || HOST[c] === 0) return false;
  }
  return true;
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
    if (!isHostChars(host)) throw new SipParseError(`invalid host in ${what} "${text}"`);
  }
  if (portText !== undefined && !isPort(portText.trim())) throw new SipParseError(`invalid port in ${what} "${text}"`);
  return { host, port: portText === undefined ? undefined : Number(portText.trim()) };
}
