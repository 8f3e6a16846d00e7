/** CSeq (RFC 3261 §20.16): a 32-bit sequence number and the request method. */
import { SipParseError } from './parse-error.ts';

export interface CSeq {
  seq: number;
  method: string;
}

export function parseCSeq(value: string): CSeq {
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)\s*$/.exec(value);
  if (!m) throw new SipParseError(`malformed CSeq "${value}"`);
  const seq = Number(m[1]);
  // §8.1.1.5: "The sequence number value MUST be expressible as a 32-bit unsigned integer".
  if (seq > 0xffffffff) throw new SipParseError(`CSeq number out of range "${m[1]}"`);
  return { seq, method: m[2]! };
}

export function serializeCSeq(cseq: CSeq): string {
  return `${cseq.seq} ${cseq.method}`;
}
