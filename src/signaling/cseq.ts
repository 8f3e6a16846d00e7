/** CSeq (RFC 3261 §20.16): a 32-bit sequence number and the request method. */
import { SipParseError } from './parse-error.ts';
import { TOKEN } from './grammar.ts';

export interface CSeq {
  seq: number;
  method: string;
}


/** CSeq = 1*DIGIT LWS Method; leading zeros are fine (RFC 4475 §3.1.1.1), values past 2**32-1 are not (§3.1.2.4). */
export function parseCSeq(value: string): CSeq {
  const n = value.length;
  let i = 0;
  while (i < n && (value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09)) i++;
  const digitsStart = i;
  while (i < n && value.charCodeAt(i) >= 0x30 && value.charCodeAt(i) <= 0x39) i++;
  const digitsEnd = i;
  while (i < n && (value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09)) i++;
  const methodStart = i;
  while (i < n && value.charCodeAt(i) < 128 && TOKEN[value.charCodeAt(i)] === 1) i++;
  const methodEnd = i;
  while (i < n && (value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09)) i++;
  if (digitsEnd === digitsStart || methodStart === digitsEnd || methodEnd === methodStart || i !== n) {
    throw new SipParseError(`malformed CSeq "${value}"`);
  }
  let start = digitsStart;
  while (start < digitsEnd - 1 && value.charCodeAt(start) === 0x30) start++;
  const seq = digitsEnd - start > 10 ? Infinity : Number(value.slice(start, digitsEnd));
  // §8.1.1.5: "The sequence number value MUST be expressible as a 32-bit unsigned integer".
  if (seq > 0xffffffff) throw new SipParseError(`CSeq number out of range "${value.slice(digitsStart, digitsEnd)}"`);
  return { seq, method: value.slice(methodStart, methodEnd) };
}

export function serializeCSeq(cseq: CSeq): string {
  return `${cseq.seq} ${cseq.method}`;
}
