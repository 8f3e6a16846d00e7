/**
 * URIs in SIP (RFC 3261 §19.1, §25): SIP and SIPS URIs parsed into their parts, tel URIs (RFC 3966), and any
 * other absoluteURI (RFC 2396 as cited by §25) kept opaque — an unknown scheme is valid syntax, and answering it
 * with 416 is the transaction user's business (RFC 4475 §3.3.2). `kind` discriminates the union (`scheme` is
 * lower case; it is a plain string for other schemes, so it cannot narrow the type by itself).
 *
 * Parts that may carry `%HH` escapes (user, password, parameters, headers) are kept as written so a URI
 * serializes back unchanged; comparison (`uriEquals`) and the `*Decoded` helpers unescape them exactly once
 * (RFC 4475 §3.1.1.3: `value%25%34%31` means `value%41`, never `valueA`).
 */
import { isIPv6 } from 'node:net';
import { SipParseError } from './parse-error.ts';
import type { Params } from './params.ts';
import { URI, scanUriChars } from './grammar.ts';
import { parseTelUri, type TelUri } from './tel-uri.ts';

export type { TelUri } from './tel-uri.ts';

export interface SipUri {
  readonly kind: 'sip';
  scheme: 'sip' | 'sips';
  /** As written, escapes kept; undefined when there is no userinfo. May contain `;` (RFC 4475 §3.1.1.9). */
  user: string | undefined;
  password: string | undefined;
  /** hostname (case kept), IPv4 address, or IPv6 reference with its brackets. */
  host: string;
  port: number | undefined;
  /** uri-parameters: unescaped lower-case names → values as written (escapes kept), null for a flag. */
  params: Params;
  /** `?name=value&…` headers, as written, in order. */
  headers: Array<[name: string, value: string]>;
}

export interface AbsoluteUri {
  readonly kind: 'absolute';
  /** Lower case. */
  scheme: string;
  /** Everything after the first `:`, as written. */
  opaque: string;
}

export type Uri = SipUri | TelUri | AbsoluteUri;

const { USER, PASSWORD, PARAMCHAR, HEADERCHAR, SCHEME, HOSTCHAR, URIC, HEX } = URI;

function fail(what: string, text: string): never {
  throw new SipParseError(`invalid ${what} in URI "${text}"`);
}

const scan = scanUriChars;

export function parseUri(text: string): Uri {
  const scheme = schemeOf(text);
  if (scheme === 'sip' || scheme === 'sips') {
    scanSipUri(text, scheme.length + 1);
    return buildSipUri(text, scheme);
  }
  if (scheme === 'tel') return parseTelUri(text, 4);
  return { kind: 'absolute', scheme, opaque: text.slice(scheme.length + 1) };
}

export type UriCheck = 'sip' | 'sip-with-headers' | 'tel' | 'absolute';

/**
 * Validates like `parseUri` but builds nothing: what the message parser uses for the Request-URI and the URIs in
 * From, To and Contact, whose parts it does not need yet. Throws SipParseError on a malformed URI.
 */
export function checkUri(text: string): UriCheck {
  const scheme = schemeOf(text);
  if (scheme === 'sip' || scheme === 'sips') {
    scanSipUri(text, scheme.length + 1);
    return layout.headersStart === -1 ? 'sip' : 'sip-with-headers';
  }
  if (scheme === 'tel') {
    parseTelUri(text, 4);
    return 'tel';
  }
  return 'absolute';
}

/** The lower-case scheme; an absoluteURI other than sip/sips/tel is checked here in full. */
function schemeOf(text: string): string {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new SipParseError(`invalid URI "${text}"`);
  const c0 = text.charCodeAt(0) | 0x20;
  if (c0 < 0x61 || c0 > 0x7a || scan(text, 1, colon, SCHEME, false) !== colon) fail('scheme', text);
  if (colon === 3 || colon === 4) {
    const lower = text.slice(0, colon).toLowerCase();
    if (lower === 'sip' || lower === 'sips' || lower === 'tel') return lower;
  }
  if (colon + 1 >= text.length || scan(text, colon + 1, text.length, URIC, true) !== text.length) fail('character', text);
  return text.slice(0, colon).toLowerCase();
}

/** Where the parts of the SIP URI last scanned are (one at a time: scanning is synchronous and not re-entered). */
const layout = { userEnd: -1, passwordEnd: -1, hostStart: 0, hostEnd: 0, port: -1, paramsEnd: 0, headersStart: -1 };

/** Checks a SIP/SIPS URI from after "sip:" and records its layout; throws SipParseError when malformed. */
function scanSipUri(text: string, start: number): void {
  const n = text.length;
  let i = start;
  layout.userEnd = -1;
  layout.passwordEnd = -1;
  layout.port = -1;
  layout.headersStart = -1;
  // "@" is in no other part of a SIP URI unescaped, so the first one ends the userinfo (and there is one at most).
  const at = text.indexOf('@', start);
  if (at !== -1) {
    if (text.indexOf('@', at + 1) !== -1) fail('"@"', text);
    const userEnd = scan(text, i, at, USER, true);
    if (userEnd === i) fail('user', text);
    layout.userEnd = userEnd;
    if (userEnd !== at) {
      if (text.charCodeAt(userEnd) !== 0x3a /* : */) fail('user', text);
      if (scan(text, userEnd + 1, at, PASSWORD, true) !== at) fail('password', text);
      layout.passwordEnd = at;
    }
    i = at + 1;
  }
  layout.hostStart = i;
  if (text.charCodeAt(i) === 0x5b /* [ */) {
    const close = text.indexOf(']', i);
    if (close === -1) fail('IPv6 reference', text);
    const address = text.slice(i + 1, close);
    if (address.includes('%') || !isIPv6(address)) fail('IPv6 reference', text);
    i = close + 1;
  } else {
    const end = scan(text, i, n, HOSTCHAR, false);
    if (!isHostname(text, i, end) && !isIPv4(text, i, end)) fail('host', text);
    i = end;
  }
  layout.hostEnd = i;
  if (text.charCodeAt(i) === 0x3a /* : */) {
    const j = scanDigits(text, i + 1);
    if (j === i + 1 || j - i - 1 > 5) fail('port', text);
    const port = Number(text.slice(i + 1, j));
    if (port > 65535) fail('port', text);
    layout.port = port;
    i = j;
  }
  while (text.charCodeAt(i) === 0x3b /* ; */) {
    const nameEnd = scan(text, i + 1, n, PARAMCHAR, true);
    if (nameEnd === i + 1) fail('parameter', text);
    i = nameEnd;
    if (text.charCodeAt(i) === 0x3d /* = */) {
      const valueEnd = scan(text, i + 1, n, PARAMCHAR, true);
      if (valueEnd === i + 1) fail('parameter value', text);
      i = valueEnd;
    }
  }
  layout.paramsEnd = i;
  if (text.charCodeAt(i) === 0x3f /* ? */) {
    layout.headersStart = i + 1;
    do {
      const nameEnd = scan(text, i + 1, n, HEADERCHAR, true);
      if (nameEnd === i + 1 || text.charCodeAt(nameEnd) !== 0x3d /* = */) fail('header', text);
      i = scan(text, nameEnd + 1, n, HEADERCHAR, true);
    } while (text.charCodeAt(i) === 0x26 /* & */);
  }
  if (i !== n) fail('character', text);
}

/** Builds the SipUri of the URI `scanSipUri` just checked. A repeated parameter keeps its first value. */
function buildSipUri(text: string, scheme: 'sip' | 'sips'): SipUri {
  const start = scheme.length + 1;
  const { userEnd, passwordEnd, hostStart, hostEnd, port, paramsEnd, headersStart } = layout;
  const params: Params = new Map();
  let i = hostEnd;
  while (i < paramsEnd && text.charCodeAt(i) !== 0x3b) i++;
  while (i < paramsEnd) {
    let next = text.indexOf(';', i + 1);
    if (next === -1 || next > paramsEnd) next = paramsEnd;
    const eq = text.indexOf('=', i + 1);
    const hasValue = eq !== -1 && eq < next;
    const name = unescapeUriPart(text.slice(i + 1, hasValue ? eq : next)).toLowerCase();
    if (!params.has(name)) params.set(name, hasValue ? text.slice(eq + 1, next) : null);
    i = next;
  }
  const headers: Array<[string, string]> = [];
  if (headersStart !== -1) {
    for (const pair of text.slice(headersStart).split('&')) {
      const eq = pair.indexOf('=');
      headers.push([pair.slice(0, eq), pair.slice(eq + 1)]);
    }
  }
  return {
    kind: 'sip',
    scheme,
    user: userEnd === -1 ? undefined : text.slice(start, userEnd),
    password: passwordEnd === -1 ? undefined : text.slice(userEnd + 1, passwordEnd),
    host: text.slice(hostStart, hostEnd),
    port: port === -1 ? undefined : port,
    params,
    headers,
  };
}

function scanDigits(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  return i;
}

/** §25 hostname: labels of alphanum and inner "-", the last one starting with a letter; a trailing "." allowed. */
function isHostname(text: string, start: number, end: number): boolean {
  if (end > start && text.charCodeAt(end - 1) === 0x2e) end--;
  if (end <= start) return false;
  let labelStart = start;
  let lastLabelStart = start;
  for (let i = start; i <= end; i++) {
    if (i === end || text.charCodeAt(i) === 0x2e) {
      if (i === labelStart) return false;
      if (text.charCodeAt(labelStart) === 0x2d || text.charCodeAt(i - 1) === 0x2d) return false;
      lastLabelStart = labelStart;
      labelStart = i + 1;
    }
  }
  const c = text.charCodeAt(lastLabelStart) | 0x20;
  return c >= 0x61 && c <= 0x7a;
}

function isIPv4(text: string, start: number, end: number): boolean {
  let parts = 0;
  let i = start;
  while (parts < 4) {
    const j = scanDigits(text, i);
    if (j === i || j - i > 3 || Number(text.slice(i, j)) > 255) return false;
    parts++;
    if (parts < 4) {
      if (text.charCodeAt(j) !== 0x2e) return false;
      i = j + 1;
    } else {
      return j === end;
    }
  }
  return false;
}

export function serializeUri(uri: Uri): string {
  if (uri.kind === 'absolute') return `${uri.scheme}:${uri.opaque}`;
  if (uri.kind === 'tel') return `tel:${uri.number}${serializeUriParams(uri.params)}`;
  let out = `${uri.scheme}:`;
  if (uri.user !== undefined) out += uri.password === undefined ? `${uri.user}@` : `${uri.user}:${uri.password}@`;
  out += uri.host;
  if (uri.port !== undefined) out += `:${uri.port}`;
  out += serializeUriParams(uri.params);
  for (let i = 0; i < uri.headers.length; i++) {
    const [name, value] = uri.headers[i]!;
    out += `${i === 0 ? '?' : '&'}${name}=${value}`;
  }
  return out;
}

/** Names are stored unescaped: characters that are not paramchar go back out as `%HH`. */
function serializeUriParams(params: Params): string {
  let out = '';
  for (const [name, value] of params) {
    const safe = scan(name, 0, name.length, PARAMCHAR, false) === name.length ? name : escapeChars(name, PARAMCHAR);
    out += value === null ? `;${safe}` : `;${safe}=${value}`;
  }
  return out;
}

function escapeChars(text: string, allowed: Uint8Array): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte < 128 && allowed[byte] === 1 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** One level of `%HH` decoding (escapes are UTF-8 octets; an invalid sequence decodes to U+FFFD). */
export function unescapeUriPart(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && i + 2 < text.length && HEX[text.charCodeAt(i + 1)] === 1 && HEX[text.charCodeAt(i + 2)] === 1) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(text[i]!, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The user part with escapes decoded (`I%20have%20spaces` → `I have spaces`, `null-%00-null` keeps its NUL). */
export function uriUserDecoded(uri: SipUri): string | undefined {
  return uri.user === undefined ? undefined : unescapeUriPart(uri.user);
}

/** A uri-parameter's value with escapes decoded once; null for a flag, undefined when absent. */
export function uriParam(uri: SipUri | TelUri, name: string): string | null | undefined {
  const value = uri.params.get(name.toLowerCase());
  return value === undefined || value === null ? value : unescapeUriPart(value);
}

export function isSipUri(uri: Uri): uri is SipUri {
  return uri.kind === 'sip';
}

/** Parameters that never match when present in only one URI (§19.1.4, transport included by its default rule). */
const MUST_MATCH_PARAMS: ReadonlySet<string> = new Set(['user', 'ttl', 'method', 'maddr', 'transport']);

/**
 * URI equality per RFC 3261 §19.1.4 (used by registrars, Request-URI and Route matching): userinfo compares
 * case-sensitively after unescaping, everything else case-insensitively; parameter and header order is
 * irrelevant; user/ttl/method/maddr/transport must appear in both or neither, other parameters in only one are
 * ignored; headers must all match. tel URIs compare per RFC 3966 §4 (visual separators ignored).
 */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (a.kind === 'absolute' || b.kind === 'absolute') {
    return a.kind === b.kind && a.scheme === b.scheme && serializeUri(a) === serializeUri(b);
  }
  if (a.kind === 'tel' || b.kind === 'tel') {
    if (a.kind !== 'tel' || b.kind !== 'tel' || a.global !== b.global) return false;
    if (normalizeTel(a.number) !== normalizeTel(b.number)) return false;
    if (a.params.size !== b.params.size) return false;
    for (const [name, value] of a.params) {
      if (!b.params.has(name) || !sameValue(value, b.params.get(name)!)) return false;
    }
    return true;
  }
  if (a.scheme !== b.scheme) return false;
  if (!sameOptional(a.user, b.user) || !sameOptional(a.password, b.password)) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase() || a.port !== b.port) return false;
  for (const [name, value] of a.params) {
    const other = b.params.get(name);
    if (other === undefined) {
      if (MUST_MATCH_PARAMS.has(name)) return false;
    } else if (!sameValue(value, other)) {
      return false;
    }
  }
  for (const name of b.params.keys()) if (!a.params.has(name) && MUST_MATCH_PARAMS.has(name)) return false;
  if (a.headers.length !== b.headers.length) return false;
  const remaining = b.headers.map(([n, v]) => `${unescapeUriPart(n).toLowerCase()}=${unescapeUriPart(v)}`);
  for (const [n, v] of a.headers) {
    const at = remaining.indexOf(`${unescapeUriPart(n).toLowerCase()}=${unescapeUriPart(v)}`);
    if (at === -1) return false;
    remaining.splice(at, 1);
  }
  return true;
}

function sameOptional(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a === b || unescapeUriPart(a) === unescapeUriPart(b);
}

function sameValue(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return unescapeUriPart(a).toLowerCase() === unescapeUriPart(b).toLowerCase();
}

function normalizeTel(number: string): string {
  return number.replace(/[-.()]/g, '').toLowerCase();
}

/**
 * A URI as it may stand in a Request-URI (§19.1.1 table): neither `method` nor URI headers (`?…`) are allowed
 * there; everything else (maddr, ttl, transport, lr, user, other params) stays.
 */
export function requestUriForm(uri: string): string {
  const question = uri.indexOf('?');
  return (question === -1 ? uri : uri.slice(0, question)).replace(/;method=[^;]*/gi, '');
}
