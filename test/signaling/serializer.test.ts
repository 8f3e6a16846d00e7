import { describe, expect, it } from 'vitest';
import { serializeSipMessage, SipSerializeError } from '../../src/signaling/serializer.ts';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { createRequest, createResponse, createResponseTo, type SipRequest } from '../../src/signaling/message.ts';
import { Headers } from '../../src/signaling/headers.ts';
import { typicalInvite } from '../fuzz/typical-invite.ts';

const BASE: Array<[string, string]> = [
  ['Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9'],
  ['From', '"Bob" <sip:bob@biloxi.example.com>;tag=a73kszlfl'],
  ['To', '<sip:alice@atlanta.example.com>'],
  ['Call-ID', '1j9FpLxk3uxtm8tn@biloxi.example.com'],
  ['CSeq', '1 MESSAGE'],
  ['Max-Forwards', '70'],
];

describe('serializeSipMessage (RFC 3261 §7)', () => {
  it('writes the start line, the headers in order with their stored names, Content-Length, CRLF CRLF and the body', () => {
    const msg = createRequest('MESSAGE', 'sip:alice@atlanta.example.com', [...BASE, ['v', 'SIP/2.0/TCP p.example;branch=z9hG4bK2']], 'Hi €');
    expect(serializeSipMessage(msg).toString('utf8')).toBe(
      'MESSAGE sip:alice@atlanta.example.com SIP/2.0\r\n' +
        'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9\r\n' +
        'From: "Bob" <sip:bob@biloxi.example.com>;tag=a73kszlfl\r\n' +
        'To: <sip:alice@atlanta.example.com>\r\n' +
        'Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com\r\n' +
        'CSeq: 1 MESSAGE\r\n' +
        'Max-Forwards: 70\r\n' +
        'v: SIP/2.0/TCP p.example;branch=z9hG4bK2\r\n' +
        'Content-Length: 6\r\n' +
        '\r\n' +
        'Hi €',
    );
  });

  it('corrects a wrong Content-Length in place, keeps its (compact) name and drops duplicates', () => {
    const msg = createRequest('MESSAGE', 'sip:a@b.example', [['l', '99'], ...BASE, ['Content-Length', '3']], 'abc');
    const out = serializeSipMessage(msg).toString();
    expect(out).toMatch(/^MESSAGE sip:a@b\.example SIP\/2\.0\r\nl: 3\r\nVia:/);
    expect(out.match(/content-length|^l:/gim)).toHaveLength(1);
    expect(msg.headers.get('content-length')).toBe('99'); // the message itself is not modified
  });

  it('writes a response status line, with an empty reason too', () => {
    const request = parseSipMessage(typicalInvite()) as SipRequest;
    const out = serializeSipMessage(createResponseTo(request, 100, '')).toString();
    expect(out.startsWith('SIP/2.0 100 \r\nVia: SIP/2.0/WSS f3k29vdlc8sa.invalid;branch=z9hG4bK5473914\r\n')).toBe(true);
    expect(out.endsWith('Content-Length: 0\r\n\r\n')).toBe(true);
  });

  it('keeps binary bodies byte for byte', () => {
    const body = Buffer.from([0, 0xff, 0x0d, 0x0a, 0x0d, 0x0a, 0x80]);
    const out = serializeSipMessage(createRequest('INFO', 'sip:a@b.example', BASE.map(([n, v]) => [n, v.replace('MESSAGE', 'INFO')]), body));
    expect(out.subarray(out.length - body.length).equals(body)).toBe(true);
    expect((parseSipMessage(out) as SipRequest).body.equals(body)).toBe(true);
  });

  it('round-trips: parse(serialize(parse(x))) equals parse(x)', () => {
    const first = parseSipMessage(typicalInvite()) as SipRequest;
    const second = parseSipMessage(serializeSipMessage(first)) as SipRequest;
    expect([second.method, second.uri]).toEqual([first.method, first.uri]);
    expect([...second.headers].map((f) => [f.name, f.value])).toEqual([...first.headers].map((f) => [f.name, f.value]));
    expect(second.body.equals(first.body)).toBe(true);
    expect(serializeSipMessage(second).equals(typicalInvite())).toBe(true);
  });

  it.each([
    ['a CRLF in a header value', () => createRequest('INVITE', 'sip:a@b.example', [['Subject', 'hi\r\nX-Injected: 1']])],
    ['a bare LF in a header value', () => createRequest('INVITE', 'sip:a@b.example', [['Subject', 'hi\nthere']])],
    ['a CR in the reason phrase', () => createResponse(200, 'OK\r\nX: y')],
    ['a non-token header name', () => createRequest('INVITE', 'sip:a@b.example', [['X Bad', 'v']])],
    ['a header name with a colon', () => createRequest('INVITE', 'sip:a@b.example', [['X:Bad', 'v']])],
    ['whitespace in the Request-URI', () => createRequest('INVITE', 'sip:a@b.example SIP/2.0\r\nX: y', [])],
    ['a method that is not a token', () => createRequest('IN VITE', 'sip:a@b.example', [])],
    ['a status outside 100–699', () => createResponse(1000, 'Big')],
  ])('refuses %s (SipSerializeError, nothing written)', (_what, build) => {
    expect(() => serializeSipMessage(build())).toThrow(SipSerializeError);
  });

  it('refuses a value edited into a header injection after parsing', () => {
    const msg = parseSipMessage(typicalInvite());
    for (const field of msg.headers) if (field.key === 'user-agent') field.value = 'x\r\n\r\nINVITE sip:evil SIP/2.0';
    expect(() => serializeSipMessage(msg)).toThrow(/User-Agent/);
  });

  it('takes a Headers object as built by other layers', () => {
    const headers = new Headers(BASE);
    headers.prepend('Via', 'SIP/2.0/WSS x.invalid;branch=z9hG4bKtop');
    const out = serializeSipMessage(createRequest('MESSAGE', 'sip:a@b.example', headers)).toString();
    expect(out.indexOf('x.invalid')).toBeLessThan(out.indexOf('192.0.2.1'));
  });
});
