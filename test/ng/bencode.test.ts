import { describe, it, expect } from 'vitest';
import {
  BencodeError,
  BencodeScanner,
  decodeBencode,
  decodeBencodePrefix,
  encodeBencode,
} from '../../src/ng/bencode.ts';
import type { BencodeValue } from '../../src/ng/bencode.ts';

const enc = (v: Parameters<typeof encodeBencode>[0]) => encodeBencode(v).toString('latin1');
const dec = (s: string | Buffer) => decodeBencode(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);

function decodeError(input: string | Buffer, options?: { maxLength?: number; maxDepth?: number }): BencodeError {
  try {
    decodeBencode(typeof input === 'string' ? Buffer.from(input, 'latin1') : input, options);
  } catch (err) {
    expect(err).toBeInstanceOf(BencodeError);
    expect((err as BencodeError).code).toBe('BENCODE_INVALID');
    return err as BencodeError;
  }
  throw new Error(`decoded without error: ${String(input)}`);
}

describe('bencode encoding', () => {
  it('writes the exact bytes BEP 3 prescribes for every type', () => {
    expect(enc(0)).toBe('i0e');
    expect(enc(-42)).toBe('i-42e');
    expect(enc(9007199254740991)).toBe('i9007199254740991e');
    expect(enc(12345678901234567890n)).toBe('i12345678901234567890e');
    expect(enc('')).toBe('0:');
    expect(enc('spam')).toBe('4:spam');
    expect(enc([])).toBe('le');
    expect(enc({})).toBe('de');
    expect(enc(['spam', 'eggs', 7])).toBe('l4:spam4:eggsi7ee');
    expect(enc({ command: 'ping' })).toBe('d7:command4:pinge');
    expect(enc({ result: 'pong' })).toBe('d6:result4:ponge');
  });

  it('counts string lengths in UTF-8 bytes, not characters', () => {
    expect(encodeBencode('é€').toString('utf8')).toBe('5:é€');
  });

  it('writes binary strings verbatim', () => {
    const bytes = Buffer.from([0x00, 0xff, 0x80, 0x3a]);
    expect(encodeBencode(bytes)).toEqual(Buffer.concat([Buffer.from('4:'), bytes]));
    expect(encodeBencode(new Uint8Array([1, 2]))).toEqual(Buffer.from([0x32, 0x3a, 1, 2]));
  });

  it('sorts dictionary keys as raw byte strings, at every level', () => {
    expect(enc({ b: 1, a: 2, 'a b': 3, A: 4, '': 5 })).toBe('d0:i5e1:Ai4e1:ai2e3:a bi3e1:bi1ee');
    expect(enc({ z: { y: 1, x: [{ d: 1, c: 2 }] }, a: 0 })).toBe('d1:ai0e1:zd1:xld1:ci2e1:di1eee1:yi1eee');
    // Byte order, not UTF-16 order: U+FF5E (EF BD 9E) sorts before U+1F600 (F0 9F 98 80).
    const out = encodeBencode({ '😀': 1, '～': 2 });
    expect(out.indexOf(Buffer.from('～'))).toBeLessThan(out.indexOf(Buffer.from('😀')));
  });

  it('leaves out undefined dictionary values (optional reply keys)', () => {
    expect(enc({ result: 'ok', warning: undefined })).toBe('d6:result2:oke');
  });

  it('refuses values bencode cannot carry', () => {
    expect(() => encodeBencode(1.5)).toThrow(BencodeError);
    expect(() => encodeBencode(Number.NaN)).toThrow(BencodeError);
    expect(() => encodeBencode(null as never)).toThrow(BencodeError);
    expect(() => encodeBencode(true as never)).toThrow(BencodeError);
  });
});

describe('bencode decoding', () => {
  it('round-trips nested values, empty containers and binary strings', () => {
    const values: BencodeValue[] = [
      0,
      -1,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      '',
      'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n',
      [],
      [[], [[]], ['a', 1, []]],
      { command: 'offer', flags: ['trust address', 'strict source'], codec: { strip: ['G729'] }, tags: {} },
      Buffer.from([0xff, 0xfe, 0x00]),
    ];
    for (const value of values) {
      const decoded = decodeBencode(encodeBencode(value));
      expect(decoded).toEqual(value);
      expect(encodeBencode(decoded)).toEqual(encodeBencode(value));
    }
  });

  it('decodes valid UTF-8 byte strings as strings and anything else as Buffers', () => {
    const out = decodeBencode(Buffer.concat([Buffer.from('l2:'), Buffer.from('é'), Buffer.from('2:'), Buffer.from([0xff, 0x41]), Buffer.from('e')]));
    expect(out).toEqual(['é', Buffer.from([0xff, 0x41])]);
    expect(typeof (out as BencodeValue[])[0]).toBe('string');
    expect(Buffer.isBuffer((out as BencodeValue[])[1])).toBe(true);
  });

  it('accepts unsorted keys (Kamailio sends insertion order) and keeps the first of a duplicate', () => {
    expect(dec('d7:command4:ping4:call2:c1e')).toEqual({ command: 'ping', call: 'c1' });
    expect(dec('d1:ai1e1:ai2ee')).toEqual({ a: 1 });
  });

  it('keeps keys like __proto__ as plain data', () => {
    const d = dec('d9:__proto__d1:xi1ee11:constructori2ee') as Record<string, unknown>;
    expect(Object.getPrototypeOf(d)).toBeNull();
    expect(d['__proto__']).toEqual({ x: 1 });
    expect(d['constructor']).toBe(2);
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });

  it('decodes a prefix and reports where it ends', () => {
    expect(decodeBencodePrefix(Buffer.from('xxd1:ai1ee4:rest'), 2)).toEqual({ value: { a: 1 }, end: 10 });
  });
});

describe('malformed bencode', () => {
  it.each([
    ['empty input', ''],
    ['truncated integer', 'i12'],
    ['truncated string', '5:abc'],
    ['truncated list', 'l4:spam'],
    ['truncated dictionary', 'd3:key'],
    ['dictionary value missing', 'd3:keye'],
    ['empty integer', 'ie'],
    ['leading zero in integer', 'i03e'],
    ['negative zero', 'i-0e'],
    ['leading zero in negative integer', 'i-03e'],
    ['lone minus', 'i-e'],
    ['integer with a plus sign', 'i+3e'],
    ['integer with spaces', 'i 3e'],
    ['fractional integer', 'i1.5e'],
    ['integer beyond 2^53', 'i9007199254740993e'],
    ['leading zero in string length', '03:abc'],
    ['negative string length', '-3:abc'],
    ['string length with no colon', '3abc'],
    ['huge string length', '99999999999999999999:x'],
    ['length past the end', '4294967296:abc'],
    ['non-string dictionary key', 'di1ei2ee'],
    ['list as dictionary key', 'dle1:ae'],
    ['stray end marker', 'e'],
    ['unknown type byte', 'x'],
    ['trailing bytes', 'i1ei2e'],
    ['non-UTF-8 dictionary key', Buffer.from([0x64, 0x31, 0x3a, 0xff, 0x69, 0x31, 0x65, 0x65])],
  ])('%s → BencodeError', (_name, input) => {
    const err = decodeError(input);
    expect(err.offset).toBeGreaterThanOrEqual(0);
  });

  it('rejects nesting deeper than the limit without recursing into it', () => {
    const deep = 'l'.repeat(100_000) + 'e'.repeat(100_000);
    expect(decodeError(deep).message).toMatch(/nesting deeper than 32/);
    expect(decodeBencode(Buffer.from('l'.repeat(32) + 'e'.repeat(32)))).toBeDefined();
    expect(decodeError('l'.repeat(33) + 'e'.repeat(33)).message).toMatch(/nesting/);
    expect(decodeError('llle' + 'ee', { maxDepth: 2 }).message).toMatch(/nesting deeper than 2/);
  });

  it('rejects input longer than the size limit before looking at it', () => {
    expect(decodeError(`10:${'a'.repeat(10)}`, { maxLength: 12 }).message).toMatch(/longer than 12 bytes/);
    expect(decodeBencode(Buffer.from(`10:${'a'.repeat(10)}`), { maxLength: 13 })).toBe('a'.repeat(10));
  });
});

describe('BencodeScanner (stream boundaries)', () => {
  const message = Buffer.from('d7:command5:offer3:sdp12:v=0\r\nm=audio5:flagsl5:a b c3:x ye1:ni-7ee');

  it('finds the end of a value fed one byte at a time', () => {
    const scanner = new BencodeScanner();
    for (let i = 0; i < message.length - 1; i++) expect(scanner.push(message.subarray(i, i + 1))).toBe(-1);
    expect(scanner.push(message.subarray(message.length - 1))).toBe(1);
    expect(scanner.consumed).toBe(message.length);
  });

  it('stops at the end of the value when more follows in the same chunk', () => {
    const scanner = new BencodeScanner();
    const stream = Buffer.concat([message, Buffer.from('next')]);
    expect(scanner.push(stream)).toBe(message.length);
    scanner.reset();
    expect(scanner.push(Buffer.from('xxi5e'), 2)).toBe(3);
  });

  it('agrees with the decoder on every split point', () => {
    for (let split = 0; split <= message.length; split++) {
      const scanner = new BencodeScanner();
      const first = scanner.push(message.subarray(0, split));
      const total = first === -1 ? split + scanner.push(message.subarray(split)) : first;
      expect(total).toBe(message.length);
    }
  });

  it.each([
    ['leading zero', 'i03e'],
    ['negative zero', 'i-0e'],
    ['non-string key', 'di1ei1ee'],
    ['stray end', 'e'],
    ['missing dictionary value', 'd1:ae'],
    ['huge length', '99999999999999999999:'],
  ])('throws BencodeError on %s', (_name, input) => {
    expect(() => new BencodeScanner().push(Buffer.from(input))).toThrow(BencodeError);
  });

  it('enforces the depth and length limits while scanning', () => {
    expect(() => new BencodeScanner({ maxDepth: 3 }).push(Buffer.from('llll'))).toThrow(/nesting deeper than 3/);
    expect(() => new BencodeScanner({ maxLength: 10 }).push(Buffer.from('l1:a1:a1:a1:ae'))).toThrow(/longer than 10/);
    expect(() => new BencodeScanner({ maxLength: 10 }).push(Buffer.from('20:'))).toThrow(/longer than 10/);
  });
});
