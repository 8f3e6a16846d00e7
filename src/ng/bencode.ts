/**
 * Bencode (BitTorrent BEP 3), the encoding of rtpengine's ng protocol: `i<int>e`, `<len>:<bytes>`,
 * `l<items>e`, `d<key><value>...e`. Pure functions, no I/O.
 *
 * Decoding is bounded (input length, nesting depth) and strict about the grammar (no leading zeros, no `-0`,
 * no byte string running past the end), and every failure is a BencodeError. Two deliberate leniencies, both
 * because rtpengine's own decoder and Kamailio's encoder behave so: dictionary keys need not be sorted
 * (Kamailio emits them in insertion order), and of a duplicated key the first occurrence wins.
 *
 * Byte strings that are valid UTF-8 decode as JS strings (SDP bodies and ng keywords are text); anything else
 * stays a Buffer. Integers must fit a JS safe integer (rtpengine uses 64-bit; no ng value comes near 2^53).
 *
 * `BencodeScanner` finds where one value ends in a byte stream fed chunk by chunk (for ng over TCP, where
 * messages follow each other with no length prefix): a state machine that looks at each byte once.
 */
import { isUtf8 } from 'node:buffer';
import { BencodeError } from './errors.ts';

export { BencodeError } from './errors.ts';

export type BencodeValue = string | Buffer | number | BencodeValue[] | BencodeDict;
export interface BencodeDict {
  [key: string]: BencodeValue;
}

/** What `encodeBencode` accepts: undefined dictionary values are skipped (convenient for optional reply keys). */
export type BencodeInput =
  | string
  | Uint8Array
  | number
  | bigint
  | readonly BencodeInput[]
  | { readonly [key: string]: BencodeInput | undefined };

export interface BencodeLimits {
  /** Largest input accepted, in bytes. */
  maxLength?: number;
  /** Deepest nesting of lists/dictionaries (the top-level dictionary is depth 1). */
  maxDepth?: number;
}

export const DEFAULT_MAX_LENGTH = 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 32;

const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_D = 0x64;
const CH_E = 0x65;
const CH_I = 0x69;
const CH_L = 0x6c;
/** Digits in a length or integer beyond which no accepted value fits (2^53 has 16 digits). */
const MAX_DIGITS = 16;

// ---------------------------------------------------------------------------------------------- encoding

export function encodeBencode(value: BencodeInput): Buffer {
  const chunks: Buffer[] = [];
  encodeInto(value, chunks, 0);
  return Buffer.concat(chunks);
}

function encodeInto(value: BencodeInput, out: Buffer[], depth: number): void {
  if (depth > 256) throw new BencodeError('value nested too deeply to encode', 0);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    out.push(Buffer.from(`${bytes.length}:`, 'latin1'), bytes);
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new BencodeError(`cannot encode ${value}: not a safe integer`, 0);
    out.push(Buffer.from(`i${value}e`, 'latin1'));
  } else if (typeof value === 'bigint') {
    out.push(Buffer.from(`i${value}e`, 'latin1'));
  } else if (value instanceof Uint8Array) {
    out.push(Buffer.from(`${value.length}:`, 'latin1'), Buffer.from(value.buffer, value.byteOffset, value.length));
  } else if (Array.isArray(value)) {
    out.push(Buffer.from('l', 'latin1'));
    for (const item of value as readonly BencodeInput[]) encodeInto(item, out, depth + 1);
    out.push(Buffer.from('e', 'latin1'));
  } else if (typeof value === 'object' && value !== null) {
    // BEP 3: "Keys must be strings and appear in sorted order (sorted as raw strings, not alphanumerics)".
    const entries: Array<[Buffer, BencodeInput]> = [];
    for (const [key, item] of Object.entries(value as { readonly [key: string]: BencodeInput | undefined })) {
      if (item !== undefined) entries.push([Buffer.from(key, 'utf8'), item]);
    }
    entries.sort((a, b) => Buffer.compare(a[0], b[0]));
    out.push(Buffer.from('d', 'latin1'));
    for (const [key, item] of entries) {
      out.push(Buffer.from(`${key.length}:`, 'latin1'), key);
      encodeInto(item, out, depth + 1);
    }
    out.push(Buffer.from('e', 'latin1'));
  } else {
    throw new BencodeError(`cannot encode a value of type ${value === null ? 'null' : typeof value}`, 0);
  }
}

// ---------------------------------------------------------------------------------------------- decoding

/** Decodes exactly one value that fills `input` (trailing bytes are an error). */
export function decodeBencode(input: Uint8Array, limits: BencodeLimits = {}): BencodeValue {
  const { value, end } = decodeBencodePrefix(input, 0, limits);
  if (end !== input.length) throw new BencodeError('trailing bytes after the value', end);
  return value;
}

/** Decodes one value starting at `offset`; returns it and the offset just past it. */
export function decodeBencodePrefix(
  input: Uint8Array,
  offset = 0,
  limits: BencodeLimits = {},
): { value: BencodeValue; end: number } {
  const maxLength = limits.maxLength ?? DEFAULT_MAX_LENGTH;
  if (input.length - offset > maxLength) {
    throw new BencodeError(`input longer than ${maxLength} bytes`, offset + maxLength);
  }
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length);
  const decoder = new Decoder(buf, limits.maxDepth ?? DEFAULT_MAX_DEPTH);
  decoder.pos = offset;
  const value = decoder.value(0);
  return { value, end: decoder.pos };
}

class Decoder {
  readonly buf: Buffer;
  readonly maxDepth: number;
  pos = 0;

  constructor(buf: Buffer, maxDepth: number) {
    this.buf = buf;
    this.maxDepth = maxDepth;
  }

  value(depth: number): BencodeValue {
    const c = this.peek();
    if (c === CH_I) return this.integer();
    if (c >= CH_0 && c <= CH_9) return this.string();
    if (c === CH_L || c === CH_D) {
      if (depth + 1 > this.maxDepth) throw new BencodeError(`nesting deeper than ${this.maxDepth}`, this.pos);
      return c === CH_L ? this.list(depth + 1) : this.dict(depth + 1);
    }
    throw new BencodeError(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`, this.pos);
  }

  peek(): number {
    const c = this.buf[this.pos];
    if (c === undefined) throw new BencodeError('truncated input', this.pos);
    return c;
  }

  /** Unsigned decimal with no leading zero (a lone 0 is fine); `this.pos` ends on the byte after it. */
  digits(): number {
    const start = this.pos;
    let n = 0;
    for (;;) {
      const c = this.peek();
      if (c < CH_0 || c > CH_9) break;
      if (this.pos - start >= MAX_DIGITS) throw new BencodeError('number too long', this.pos);
      n = n * 10 + (c - CH_0);
      this.pos++;
    }
    if (this.pos === start) throw new BencodeError('expected a digit', this.pos);
    if (this.buf[start] === CH_0 && this.pos - start > 1) throw new BencodeError('leading zero', start);
    return n;
  }

  integer(): number {
    this.pos++; // 'i'
    let negative = false;
    if (this.peek() === CH_MINUS) {
      negative = true;
      this.pos++;
    }
    const start = this.pos;
    const n = this.digits();
    if (negative && n === 0) throw new BencodeError('negative zero', start);
    if (!Number.isSafeInteger(n)) throw new BencodeError('integer out of range', start);
    if (this.peek() !== CH_E) throw new BencodeError("expected 'e' after integer", this.pos);
    this.pos++;
    return negative ? -n : n;
  }

  bytes(): Buffer {
    const start = this.pos;
    const length = this.digits();
    if (this.peek() !== CH_COLON) throw new BencodeError("expected ':' after string length", this.pos);
    this.pos++;
    if (length > this.buf.length - this.pos) throw new BencodeError(`string of ${length} bytes runs past the end`, start);
    const bytes = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return bytes;
  }

  string(): string | Buffer {
    const bytes = this.bytes();
    // Copy binary strings so a decoded value never pins the (possibly large) input buffer.
    return isUtf8(bytes) ? bytes.toString('utf8') : Buffer.from(bytes);
  }

  list(depth: number): BencodeValue[] {
    this.pos++; // 'l'
    const items: BencodeValue[] = [];
    while (this.peek() !== CH_E) items.push(this.value(depth));
    this.pos++;
    return items;
  }

  dict(depth: number): BencodeDict {
    this.pos++; // 'd'
    // Null prototype: keys such as "__proto__" or "constructor" from the network stay plain data.
    const dict = Object.create(null) as BencodeDict;
    while (this.peek() !== CH_E) {
      const c = this.peek();
      if (c < CH_0 || c > CH_9) throw new BencodeError('dictionary key is not a string', this.pos);
      const keyAt = this.pos;
      const keyBytes = this.bytes();
      if (!isUtf8(keyBytes)) throw new BencodeError('dictionary key is not UTF-8', keyAt);
      const key = keyBytes.toString('utf8');
      const value = this.value(depth);
      if (!Object.hasOwn(dict, key)) dict[key] = value;
    }
    this.pos++;
    return dict;
  }
}

// ---------------------------------------------------------------------------------------------- scanning

type ScanState = 'value' | 'int-sign' | 'int-first' | 'int-digits' | 'int-zero' | 'len-digits' | 'str-body';
/** l: in a list; k: in a dictionary, before a key; v: in a dictionary, before a value. */
type Frame = 0x6c | 0x6b | 0x76;
const FRAME_LIST = 0x6c as const;
const FRAME_KEY = 0x6b as const;
const FRAME_VALUE = 0x76 as const;

/**
 * Incremental boundary finder: `push(chunk)` consumes bytes until one complete top-level value has been seen
 * and returns how many bytes of `chunk` belong to it, or -1 when the chunk ended inside the value. Malformed
 * bytes throw BencodeError. After a value is complete, call `reset()` before scanning the next one.
 */
export class BencodeScanner {
  readonly #maxLength: number;
  readonly #maxDepth: number;
  #state: ScanState = 'value';
  readonly #stack: Frame[] = [];
  #number = 0;
  #digits = 0;
  #negative = false;
  #remaining = 0;
  #consumed = 0;

  constructor(limits: BencodeLimits = {}) {
    this.#maxLength = limits.maxLength ?? DEFAULT_MAX_LENGTH;
    this.#maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /** Bytes of the current value seen so far. */
  get consumed(): number {
    return this.#consumed;
  }

  reset(): void {
    this.#state = 'value';
    this.#stack.length = 0;
    this.#consumed = 0;
  }

  push(chunk: Uint8Array, from = 0): number {
    let i = from;
    const n = chunk.length;
    while (i < n) {
      const at = this.#consumed + (i - from);
      if (at >= this.#maxLength) throw new BencodeError(`value longer than ${this.#maxLength} bytes`, at);
      const c = chunk[i]!;
      switch (this.#state) {
        case 'str-body': {
          const take = Math.min(this.#remaining, n - i);
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0 && this.#complete()) return this.#finish(i, from);
          continue;
        }
        case 'value':
          if (c === CH_E && this.#stack.length > 0 && this.#stack[this.#stack.length - 1] !== FRAME_VALUE) {
            this.#stack.pop();
            i++;
            if (this.#complete()) return this.#finish(i, from);
            continue;
          }
          if (c >= CH_0 && c <= CH_9) {
            this.#number = c - CH_0;
            this.#digits = 1;
            this.#state = 'len-digits';
          } else if (this.#stack[this.#stack.length - 1] === FRAME_KEY) {
            throw new BencodeError('dictionary key is not a string', at);
          } else if (c === CH_I) {
            this.#state = 'int-sign';
          } else if (c === CH_L || c === CH_D) {
            if (this.#stack.length + 1 > this.#maxDepth) throw new BencodeError(`nesting deeper than ${this.#maxDepth}`, at);
            this.#stack.push(c === CH_L ? FRAME_LIST : FRAME_KEY);
          } else {
            throw new BencodeError(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`, at);
          }
          i++;
          continue;
        case 'int-sign':
          this.#negative = c === CH_MINUS;
          this.#state = 'int-first';
          if (this.#negative) i++;
          continue;
        case 'int-first':
          if (c < CH_0 || c > CH_9) throw new BencodeError('expected a digit', at);
          if (c === CH_0) {
            if (this.#negative) throw new BencodeError('negative zero', at);
            this.#state = 'int-zero';
          } else {
            this.#digits = 1;
            this.#state = 'int-digits';
          }
          i++;
          continue;
        case 'int-zero':
          if (c !== CH_E) throw new BencodeError(c >= CH_0 && c <= CH_9 ? 'leading zero' : "expected 'e' after integer", at);
          i++;
          if (this.#complete()) return this.#finish(i, from);
          continue;
        case 'int-digits':
          if (c >= CH_0 && c <= CH_9) {
            if (++this.#digits > MAX_DIGITS) throw new BencodeError('number too long', at);
            i++;
            continue;
          }
          if (c !== CH_E) throw new BencodeError("expected 'e' after integer", at);
          i++;
          if (this.#complete()) return this.#finish(i, from);
          continue;
        case 'len-digits':
          if (c >= CH_0 && c <= CH_9) {
            if (this.#number === 0) throw new BencodeError('leading zero', at);
            if (++this.#digits > MAX_DIGITS) throw new BencodeError('number too long', at);
            this.#number = this.#number * 10 + (c - CH_0);
            i++;
            continue;
          }
          if (c !== CH_COLON) throw new BencodeError("expected ':' after string length", at);
          if (at + 1 + this.#number > this.#maxLength) {
            throw new BencodeError(`string of ${this.#number} bytes makes the value longer than ${this.#maxLength} bytes`, at);
          }
          i++;
          this.#remaining = this.#number;
          this.#state = 'str-body';
          if (this.#remaining === 0 && this.#complete()) return this.#finish(i, from);
          continue;
      }
    }
    this.#consumed += n - from;
    return -1;
  }

  /** A scalar or container just ended: advance the enclosing frame; true when the top-level value is done. */
  #complete(): boolean {
    this.#state = 'value';
    const depth = this.#stack.length;
    if (depth === 0) return true;
    const top = this.#stack[depth - 1]!;
    if (top === FRAME_KEY) this.#stack[depth - 1] = FRAME_VALUE;
    else if (top === FRAME_VALUE) this.#stack[depth - 1] = FRAME_KEY;
    return false;
  }

  #finish(i: number, from: number): number {
    this.#consumed += i - from;
    return i - from;
  }
}
