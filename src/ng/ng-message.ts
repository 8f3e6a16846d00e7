/**
 * ng messages (docs/ng_control_protocol.md in sipwise/rtpengine): `cookie SP dictionary`, where the
 * dictionary is bencode (what Kamailio, OpenSIPS and drachtio send) or a JSON object (rtpengine accepts both
 * and answers in the format it was asked in). The reply carries the same cookie, which is how the proxy
 * matches it and how we recognise a retransmission. Pure: bytes in, values out.
 */
import { decodeBencode, encodeBencode } from './bencode.ts';
import type { BencodeDict, BencodeInput, BencodeLimits, BencodeValue } from './bencode.ts';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_LENGTH } from './bencode.ts';
import { NgError } from './errors.ts';

export { parseNgCommand } from './ng-command.ts';
export type { NgCommand, NgCommandName } from './ng-command.ts';

export type NgFormat = 'bencode' | 'json';

/** Kamailio's cookies are `<server id>_<random>_<seq>`, well under this. */
export const MAX_COOKIE_LENGTH = 256;

export interface NgFrame {
  /** The cookie bytes, echoed verbatim in the reply. */
  cookie: Buffer;
  body: Buffer;
}

/** A reply dictionary: `result` plus whatever the command returns; undefined values are left out. */
export type NgReply = { readonly result: 'ok' | 'pong' | 'error' } & { readonly [key: string]: BencodeInput | undefined };

/**
 * Splits `cookie SP body`. rtpengine drops a message with no space or with an empty cookie without answering
 * (there is nothing to put in a reply), and so do we: NG_FRAMING.
 */
export function splitCookie(message: Buffer): NgFrame {
  const space = message.indexOf(0x20);
  if (space <= 0) throw new NgError('NG_FRAMING', 'Received invalid NG data (no cookie)');
  if (space > MAX_COOKIE_LENGTH) throw new NgError('NG_FRAMING', `Cookie longer than ${MAX_COOKIE_LENGTH} bytes`);
  return { cookie: message.subarray(0, space), body: message.subarray(space + 1) };
}

/** Decodes the dictionary of a message body. BencodeError or NgError on anything else. */
export function decodeNgBody(body: Buffer, limits: BencodeLimits = {}): { dict: BencodeDict; format: NgFormat } {
  let end = body.length;
  // A trailing newline from a hand-typed (nc, socat) command is not worth an error.
  while (end > 0 && (body[end - 1] === 0x0a || body[end - 1] === 0x0d || body[end - 1] === 0x20)) end--;
  if (end === 0) throw new NgError('NG_FRAMING', 'Invalid data (no payload)');
  const data = body.subarray(0, end);
  if (data[0] === 0x64 /* d */) return { dict: decodeBencode(data, limits) as BencodeDict, format: 'bencode' };
  if (data[0] === 0x7b /* { */) return { dict: decodeJson(data, limits), format: 'json' };
  throw new NgError('NG_FRAMING', 'Invalid NG data format');
}

export function encodeNgReply(reply: NgReply, format: NgFormat): Buffer {
  if (format === 'bencode') return encodeBencode(reply);
  return Buffer.from(JSON.stringify(toJson(reply)), 'utf8');
}

export function frameNgMessage(cookie: Buffer | string, body: Buffer): Buffer {
  const c = typeof cookie === 'string' ? Buffer.from(cookie, 'latin1') : cookie;
  return Buffer.concat([c, Buffer.from(' ', 'latin1'), body]);
}

/** The `{ result: 'error', 'error-reason' }` reply rtpengine sends for any failed command. */
export function errorReply(reason: string): NgReply {
  return { result: 'error', 'error-reason': reason };
}

// ------------------------------------------------------------------------------------------------- JSON

function decodeJson(data: Buffer, limits: BencodeLimits): BencodeDict {
  const maxLength = limits.maxLength ?? DEFAULT_MAX_LENGTH;
  if (data.length > maxLength) throw new NgError('NG_FRAMING', `JSON document longer than ${maxLength} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    throw new NgError('NG_FRAMING', 'Failed to parse JSON document');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new NgError('NG_FRAMING', 'Could not decode JSON dictionary');
  }
  return fromJson(parsed, 1, limits.maxDepth ?? DEFAULT_MAX_DEPTH) as BencodeDict;
}

/** JSON → the bencode value model: integers only (bencode has no floats, booleans or null). */
function fromJson(value: unknown, depth: number, maxDepth: number): BencodeValue {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new NgError('NG_INVALID', `JSON number ${value} is not an integer`);
    return value;
  }
  if (typeof value === 'object' && value !== null) {
    if (depth > maxDepth) throw new NgError('NG_FRAMING', `JSON nested deeper than ${maxDepth}`);
    if (Array.isArray(value)) return value.map((item) => fromJson(item, depth + 1, maxDepth));
    const dict = Object.create(null) as BencodeDict;
    for (const [key, item] of Object.entries(value)) dict[key] = fromJson(item, depth + 1, maxDepth);
    return dict;
  }
  throw new NgError('NG_INVALID', `JSON ${value === null ? 'null' : typeof value} has no ng equivalent`);
}

function toJson(value: BencodeInput | undefined): unknown {
  if (value === undefined || typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('latin1');
  if (Array.isArray(value)) return (value as readonly BencodeInput[]).map(toJson);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, BencodeInput | undefined>)) {
    if (item !== undefined) out[key] = toJson(item);
  }
  return out;
}
