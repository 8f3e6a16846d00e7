import { describe, it, expect } from 'vitest';
import { BencodeError } from '../../src/ng/bencode.ts';
import { NgError } from '../../src/ng/errors.ts';
import { NgStreamFramer } from '../../src/ng/ng-stream.ts';

const one = 'c1 d7:command5:offer3:sdp13:v=0\r\nm=audio e';
const two = 'c2 d7:command4:pinge';

describe('NgStreamFramer (ng over TCP)', () => {
  it('returns back-to-back messages from one read', () => {
    const framer = new NgStreamFramer();
    expect(framer.push(Buffer.from(one + two)).map(String)).toEqual([one, two]);
    expect(framer.buffered).toBe(0);
  });

  it('reassembles messages split at every possible point', () => {
    const stream = Buffer.from(one + two);
    for (let split = 1; split < stream.length; split++) {
      const framer = new NgStreamFramer();
      const got = [...framer.push(stream.subarray(0, split)), ...framer.push(stream.subarray(split))];
      expect(got.map(String), `split at ${split}`).toEqual([one, two]);
    }
  });

  it('reassembles a message fed one byte at a time', () => {
    const framer = new NgStreamFramer();
    const got: string[] = [];
    for (const byte of Buffer.from(one)) got.push(...framer.push(Buffer.from([byte])).map(String));
    expect(got).toEqual([one]);
  });

  it('skips whitespace between messages', () => {
    const framer = new NgStreamFramer();
    expect(framer.push(Buffer.from(`${one}\r\n  ${two}\n`)).map(String)).toEqual([one, two]);
  });

  it('gives up on a malformed body, keeping the cookie for the error reply', () => {
    const framer = new NgStreamFramer();
    expect(() => framer.push(Buffer.from('c9 d7:commandi03ee'))).toThrow(BencodeError);
    expect(framer.cookie?.toString()).toBe('c9');
    const json = new NgStreamFramer();
    expect(() => json.push(Buffer.from('c3 {"command":"ping"}'))).toThrow(NgError);
  });

  it('bounds the cookie and the message size', () => {
    expect(() => new NgStreamFramer().push(Buffer.alloc(300, 0x41))).toThrow(/Cookie longer than 256/);
    const framer = new NgStreamFramer({ maxLength: 64 });
    expect(() => framer.push(Buffer.from(`c1 d3:sdp100:${'x'.repeat(100)}e`))).toThrow(/longer than 64/);
  });
});
