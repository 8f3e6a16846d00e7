import { describe, expect, it } from 'vitest';
import { Headers, headerKey, isListHeader, splitListStrict, splitListValue } from '../../src/signaling/headers.ts';
import { createRequest, createResponse } from '../../src/signaling/message.ts';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { SipParseError } from '../../src/signaling/parse-error.ts';
import { parseParams } from '../../src/signaling/params.ts';
import {
  callId, contacts, contentLength, contentType, cseq, date, expires, from, fromTag, maxForwards, optionTags,
  recordRoutes, routes, to, toTag, topVia, vias,
} from '../../src/signaling/header-accessors.ts';

describe('Headers', () => {
  it('looks names up case-insensitively and through compact forms (§7.3.3), keeping the names as received', () => {
    const headers = new Headers([['v', 'SIP/2.0/UDP a;branch=z9hG4bK1'], ['VIA', 'SIP/2.0/UDP b;branch=z9hG4bK2'], ['i', 'abc']]);
    expect(headers.get('Via')).toBe('SIP/2.0/UDP a;branch=z9hG4bK1');
    expect(headers.count('via')).toBe(2);
    expect(headers.get('call-id')).toBe('abc');
    expect([...headers].map((f) => f.name)).toEqual(['v', 'VIA', 'i']);
    expect(headerKey('l')).toBe('content-length');
  });

  it('does not take Object.prototype members for compact forms', () => {
    expect(headerKey('constructor')).toBe('constructor');
    expect(headerKey('__proto__')).toBe('__proto__');
    expect(headerKey('toString')).toBe('tostring');
  });

  it('splits list headers only, at commas outside quotes and angle brackets', () => {
    const headers = new Headers([
      ['Contact', '"Smith, J" <sip:a@x.example;p=1,2>, <sip:b@y.example>'],
      ['Date', 'Sat, 13 Nov 2010 23:29:00 GMT'],
    ]);
    expect(headers.getAll('m')).toEqual(['"Smith, J" <sip:a@x.example;p=1,2>', '<sip:b@y.example>']);
    expect(headers.getAll('Date')).toEqual(['Sat, 13 Nov 2010 23:29:00 GMT']);
    expect(isListHeader('Route')).toBe(true);
    expect(splitListValue('a, ,b,')).toEqual(['a', 'b']);
  });

  it('splitListStrict reports empty elements and unbalanced quotes instead of dropping them', () => {
    expect(splitListStrict('a, "b,c" ,<d,e>')).toEqual(['a', '"b,c"', '<d,e>']);
    expect(splitListStrict('a,,b')).toBeUndefined();
    expect(splitListStrict('a,')).toBeUndefined();
    expect(splitListStrict('"a,b')).toBeUndefined();
  });

  it('prepends, replaces, deletes and shifts rows', () => {
    const headers = new Headers([['Via', 'v2, v3'], ['Route', '<sip:r1>'], ['Via', 'v4']]);
    headers.prepend('Via', 'v1');
    expect(headers.getAll('via')).toEqual(['v1', 'v2', 'v3', 'v4']);
    expect(headers.shift('via')).toBe('v1');
    expect(headers.shift('via')).toBe('v2');
    expect(headers.getAll('via')).toEqual(['v3', 'v4']);
    headers.set('via', 'only');
    expect([...headers].map((f) => `${f.name}: ${f.value}`)).toEqual(['via: only', 'Route: <sip:r1>']);
    headers.delete('ROUTE');
    expect(headers.has('route')).toBe(false);
    expect(headers.clone().get('via')).toBe('only');
  });
});

describe('parseParams', () => {
  it('reads flags, values, quoted values and LWS around ";" and "="', () => {
    expect([...parseParams(' ; tag = 1 ;lr; q=0.5;x="a;b\\"c"')]).toEqual([['tag', '1'], ['lr', null], ['q', '0.5'], ['x', '"a;b\\"c"']]);
  });

  it.each([';;', ';a;', ';a=', ';a b', ';a="x', ';a=<x>', ';a;A', 'a b'])('rejects %j', (text) => {
    expect(() => parseParams(text)).toThrow(SipParseError);
  });
});

function message(...lines: string[]) {
  return parseSipMessage(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`));
}

const BASE = [
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;rport',
  'From: "Alice" <sip:alice@example.com>;tag=f1',
  'To: <sip:bob@example.com>',
  'Call-ID: a84b4c76e66710',
  'CSeq: 314159 INVITE',
  'Max-Forwards: 70',
];

describe('header accessors', () => {
  it('read the eagerly validated headers', () => {
    const msg = message('INVITE sip:bob@example.com SIP/2.0', ...BASE, 'Contact: <sip:alice@192.0.2.1>;expires=60;q=0.7', 'Content-Length: 0');
    expect(topVia(msg)).toMatchObject({ transport: 'UDP', host: '192.0.2.1', port: 5060 });
    expect(from(msg)).toMatchObject({ displayName: 'Alice', uri: 'sip:alice@example.com' });
    expect(fromTag(msg)).toBe('f1');
    expect(to(msg).uri).toBe('sip:bob@example.com');
    expect(toTag(msg)).toBeUndefined();
    expect(callId(msg)).toBe('a84b4c76e66710');
    expect(cseq(msg)).toEqual({ seq: 314159, method: 'INVITE' });
    expect(maxForwards(msg)).toBe(70);
    expect(contentLength(msg)).toBe(0);
    expect(contacts(msg)).toEqual([
      { uri: 'sip:alice@192.0.2.1', params: new Map([['expires', '60'], ['q', '0.7']]), expires: 60, q: 0.7 },
    ]);
  });

  it('parse again when a header value is edited after parsing', () => {
    const msg = message('OPTIONS sip:bob@example.com SIP/2.0', ...BASE.slice(0, 4), 'CSeq: 1 OPTIONS');
    expect(topVia(msg).params.get('branch')).toBe('z9hG4bKabc');
    expect(topVia(msg)).toBe(topVia(msg));
    msg.headers.set('Via', 'SIP/2.0/TCP 192.0.2.9;branch=z9hG4bKnew');
    expect(topVia(msg)).toMatchObject({ transport: 'TCP', host: '192.0.2.9' });
    msg.headers.prepend('Via', 'SIP/2.0/WSS x.invalid;branch=z9hG4bKtop');
    expect(vias(msg).map((v) => v.transport)).toEqual(['WSS', 'TCP']);
  });

  it('work on messages built in code, and throw SipParseError for missing or malformed values', () => {
    const msg = createRequest('BYE', 'sip:a@b.example', [['CSeq', 'x BYE'], ['Route', 'sip:p.example;lr'], ['Expires', '99999999999']]);
    expect(() => cseq(msg)).toThrow(SipParseError);
    expect(() => topVia(msg)).toThrow('missing Via header');
    expect(() => routes(msg)).toThrow(/name-addr form/);
    expect(() => expires(msg)).toThrow(/out of range/);
    expect(maxForwards(msg)).toBeUndefined();
    expect(contentType(msg)).toBeUndefined();
  });

  it('read the lazily validated headers on access', () => {
    const msg = createResponse(200, 'OK', [
      ['Record-Route', '<sip:p2.example.com;lr>, <sip:p1.example.com;lr>'],
      ['Route', '<sip:p3.example.com;lr>'],
      ['Supported', 'replaces, Timer'],
      ['Supported', ''],
      ['Require', '100rel'],
      ['Expires', '3600'],
      ['Date', 'Sat, 13 Nov 2010 23:29:00 GMT'],
      ['Content-Type', 'Application/SDP ; charset=utf-8'],
    ]);
    expect(recordRoutes(msg).map((r) => r.uri)).toEqual(['sip:p2.example.com;lr', 'sip:p1.example.com;lr']);
    expect(routes(msg)).toHaveLength(1);
    expect(optionTags(msg, 'supported')).toEqual(['replaces', 'timer']);
    expect(optionTags(msg, 'require')).toEqual(['100rel']);
    expect(expires(msg)).toBe(3600);
    expect(date(msg)!.toISOString()).toBe('2010-11-13T23:29:00.000Z');
    expect(contentType(msg)).toEqual({ type: 'application', subtype: 'sdp', params: new Map([['charset', 'utf-8']]) });
  });

  it('return the Contact wildcard, and reject it mixed with addresses or with out-of-range parameters', () => {
    const wildcard = message('REGISTER sip:example.com SIP/2.0', ...BASE.slice(0, 4), 'CSeq: 2 REGISTER', 'Contact: *', 'Expires: 0');
    expect(contacts(wildcard)).toBe('*');
    const mixed = createRequest('REGISTER', 'sip:example.com', [['Contact', '*'], ['Contact', '<sip:a@b.example>']]);
    expect(() => contacts(mixed)).toThrow(/stand alone/);
    const big = createRequest('REGISTER', 'sip:example.com', [['Contact', '<sip:a@b.example>;expires=280297596632815']]);
    expect(() => contacts(big)).toThrow(/Contact expires out of range/);
    const q = createRequest('REGISTER', 'sip:example.com', [['Contact', '<sip:a@b.example>;q=1.5']]);
    expect(() => contacts(q)).toThrow(/q/);
    expect(contacts(createRequest('OPTIONS', 'sip:example.com'))).toEqual([]);
  });

  it('reject malformed dates, including other time zones', () => {
    for (const value of ['Sat, 13 Nov 2010 23:29:00 UTC', 'Sat, 13 Nov 2010 23:29:00', 'Sat, 32 Nov 2010 23:29:00 GMT', 'sat, 13 nov 2010 23:29:00 GMT']) {
      expect(() => date(createResponse(200, 'OK', [['Date', value]]))).toThrow(SipParseError);
    }
  });
});
