/**
 * A seeded mutator of SIP messages for fuzzing the parser: byte flips and stamps, truncation at every length
 * class, duplicated / deleted / repeated header lines, huge header values and counts, NULs, CR/LF injection,
 * LWS and folding, random Content-Length values, and splices between seed messages. The same seed always gives
 * the same sequence, so a failure is reproduced from the printed seed and iteration number.
 */

/** mulberry32: a small, fast, well-distributed 32-bit PRNG; returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Mutation {
  data: Buffer;
  /** The operations applied, in order (for the failure report). */
  ops: string[];
}

/** Bytes that matter to the SIP grammar, stamped more often than random ones. */
const INTERESTING = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x25, 0x2c, 0x2f, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x5c, 0x7f, 0x80, 0xff];
const INJECTIONS = ['\r', '\n', '\r\n', '\r\n ', '\r\n\r\n', '\n\n', '\0', '\0\0\0', ' ', '\t', ':', ';', ',', '"', '<', '>', '%', '%0', '\\'];
const HEADER_NAMES = ['Via', 'v', 'From', 'f', 'To', 't', 'Call-ID', 'i', 'CSeq', 'Max-Forwards', 'Contact', 'm', 'Content-Length', 'l', 'Content-Type', 'c', 'Route', 'Record-Route'];
const LENGTH_VALUES = ['-1', '0', '00000', '1', '4294967296', '99999999999999999999', 'abc', '1 2', '', ' 5', '+3', '0x10', '1.5'];

export class SipMutator {
  readonly #seeds: Buffer[];
  readonly #random: () => number;

  constructor(seeds: Buffer[], seed: number) {
    if (seeds.length === 0) throw new Error('SipMutator needs at least one seed message');
    this.#seeds = seeds;
    this.#random = prng(seed);
  }

  #int(n: number): number {
    return Math.floor(this.#random() * n);
  }

  #pick<T>(items: readonly T[]): T {
    return items[this.#int(items.length)]!;
  }

  /** A mutated copy of a random seed message: one to three operations. */
  next(): Mutation {
    let data = this.#pick(this.#seeds);
    const ops: string[] = [];
    // Mostly one operation, so that a fair share still parses and the serialize → parse property gets exercised.
    const roll = this.#random();
    const count = roll < 0.6 ? 1 : roll < 0.9 ? 2 : 3;
    for (let i = 0; i < count; i++) {
      const [op, out] = this.#mutate(data);
      ops.push(op);
      data = out;
    }
    return { data, ops };
  }

  #mutate(data: Buffer): [string, Buffer] {
    switch (this.#int(14)) {
      case 0: return this.#flipBits(data);
      case 1: return this.#stampBytes(data);
      case 2: return this.#truncate(data);
      case 3: return this.#duplicateLine(data);
      case 4: return this.#deleteLine(data);
      case 5: return this.#hugeValue(data);
      case 6: return this.#manyHeaders(data);
      case 7: return this.#inject(data);
      case 8: return this.#contentLength(data);
      case 9: return this.#splice(data);
      case 10: return this.#renameHeader(data);
      case 11: return this.#repeatSlice(data);
      case 12: return this.#fold(data);
      default: return this.#inject(data);
    }
  }

  #flipBits(data: Buffer): [string, Buffer] {
    const out = Buffer.from(data);
    const n = 1 + this.#int(8);
    for (let i = 0; i < n && out.length > 0; i++) out[this.#int(out.length)]! ^= 1 << this.#int(8);
    return [`flip×${n}`, out];
  }

  #stampBytes(data: Buffer): [string, Buffer] {
    const out = Buffer.from(data);
    const n = 1 + this.#int(4);
    for (let i = 0; i < n && out.length > 0; i++) {
      out[this.#int(out.length)] = this.#random() < 0.7 ? this.#pick(INTERESTING) : this.#int(256);
    }
    return [`stamp×${n}`, out];
  }

  /** Length classes: empty, one byte, a few, inside the start line, inside the headers, at the blank line, in the body, all but one. */
  #truncate(data: Buffer): [string, Buffer] {
    const blank = data.indexOf('\r\n\r\n');
    const firstLine = data.indexOf('\r\n');
    const classes = [0, 1, 1 + this.#int(16), firstLine === -1 ? 5 : this.#int(firstLine + 1), blank === -1 ? this.#int(data.length) : this.#int(blank),
      blank === -1 ? data.length >> 1 : blank + 2 + this.#int(3), blank === -1 ? data.length - 1 : blank + 4 + this.#int(Math.max(1, data.length - blank - 4)),
      Math.max(0, data.length - 1)];
    const at = Math.min(data.length, this.#pick(classes));
    return [`truncate@${at}`, data.subarray(0, at)];
  }

  /** [start, end) of every header line (after the start line, before the blank line), CRLF included. */
  #headerLines(data: Buffer): Array<[number, number]> {
    const lines: Array<[number, number]> = [];
    const blank = data.indexOf('\r\n\r\n');
    const end = blank === -1 ? data.length : blank + 2;
    let pos = data.indexOf('\r\n');
    if (pos === -1) return lines;
    pos += 2;
    while (pos < end) {
      const eol = data.indexOf('\r\n', pos);
      const next = eol === -1 || eol >= end ? end : eol + 2;
      lines.push([pos, next]);
      pos = next;
    }
    return lines;
  }

  #duplicateLine(data: Buffer): [string, Buffer] {
    const lines = this.#headerLines(data);
    if (lines.length === 0) return this.#inject(data);
    const [start, end] = this.#pick(lines);
    const [at] = this.#pick(lines);
    return [`duplicate-line@${start}`, Buffer.concat([data.subarray(0, at), data.subarray(start, end), data.subarray(at)])];
  }

  #deleteLine(data: Buffer): [string, Buffer] {
    const lines = this.#headerLines(data);
    if (lines.length === 0) return this.#truncate(data);
    const [start, end] = this.#pick(lines);
    return [`delete-line@${start}`, Buffer.concat([data.subarray(0, start), data.subarray(end)])];
  }

  #hugeValue(data: Buffer): [string, Buffer] {
    const lines = this.#headerLines(data);
    const size = this.#pick([200, 1024, 8191, 8192, 9000, 30_000, 64 * 1024]);
    const fill = String.fromCharCode(this.#pick([0x61, 0x3b, 0x2c, 0x22, 0x3c, 0x25, 0x20, 0x2f, 0x40, 0x5c]));
    const at = lines.length === 0 ? data.length : this.#pick(lines)[1] - 2;
    return [`huge-value(${size},${JSON.stringify(fill)})`, Buffer.concat([data.subarray(0, at), Buffer.from(fill.repeat(size)), data.subarray(at)])];
  }

  #manyHeaders(data: Buffer): [string, Buffer] {
    const lines = this.#headerLines(data);
    const count = this.#pick([100, 255, 256, 257, 1000, 5000]);
    const row = this.#random() < 0.5 ? 'X-F: 1\r\n' : `${this.#pick(HEADER_NAMES)}: x\r\n`;
    const at = lines.length === 0 ? 0 : lines[0]![0];
    return [`many-headers(${count})`, Buffer.concat([data.subarray(0, at), Buffer.from(row.repeat(count)), data.subarray(at)])];
  }

  #inject(data: Buffer): [string, Buffer] {
    const what = this.#pick(INJECTIONS);
    const at = this.#int(data.length + 1);
    return [`inject(${JSON.stringify(what)})@${at}`, Buffer.concat([data.subarray(0, at), Buffer.from(what, 'latin1'), data.subarray(at)])];
  }

  #contentLength(data: Buffer): [string, Buffer] {
    const text = data.toString('latin1');
    const blank = text.indexOf('\r\n\r\n');
    const bodyLength = blank === -1 ? 0 : data.length - blank - 4;
    const value = this.#random() < 0.5 ? String(Math.max(0, bodyLength + this.#int(21) - 10)) : this.#pick(LENGTH_VALUES);
    const re = /^(content-length|l)[ \t]*:[^\r\n]*$/im;
    const mode = this.#int(3);
    let out: string;
    if (mode === 0 && re.test(text)) out = text.replace(re, (_m, name: string) => `${name}: ${value}`);
    else if (mode === 1 && re.test(text)) out = text.replace(re, '').replace('\r\n\r\n\r\n', '\r\n\r\n');
    else out = blank === -1 ? `${text}\r\nContent-Length: ${value}` : `${text.slice(0, blank)}\r\nContent-Length: ${value}${text.slice(blank)}`;
    return [`content-length(${mode},${JSON.stringify(value)})`, Buffer.from(out, 'latin1')];
  }

  #splice(data: Buffer): [string, Buffer] {
    const other = this.#pick(this.#seeds);
    const from = this.#int(other.length + 1);
    const to = Math.min(other.length, from + this.#int(200));
    const at = this.#int(data.length + 1);
    return [`splice(${from}-${to})@${at}`, Buffer.concat([data.subarray(0, at), other.subarray(from, to), data.subarray(at)])];
  }

  #renameHeader(data: Buffer): [string, Buffer] {
    const lines = this.#headerLines(data);
    if (lines.length === 0) return this.#inject(data);
    const [start, end] = this.#pick(lines);
    const colon = data.indexOf(':', start);
    if (colon === -1 || colon >= end) return this.#inject(data);
    const name = this.#pick(HEADER_NAMES);
    return [`rename(${name})@${start}`, Buffer.concat([data.subarray(0, start), Buffer.from(name), data.subarray(colon)])];
  }

  #repeatSlice(data: Buffer): [string, Buffer] {
    const from = this.#int(data.length + 1);
    const to = Math.min(data.length, from + 1 + this.#int(40));
    const times = this.#pick([2, 10, 100, 1000]);
    const piece = data.subarray(from, to);
    return [`repeat(${from}-${to}×${times})`, Buffer.concat([data.subarray(0, to), ...Array<Buffer>(times - 1).fill(piece), data.subarray(to)])];
  }

  /** LWS where the grammar has (or has not) room for it: around separators, or a fold inside a value. */
  #fold(data: Buffer): [string, Buffer] {
    const separators = [0x3a, 0x3b, 0x3d, 0x2f, 0x2c, 0x3c, 0x3e, 0x40];
    const positions: number[] = [];
    for (let i = 0; i < data.length && positions.length < 200; i++) if (separators.includes(data[i]!)) positions.push(i);
    if (positions.length === 0) return this.#inject(data);
    const at = this.#pick(positions) + this.#int(2);
    const lws = this.#pick([' ', '  ', '\t', '\r\n ', '\r\n\t', ' \r\n  ']);
    return [`lws(${JSON.stringify(lws)})@${at}`, Buffer.concat([data.subarray(0, at), Buffer.from(lws), data.subarray(at)])];
  }
}
