/**
 * Seeded mutators for the non-SIP fuzz targets (the SIP parser has its own, sip-mutator.ts, whose PRNG is reused):
 * a byte mutator for binary datagrams (STUN, RTP, RTCP, DTLS) that knows where their length and count fields sit,
 * and a line mutator for line-based text (SDP, YAML, header values) that knows the grammar's separators.
 * The same seed always gives the same sequence.
 */
import { prng } from './sip-mutator.ts';
import type { FuzzCase } from './harness.ts';

export { prng };

export class Random {
  readonly next: () => number;

  constructor(seed: number) {
    this.next = prng(seed);
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

export interface BinaryCase extends FuzzCase {
  readonly input: Buffer;
}

export interface TextCase extends FuzzCase {
  readonly input: string;
}

const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x03, 0x14, 0x16, 0x17, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0xbf, 0xc0, 0xc8, 0xc9, 0xcf, 0xdf, 0xe0, 0xfe, 0xff];
const INTERESTING_16 = [0, 1, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0x8028, 0xfffe, 0xffff];

/**
 * Byte-level mutations of binary seeds: bit flips, interesting bytes, 16-bit fields (lengths, attribute types)
 * set to boundary values or to the real length ± a little, truncation, extension, splices between seeds,
 * repeated slices. One to three operations per input.
 */
export class ByteMutator {
  readonly #seeds: readonly Buffer[];
  readonly #r: Random;

  constructor(seeds: readonly Buffer[], seed: number) {
    if (seeds.length === 0) throw new Error('ByteMutator needs seeds');
    this.#seeds = seeds;
    this.#r = new Random(seed);
  }

  get random(): Random {
    return this.#r;
  }

  next(): BinaryCase {
    const r = this.#r;
    let data: Buffer = Buffer.from(r.pick(this.#seeds));
    const ops: string[] = [];
    const count = r.chance(0.6) ? 1 : r.chance(0.75) ? 2 : 3;
    for (let i = 0; i < count; i++) {
      const [op, out] = this.#mutate(data);
      ops.push(op);
      data = out;
    }
    return { input: data, ops };
  }

  #mutate(data: Buffer): [string, Buffer] {
    const r = this.#r;
    const at = r.int(data.length + 1);
    switch (r.int(10)) {
      case 0: {
        const out = Buffer.from(data);
        const n = 1 + r.int(6);
        for (let i = 0; i < n && out.length > 0; i++) out[r.int(out.length)]! ^= 1 << r.int(8);
        return [`flip×${n}`, out];
      }
      case 1: {
        const out = Buffer.from(data);
        if (out.length > 0) out[Math.min(at, out.length - 1)] = r.chance(0.7) ? r.pick(INTERESTING_BYTES) : r.int(256);
        return [`byte@${at}`, out];
      }
      case 2: {
        // A 16-bit field (length, count, type) at an even offset: boundary values or the real size nearby.
        const out = Buffer.from(data);
        const pos = (r.int(Math.max(1, out.length >> 1)) << 1) & ~1;
        if (pos + 2 <= out.length) {
          const value = r.chance(0.5) ? r.pick(INTERESTING_16) : Math.max(0, Math.min(0xffff, out.length - pos + r.int(9) - 4));
          out.writeUInt16BE(value, pos);
          return [`u16@${pos}=${value}`, out];
        }
        return [`u16-skip`, out];
      }
      case 3:
        return [`truncate@${at}`, data.subarray(0, at)];
      case 4: {
        const n = r.pick([1, 2, 3, 4, 8, 16, 100]);
        const extra = Buffer.alloc(n);
        for (let i = 0; i < n; i++) extra[i] = r.int(256);
        return [`extend+${n}`, Buffer.concat([data, extra])];
      }
      case 5: {
        const other = r.pick(this.#seeds);
        const from = r.int(other.length + 1);
        const to = Math.min(other.length, from + r.int(64));
        return [`splice(${from}-${to})@${at}`, Buffer.concat([data.subarray(0, at), other.subarray(from, to), data.subarray(at)])];
      }
      case 6: {
        const from = r.int(data.length + 1);
        const to = Math.min(data.length, from + 1 + r.int(24));
        const times = r.pick([2, 4, 16]);
        const piece = data.subarray(from, to);
        return [`repeat(${from}-${to}×${times})`, Buffer.concat([data.subarray(0, to), ...Array<Buffer>(times - 1).fill(piece), data.subarray(to)])];
      }
      case 7: {
        const len = 1 + r.int(8);
        return [`delete(${at},${len})`, Buffer.concat([data.subarray(0, at), data.subarray(at + len)])];
      }
      case 8: {
        // Stomp a whole 32-bit word (a magic cookie, an SSRC, a CRC) with zeros or ones.
        const out = Buffer.from(data);
        const pos = r.int(Math.max(1, out.length >> 2)) << 2;
        if (pos + 4 <= out.length) out.writeUInt32BE(r.chance(0.5) ? 0 : 0xffffffff, pos);
        return [`u32@${pos}`, out];
      }
      default: {
        const len = r.int(64);
        const out = Buffer.alloc(len);
        for (let i = 0; i < len; i++) out[i] = r.int(256);
        return [`random(${len})`, out];
      }
    }
  }
}

export interface LineMutatorOptions {
  /** Whole lines the grammar knows (`a=rtcp-mux`, `  port: 0`), inserted or substituted. */
  lines?: readonly string[];
  /** Tokens spliced into lines (separators, keywords, boundary numbers). */
  tokens?: readonly string[];
  /** Line separator of the seeds. Default CRLF. */
  eol?: string;
  /** Sizes a value is grown by (the "huge value" mutation). Default 256, 1024, 8192, 70,000. */
  hugeSizes?: readonly number[];
  /** How many copies the "repeat a line" mutation inserts. Default 20, 100, 400. */
  repeatCounts?: readonly number[];
}

const NUMBERS = ['0', '-1', '1', '65535', '65536', '4294967295', '4294967296', '99999999999999999999', '1e309', 'NaN', '0x10', '00', '-0', '1.5', ''];
const JUNK = ['\0', '\r', '\n', '\r\n', '\t', ' ', '  ', '=', ':', ';', ',', '/', '"', "'", '\\', '%', '{', '}', '[', ']', '#', '*', '&', '!', '\u00ff', '\u2028', '\ud800', '😀'];

/**
 * Line-aware mutations of text seeds: delete, duplicate, swap or replace lines, splice grammar tokens and boundary
 * numbers into a line, replace a number, inject junk characters, change line endings, truncate, and grow a value
 * huge. One to three operations per input.
 */
export class LineMutator {
  readonly #seeds: readonly string[];
  readonly #r: Random;
  readonly #lines: readonly string[];
  readonly #tokens: readonly string[];
  readonly #eol: string;
  readonly #huge: readonly number[];
  readonly #repeats: readonly number[];

  constructor(seeds: readonly string[], seed: number, options: LineMutatorOptions = {}) {
    if (seeds.length === 0) throw new Error('LineMutator needs seeds');
    this.#seeds = seeds;
    this.#r = new Random(seed);
    this.#lines = options.lines ?? [];
    this.#tokens = [...(options.tokens ?? []), ...NUMBERS, ...JUNK];
    this.#eol = options.eol ?? '\r\n';
    this.#huge = options.hugeSizes ?? [256, 1024, 8192, 70_000];
    this.#repeats = options.repeatCounts ?? [20, 100, 400];
  }

  get random(): Random {
    return this.#r;
  }

  next(): TextCase {
    const r = this.#r;
    let text = r.pick(this.#seeds);
    const ops: string[] = [];
    const count = r.chance(0.6) ? 1 : r.chance(0.75) ? 2 : 3;
    for (let i = 0; i < count; i++) {
      const [op, out] = this.#mutate(text);
      ops.push(op);
      text = out;
    }
    return { input: text, ops };
  }

  #mutate(text: string): [string, string] {
    const r = this.#r;
    const eol = this.#eol;
    const lines = text.split(eol);
    const i = r.int(lines.length);
    switch (r.int(12)) {
      case 0:
        lines.splice(i, 1);
        return [`delete-line ${i}`, lines.join(eol)];
      case 1:
        lines.splice(r.int(lines.length + 1), 0, lines[i]!);
        return [`duplicate-line ${i}`, lines.join(eol)];
      case 2: {
        const j = r.int(lines.length);
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        return [`swap-lines ${i} ${j}`, lines.join(eol)];
      }
      case 3:
        if (this.#lines.length > 0) {
          const line = r.pick(this.#lines);
          if (r.chance(0.5)) lines[i] = line;
          else lines.splice(i, 0, line);
          return [`line ${JSON.stringify(line)} @${i}`, lines.join(eol)];
        }
        return this.#inject(text);
      case 4: {
        const line = lines[i]!;
        const at = r.int(line.length + 1);
        const token = r.pick(this.#tokens);
        lines[i] = line.slice(0, at) + token + line.slice(at);
        return [`token ${JSON.stringify(token)} @${i}:${at}`, lines.join(eol)];
      }
      case 5: {
        const numbers = [...text.matchAll(/\d+/g)];
        if (numbers.length === 0) return this.#inject(text);
        const m = r.pick(numbers);
        const value = r.pick(NUMBERS);
        return [`number@${m.index}=${JSON.stringify(value)}`, text.slice(0, m.index) + value + text.slice(m.index! + m[0].length)];
      }
      case 6:
        return this.#inject(text);
      case 7: {
        const to = r.pick(['\n', '\r', '\r\n', '\n\r', '\r\r\n', '']);
        return [`eol ${JSON.stringify(to)}`, lines.join(to)];
      }
      case 8: {
        const at = r.int(text.length + 1);
        return [`truncate@${at}`, text.slice(0, at)];
      }
      case 9: {
        const line = lines[i]!;
        const size = r.pick(this.#huge);
        lines[i] = line + r.pick(['a', '0', ' ', ':', ';', '/', '=', 'x ']).repeat(size);
        return [`huge@${i}×${size}`, lines.join(eol)];
      }
      case 10: {
        const other = r.pick(this.#seeds).split(eol);
        const from = r.int(other.length);
        lines.splice(i, 0, ...other.slice(from, from + 1 + r.int(4)));
        return [`splice-lines ${from}@${i}`, lines.join(eol)];
      }
      default: {
        const count = r.pick(this.#repeats);
        lines.splice(i, 0, ...Array<string>(count).fill(lines[i] ?? ''));
        return [`repeat-line ${i}×${count}`, lines.join(eol)];
      }
    }
  }

  #inject(text: string): [string, string] {
    const at = this.#r.int(text.length + 1);
    const junk = this.#r.pick(JUNK);
    return [`inject ${JSON.stringify(junk)}@${at}`, text.slice(0, at) + junk + text.slice(at)];
  }
}
