/**
 * name-addr / addr-spec values of From, To, Contact, Route, Record-Route, Reply-To … (RFC 3261 §20.10, §25):
 *
 *   `"Display" <uri>;params`   `token display <uri>;params`   `<uri>;params`   `sip:a@b;tag=x`   `*` (Contact)
 *
 * Without angle brackets the URI ends at the first `;`: the parameters after an addr-spec belong to the header,
 * not to the URI, which is why a URI containing `,`, `;` or `?` must be written in name-addr form (§20).
 * The URI is returned as written (raw) but its syntax is checked with `parseUri`.
 */
import { SipParseError } from './parse-error.ts';
import { parseParams, serializeParams, type Params } from './params.ts';
import { checkUri } from './uri.ts';
import { TOKEN, isWs } from './grammar.ts';

export interface NameAddr {
  /** Unquoted (quoted-pairs resolved) or the display tokens with their LWS collapsed; absent when there is none. */
  displayName?: string;
  /** The URI as written, or `*` for the Contact wildcard. */
  uri: string;
  /** Header parameters (tag, expires, q, …). */
  params: Params;
}

export interface NameAddrOptions {
  /** Route, Record-Route, Path and Service-Route allow only the name-addr form (§25 route-param / rec-route). */
  requireBrackets?: boolean;
}


/**
 * From the opening quote at `start`, returns the index just after the closing quote. qdtext excludes controls;
 * a quoted-pair may escape any octet but CR and LF (§25), which is how RFC 4475 §3.1.1.2 carries a NUL.
 */
export function scanQuotedString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      const next = text.charCodeAt(i + 1);
      if (Number.isNaN(next) || next === 0x0a || next === 0x0d || next > 0x7f) break;
      i += 2;
    } else if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      throw new SipParseError('invalid character in quoted string');
    } else {
      i++;
    }
  }
  throw new SipParseError('unterminated quoted string');
}

export function parseNameAddr(text: string, options?: NameAddrOptions): NameAddr {
  let end = text.length;
  while (end > 0 && isWs(text.charCodeAt(end - 1))) end--;
  let i = 0;
  while (i < end && isWs(text.charCodeAt(i))) i++;
  if (i >= end) throw new SipParseError('empty address');
  if (end - i === 1 && text.charCodeAt(i) === 0x2a /* * */) return { uri: '*', params: new Map() };

  let displayName: string | undefined;
  let lt = -1;
  if (text.charCodeAt(i) === 0x22) {
    const after = scanQuotedString(text, i);
    displayName = text.slice(i + 1, after - 1);
    if (displayName.includes('\\')) displayName = displayName.replace(/\\([\s\S])/g, '$1');
    lt = after;
    while (lt < end && isWs(text.charCodeAt(lt))) lt++;
    if (text.charCodeAt(lt) !== 0x3c /* < */) throw new SipParseError('expected "<" after display name');
  } else {
    let j = i;
    while (j < end) {
      const c = text.charCodeAt(j);
      if (c === 0x3c || (c < 128 ? TOKEN[c] === 0 && !isWs(c) : true)) break;
      j++;
    }
    if (j < end && text.charCodeAt(j) === 0x3c) {
      // RFC 4475 §3.1.1.6: no LWS between the display tokens and "<" is accepted (a known RFC 3261 grammar bug).
      const name = text.slice(i, j).trim();
      if (name.length > 0) displayName = name.replace(/[ \t]+/g, ' ');
      lt = j;
    } else if (text.indexOf('<', i) !== -1) {
      // RFC 4475 §3.1.2.15: an unquoted display name may hold only tokens.
      throw new SipParseError('invalid character in display name (must be quoted)');
    }
  }

  let uri: string;
  let paramsText: string;
  if (lt !== -1) {
    const gt = text.indexOf('>', lt + 1);
    if (gt === -1 || gt >= end) throw new SipParseError('unterminated "<" in address');
    uri = text.slice(lt + 1, gt);
    // LAQUOT = SWS "<" and RAQUOT = ">" SWS: no LWS inside the brackets (RFC 4475 §3.1.2.14).
    if (uri.length > 0 && (isWs(uri.charCodeAt(0)) || isWs(uri.charCodeAt(uri.length - 1)))) {
      throw new SipParseError('whitespace inside "<>" in address');
    }
    let k = gt + 1;
    while (k < end && isWs(text.charCodeAt(k))) k++;
    if (k < end && text.charCodeAt(k) !== 0x3b) throw new SipParseError('unexpected text after ">" in address');
    paramsText = text.slice(k, end);
  } else {
    if (options?.requireBrackets) throw new SipParseError('address must be in name-addr form "<uri>"');
    const semi = text.indexOf(';', i);
    let uriEnd = semi === -1 || semi > end ? end : semi;
    paramsText = uriEnd === end ? '' : text.slice(uriEnd, end);
    while (uriEnd > i && isWs(text.charCodeAt(uriEnd - 1))) uriEnd--;
    uri = text.slice(i, uriEnd);
    // §20: "the name-addr form MUST be used if the addr-spec contains a comma, semicolon, or question mark"
    // (RFC 4475 §3.1.2.13).
    if (uri.includes('?') || uri.includes(',')) {
      throw new SipParseError('URI containing "?" or "," must be enclosed in "<>"');
    }
  }
  checkUri(uri);
  const params = parseParams(paramsText, 'header parameter');
  return displayName === undefined ? { uri, params } : { displayName, uri, params };
}

/** Always writes the safe form: a quoted display name (if any) and the URI in angle brackets. */
export function serializeNameAddr(value: NameAddr): string {
  if (value.uri === '*') return '*';
  const uri = `<${value.uri}>${serializeParams(value.params)}`;
  if (value.displayName === undefined) return uri;
  // quoted-pair may escape any octet but CR and LF (§25): those become spaces, so a display name taken from
  // outside (a web client) can never split the header line.
  const quoted = value.displayName.replace(/[\r\n]/g, ' ').replace(/(["\\\x00-\x08\x0b\x0c\x0e-\x1f\x7f])/g, '\\$1');
  return `"${quoted}" ${uri}`;
}
