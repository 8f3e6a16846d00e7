import { describe, expect, it } from 'vitest';
import { DEFAULT_PARSE_LIMITS, parseSipMessage } from '../../src/signaling/parser.ts';
import { SipParseError } from '../../src/signaling/parse-error.ts';
import type { SipRequest, SipResponse } from '../../src/signaling/message.ts';
import { typicalInvite } from '../fuzz/typical-invite.ts';

const HEADERS = [
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
];

function text(startLine: string, extra: string[] = [], body = '', cseq = 'CSeq: 314159 INVITE'): Buffer {
  return Buffer.from(`${[startLine, ...HEADERS, cseq, ...extra].join('\r\n')}\r\n\r\n${body}`, 'utf8');
}

function reject(data: Buffer | string, limits?: Parameters<typeof parseSipMessage>[1]): SipParseError {
  try {
    parseSipMessage(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(SipParseError);
    const parseError = error as SipParseError;
    expect(parseError.message).not.toMatch(/[\r\n]/);
    expect(parseError.partial).toBeDefined();
    return parseError;
  }
  throw new Error('accepted');
}

describe('parseSipMessage: start line (RFC 3261 §7.1, §7.2)', () => {
  it('parses a request with its body', () => {
    const msg = parseSipMessage(typicalInvite()) as SipRequest;
    expect(msg).toMatchObject({ type: 'request', method: 'INVITE', uri: 'sip:+4930123456@gateway.example.com' });
    expect(msg.headers.size).toBe(13);
    expect(msg.body.toString()).toMatch(/^v=0\r\n[\s\S]*a=ssrc:2874306152 cname:XkqA0ZhDqPcn2e1T\r\n$/);
  });

  it('parses responses with empty, missing and UTF-8 reason phrases', () => {
    const response = (line: string) => parseSipMessage(text(line, [], '', 'CSeq: 1 INVITE')) as SipResponse;
    expect(response('SIP/2.0 180 Ringing')).toMatchObject({ type: 'response', status: 180, reason: 'Ringing' });
    expect(response('SIP/2.0 100 ')).toMatchObject({ status: 100, reason: '' });
    expect(response('SIP/2.0 183')).toMatchObject({ status: 183, reason: '' });
    expect(response('SIP/2.0 486 Besetzt – später')).toMatchObject({ reason: 'Besetzt – später' });
    expect(response('sip/2.0 699 x')).toMatchObject({ status: 699 });
  });

  it.each([
    ['SIP/2.0 99 Too Low', /Status-Line/], ['SIP/2.0 700 Too High', /Status-Line/], ['SIP/2.0 2000 OK', /Status-Line/],
    ['SIP/2.0  200 OK', /Status-Line/], ['SIP/2.0 2x0 OK', /Status-Line/], ['SIP/2.0', /Status-Line/],
  ])('rejects the status line %j', (line, reason) => {
    const error = reject(text(line, [], '', 'CSeq: 1 INVITE'));
    expect(error.message).toMatch(reason);
    expect(error.partial!.type).toBe('response');
  });

  it.each([
    ['INVITE sip:bob@biloxi.example.com SIP/2.0 ', /extra whitespace/],
    ['INVITE  sip:bob@biloxi.example.com SIP/2.0', /extra whitespace/],
    ['INVITE sip:bob@biloxi.example.com', /Request-Line/],
    ['INVITE', /Request-Line/],
    ['INV ITE sip:bob@biloxi.example.com SIP/2.0', /Request-Line|SIP-Version/],
    ['INVITE\tsip:bob@biloxi.example.com SIP/2.0', /Request-Line|method/],
    ['IN<VITE sip:bob@biloxi.example.com SIP/2.0', /method/],
    ['INVITE sip:bob@biloxi.example.com HTTP/1.1', /malformed SIP-Version/],
    ['INVITE sip:bob@biloxi.example.com SIP/2', /malformed SIP-Version/],
    ['INVITE <sip:bob@biloxi.example.com> SIP/2.0', /Request-URI/],
    ['INVITE sip:bob@bi loxi SIP/2.0', /extra whitespace/],
    ['INVITE sip:bob@biloxi.example.com?Subject=x SIP/2.0', /must not contain headers/],
  ])('rejects the request line %j with 400', (line, reason) => {
    const error = reject(text(line));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(reason);
    expect(error.partial!.headers.get('call-id')).toBe('a84b4c76e66710@pc33.atlanta.example.com');
  });

  it('answers another SIP version with 505 (§8.2.2 … §21.5.6), keeping the headers for the answer', () => {
    const error = reject(text('INVITE sip:bob@biloxi.example.com SIP/3.0'));
    expect(error).toMatchObject({ status: 505, code: 'SIP_VERSION' });
    expect(error.partial).toMatchObject({ type: 'request', method: 'INVITE', uri: 'sip:bob@biloxi.example.com' });
    expect(error.partial!.headers.get('via')).toMatch(/z9hG4bK776asdhds/);
  });

  it('accepts a case-insensitive version, unknown methods and any URI scheme', () => {
    expect(parseSipMessage(text('INVITE sip:bob@biloxi.example.com sip/2.0'))).toMatchObject({ method: 'INVITE' });
    const publish = parseSipMessage(text('FOO tel:+15551234 SIP/2.0', [], '', 'CSeq: 1 FOO')) as SipRequest;
    expect(publish).toMatchObject({ method: 'FOO', uri: 'tel:+15551234' });
    expect(parseSipMessage(text('OPTIONS urn:service:sos SIP/2.0', [], '', 'CSeq: 1 OPTIONS'))).toMatchObject({ uri: 'urn:service:sos' });
  });
});

describe('parseSipMessage: header fields (§7.3)', () => {
  it('tolerates bare LF line ends and skips CRLFs before the start line (§7, §7.5)', () => {
    const lf = `\r\n\r\n${['OPTIONS sip:bob@biloxi.example.com SIP/2.0', ...HEADERS, 'CSeq: 2 OPTIONS', 'Content-Length: 2'].join('\n')}\n\nhi`;
    const msg = parseSipMessage(Buffer.from(lf)) as SipRequest;
    expect(msg.method).toBe('OPTIONS');
    expect(msg.headers.get('max-forwards')).toBe('70');
    expect(msg.body.toString()).toBe('hi');
  });

  it('unfolds continuation lines into one SP and trims values', () => {
    const msg = parseSipMessage(text('INVITE sip:bob@biloxi.example.com SIP/2.0', ['Subject:   I know \r\n\t you  ', 'X-Empty:'])) as SipRequest;
    expect(msg.headers.get('subject')).toBe('I know you');
    expect(msg.headers.get('x-empty')).toBe('');
  });

  it('keeps a NUL that is quoted, and rejects control characters and bare CRs anywhere else', () => {
    expect(parseSipMessage(text('INVITE sip:bob@biloxi.example.com SIP/2.0', ['X-Quoted: "a\\\x00b"']))).toBeTruthy();
    for (const bad of ['X-Bad: a\x00b', 'X-Bad: a\rb', 'X-Bad: "a\x01"', 'X-Bad: a\x7f', 'X-Bad: "a\\\rb"']) {
      const error = reject(text('INVITE sip:bob@biloxi.example.com SIP/2.0', [bad]));
      expect(error.message).toMatch(/control character/);
    }
    expect(reject(Buffer.from(`INVITE sip:b@c.example\x01 SIP/2.0\r\n\r\n`)).message).toMatch(/control character in start line/);
  });

  it('rejects malformed header lines but still reads the other headers into the partial message', () => {
    for (const bad of ['No colon here', 'Bad Name: x', ': no name', '<x>: y']) {
      const error = reject(text('INVITE sip:bob@biloxi.example.com SIP/2.0', [bad, 'X-After: 1']));
      expect(error.status).toBe(400);
      expect(error.partial!.headers.get('x-after')).toBe('1');
      expect(error.partial!.headers.get('cseq')).toBe('314159 INVITE');
    }
    expect(reject(`INVITE sip:bob@biloxi.example.com SIP/2.0\r\n folded: start\r\n\r\n`).message).toMatch(/folding/);
  });

  it('requires Via, From, To, Call-ID and CSeq but not Max-Forwards (RFC 4475 §3.4.1)', () => {
    const noMaxForwards = HEADERS.filter((h) => !h.startsWith('Max-Forwards')).join('\r\n');
    const msg = parseSipMessage(Buffer.from(`OPTIONS sip:a@b.example SIP/2.0\r\n${noMaxForwards}\r\nCSeq: 1 OPTIONS\r\n\r\n`));
    expect(msg.headers.has('max-forwards')).toBe(false);
    expect(reject(`SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n\r\n`).message).toBe('missing Via, From, To headers');
  });

  it.each([
    ['Max-Forwards: 256', /Max-Forwards out of range/],
    ['Max-Forwards: -1', /Max-Forwards/],
    ['Max-Forwards: 70', /more than one Max-Forwards header/],
    ['Content-Length: 1e3', /Content-Length/],
    ['Content-Length: 99999999999', /Content-Length out of range/],
    ['Content-Type: application', /media type/],
    ['Contact: *', /only in REGISTER/],
    ['Contact: <sip:a@b.example>, *', /stand alone/],
    ['Contact: <sip:a@b.example>,', /empty element/],
    ['Contact: <sip:a@b.example>;tag="x', /^Contact:/],
    ['To: x', /^To:/],
  ])('rejects %j', (extra, reason) => {
    const base = text('INVITE sip:bob@biloxi.example.com SIP/2.0').toString();
    const data = extra.startsWith('To:')
      ? base.replace(/^To: .*$/m, extra)
      : extra.startsWith('Max-Forwards: 2') || extra.startsWith('Max-Forwards: -')
        ? base.replace(/^Max-Forwards: .*$/m, extra)
        : text('INVITE sip:bob@biloxi.example.com SIP/2.0', [extra]);
    expect(reject(data).message).toMatch(reason);
  });

  it('validates From, To, Call-ID and the CSeq method', () => {
    const base = text('INVITE sip:bob@biloxi.example.com SIP/2.0').toString();
    expect(reject(base.replace(/tag=1928301774/, 'tag')).message).toBe('From: tag without a value');
    expect(reject(base.replace(/^From: .*$/m, 'From: *')).message).toMatch(/From/);
    expect(reject(base.replace(/^Call-ID: .*$/m, 'Call-ID: a b')).message).toBe('malformed Call-ID');
    expect(reject(base.replace(/^Call-ID: .*$/m, 'Call-ID: a@b@c')).message).toBe('malformed Call-ID');
    expect(reject(base.replace(/314159 INVITE/, '1 invite')).message).toBe('CSeq method does not match request method');
  });

  it('enforces the limits: message size (513), header count and line length (400), Request-URI length (414)', () => {
    const big = reject(text('INVITE sip:bob@biloxi.example.com SIP/2.0', [], 'x'.repeat(70_000)));
    expect(big).toMatchObject({ status: 513, code: 'SIP_TOO_LARGE' });
    expect(big.partial!.headers.get('call-id')).toBeDefined();
    const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}`);
    expect(reject(text('INVITE sip:bob@biloxi.example.com SIP/2.0', many))).toMatchObject({ status: 400, code: 'SIP_LIMIT' });
    expect(parseSipMessage(text('INVITE sip:bob@biloxi.example.com SIP/2.0', many), { maxHeaders: 400 })).toBeTruthy();
    expect(reject(text('INVITE sip:bob@biloxi.example.com SIP/2.0', [`X-Long: ${'a'.repeat(9000)}`]))).toMatchObject({ code: 'SIP_LIMIT' });
    expect(reject(text(`INVITE sip:${'a'.repeat(9000)}@b.example SIP/2.0`))).toMatchObject({ status: 414 });
    expect(DEFAULT_PARSE_LIMITS).toEqual({ maxMessageSize: 65536, maxHeaders: 256, maxHeaderLineLength: 8192 });
  });
});

describe('parseSipMessage: body (§7.4, §18.3)', () => {
  const start = 'MESSAGE sip:bob@biloxi.example.com SIP/2.0';
  const message = (extra: string[], body: string) => text(start, extra, body, 'CSeq: 1 MESSAGE');

  it('truncates the body to Content-Length and takes the rest of the datagram without one', () => {
    expect((parseSipMessage(message(['Content-Length: 5'], 'hello world')) as SipRequest).body.toString()).toBe('hello');
    expect((parseSipMessage(message([], 'hello world')) as SipRequest).body.toString()).toBe('hello world');
    expect((parseSipMessage(message(['l: 0'], '')) as SipRequest).body.length).toBe(0);
  });

  it('keeps binary body bytes exactly', () => {
    const head = message(['Content-Type: application/octet-stream', 'Content-Length: 256'], '');
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect((parseSipMessage(Buffer.concat([head, body])) as SipRequest).body.equals(body)).toBe(true);
  });

  it('rejects a Content-Length larger than the body, and a missing empty line', () => {
    expect(reject(message(['Content-Length: 12'], 'hello world')).message).toBe('Content-Length larger than the message body');
    const noBlank = Buffer.from(`${[start, ...HEADERS, 'CSeq: 1 MESSAGE'].join('\r\n')}\r\n`);
    expect(reject(noBlank).message).toBe('missing empty line after the header fields');
    expect(reject('\r\n\r\n').message).toBe('empty message');
  });
});

describe('parseSipMessage: bounded work on pathological input', () => {
  const K64 = 65_000;
  const cases: Array<[string, string]> = [
    ['a huge start line', `INVITE ${'a'.repeat(K64)}`],
    ['a huge URI', `INVITE sip:${'%'.repeat(K64)} SIP/2.0\r\n\r\n`],
    ['a To of "<"', text('INVITE sip:b@c.example SIP/2.0').toString().replace(/^To: .*$/m, `To: ${'<'.repeat(K64 / 8)}`)],
    ['a From of quotes', text('INVITE sip:b@c.example SIP/2.0').toString().replace(/^From: .*$/m, `From: ${'"\\'.repeat(4000)}`)],
    ['a Via of slashes', `INVITE sip:b@c.example SIP/2.0\r\nVia: SIP${'/ '.repeat(4000)}\r\n\r\n`],
    ['a Contact of commas', text('INVITE sip:b@c.example SIP/2.0', [`Contact: ${','.repeat(8000)}`]).toString()],
    ['a Contact of params', text('INVITE sip:b@c.example SIP/2.0', [`Contact: <sip:a@b.example>${';a'.repeat(4000)}`]).toString()],
    ['folded lines', text('INVITE sip:b@c.example SIP/2.0', [`X: a${'\r\n b'.repeat(20_000)}`]).toString()],
    ['many tiny headers', `INVITE sip:b@c.example SIP/2.0\r\n${'a:b\r\n'.repeat(12_000)}\r\n`],
    ['bare line feeds', `INVITE sip:b@c.example SIP/2.0${'\n'.repeat(K64)}`],
    ['colons', `INVITE sip:b@c.example SIP/2.0\r\n${':'.repeat(K64)}\r\n\r\n`],
    ['NULs', `INVITE sip:b@c.example SIP/2.0\r\n${'\0'.repeat(K64)}\r\n\r\n`],
    ['a CSeq of digits', text('INVITE sip:b@c.example SIP/2.0').toString().replace(/314159/, '9'.repeat(8000))],
  ];
  it.each(cases)('%s: only SipParseError', (_name, input) => {
    const data = Buffer.from(input, 'utf8');
    for (let i = 0; i < 5; i++) {
      try {
        parseSipMessage(data);
      } catch (error) {
        expect(error).toBeInstanceOf(SipParseError);
      }
    }
  });
});
