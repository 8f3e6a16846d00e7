/**
 * Generic parameters (`;name=value;flag`, RFC 3261 §25 generic-param / uri-parameter). Names compare
 * case-insensitively and are stored lower case; values keep their case (a branch or a tag is case-sensitive)
 * and quoted strings keep their quotes so they serialize back unchanged. A flag without a value maps to null.
 */
import { SipParseError } from './parse-error.ts';
import { charTable } from './grammar.ts';

export type Params = Map<string, string | null>;

/** A byte table of the characters allowed in a parameter name: token plus uri-parameter's paramchar. */
const NAME_CHARS = charTable("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~[]:/&$");
/**
 * Unquoted values: gen-value is token / host / quoted-string (§25), uri-parameter values are paramchar; the union
 * (token, IPv6 reference brackets and colons, param-unreserved, the unreserved marks "(" and ")").
 */
const VALUE_CHARS = charTable("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~[]:/&$()");


function skipWs(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09) break;
    i++;
  }
  return i;
}

/**
 * Parses `;a=b;c` (the leading `;` optional), with the LWS the grammar allows around `;` and `=` (SEMI and
 * EQUAL are SWS-padded, §25). An empty parameter (`;;`, a trailing `;`), a name or value with a character the
 * grammar does not allow, an unterminated quoted value or a repeated name is a SipParseError (RFC 4475 §3.1.2.1).
 */
export function parseParams(text: string, what = 'parameter'): Params {
  const params: Params = new Map();
  const n = text.length;
  let i = skipWs(text, 0);
  if (i >= n) return params;
  let first = true;
  for (;;) {
    if (text.charCodeAt(i) === 0x3b /* ; */) i = skipWs(text, i + 1);
    else if (!first) throw new SipParseError(`invalid ${what} list "${text}"`);
    first = false;
    let j = i;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c >= 128 || NAME_CHARS[c] === 0) break;
      j++;
    }
    if (j === i) {
      throw new SipParseError(i >= n || text[i] === ';' ? `empty ${what}` : `invalid ${what} name in "${text}"`);
    }
    const name = text.slice(i, j).toLowerCase();
    i = skipWs(text, j);
    let value: string | null = null;
    if (i < n && text.charCodeAt(i) === 0x3d /* = */) {
      i = skipWs(text, i + 1);
      let k = i;
      if (text.charCodeAt(k) === 0x22 /* " */) {
        k++;
        while (k < n && text.charCodeAt(k) !== 0x22) k += text.charCodeAt(k) === 0x5c /* \ */ ? 2 : 1;
        if (k >= n) throw new SipParseError(`unterminated quoted ${what} value`);
        k++;
      } else {
        while (k < n) {
          const c = text.charCodeAt(k);
          if (c >= 128 || VALUE_CHARS[c] === 0) break;
          k++;
        }
      }
      if (k === i) throw new SipParseError(`empty value for ${what} "${name}"`);
      value = text.slice(i, k);
      i = skipWs(text, k);
    }
    if (params.has(name)) throw new SipParseError(`repeated ${what} "${name}"`);
    params.set(name, value);
    if (i >= n) return params;
  }
}

export function serializeParams(params: Params): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}

/** The value with surrounding quotes and backslash escapes removed (quoted-string → text). */
export function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\([\s\S])/g, '$1');
  }
  return value;
}
