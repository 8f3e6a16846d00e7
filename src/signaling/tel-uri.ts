/**
 * tel URIs (RFC 3966): a global (`+…`) or local number with visual separators, and `;name=value` parameters
 * (`ext`, `isub`, `phone-context`, others). Serialization and comparison live with the other schemes in uri.ts.
 */
import { SipParseError } from './parse-error.ts';
import type { Params } from './params.ts';
import { URI, scanUriChars } from './grammar.ts';

export interface TelUri {
  readonly kind: 'tel';
  scheme: 'tel';
  /** The number as written, visual separators included (`+1-201-555-0123`). */
  number: string;
  /** `+` global number (RFC 3966 §5.1.4); a local number is qualified by `phone-context`. */
  global: boolean;
  /** Lower-case names → values as written. */
  params: Params;
}

function fail(what: string, text: string): never {
  throw new SipParseError(`invalid ${what} in URI "${text}"`);
}

/**
 * RFC 3966 §3: global-number-digits = "+" *phonedigit DIGIT *phonedigit; local-number-digits =
 * *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex. A local number without `phone-context` violates
 * §5.1.5, but trunks send them: it is accepted, and routing such a number is the transaction user's call.
 */
export function parseTelUri(text: string, start: number): TelUri {
  const semi = text.indexOf(';', start);
  const numberEnd = semi === -1 ? text.length : semi;
  const number = text.slice(start, numberEnd);
  const global = number.startsWith('+');
  let digits = 0;
  for (let i = global ? 1 : 0; i < number.length; i++) {
    const c = number.charCodeAt(i);
    const isDigit = c >= 0x30 && c <= 0x39;
    const isHexLetter = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66;
    if (isDigit || (!global && (isHexLetter || c === 0x2a || c === 0x23))) digits++;
    else if (c !== 0x2d && c !== 0x2e && c !== 0x28 && c !== 0x29) fail('telephone number', text);
  }
  if (digits === 0) fail('telephone number', text);
  const params: Params = new Map();
  let i = numberEnd;
  while (i < text.length) {
    // i is at ";"
    const nameEnd = scanUriChars(text, i + 1, text.length, URI.TEL_PNAME, false);
    if (nameEnd === i + 1) fail('parameter', text);
    const name = text.slice(i + 1, nameEnd).toLowerCase();
    let value: string | null = null;
    i = nameEnd;
    if (text.charCodeAt(i) === 0x3d) {
      // isdn-subaddress values are uric, which includes ";" — but a ";" still starts the next par in practice.
      const valueEnd = scanUriChars(text, i + 1, text.length, URI.PARAMCHAR, true);
      if (valueEnd === i + 1) fail('parameter value', text);
      value = text.slice(i + 1, valueEnd);
      i = valueEnd;
    }
    if (params.has(name)) fail(`repeated parameter "${name}"`, text);
    params.set(name, value);
    if (i < text.length && text.charCodeAt(i) !== 0x3b) fail('character', text);
  }
  return { kind: 'tel', scheme: 'tel', number, global, params };
}
