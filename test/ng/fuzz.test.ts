/**
 * Fuzzing of everything a control peer's bytes reach before the media API: cookie split, bencode/JSON decoding,
 * rtpp-flags expansion and command parsing. Inputs are mutations of real Kamailio requests (byte-level and
 * structure-aware), from a fixed seed so a failure reproduces. The only exceptions allowed are BencodeError and
 * NgError; the stream scanner must agree with the decoder on where every value ends.
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { BencodeScanner, decodeBencode, decodeBencodePrefix, encodeBencode } from '../../src/ng/bencode.ts';
import type { BencodeDict, BencodeValue } from '../../src/ng/bencode.ts';
import { BencodeError, NgError } from '../../src/ng/errors.ts';
import { decodeNgBody, parseNgCommand, splitCookie } from '../../src/ng/ng-message.ts';

const ITERATIONS = 100_000;
const fixturesDir = new URL('../fixtures/ng/', import.meta.url);
const seeds: Buffer[] = readdirSync(fixturesDir)
  .filter((f) => f.endsWith('.bencode'))
  .map((f) => readFileSync(new URL(f, fixturesDir)));
seeds.push(
  Buffer.from('j1 {"command":"offer","call-id":"c","from-tag":"f","sdp":"v=0","codec":{"strip":["PCMA"]},"flags":["trust address"]}'),
  Buffer.from('j2 d7:command10:play DTMF7:call-id1:c8:from-tag1:f4:codei11e8:durationi300ee'),
  Buffer.from('j3 d7:command11:block media7:call-id1:c8:from-tag1:f5:flagsl11:directionalee'),
  Buffer.from('j4 d7:command6:delete7:call-id1:c5:flagsl5:fatal4:fastee'),
  Buffer.from('j5 d7:command4:list5:limiti5ee'),
  Buffer.from('j6 d7:command5:offer7:call-id1:c8:from-tag1:f3:sdp3:v=010:rtpp-flags40:codec=[strip=[all] except=[PCMU]] ICE=forcee'),
);

/** xorshift32: deterministic and fast. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return { next, int: (n: number) => next() % n, pick: <T>(a: readonly T[]) => a[next() % a.length]! };
}

const INTERESTING = ['d', 'l', 'e', 'i', ':', '-', '0', '9', ' ', '{', '}', '[', ']', '"', '=', '\u00ff'];
const NUMBERS = ['0', '00', '-0', '-1', '4294967296', '9007199254740993', '99999999999999999999', '18446744073709551616'];
const KEYS = ['command', 'call-id', 'from-tag', 'to-tag', 'sdp', 'flags', 'ICE', 'DTLS', 'SDES', 'codec', 'replace',
  'rtcp-mux', 'transport-protocol', 'direction', 'label', 'code', 'digit', 'duration', 'limit', 'rtpp-flags', 'strip',
  '__proto__', 'constructor', 'delete delay', 'volume'];
const COMMANDS = ['offer', 'answer', 'delete', 'query', 'list', 'ping', 'statistics', 'block media', 'unblock media',
  'play DTMF', 'play media', 'start recording', 'block DTMF', 'x'];

function randomValue(r: ReturnType<typeof rng>, depth: number): BencodeValue {
  switch (r.int(depth > 3 ? 3 : 6)) {
    case 0:
      return r.int(2) === 0 ? r.pick(COMMANDS) : r.pick(KEYS);
    case 1:
      return r.int(1000) - 500;
    case 2:
      return Buffer.from([r.int(256), r.int(256), 0xff]);
    case 3:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    case 4: {
      const d = Object.create(null) as BencodeDict;
      for (let i = r.int(4); i > 0; i--) d[r.pick(KEYS)] = randomValue(r, depth + 1);
      return d;
    }
    default:
      return `${r.pick(['force', 'remove', 'passive', 'off', 'all', 'RTP/AVP', 'UDP/TLS/RTP/SAVPF', '[', 'a=b'])}`;
  }
}

function mutateBytes(r: ReturnType<typeof rng>, input: Buffer): Buffer {
  let b = Buffer.from(input);
  for (let n = 1 + r.int(4); n > 0; n--) {
    const at = r.int(b.length + 1);
    switch (r.int(7)) {
      case 0: // flip a byte
        if (b.length > 0) b[Math.min(at, b.length - 1)] = r.int(256);
        break;
      case 1: // insert a structural byte
        b = Buffer.concat([b.subarray(0, at), Buffer.from(r.pick(INTERESTING), 'latin1'), b.subarray(at)]);
        break;
      case 2: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(16))]);
        break;
      case 3: // truncate
        b = b.subarray(0, at);
        break;
      case 4: // duplicate a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + r.int(64)), b.subarray(at)]);
        break;
      case 5: // overwrite a number with an awkward one
        b = Buffer.concat([b.subarray(0, at), Buffer.from(r.pick(NUMBERS)), b.subarray(at + 1)]);
        break;
      default: // splice from another seed
        b = Buffer.concat([b.subarray(0, at), r.pick(seeds).subarray(r.int(64))]);
    }
  }
  return b;
}

/** Structure-aware: a valid dictionary with keys replaced, removed or given values of the wrong type. */
function mutateStructure(r: ReturnType<typeof rng>, input: Buffer): Buffer {
  const { cookie, body } = splitCookie(input);
  let dict: BencodeDict;
  try {
    dict = decodeNgBody(body).dict;
  } catch {
    return input;
  }
  const copy = Object.assign(Object.create(null) as BencodeDict, dict);
  for (let n = 1 + r.int(3); n > 0; n--) {
    const keys = Object.keys(copy);
    const choice = r.int(3);
    if (choice === 0 && keys.length > 0) delete copy[r.pick(keys)];
    else if (choice === 1 && keys.length > 0) copy[r.pick(keys)] = randomValue(r, 1);
    else copy[r.pick(KEYS)] = randomValue(r, 1);
  }
  return Buffer.concat([cookie, Buffer.from(' '), encodeBencode(copy)]);
}

function isExpected(err: unknown): boolean {
  return err instanceof BencodeError || err instanceof NgError;
}

describe('ng parsing under fuzzing', () => {
  it(`throws only BencodeError/NgError on ${ITERATIONS} mutated requests, in bounded time`, () => {
    const r = rng(0x5eed1e55);
    const outcomes = { parsed: 0, bencodeError: 0, ngError: 0, scannerChecks: 0 };
    const started = performance.now();
    for (let i = 0; i < ITERATIONS; i++) {
      const seed = r.pick(seeds);
      const input = r.int(3) === 0 ? mutateStructure(r, seed) : mutateBytes(r, seed);
      try {
        const { body } = splitCookie(input);
        crossCheckScanner(body, outcomes);
        const { dict } = decodeNgBody(body, { maxLength: 64 * 1024 });
        parseNgCommand(dict, { interfaces: ['default'] });
        outcomes.parsed++;
      } catch (err) {
        if (!isExpected(err)) {
          throw new Error(`iteration ${i}: ${String(err)} for input ${JSON.stringify(input.toString('latin1'))}`, { cause: err });
        }
        if (err instanceof BencodeError) outcomes.bencodeError++;
        else outcomes.ngError++;
      }
    }
    const elapsedMs = performance.now() - started;
    console.log(`ng fuzz: ${ITERATIONS} inputs in ${elapsedMs.toFixed(0)} ms`, outcomes);
    // Every class of outcome was reached: the mutations are neither all fatal nor all harmless.
    expect(outcomes.parsed).toBeGreaterThan(1000);
    expect(outcomes.bencodeError).toBeGreaterThan(1000);
    expect(outcomes.ngError).toBeGreaterThan(1000);
  });

  it('never throws anything but NgError on random rtpp-flags strings', () => {
    const r = rng(42);
    const alphabet = ['[', ']', '=', ' ', ' ', 'a', 'b', '-', 'codec', 'strip', 'RTP/AVP', 'ICE', 'force', 'direction', 'SDES'];
    let count = 0;
    for (let i = 0; i < 20_000; i++) {
      const flags = Array.from({ length: r.int(24) }, () => r.pick(alphabet)).join('');
      try {
        parseNgCommand({ command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: 'v=0', 'rtpp-flags': flags } as BencodeDict);
      } catch (err) {
        if (!(err instanceof NgError)) throw new Error(`rtpp-flags ${JSON.stringify(flags)}: ${String(err)}`, { cause: err });
      }
      count++;
    }
    expect(count).toBe(20_000);
  });
});

/** Whatever the decoder accepts, the incremental scanner must delimit identically, fed in two pieces. */
function crossCheckScanner(body: Buffer, outcomes: { scannerChecks: number }): void {
  let end: number;
  try {
    end = decodeBencodePrefix(body, 0, { maxLength: 64 * 1024 }).end;
  } catch {
    return;
  }
  const split = body.length >> 1;
  const scanner = new BencodeScanner({ maxLength: 64 * 1024 });
  const first = scanner.push(body.subarray(0, split));
  const total = first !== -1 ? first : split + scanner.push(body.subarray(split));
  if (total !== end) throw new Error(`scanner ended at ${total}, decoder at ${end}: ${JSON.stringify(body.toString('latin1'))}`);
  outcomes.scannerChecks++;
  // And the value round-trips through the encoder (sorted keys make it canonical).
  const canonical = encodeBencode(decodeBencode(body.subarray(0, end)));
  if (!encodeBencode(decodeBencode(canonical)).equals(canonical)) throw new Error('round trip changed the value');
}
