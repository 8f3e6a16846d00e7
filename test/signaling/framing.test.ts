import { describe, it, expect } from 'vitest';
import { StreamFramer, FramingError } from '../../src/signaling/framing.ts';

const INVITE_BODY = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
const INVITE =
  'INVITE sip:bob@127.0.0.1 SIP/2.0\r\n' +
  'Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n' +
  'Max-Forwards: 70\r\n' +
  'From: <sip:alice@127.0.0.1>;tag=a1\r\n' +
  'To: <sip:bob@127.0.0.1>\r\n' +
  'Call-ID: c1@127.0.0.1\r\n' +
  'CSeq: 1 INVITE\r\n' +
  'Content-Type: application/sdp\r\n' +
  `Content-Length: ${Buffer.byteLength(INVITE_BODY)}\r\n\r\n` +
  INVITE_BODY;
// Compact form, lower case, and a body containing CRLFCRLF so a naive search would cut it.
const MESSAGE_BODY = 'hello\r\n\r\nworld';
const MESSAGE =
  'MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\n' +
  'v: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-2\r\n' +
  'f: <sip:alice@127.0.0.1>;tag=a1\r\n' +
  't: <sip:bob@127.0.0.1>\r\n' +
  'i: c2@127.0.0.1\r\n' +
  'CSeq: 2 MESSAGE\r\n' +
  `l: ${Buffer.byteLength(MESSAGE_BODY)}\r\n\r\n` +
  MESSAGE_BODY;

function collect(options?: { maxMessageSize?: number }) {
  const messages: string[] = [];
  const errors: FramingError[] = [];
  let pings = 0;
  const framer = new StreamFramer(
    {
      message: (data) => messages.push(data.toString('latin1')),
      ping: () => pings++,
      error: (e) => errors.push(e),
    },
    options,
  );
  return { framer, messages, errors, pings: () => pings };
}

describe('StreamFramer', () => {
  it('emits two back-to-back messages with bodies split at every byte position', () => {
    const stream = Buffer.from(INVITE + MESSAGE, 'latin1');
    for (let cut = 1; cut < stream.length; cut++) {
      const { framer, messages, errors } = collect();
      framer.push(stream.subarray(0, cut));
      framer.push(stream.subarray(cut));
      expect(errors).toEqual([]);
      expect(messages).toEqual([INVITE, MESSAGE]);
      expect(framer.bufferedBytes).toBe(0);
    }
  });

  it('emits both messages when fed one byte at a time', () => {
    const stream = Buffer.from(INVITE + MESSAGE, 'latin1');
    const { framer, messages, errors } = collect();
    for (let i = 0; i < stream.length; i++) framer.push(stream.subarray(i, i + 1));
    expect(errors).toEqual([]);
    expect(messages).toEqual([INVITE, MESSAGE]);
  });

  it('emits three messages delivered in one read', () => {
    const { framer, messages } = collect();
    framer.push(Buffer.from(INVITE + MESSAGE + INVITE, 'latin1'));
    expect(messages).toEqual([INVITE, MESSAGE, INVITE]);
  });

  it('reports a CRLFCRLF keep-alive as a ping, also when split, and skips a lone CRLF pong', () => {
    const { framer, messages, pings } = collect();
    framer.push(Buffer.from('\r\n\r\n'));
    expect(pings()).toBe(1);
    framer.push(Buffer.from('\r\n'));
    framer.push(Buffer.from('\r'));
    framer.push(Buffer.from('\n'));
    expect(pings()).toBe(2);
    framer.push(Buffer.from('\r\n' + INVITE + '\r\n\r\n' + MESSAGE, 'latin1'));
    expect(messages).toEqual([INVITE, MESSAGE]);
    expect(pings()).toBe(3);
  });

  it('handles a long run of pings without recursion', () => {
    const { framer, pings, errors } = collect();
    framer.push(Buffer.from('\r\n\r\n'.repeat(100_000)));
    expect(pings()).toBe(100_000);
    expect(errors).toEqual([]);
  });

  it('fails with a 513-mapped error when the message exceeds the limit, and ignores further input', () => {
    const { framer, messages, errors } = collect({ maxMessageSize: 200 });
    framer.push(Buffer.from(INVITE, 'latin1'));
    expect(messages).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('SIP_FRAMING_TOO_LARGE');
    expect(errors[0]!.status).toBe(513);
    framer.push(Buffer.from(MESSAGE, 'latin1'));
    expect(messages).toEqual([]);
    expect(errors).toHaveLength(1);
  });

  it('fails when a header block never ends within the limit', () => {
    const { framer, errors } = collect({ maxMessageSize: 1024 });
    for (let i = 0; i < 100 && errors.length === 0; i++) framer.push(Buffer.from('X-Junk: aaaaaaaaaaaaaaaaaaaa\r\n'));
    expect(errors.map((e) => e.code)).toEqual(['SIP_FRAMING_TOO_LARGE']);
  });

  it('fails when a body announced by Content-Length would exceed the limit', () => {
    const { framer, errors } = collect({ maxMessageSize: 1024 });
    framer.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 100000\r\n\r\n'));
    expect(errors.map((e) => e.code)).toEqual(['SIP_FRAMING_TOO_LARGE']);
  });

  it('requires Content-Length on a stream (RFC 3261 §18.3)', () => {
    const { framer, errors, messages } = collect();
    framer.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n'));
    expect(messages).toEqual([]);
    expect(errors.map((e) => e.code)).toEqual(['SIP_FRAMING_NO_CONTENT_LENGTH']);
  });

  it('rejects conflicting or non-numeric Content-Length values', () => {
    const a = collect();
    a.framer.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 5\r\n\r\n'));
    expect(a.errors.map((e) => e.code)).toEqual(['SIP_FRAMING_BAD_CONTENT_LENGTH']);
    const b = collect();
    b.framer.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n'));
    expect(b.errors.map((e) => e.code)).toEqual(['SIP_FRAMING_BAD_CONTENT_LENGTH']);
  });

  it('reads a folded, upper-case CONTENT-LENGTH', () => {
    const { framer, messages } = collect();
    const msg = 'MESSAGE sip:a@b SIP/2.0\r\nCONTENT-LENGTH :\r\n  3\r\n\r\nabc';
    framer.push(Buffer.from(msg));
    expect(messages).toEqual([msg]);
  });

  it('frames 10,000 messages in linear time', () => {
    const { framer, messages } = collect();
    const stream = Buffer.from((INVITE + MESSAGE).repeat(5000), 'latin1');
    for (let i = 0; i < stream.length; i += 1400) framer.push(stream.subarray(i, i + 1400));
    expect(messages).toHaveLength(10_000);
  });
});

describe('framing hostile Content-Length lines', () => {
  it('refuses a Content-Length padded with 60 KiB of spaces (once a quadratic regex: now a line scan)', () => {
    const errors: string[] = [];
    const framer = new StreamFramer({ message() {}, ping() {}, error: (e: FramingError) => errors.push(e.code) });
    framer.push(Buffer.from(`INVITE sip:a@b.example SIP/2.0\r\nContent-Length: 1${' '.repeat(60_000)}x\r\n\r\n`));
    expect(errors).toEqual(['SIP_FRAMING_BAD_CONTENT_LENGTH']);
  });
});
