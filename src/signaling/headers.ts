/**
 * Ordered, case-insensitive SIP header fields (RFC 3261 §7.3). Fields keep the name exactly as received so that
 * unknown headers survive a parse/serialize round trip verbatim and in order; lookups go through a canonical key
 * in which compact forms (§7.3.3) are expanded, so `v:` and `Via:` are the same header.
 */

const COMPACT_FORMS: Readonly<Record<string, string>> = {
  v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type',
  k: 'supported', s: 'subject', e: 'content-encoding', o: 'event', u: 'allow-events', r: 'refer-to',
  b: 'referred-by', x: 'session-expires', y: 'identity',
};

/**
 * Headers whose grammar is a comma-separated list (`1#`/`#` in RFC 3261 §25 and extensions). Only these are
 * split by `getAll`; the others (auth headers, Date, From/To …) may legally contain commas inside one value.
 */
const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via', 'contact', 'route', 'record-route', 'allow', 'supported', 'require', 'proxy-require', 'unsupported',
  'accept', 'accept-encoding', 'accept-language', 'allow-events', 'content-encoding', 'content-language',
  'in-reply-to', 'alert-info', 'call-info', 'error-info', 'warning', 'path', 'service-route', 'reason',
  'security-client', 'security-server', 'security-verify', 'p-asserted-identity', 'history-info',
]);

/**
 * Canonical keys of the names seen so far: the parser looks one up per header line, and real traffic uses a few
 * dozen spellings. Bounded so that a peer sending random header names cannot grow it.
 */
const KEY_CACHE = new Map<string, string>();
const KEY_CACHE_LIMIT = 1024;

export function headerKey(name: string): string {
  let key = KEY_CACHE.get(name);
  if (key !== undefined) return key;
  const lower = name.toLowerCase();
  // Own properties only: a header named "constructor" or "__proto__" must not pick up Object.prototype members.
  key = Object.hasOwn(COMPACT_FORMS, lower) ? COMPACT_FORMS[lower]! : lower;
  if (KEY_CACHE.size < KEY_CACHE_LIMIT) KEY_CACHE.set(name, key);
  return key;
}

export function isListHeader(name: string): boolean {
  return LIST_HEADERS.has(headerKey(name));
}

export interface HeaderField {
  /** The name as received (or as written by the gateway). */
  readonly name: string;
  /** Canonical lookup key: lower case, compact form expanded. */
  readonly key: string;
  /** The value with line folding already replaced by a single space and outer whitespace trimmed. */
  value: string;
  /**
   * The structured view last computed from `value` (header-accessors.ts): which view, the value it was computed
   * from (a changed value makes it stale), and the result. Internal to the signaling parsers.
   */
  parsed?: ParsedView | undefined;
  /**
   * The value as last checked to hold no CR or LF (set by the parser, and by the serializer once it has checked a
   * value built in code), so that sending the same field again costs no scan. Internal to the signaling parsers.
   */
  clean?: string | undefined;
}

export interface ParsedView {
  readonly view: string;
  readonly value: string;
  readonly result: unknown;
}

/**
 * Splits a list header value on commas that are not inside a quoted string or an <angle-bracketed> URI.
 * RFC 3261 §7.3.1: "multiple header field rows … can be combined into one … separated by commas".
 */
export function splitListValue(value: string): string[] {
  const out: string[] = [];
  let inQuotes = false;
  let inAngle = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (inQuotes) {
      if (ch === 0x5c /* \ */) i++;
      else if (ch === 0x22 /* " */) inQuotes = false;
    } else if (ch === 0x22) inQuotes = true;
    else if (ch === 0x3c /* < */) inAngle = true;
    else if (ch === 0x3e /* > */) inAngle = false;
    else if (ch === 0x2c /* , */ && !inAngle) {
      const part = value.slice(start, i).trim();
      if (part.length > 0) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last.length > 0) out.push(last);
  return out;
}

/**
 * Like `splitListValue`, for values that must follow the `1#element` grammar exactly (§7.3.1, §25): an empty
 * element (`a,,b`, a leading or trailing comma) returns undefined instead of being dropped, so the caller can
 * reject it (RFC 4475 §3.1.2.1). An unterminated quoted string also returns undefined.
 */
export function splitListStrict(value: string): string[] | undefined {
  const out: string[] = [];
  let inQuotes = false;
  let inAngle = false;
  let start = 0;
  const n = value.length;
  for (let i = 0; i <= n; i++) {
    const ch = i === n ? 0x2c : value.charCodeAt(i);
    if (inQuotes) {
      if (i === n) return undefined;
      if (ch === 0x5c /* \ */) i++;
      else if (ch === 0x22 /* " */) inQuotes = false;
    } else if (ch === 0x22) inQuotes = true;
    else if (ch === 0x3c /* < */) inAngle = true;
    else if (ch === 0x3e /* > */) inAngle = false;
    else if (ch === 0x2c /* , */ && (!inAngle || i === n)) {
      const part = value.slice(start, i).trim();
      if (part.length === 0) return undefined;
      out.push(part);
      start = i + 1;
    }
  }
  return out;
}

export class Headers implements Iterable<HeaderField> {
  readonly #fields: HeaderField[] = [];

  constructor(fields?: Iterable<readonly [name: string, value: string]>) {
    if (fields) for (const [name, value] of fields) this.append(name, value);
  }

  get size(): number {
    return this.#fields.length;
  }

  [Symbol.iterator](): Iterator<HeaderField> {
    return this.#fields[Symbol.iterator]();
  }

  has(name: string): boolean {
    const key = headerKey(name);
    return this.#fields.some((f) => f.key === key);
  }

  /** The first field's whole value (not split), or undefined. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const f of this.#fields) if (f.key === key) return f.value;
    return undefined;
  }

  /** Every value of the header, list headers split into their elements, in order across all rows. */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const split = LIST_HEADERS.has(key);
    const out: string[] = [];
    for (const f of this.#fields) {
      if (f.key !== key) continue;
      if (split) out.push(...splitListValue(f.value));
      else out.push(f.value);
    }
    return out;
  }

  /** Number of rows (not list elements) carrying this header. */
  count(name: string): number {
    const key = headerKey(name);
    let n = 0;
    for (const f of this.#fields) if (f.key === key) n++;
    return n;
  }

  append(name: string, value: string): this {
    this.#fields.push({ name, key: headerKey(name), value, parsed: undefined, clean: undefined });
    return this;
  }

  /**
   * For the parser: appends a field whose key was already computed with `headerKey(name)` and whose value it has
   * checked to hold no CR or LF. Not for general use: a wrong key makes the field unfindable.
   */
  appendParsed(name: string, key: string, value: string): this {
    this.#fields.push({ name, key, value, parsed: undefined, clean: value });
    return this;
  }

  /** Inserts before the first row of the same header, or at the top: how a new Via or Record-Route is added. */
  prepend(name: string, value: string): this {
    const key = headerKey(name);
    const at = this.#fields.findIndex((f) => f.key === key);
    this.#fields.splice(at === -1 ? 0 : at, 0, { name, key, value, parsed: undefined, clean: undefined });
    return this;
  }

  /** Replaces every row of the header with one row, kept at the position of the first one. */
  set(name: string, value: string): this {
    const key = headerKey(name);
    const at = this.#fields.findIndex((f) => f.key === key);
    if (at === -1) return this.append(name, value);
    this.#fields[at] = { name, key, value, parsed: undefined, clean: undefined };
    for (let i = this.#fields.length - 1; i > at; i--) if (this.#fields[i]!.key === key) this.#fields.splice(i, 1);
    return this;
  }

  delete(name: string): this {
    const key = headerKey(name);
    for (let i = this.#fields.length - 1; i >= 0; i--) if (this.#fields[i]!.key === key) this.#fields.splice(i, 1);
    return this;
  }

  /**
   * Removes the first element of a list header (the top Via, the top Route), dropping the row when it empties.
   * Returns the removed element.
   */
  shift(name: string): string | undefined {
    const key = headerKey(name);
    const at = this.#fields.findIndex((f) => f.key === key);
    if (at === -1) return undefined;
    const field = this.#fields[at]!;
    const parts = splitListValue(field.value);
    const first = parts.shift();
    if (parts.length === 0) this.#fields.splice(at, 1);
    else field.value = parts.join(', ');
    return first;
  }

  clone(): Headers {
    const copy = new Headers();
    for (const f of this.#fields) copy.append(f.name, f.value);
    return copy;
  }
}
