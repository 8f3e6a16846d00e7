/**
 * Generic parameters (`;name=value;flag`, RFC 3261 §25 generic-param / uri-parameter). Names compare
 * case-insensitively and are stored lower case; values keep their case (a branch or a tag is case-sensitive)
 * and quoted strings keep their quotes so they serialize back unchanged. A flag without a value maps to null.
 */
import { SipParseError } from './parse-error.ts';

export type Params = Map<string, string | null>;

/** Parses `;a=b;c` (the leading `;` optional). Stops at the end of the string. */
export function parseParams(text: string, what = 'parameter'): Params {
  const params: Params = new Map();
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ';' || text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    let j = i;
    while (j < n && text[j] !== '=' && text[j] !== ';') j++;
    const name = text.slice(i, j).trim().toLowerCase();
    if (name.length === 0 || !/^[A-Za-z0-9\-.!%*_+`'~\[\]:/&$]+$/.test(name)) {
      throw new SipParseError(`invalid ${what} name "${text.slice(i, j)}"`);
    }
    if (j >= n || text[j] === ';') {
      params.set(name, null);
      i = j;
      continue;
    }
    // value
    j++;
    while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
    let k = j;
    if (text[k] === '"') {
      k++;
      while (k < n && text[k] !== '"') k += text[k] === '\\' ? 2 : 1;
      if (k >= n) throw new SipParseError(`unterminated quoted ${what} value`);
      k++;
    } else {
      while (k < n && text[k] !== ';') k++;
    }
    const value = text.slice(j, k).trim();
    if (value.length === 0) throw new SipParseError(`empty value for ${what} "${name}"`);
    params.set(name, value);
    i = k;
  }
  return params;
}

export function serializeParams(params: Params): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}

/** The value with surrounding quotes and backslash escapes removed (quoted-string → text). */
export function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return value;
}
