/**
 * SIP message serializer (RFC 3261 §7): start line, the header fields in order with their names as stored, a
 * Content-Length that is always the body's byte length (§18.3: written even for an empty body so the message can
 * go over a stream transport; corrected when the stored value is wrong, added at the end when absent), the empty
 * line, the body bytes. One allocation for the whole message.
 */
import { GatewayError } from '../errors.ts';
import { SIP_VERSION, type SipMessage } from './message.ts';
import type { HeaderField } from './headers.ts';
import { isToken } from './grammar.ts';

/** A message that cannot be written: a CR or LF inside a start-line element, a header name or a value. */
export class SipSerializeError extends GatewayError {
  constructor(message: string) {
    super('SIP_SERIALIZE', message, { status: 500 });
  }
}

/** Header names already checked to be tokens; bounded, like the header-key cache. */
const GOOD_NAMES = new Set<string>();

export function serializeSipMessage(msg: SipMessage): Buffer {
  let head: string;
  if (msg.type === 'request') {
    if (!isToken(msg.method)) throw new SipSerializeError('method is not a token');
    if (msg.uri.length === 0 || /\s/.test(msg.uri)) throw new SipSerializeError('Request-URI is empty or has whitespace');
    head = `${msg.method} ${msg.uri} ${SIP_VERSION}\r\n`;
  } else {
    if (!Number.isInteger(msg.status) || msg.status < 100 || msg.status > 699) {
      throw new SipSerializeError(`status ${msg.status} is not a 3-digit code`);
    }
    if (msg.reason.includes('\n') || msg.reason.includes('\r')) throw new SipSerializeError('line break in the reason phrase');
    head = `${SIP_VERSION} ${msg.status} ${msg.reason}\r\n`;
  }
  let lengthWritten = false;
  for (const field of msg.headers) {
    if (field.clean !== field.value) checkField(field);
    if (field.key === 'content-length') {
      // Exactly one Content-Length (§20.14 is a single-value header), at the position of the first one.
      if (lengthWritten) continue;
      lengthWritten = true;
      head += `${field.name}: ${msg.body.length}\r\n`;
    } else {
      head += `${field.name}: ${field.value}\r\n`;
    }
  }
  if (!lengthWritten) head += `Content-Length: ${msg.body.length}\r\n`;
  head += '\r\n';
  const headLength = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLength + msg.body.length);
  out.write(head, 0, headLength, 'utf8');
  msg.body.copy(out, headLength);
  return out;
}

/**
 * Header injection guard for a field built or edited in code: a token name, no CR or LF in the value. A field
 * that passes is remembered as clean, so a retransmission does not scan it again.
 */
function checkField(field: HeaderField): void {
  if (!GOOD_NAMES.has(field.name)) {
    if (!isToken(field.name)) throw new SipSerializeError(`header name "${field.name.slice(0, 40)}" is not a token`);
    if (GOOD_NAMES.size < 1024) GOOD_NAMES.add(field.name);
  }
  if (field.value.includes('\n') || field.value.includes('\r')) {
    throw new SipSerializeError(`line break in the ${field.name.slice(0, 40)} header`);
  }
  field.clean = field.value;
}
