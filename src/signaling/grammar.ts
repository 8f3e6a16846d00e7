/**
 * Character classes of the RFC 3261 §25 grammar shared by the SIP parsers, as 128-entry tables so that the
 * per-character tests in hot loops are one array read (no regular expressions per header line).
 */

export function charTable(chars: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}

export const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" ) */
export const TOKEN = charTable(`${ALNUM}-.!%*_+\`'~`);

/**
 * word (Call-ID) = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" / "<" / ">"
 * / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )
 */
export const WORD = charTable(`${ALNUM}-.!%*_+\`'~()<>:\\"/[]?{}`);

export function isTokenChar(c: number): boolean {
  return c < 128 && TOKEN[c] === 1;
}

/** True when every character of text[start, end) is in `table` and the range is not empty. */
export function allIn(text: string, table: Uint8Array, start = 0, end = text.length): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || table[c] === 0) return false;
  }
  return true;
}

export function isToken(text: string): boolean {
  return allIn(text, TOKEN);
}

export function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Trims SP and HTAB only (String#trim would also eat Unicode spaces that belong to a value). */
export function trimWs(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isWs(text.charCodeAt(start))) start++;
  while (end > start && isWs(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

const UNRESERVED = `${ALNUM}-_.!~*'()`;

/** Character classes of URIs (§25, RFC 2396), `%HH` escapes handled by `scanUriChars`. */
export const URI = {
  /** user = 1*( unreserved / escaped / user-unreserved ) */
  USER: charTable(`${UNRESERVED}&=+$,;?/`),
  PASSWORD: charTable(`${UNRESERVED}&=+$,`),
  /** paramchar = param-unreserved / unreserved / escaped */
  PARAMCHAR: charTable(`${UNRESERVED}[]/:&+$`),
  /** hname / hvalue = hnv-unreserved / unreserved / escaped */
  HEADERCHAR: charTable(`${UNRESERVED}[]/?:+$`),
  SCHEME: charTable(`${ALNUM}+-.`),
  HOSTCHAR: charTable(`${ALNUM}-.`),
  /** RFC 2396 uric (reserved / unreserved / escaped) plus RFC 3986's "[" "]" for IPv6 hosts in http-like URIs. */
  URIC: charTable(`${UNRESERVED};/?:@&=+$,[]`),
  HEX: charTable('0123456789abcdefABCDEF'),
  /** RFC 3966 pname = 1*( alphanum / "-" ) */
  TEL_PNAME: charTable(`${ALNUM}-`),
} as const;

/** Advances over characters of `allowed` (and valid `%HH` escapes when `escapes`) from `i`; returns where it stopped. */
export function scanUriChars(text: string, i: number, end: number, allowed: Uint8Array, escapes: boolean): number {
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c < 128 && allowed[c] === 1) {
      i++;
    } else if (escapes && c === 0x25 /* % */) {
      const h1 = text.charCodeAt(i + 1);
      const h2 = text.charCodeAt(i + 2);
      if (!(h1 < 128 && URI.HEX[h1] === 1 && h2 < 128 && URI.HEX[h2] === 1)) return i;
      i += 3;
    } else {
      return i;
    }
  }
  return i;
}
