/**
 * SIP message parser (RFC 3261 §7, §25) for one complete datagram or one frame cut by the stream framer
 * (framing.ts). The header block is decoded once and walked line by line with indexOf; header names and values
 * are checked with table lookups, never a regular expression per line, so the work is linear in the input.
 *
 * Validated here, eagerly, because the transport and transaction layers act on them before anyone else looks:
 * the start line, the Request-URI, the top Via, From, To, Call-ID, CSeq (and its method), Max-Forwards,
 * Content-Length, Content-Type and Contact. Other headers are only split into name and value; their grammar is
 * checked on access (header-accessors.ts). The verdicts follow RFC 4475; where it leaves a choice, the choice is
 * noted at the branch.
 *
 * Every failure is a SipParseError whose message fits a reason phrase and whose `partial` carries every header
 * that could be read, so a transport can answer a broken request with 400 (505, 513) and the right Via, From,
 * To, Call-ID and CSeq. Nothing else is ever thrown.
 */
import { Headers, headerKey } from './headers.ts';
import type { SipMessage } from './message.ts';
import { ParseFaults, SipParseError, type PartialMessage } from './parse-error.ts';
import { parseStartLine, statusOf } from './start-line.ts';
import { validateHeaders } from './header-validation.ts';
import { parseDecimal } from './header-accessors.ts';
import { allIn, isWs, TOKEN, trimWs } from './grammar.ts';

export interface ParseLimits {
  /** Whole message in bytes; larger is 513 Message Too Large (§18.1.1, §21.5.11). Default 65536. */
  maxMessageSize?: number;
  /** Header field rows; more is 400. Default 256. */
  maxHeaders?: number;
  /** One header field after unfolding, or the start line (a longer Request-URI is 414). Default 8192. */
  maxHeaderLineLength?: number;
}

export const DEFAULT_PARSE_LIMITS: Readonly<Required<ParseLimits>> = Object.freeze({
  maxMessageSize: 65536,
  maxHeaders: 256,
  maxHeaderLineLength: 8192,
});

const CR = 0x0d;
const LF = 0x0a;

export function parseSipMessage(data: Buffer, limits?: ParseLimits): SipMessage {
  const maxMessageSize = limits?.maxMessageSize ?? DEFAULT_PARSE_LIMITS.maxMessageSize;
  const maxHeaders = limits?.maxHeaders ?? DEFAULT_PARSE_LIMITS.maxHeaders;
  const maxLine = limits?.maxHeaderLineLength ?? DEFAULT_PARSE_LIMITS.maxHeaderLineLength;
  const faults = new ParseFaults();
  const partial: PartialMessage = { type: undefined, method: undefined, uri: undefined, headers: new Headers() };

  // §7.5: CRLF before the start line is ignored (stream keep-alives, sloppy senders).
  let start = 0;
  while (start < data.length && (data[start] === CR || data[start] === LF)) start++;
  if (start === data.length) throw withPartial(new SipParseError('empty message'), partial);
  if (data.length - start > maxMessageSize) {
    faults.add(`message larger than ${maxMessageSize} bytes`, 513, 'SIP_TOO_LARGE');
  }
  const end = Math.min(data.length, start + maxMessageSize);
  const region = data.subarray(start, end);

  scanHeaderBlock(data, start, end);
  let { headEnd, bodyStart } = block;
  const { controls } = block;
  if (headEnd === -1) headEnd = end;
  if (headEnd > start && data[headEnd - 1] === CR) headEnd--;
  const head = data.toString('utf8', start, headEnd);
  if (bodyStart !== -1) bodyStart -= start;

  // Start line.
  let eol = head.indexOf('\n');
  if (eol === -1) eol = head.length;
  const startLine = head.charCodeAt(eol - 1) === CR ? head.slice(0, eol - 1) : head.slice(0, eol);
  if (controls) checkControls(startLine, 'start line', false, faults);
  parseStartLine(startLine, partial, faults, maxLine);

  // Header fields.
  const headers = partial.headers;
  let name: string | undefined;
  let key: string | undefined;
  let value = '';
  let folded: string[] | undefined;
  let pos = eol + 1;
  let rows = 0;
  while (pos < head.length) {
    eol = head.indexOf('\n', pos);
    if (eol === -1) eol = head.length;
    const lineEnd = eol > pos && head.charCodeAt(eol - 1) === CR ? eol - 1 : eol;
    const first = head.charCodeAt(pos);
    if (first === 0x20 || first === 0x09) {
      // LWS: a line starting with SP/HTAB continues the previous one and the fold counts as one SP (§7.3.1).
      if (name === undefined) {
        faults.add('line folding without a header field');
      } else {
        // Pieces are joined at the end: re-trimming a growing string per line would be quadratic.
        const piece = trimWs(head.slice(pos, lineEnd));
        if (piece.length > 0) (folded ??= [trimEnd(value)]).push(piece);
      }
    } else {
      if (name !== undefined) commit(headers, name, key, folded === undefined ? value : folded.join(' '), maxLine, controls, faults);
      name = undefined;
      folded = undefined;
      if (++rows > maxHeaders) {
        faults.add(`more than ${maxHeaders} header fields`, 400, 'SIP_LIMIT');
        break;
      }
      const colon = head.indexOf(':', pos);
      if (colon === -1 || colon >= lineEnd) {
        faults.add('malformed header line (no colon)');
      } else {
        // HCOLON = *( SP / HTAB ) ":" SWS: whitespace before the colon is allowed (RFC 4475 §3.1.1.1).
        let nameEnd = colon;
        while (nameEnd > pos && isWs(head.charCodeAt(nameEnd - 1))) nameEnd--;
        const known = knownName(head, pos, nameEnd);
        if (known !== undefined) {
          name = known[0];
          key = known[1];
        } else {
          name = head.slice(pos, nameEnd);
          key = NAME_KEYS.get(name);
        }
        if (key !== undefined || allIn(name, TOKEN)) {
          value = head.slice(colon + 1, lineEnd);
        } else {
          faults.add('invalid header field name');
          name = undefined;
        }
      }
    }
    pos = eol + 1;
  }
  if (name !== undefined) commit(headers, name, key, folded === undefined ? value : folded.join(' '), maxLine, controls, faults);
  if (faults.error !== undefined) throw withPartial(faults.error, partial);

  validateHeaders(partial, faults);
  if (faults.error !== undefined) throw withPartial(faults.error, partial);

  // §7: "The empty line MUST be present even if the message-body is not."
  if (bodyStart === -1) throw withPartial(new SipParseError('missing empty line after the header fields'), partial);
  // §18.3: over a datagram transport Content-Length governs; without one the body is the rest of the datagram.
  const available = region.length - bodyStart;
  const lengthField = headers.get('content-length');
  let bodyLength = available;
  if (lengthField !== undefined) {
    bodyLength = parseDecimal(lengthField, 'Content-Length');
    if (bodyLength > available) {
      throw withPartial(new SipParseError('Content-Length larger than the message body'), partial);
    }
  }
  const body = region.subarray(bodyStart, bodyStart + bodyLength);

  if (partial.type === 'request') {
    return { type: 'request', method: partial.method!, uri: partial.uri!, headers, body };
  }
  // "SIP/2.0 NNN " is 12 characters; what follows is the reason phrase, possibly empty.
  return { type: 'response', status: statusOf(startLine), reason: startLine.slice(12), headers, body };
}

/** What `scanHeaderBlock` found (module scratch: the scan is synchronous and allocates nothing). */
const block = { headEnd: -1, bodyStart: -1, controls: false };

/**
 * One pass over the header bytes: finds the empty line that ends them (CRLF CRLF, or with bare LF line ends, which
 * are tolerated for robustness, §7) and notes whether a control character or a CR that does not end a line occurs
 * anywhere (§25 TEXT-UTF8char); only then does the parser run the slower, quote-aware check per line.
 */
function scanHeaderBlock(data: Buffer, start: number, end: number): void {
  block.headEnd = -1;
  block.bodyStart = -1;
  block.controls = false;
  let i = start;
  for (;;) {
    // Four bytes at a time while all are printable ASCII (each >= 0x20, and +1 keeps bit 7 clear: not 0x7f and
    // not UTF-8); a quad with a line end, a control or a non-ASCII byte is looked at byte by byte.
    while (i + 4 <= end) {
      const a = data[i]!;
      const b = data[i + 1]!;
      const c = data[i + 2]!;
      const d = data[i + 3]!;
      if (((a - 0x20) | (b - 0x20) | (c - 0x20) | (d - 0x20)) < 0 || (((a + 1) | (b + 1) | (c + 1) | (d + 1)) & 0x80) !== 0) break;
      i += 4;
    }
    if (i >= end) return;
    for (const stop = Math.min(end, i + 4); i < stop; i++) {
      const c = data[i]!;
      if (c >= 0x20) {
        if (c === 0x7f) block.controls = true;
      } else if (c === LF) {
        const next = data[i + 1];
        if (next === LF || (next === CR && data[i + 2] === LF)) {
          block.headEnd = i;
          block.bodyStart = i + (next === LF ? 2 : 3);
          return;
        }
      } else if (c === CR) {
        if (data[i + 1] !== LF && i + 1 < end) block.controls = true;
      } else if (c !== 0x09) {
        block.controls = true;
      }
    }
  }
}

function withPartial(error: SipParseError, partial: PartialMessage): SipParseError {
  error.partial = partial;
  return error;
}

function trimEnd(text: string): string {
  let end = text.length;
  while (end > 0 && isWs(text.charCodeAt(end - 1))) end--;
  return end === text.length ? text : text.slice(0, end);
}

/**
 * The header names of everyday traffic in their usual spelling, by length: matching one in place costs a couple of
 * character comparisons and hands back an interned name and its key, with no slice and no hashing.
 */
const KNOWN_NAMES: ReadonlyArray<ReadonlyArray<readonly [string, string]>> = (() => {
  const names = [
    'Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Max-Forwards', 'Content-Type', 'Content-Length', 'Allow',
    'Supported', 'Require', 'User-Agent', 'Server', 'Session-Expires', 'Min-SE', 'Route', 'Record-Route', 'Expires',
    'Authorization', 'WWW-Authenticate', 'Proxy-Authorization', 'Proxy-Authenticate', 'Event', 'Subscription-State',
    'Accept', 'Date', 'Reason', 'Refer-To', 'Referred-By', 'P-Asserted-Identity', 'Privacy', 'Allow-Events', 'RSeq',
    'RAck', 'Content-Disposition', 'Timestamp', 'Warning', 'Subject', 'Path', 'Call-Id', 'CSEQ', 'Max-forwards',
    'Content-type', 'Content-length', 'Record-route', 'User-agent', 'v', 'f', 't', 'i', 'm', 'l', 'c', 'k', 's', 'o',
  ];
  const byLength: Array<Array<readonly [string, string]>> = [];
  for (const name of names) (byLength[name.length] ??= []).push([name, headerKey(name)] as const);
  return byLength;
})();

function knownName(text: string, start: number, end: number): readonly [string, string] | undefined {
  const candidates = KNOWN_NAMES[end - start];
  if (candidates === undefined) return undefined;
  const length = end - start;
  const first = text.charCodeAt(start);
  for (let c = 0; c < candidates.length; c++) {
    const name = candidates[c]![0];
    if (name.charCodeAt(0) !== first) continue;
    let k = 1;
    while (k < length && name.charCodeAt(k) === text.charCodeAt(start + k)) k++;
    if (k === length) return candidates[c];
  }
  return undefined;
}

/**
 * Header names already seen to be tokens, with their canonical key: real traffic uses a few dozen spellings, so
 * the token check and the key lookup become one Map hit. Bounded against a peer sending random names.
 */
const NAME_KEYS = new Map<string, string>();
const NAME_KEYS_LIMIT = 1024;

function commit(
  headers: Headers, name: string, known: string | undefined, raw: string, maxLine: number, controls: boolean, faults: ParseFaults,
): void {
  const value = trimWs(raw);
  if (name.length + value.length + 2 > maxLine) {
    faults.add(`header field ${name.slice(0, 40)} longer than ${maxLine} characters`, 400, 'SIP_LIMIT');
    return;
  }
  if (controls) checkControls(value, `${name} header`, true, faults);
  let key = known;
  if (key === undefined) {
    key = headerKey(name);
    if (NAME_KEYS.size < NAME_KEYS_LIMIT) NAME_KEYS.set(name, key);
  }
  // Lines were split at LF and a stray CR is a fault, so the value holds neither: the serializer need not look.
  headers.appendParsed(name, key, value);
}

/**
 * A control character is allowed only as the escaped octet of a quoted-pair inside a quoted string (§25; RFC 4475
 * §3.1.1.2 quotes a NUL, BEL and DEL that way). Called only when the block holds a control at all.
 */
function checkControls(text: string, where: string, quotes: boolean, faults: ParseFaults): void {
  let inQuotes = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inQuotes && c === 0x5c) {
      const next = text.charCodeAt(i + 1);
      if (next === CR || next === LF) {
        faults.add(`invalid control character in ${where}`);
        return;
      }
      i++;
    } else if (quotes && c === 0x22) {
      inQuotes = !inQuotes;
    } else if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      faults.add(`invalid control character in ${where}`);
      return;
    }
  }
}
