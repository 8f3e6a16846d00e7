/**
 * Typed views of the header fields the layers above need. The parser validates only what the transport and
 * transaction layers need before a message may travel further (Via, From, To, Call-ID, CSeq, Max-Forwards,
 * Content-Length, Content-Type, Contact); every other header is validated here, on first access, so a malformed
 * Date or Route costs nothing unless someone reads it (RFC 4475 §3.1.2.12: reject a bad Date only "if the contents
 * of the Date header field were actually important").
 *
 * Results are cached per header field and re-parsed when the field's value changes, so reading the top Via three
 * times parses it once. Returned objects are shared: treat them as read-only. Every failure is a SipParseError
 * with status 400 naming the header.
 */
import type { HeaderField } from './headers.ts';
import { splitListStrict } from './headers.ts';
import type { SipMessage } from './message.ts';
import { parseCSeq, type CSeq } from './cseq.ts';
import { parseNameAddr, type NameAddr } from './name-addr.ts';
import { parseParams, type Params } from './params.ts';
import { SipParseError } from './parse-error.ts';
import { parseVia, type Via } from './via.ts';

/** Names of the views cached in HeaderField.parsed. */
type ViewName = 'vias' | 'top-via' | 'cseq' | 'name-addr' | 'contacts' | 'routes';

/** The cached view of `field`, computed again when the field's value changed since (or another view was cached). */
function view<T>(name: ViewName, field: HeaderField, parse: (value: string) => T): T {
  const cached = field.parsed;
  if (cached !== undefined && cached.view === name && cached.value === field.value) return cached.result as T;
  const result = parse(field.value);
  field.parsed = { view: name, value: field.value, result };
  return result;
}

/** The parser hands over what it already parsed, so the first access is free. */
export function remember(name: ViewName, field: HeaderField, result: unknown): void {
  field.parsed = { view: name, value: field.value, result };
}

function first(msg: SipMessage, key: string): HeaderField | undefined {
  for (const field of msg.headers) if (field.key === key) return field;
  return undefined;
}

function required(msg: SipMessage, key: string, name: string): HeaderField {
  const field = first(msg, key);
  if (field === undefined) throw new SipParseError(`missing ${name} header`);
  return field;
}

/** Runs `parse`, re-throwing its SipParseError prefixed with the header's name so the reason phrase says where. */
function inHeader<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof SipParseError && !error.message.includes(name)) {
      throw new SipParseError(`${name}: ${error.message}`, { status: error.status ?? 400 });
    }
    throw error;
  }
}

/** The first element of a list value; the whole list is checked for empty elements only when it has a comma. */
export function firstListElement(value: string, name: string): string {
  return value.includes(',') ? listElements(value, name)[0]! : value;
}

export function listElements(value: string, name: string): string[] {
  const parts = splitListStrict(value);
  if (parts === undefined) throw new SipParseError(`empty element or unbalanced quotes in ${name} header`);
  return parts;
}

/** Every Via value, top first, across rows (§7.3.1: rows and commas are equivalent). */
export function vias(msg: SipMessage): Via[] {
  const out: Via[] = [];
  for (const field of msg.headers) {
    if (field.key !== 'via') continue;
    out.push(...view('vias', field, (value) => inHeader('Via', () => listElements(value, 'Via').map(parseVia))));
  }
  return out;
}

/** The top Via (§8.2.6.2, §18.2.1, §17.2.3): the first element of the first Via row. */
export function topVia(msg: SipMessage): Via {
  const field = required(msg, 'via', 'Via');
  return view('top-via', field, (value) => inHeader('Via', () => parseVia(firstListElement(value, 'Via'))));
}

export function cseq(msg: SipMessage): CSeq {
  return view('cseq', required(msg, 'cseq', 'CSeq'), parseCSeq);
}

export function callId(msg: SipMessage): string {
  return required(msg, 'call-id', 'Call-ID').value;
}

export function from(msg: SipMessage): NameAddr {
  return view('name-addr', required(msg, 'from', 'From'), (v) => inHeader('From', () => parseNameAddr(v)));
}

export function to(msg: SipMessage): NameAddr {
  return view('name-addr', required(msg, 'to', 'To'), (v) => inHeader('To', () => parseNameAddr(v)));
}

function tagOf(address: NameAddr, name: string): string | undefined {
  const tag = address.params.get('tag');
  if (tag === null) throw new SipParseError(`${name} tag without a value`);
  return tag;
}

export function fromTag(msg: SipMessage): string | undefined {
  return tagOf(from(msg), 'From');
}

export function toTag(msg: SipMessage): string | undefined {
  return tagOf(to(msg), 'To');
}

export interface Contact extends NameAddr {
  /** The `expires` contact-param in seconds (§20.10), when present. */
  expires: number | undefined;
  /** The `q` contact-param (0–1), when present. */
  q: number | undefined;
}

/** One Contact row: `*` (REGISTER wildcard, §10.2.2) or contact-params; expires and q are range-checked here. */
export function parseContactValue(value: string): Contact[] | '*' {
  return inHeader('Contact', () => {
    const parts = listElements(value, 'Contact');
    if (parts.length === 1 && parts[0] === '*') return '*';
    return parts.map((part) => {
      const address = parseNameAddr(part);
      if (address.uri === '*') throw new SipParseError('Contact "*" must stand alone');
      const expires = address.params.get('expires');
      const q = address.params.get('q');
      return {
        ...address,
        expires: expires === undefined ? undefined : deltaSeconds(expires ?? '', 'Contact expires'),
        q: q === undefined ? undefined : qValue(q ?? ''),
      };
    });
  });
}

/** All Contact values in order, `*` for the wildcard, [] when there is none. */
export function contacts(msg: SipMessage): Contact[] | '*' {
  const out: Contact[] = [];
  let rows = 0;
  let wildcard = false;
  for (const field of msg.headers) {
    if (field.key !== 'contact') continue;
    rows++;
    const parsed = view('contacts', field, parseContactValue);
    if (parsed === '*') wildcard = true;
    else out.push(...parsed);
  }
  if (wildcard) {
    if (rows > 1 || out.length > 0) throw new SipParseError('Contact "*" must stand alone');
    return '*';
  }
  return out;
}

function routeList(msg: SipMessage, key: string, name: string): NameAddr[] {
  const out: NameAddr[] = [];
  for (const field of msg.headers) {
    if (field.key !== key) continue;
    const parse = (value: string): NameAddr[] =>
      inHeader(name, () => listElements(value, name).map((part) => parseNameAddr(part, { requireBrackets: true })));
    out.push(...view('routes', field, parse));
  }
  return out;
}

/** Route values in order (§20.34; name-addr form only). */
export function routes(msg: SipMessage): NameAddr[] {
  return routeList(msg, 'route', 'Route');
}

/** Record-Route values in order (§20.30). */
export function recordRoutes(msg: SipMessage): NameAddr[] {
  return routeList(msg, 'record-route', 'Record-Route');
}

/** Max-Forwards (§20.22): 0–255, undefined when absent (RFC 4475 §3.4.1 accepts its absence). */
export function maxForwards(msg: SipMessage): number | undefined {
  const field = first(msg, 'max-forwards');
  if (field === undefined) return undefined;
  const n = parseDecimal(field.value, 'Max-Forwards');
  if (n > 255) throw new SipParseError(`Max-Forwards out of range "${field.value}"`);
  return n;
}

/** Content-Length (§20.14), undefined when absent. */
export function contentLength(msg: SipMessage): number | undefined {
  const field = first(msg, 'content-length');
  return field === undefined ? undefined : parseDecimal(field.value, 'Content-Length');
}

/** Expires (§20.19), delta-seconds up to 2**32-1 (RFC 4475 §3.1.2.4: larger values are malformed). */
export function expires(msg: SipMessage): number | undefined {
  const field = first(msg, 'expires');
  return field === undefined ? undefined : deltaSeconds(field.value, 'Expires');
}

export interface MediaType {
  /** Lower case. */
  type: string;
  /** Lower case. */
  subtype: string;
  params: Params;
}

const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/** media-type = m-type SLASH m-subtype *(SEMI m-parameter) (§20.15, §25). */
export function parseMediaType(value: string): MediaType {
  const slash = value.indexOf('/');
  const semi = value.indexOf(';');
  const typeEnd = slash === -1 || (semi !== -1 && semi < slash) ? -1 : slash;
  const type = typeEnd === -1 ? '' : value.slice(0, typeEnd).trim();
  const subtype = typeEnd === -1 ? '' : value.slice(typeEnd + 1, semi === -1 ? undefined : semi).trim();
  if (!TOKEN_RE.test(type) || !TOKEN_RE.test(subtype)) throw new SipParseError(`malformed media type "${value}"`);
  const params = parseParams(semi === -1 ? '' : value.slice(semi), 'media type parameter');
  return { type: type.toLowerCase(), subtype: subtype.toLowerCase(), params };
}

export function contentType(msg: SipMessage): MediaType | undefined {
  const field = first(msg, 'content-type');
  return field === undefined ? undefined : inHeader('Content-Type', () => parseMediaType(field.value));
}

/** Option tags of Supported, Require, Proxy-Require or Unsupported (§20.37, §20.32), in order, lower case. */
export function optionTags(msg: SipMessage, header: 'supported' | 'require' | 'proxy-require' | 'unsupported'): string[] {
  const out: string[] = [];
  for (const field of msg.headers) {
    if (field.key !== header) continue;
    // `Supported:` may be empty (§20.37: *( option-tag )), so an empty row is no element rather than an error.
    if (field.value.trim() === '') continue;
    for (const tag of listElements(field.value, header)) {
      if (!TOKEN_RE.test(tag)) throw new SipParseError(`invalid option tag "${tag}" in ${header}`);
      out.push(tag.toLowerCase());
    }
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DATE_RE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) ([A-Z][a-z][a-z]) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/;

/** Date (§20.17): rfc1123-date in GMT only ("UT", "UTC", "EST" are invalid, RFC 4475 §3.1.2.12). */
export function date(msg: SipMessage): Date | undefined {
  const field = first(msg, 'date');
  if (field === undefined) return undefined;
  const m = DATE_RE.exec(field.value);
  const month = m ? MONTHS.indexOf(m[2]!) : -1;
  if (!m || month === -1) throw new SipParseError(`malformed Date "${field.value}"`);
  const time = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (Number.isNaN(time) || Number(m[1]) > 31 || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60) {
    throw new SipParseError(`malformed Date "${field.value}"`);
  }
  return new Date(time);
}

/** 1*DIGIT with leading zeros allowed; more than 10 significant digits is out of any SIP range. */
export function parseDecimal(text: string, what: string): number {
  const value = text.trim();
  let i = 0;
  while (i < value.length) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  if (i === 0 || i !== value.length) throw new SipParseError(`invalid ${what} "${text}"`);
  let start = 0;
  while (start < value.length - 1 && value.charCodeAt(start) === 0x30) start++;
  if (value.length - start > 10) throw new SipParseError(`${what} out of range "${text}"`);
  return Number(value.slice(start));
}

function deltaSeconds(text: string, what: string): number {
  const n = parseDecimal(text, what);
  if (n > 0xffffffff) throw new SipParseError(`${what} out of range "${text}"`);
  return n;
}

/** qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (§25). */
function qValue(text: string): number {
  if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(text)) throw new SipParseError(`invalid Contact q "${text}"`);
  return Number(text);
}
