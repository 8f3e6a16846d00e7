/**
 * The header checks of a parsed message (RFC 3261 §8.1.1, §7.3.1, §20, §25) for the fields the transport and
 * transaction layers act on: presence, uniqueness, and each value's grammar. What is parsed here is handed to the
 * accessors' cache, so reading the top Via, From, To or CSeq afterwards costs nothing.
 */
import type { HeaderField } from './headers.ts';
import { SipParseError, type ParseFaults, type PartialMessage } from './parse-error.ts';
import { parseVia } from './via.ts';
import { parseCSeq } from './cseq.ts';
import { parseNameAddr } from './name-addr.ts';
import { firstListElement, listElements, parseDecimal, parseMediaType, remember } from './header-accessors.ts';
import { WORD, allIn } from './grammar.ts';

/**
 * The header checks, in a fixed order so that a message with several faults always gets the same reason:
 * presence (§8.1.1), uniqueness (§7.3.1, §20), then each value's grammar.
 */
export function validateHeaders(partial: PartialMessage, faults: ParseFaults): void {
  let via: HeaderField | undefined;
  let from: HeaderField | undefined;
  let to: HeaderField | undefined;
  let callId: HeaderField | undefined;
  let cseqField: HeaderField | undefined;
  let maxForwards: HeaderField | undefined;
  let contentLength: HeaderField | undefined;
  let contentType: HeaderField | undefined;
  let contact: HeaderField | undefined;
  let moreContacts: HeaderField[] | undefined;
  let duplicate: string | undefined;
  for (const field of partial.headers) {
    switch (field.key) {
      case 'via': via ??= field; break;
      case 'from': if (from === undefined) from = field; else duplicate ??= 'From'; break;
      case 'to': if (to === undefined) to = field; else duplicate ??= 'To'; break;
      case 'call-id': if (callId === undefined) callId = field; else duplicate ??= 'Call-ID'; break;
      case 'cseq': if (cseqField === undefined) cseqField = field; else duplicate ??= 'CSeq'; break;
      case 'max-forwards': if (maxForwards === undefined) maxForwards = field; else duplicate ??= 'Max-Forwards'; break;
      case 'content-length': if (contentLength === undefined) contentLength = field; else duplicate ??= 'Content-Length'; break;
      case 'content-type': if (contentType === undefined) contentType = field; else duplicate ??= 'Content-Type'; break;
      case 'contact': if (contact === undefined) contact = field; else (moreContacts ??= []).push(field); break;
      default:
    }
  }
  // §8.1.1: To, From, CSeq, Call-ID, Max-Forwards and Via are mandatory in a request (§8.2.6.2 has the response
  // copy all but Max-Forwards). Max-Forwards is not enforced: RFC 4475 §3.4.1 wants RFC 2543 requests without it
  // accepted, and a proxy treats its absence as 70.
  if (via === undefined || from === undefined || to === undefined || callId === undefined || cseqField === undefined) {
    const missing: string[] = [];
    if (via === undefined) missing.push('Via');
    if (from === undefined) missing.push('From');
    if (to === undefined) missing.push('To');
    if (callId === undefined) missing.push('Call-ID');
    if (cseqField === undefined) missing.push('CSeq');
    return faults.add(`missing ${missing.join(', ')} header${missing.length > 1 ? 's' : ''}`);
  }
  // RFC 4475 §3.3.8 (multi01), §3.3.9 (mcl01): a second From/To/Call-ID/CSeq/Max-Forwards/Content-Length.
  if (duplicate !== undefined) return faults.add(`more than one ${duplicate} header`);
  try {
    remember('top-via', via, parseVia(firstListElement(via.value, 'Via')));
  } catch (error) {
    return faults.addFrom(error, 'Via');
  }
  if (!checkAddress(from, 'From', faults) || !checkAddress(to, 'To', faults)) return;
  // callid = word [ "@" word ] (§25); "%" and quotes are plain characters here (RFC 4475 §3.1.1.2).
  const id = callId.value;
  const at = id.indexOf('@');
  if (!(at === -1 ? allIn(id, WORD) : allIn(id, WORD, 0, at) && allIn(id, WORD, at + 1))) {
    return faults.add('malformed Call-ID');
  }
  try {
    const cseq = parseCSeq(cseqField.value);
    // §8.2 / RFC 4475 §3.1.2.17–18. For an unknown method RFC 4475 prefers 501, but which methods are known is
    // the transaction user's knowledge, not the parser's: 400 is the answer it also allows.
    if (partial.type === 'request' && cseq.method !== partial.method) {
      return faults.add('CSeq method does not match request method');
    }
    remember('cseq', cseqField, cseq);
  } catch (error) {
    return faults.addFrom(error, 'CSeq');
  }
  try {
    // RFC 4475 §3.1.2.4 lets an element ignore an out-of-range Max-Forwards; it is 400 here, like a negative or
    // non-numeric one, so that nothing behind us ever sees it.
    if (maxForwards !== undefined && parseDecimal(maxForwards.value, 'Max-Forwards') > 255) {
      return faults.add('Max-Forwards out of range');
    }
    // RFC 4475 §3.1.2.3: a negative or non-numeric Content-Length (parseDecimal names the header in its message).
    if (contentLength !== undefined) parseDecimal(contentLength.value, 'Content-Length');
  } catch (error) {
    return faults.addFrom(error, 'Content-Length');
  }
  if (contentType !== undefined) {
    try {
      parseMediaType(contentType.value);
    } catch (error) {
      return faults.addFrom(error, 'Content-Type');
    }
  }
  if (contact !== undefined) {
    try {
      checkContact(contact.value, partial);
      if (moreContacts !== undefined) for (const field of moreContacts) checkContact(field.value, partial);
    } catch (error) {
      return faults.addFrom(error, 'Contact');
    }
  }
}

/** From / To (§20.20, §20.39): a name-addr or addr-spec (not "*"), and a tag, when present, with a value. */
function checkAddress(field: HeaderField, label: string, faults: ParseFaults): boolean {
  try {
    const address = parseNameAddr(field.value);
    if (address.uri === '*') throw new SipParseError('"*" is not an address');
    if (address.params.get('tag') === null) throw new SipParseError('tag without a value');
    remember('name-addr', field, address);
    return true;
  } catch (error) {
    faults.addFrom(error, label);
    return false;
  }
}

/**
 * Contact syntax (§20.10): `*` alone (REGISTER only, §10.2.2) or name-addr / addr-spec values with parameters.
 * The `expires` and `q` ranges are checked by `contacts()`, where a registrar can choose (RFC 4475 §3.1.2.4).
 */
function checkContact(value: string, partial: PartialMessage): void {
  if (!value.includes(',')) {
    if (value === '*') {
      if (partial.method !== 'REGISTER') throw new SipParseError('"*" is allowed only in REGISTER');
      return;
    }
    if (parseNameAddr(value).uri === '*') throw new SipParseError('"*" must stand alone');
    return;
  }
  for (const part of listElements(value, 'Contact')) {
    if (parseNameAddr(part).uri === '*') throw new SipParseError('"*" must stand alone');
  }
}
