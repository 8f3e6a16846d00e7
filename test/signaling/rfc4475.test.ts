/**
 * RFC 4475 (SIP Torture Test Messages) against the parser: every message of §3.1.1 parses and survives
 * serialize → parse; every message of §3.1.2 is rejected with the answer the RFC asks for (or, where the RFC leaves
 * the fault to a later stage, that stage's accessor rejects it); §3.2–§3.4 parse where the RFC says they are
 * well formed and are rejected where it says so. The .dat files are the RFC's exact bytes (see the README there).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { serializeSipMessage } from '../../src/signaling/serializer.ts';
import { SipParseError } from '../../src/signaling/parse-error.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../src/signaling/message.ts';
import {
  callId, contacts, contentLength, contentType, cseq, date, from, fromTag, maxForwards, optionTags, routes, to,
  toTag, topVia, vias,
} from '../../src/signaling/header-accessors.ts';
import { parseUri, uriEquals, uriParam, uriUserDecoded, type SipUri } from '../../src/signaling/uri.ts';
import { loadNotation } from '../fixtures/rfc4475/build.ts';

const dir = new URL('../fixtures/rfc4475/', import.meta.url);
const load = (name: string): Buffer => readFileSync(new URL(`${name}.dat`, dir));
const parse = (name: string): SipMessage => parseSipMessage(load(name));
const request = (name: string): SipRequest => parse(name) as SipRequest;
const response = (name: string): SipResponse => parse(name) as SipResponse;
const sipUri = (text: string): SipUri => parseUri(text) as SipUri;

function rejection(name: string): SipParseError {
  try {
    parse(name);
  } catch (error) {
    expect(error).toBeInstanceOf(SipParseError);
    return error as SipParseError;
  }
  throw new Error(`${name} was accepted`);
}

/** The same message up to what serialization may change: Content-Length is written as the body length. */
function expectEquivalent(a: SipMessage, b: SipMessage): void {
  const rows = (m: SipMessage) => [...m.headers].filter((f) => f.key !== 'content-length').map((f) => [f.name, f.value]);
  expect(b.type).toBe(a.type);
  if (a.type === 'request' && b.type === 'request') expect([b.method, b.uri]).toEqual([a.method, a.uri]);
  if (a.type === 'response' && b.type === 'response') expect([b.status, b.reason]).toEqual([a.status, a.reason]);
  expect(rows(b)).toEqual(rows(a));
  expect(b.body.equals(a.body)).toBe(true);
  expect(contentLength(b)).toBe(a.body.length);
}

const VALID = [
  'wsinv', 'intmeth', 'esc01', 'escnull', 'esc02', 'lwsdisp', 'longreq', 'dblreq', 'semiuri', 'transports',
  'mpart01', 'unreason', 'noreason',
];
/** §3.2–§3.4 messages the RFC calls well formed: the parser accepts them; the TU answers 416/420/415/… */
const WELL_FORMED_LATER_STAGES = [
  'badbranch', 'unkscm', 'novelsc', 'unksm2', 'bext01', 'invut', 'regaut01', 'bcast', 'zeromf', 'cparam01',
  'cparam02', 'regescrt', 'sdp01', 'inv2543', 'baddate',
];

describe('RFC 4475 fixtures', () => {
  it('are the bytes spelled by messages.txt in the RFC notation (49 messages)', () => {
    const messages = loadNotation();
    expect(messages.size).toBe(49);
    for (const [name, bytes] of messages) expect(load(name).equals(bytes), name).toBe(true);
  });
});

describe('RFC 4475 §3.1.1 valid messages', () => {
  it.each(VALID)('%s parses, and serialize → parse gives the same message', (name) => {
    const msg = parse(name);
    expectEquivalent(msg, parseSipMessage(serializeSipMessage(msg)));
  });

  it('wsinv (§3.1.1.1): folding, compact forms, LWS around colons, leading zeros, unknown headers', () => {
    const msg = request('wsinv');
    expect(msg.method).toBe('INVITE');
    expect(msg.uri).toBe('sip:vivekg@chair-dnrc.example.com;unknownparam');
    expect(toTag(msg)).toBe('1918181833n');
    expect(from(msg).displayName).toBe('J Rosenberg \\"');
    expect(fromTag(msg)).toBe('98asjd8');
    expect(maxForwards(msg)).toBe(68);
    expect(cseq(msg)).toEqual({ seq: 9, method: 'INVITE' });
    expect(callId(msg)).toBe('wsinv.ndaksdj@192.0.2.1');
    expect(vias(msg).map((v) => [v.transport, v.host, v.params.get('branch')])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    expect(msg.headers.get('subject')).toBe('');
    expect(msg.headers.get('NewFangledHeader')).toBe('newfangled value continued newfangled value');
    expect(msg.headers.get('UnknownHeaderWithUnusualValue')).toBe(';;,,;;,;');
    expect(routes(msg).map((r) => r.uri)).toEqual(['sip:services.example.com;lr;unknownwith=value;unknown-no-value']);
    const [contact] = contacts(msg) as Exclude<ReturnType<typeof contacts>, '*'>;
    expect(contact!.displayName).toBe('Quoted string ""');
    expect([...contact!.params]).toEqual([['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
    expect(contact!.q).toBe(0.33);
    expect(msg.body.length).toBe(150);
  });

  it('intmeth (§3.1.1.2): token characters in the method, quoted NUL/BEL/DEL, UTF-8 values', () => {
    const msg = request('intmeth');
    expect(msg.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    const uri = sipUri(msg.uri);
    expect(uri.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(uri.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(to(msg).displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7f');
    expect(from(msg).displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(from(msg).params.get("fromparam''~+*_!.-%")).toBe('"работающий"');
    expect(fromTag(msg)).toBe("_token~1'+`*%!-.");
    expect(topVia(msg).params.get('branch')).toBe("z9hG4bK-.!%66*_+`'~");
    expect(callId(msg)).toBe('intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    expect(cseq(msg).method).toBe(msg.method);
    expect(msg.headers.get("extensionHeader-!.%*+_`'~")).toBe('\ufeff大停電');
  });

  it('esc01 (§3.1.1.3): %HH escapes decode once, where the grammar has "escaped"', () => {
    const msg = request('esc01');
    expect(uriUserDecoded(sipUri(msg.uri))).toBe('sips:user@example.com');
    expect(uriUserDecoded(sipUri(to(msg).uri))).toBe('user');
    expect(uriUserDecoded(sipUri(from(msg).uri))).toBe('I have spaces');
    const contact = sipUri((contacts(msg) as Exclude<ReturnType<typeof contacts>, '*'>)[0]!.uri);
    expect(uriUserDecoded(contact)).toBe('caller');
    expect(contact.params.has('lr')).toBe(true);
    expect(uriParam(contact, 'name')).toBe('value%41');
  });

  it('escnull (§3.1.1.4): escaped NULs do not shorten the user; two distinct contacts', () => {
    const msg = request('escnull');
    expect(uriUserDecoded(sipUri(to(msg).uri))).toBe('null-\0-null');
    expect(uriUserDecoded(sipUri(from(msg).uri))).toBe('null-\0-null');
    const [a, b] = (contacts(msg) as Exclude<ReturnType<typeof contacts>, '*'>).map((c) => sipUri(c.uri));
    expect([uriUserDecoded(a!), uriUserDecoded(b!)]).toEqual(['\0', '\0\0']);
    expect(uriEquals(a!, b!)).toBe(false);
  });

  it('esc02 (§3.1.1.5): % is not an escape in a method, a display name or a header name', () => {
    const msg = request('esc02');
    expect(msg.method).toBe('RE%47IST%45R');
    expect(to(msg).displayName).toBe('%Z%45');
    expect(from(msg).displayName).toBe('%Z%45');
    expect((contacts(msg) as unknown[]).length).toBe(2);
    expect(msg.headers.get('C%6Fntact')).toBe('<sip:alias2@host2.example.com>');
  });

  it('lwsdisp (§3.1.1.6): no LWS between display name and "<" is accepted', () => {
    expect(from(request('lwsdisp'))).toMatchObject({ displayName: 'caller', uri: 'sip:caller@example.com' });
  });

  it('longreq (§3.1.1.7): long values and 34 Via values in mixed spellings', () => {
    const msg = request('longreq');
    expect(vias(msg)).toHaveLength(34);
    expect(topVia(msg).host).toBe('sip33.example.com');
    expect(fromTag(msg)).toBe(`12${'982'.repeat(50)}424`);
    expect(to(msg).displayName).toBe(`I have a user name of ${'extreme'.repeat(10)} proportion`);
    expect(msg.body.length).toBe(150);
  });

  it('dblreq (§3.1.1.8): octets after Content-Length in a datagram are ignored (§18.3)', () => {
    const msg = request('dblreq');
    expect(msg.method).toBe('REGISTER');
    expect(msg.body.length).toBe(0);
  });

  it('semiuri (§3.1.1.9): a ";" in the Request-URI user part', () => {
    const msg = request('semiuri');
    const uri = sipUri(msg.uri);
    expect(uriUserDecoded(uri)).toBe('user;par=u@example.net');
    expect(uri.host).toBe('example.com');
    expect(uri.params.size).toBe(0);
    expect(msg.headers.getAll('accept')).toHaveLength(6);
  });

  it('transports (§3.1.1.10): known and unknown Via transports', () => {
    expect(vias(request('transports')).map((v) => v.transport)).toEqual(['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
  });

  it('mpart01 (§3.1.1.11): a multipart body with binary octets is framed by Content-Length', () => {
    const msg = request('mpart01');
    expect(msg.body.length).toBe(553);
    expect(msg.body.includes(0)).toBe(true);
    expect(contentType(msg)).toMatchObject({ type: 'multipart', subtype: 'mixed' });
    expect(contentType(msg)!.params.get('boundary')).toBe('7a9cbec02ceef655');
  });

  it('unreason (§3.1.1.12) and noreason (§3.1.1.13): UTF-8 and empty reason phrases', () => {
    expect(response('unreason')).toMatchObject({ status: 200, reason: '= 2**3 * 5**2 но сто девяносто девять - простое' });
    expect(response('noreason')).toMatchObject({ status: 100, reason: '' });
  });
});

describe('RFC 4475 §3.1.2 invalid messages', () => {
  // [name, status, what the reason names]; the RFC asks for 400 except badvers (505); responses are dropped.
  const cases: Array<[string, number, RegExp]> = [
    ['badinv01', 400, /Via/], // §3.1.2.1 extraneous ";" and "," in Via (and Contact)
    ['clerr', 400, /Content-Length larger/], // §3.1.2.2 over UDP
    ['ncl', 400, /Content-Length/], // §3.1.2.3 negative
    ['scalar02', 400, /CSeq/], // §3.1.2.4 "400 Bad Request due to the CSeq error"
    ['quotbal', 400, /^To: unterminated quoted string/], // §3.1.2.6
    ['ltgtruri', 400, /Request-URI/], // §3.1.2.7
    ['lwsruri', 400, /Request-Line/], // §3.1.2.8
    ['lwsstart', 400, /Request-Line/], // §3.1.2.9
    ['trws', 400, /Request-Line/], // §3.1.2.10
    ['escruri', 400, /Request-URI must not contain headers/], // §3.1.2.11 ("acceptable … to reject")
    ['regbadct', 400, /^Contact: .*"<>"/], // §3.1.2.13 ("reasonable … to respond with a 400")
    ['badaspec', 400, /^To: whitespace/], // §3.1.2.14
    ['baddn', 400, /^From: invalid character in display name/], // §3.1.2.15
    ['badvers', 505, /SIP\/7\.0/], // §3.1.2.16
    ['mismatch01', 400, /CSeq method does not match/], // §3.1.2.17
    // §3.1.2.18 prefers 501 for an unknown method with a mismatched CSeq; which methods are known is the TU's
    // business, so the parser answers the 400 the RFC also accepts.
    ['mismatch02', 400, /CSeq method does not match/],
  ];
  it.each(cases)('%s is rejected with %i', (name, status, reason) => {
    const error = rejection(name);
    expect(error.status).toBe(status);
    expect(error.message).toMatch(reason);
    expect(error.message).not.toMatch(/[\r\n]/);
  });

  it('keeps what a 400 needs in the partial message (Via, From, To, Call-ID, CSeq)', () => {
    const error = rejection('mismatch01');
    expect(error.partial).toMatchObject({ type: 'request', method: 'OPTIONS', uri: 'sip:user@example.com' });
    for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) expect(error.partial!.headers.has(name)).toBe(true);
  });

  it('badvers (§3.1.2.16) is 505 with code SIP_VERSION and still carries the headers', () => {
    const error = rejection('badvers');
    expect(error.code).toBe('SIP_VERSION');
    expect(error.partial!.headers.get('call-id')).toBe('badvers.31417@c.example.com');
  });

  it('scalarlg (§3.1.2.5) and bigcode (§3.1.2.19): malformed responses are parse errors (the transport drops them)', () => {
    expect(rejection('scalarlg').message).toMatch(/CSeq number out of range/);
    expect(rejection('bigcode').message).toMatch(/Status-Line/);
    expect(rejection('bigcode').partial!.type).toBe('response');
  });

  it('baddate (§3.1.2.12): parses, and the Date accessor rejects the non-GMT zone when someone needs Date', () => {
    // "an element shouldn't do that unless the contents of the Date header field were actually important".
    const msg = request('baddate');
    expect(() => date(msg)).toThrow(SipParseError);
    expect(() => date(msg)).toThrow(/Date/);
  });
});

describe('RFC 4475 §3.2–§3.4 (transaction and application semantics, backward compatibility)', () => {
  it.each(WELL_FORMED_LATER_STAGES)('%s parses and round-trips', (name) => {
    const msg = parse(name);
    expectEquivalent(msg, parseSipMessage(serializeSipMessage(msg)));
  });

  it('badbranch (§3.2.1): a bare magic cookie is left to the transaction layer', () => {
    expect(topVia(request('badbranch')).params.get('branch')).toBe('z9hG4bK');
  });

  it('insuf (§3.3.1): missing Call-ID, From and To is 400, with Via and CSeq kept for the answer', () => {
    const error = rejection('insuf');
    expect(error.status).toBe(400);
    expect(error.message).toBe('missing From, To, Call-ID headers');
    expect(error.partial!.headers.has('via')).toBe(true);
    expect(error.partial!.headers.get('cseq')).toBe('193942 INVITE');
  });

  it('unkscm, novelsc (§3.3.2–3): unknown and atypical Request-URI schemes are valid syntax (416 is the TU’s)', () => {
    expect(parseUri(request('unkscm').uri)).toEqual({ kind: 'absolute', scheme: 'nobodyknowsthisscheme', opaque: 'totallyopaquecontent' });
    expect(parseUri(request('novelsc').uri)).toMatchObject({ kind: 'absolute', scheme: 'soap.beep' });
  });

  it('unksm2 (§3.3.4): other schemes in To, From and Contact parse', () => {
    const msg = request('unksm2');
    expect(to(msg).uri).toBe('isbn:2983792873');
    expect(from(msg).uri).toBe('http://www.example.com');
    expect((contacts(msg) as Array<{ uri: string }>)[0]!.uri).toBe('name:John_Smith');
  });

  it('bext01, invut, regaut01, sdp01 (§3.3.5–7, 15): the headers the TU answers on are readable', () => {
    expect(optionTags(request('bext01'), 'require')).toEqual(['nothingsupportsthis', 'nothingsupportsthiseither']);
    expect(optionTags(request('bext01'), 'proxy-require')).toHaveLength(2);
    expect(contentType(request('invut'))).toMatchObject({ type: 'application', subtype: 'unknownformat' });
    expect(request('regaut01').headers.get('authorization')).toBe('NoOneKnowsThisScheme opaque-data=here');
    expect(request('sdp01').headers.get('accept')).toBe('text/nobodyKnowsThis');
  });

  it('multi01 (§3.3.8) and mcl01 (§3.3.9): repeated single-value headers are 400', () => {
    expect(rejection('multi01')).toMatchObject({ status: 400, message: expect.stringMatching(/more than one/) });
    expect(rejection('mcl01')).toMatchObject({ status: 400, message: 'more than one Content-Length header' });
  });

  it('bcast (§3.3.10) parses (dropping it is the transport’s job) and zeromf (§3.3.11) has Max-Forwards 0', () => {
    expect(vias(response('bcast'))[1]!.host).toBe('255.255.255.255');
    expect(maxForwards(request('zeromf'))).toBe(0);
  });

  it('cparam01/02, regescrt (§3.3.12–14): contact-params versus uri-parameters versus URI headers', () => {
    const [c1] = contacts(request('cparam01')) as Array<{ uri: string; params: Map<string, string | null> }>;
    expect(c1!.uri).toBe('sip:+19725552222@gw1.example.net');
    expect(c1!.params.has('unknownparam')).toBe(true);
    const [c2] = contacts(request('cparam02')) as Array<{ uri: string; params: Map<string, string | null> }>;
    expect(c2!.params.size).toBe(0);
    expect(sipUri(c2!.uri).params.has('unknownparam')).toBe(true);
    const [c3] = contacts(request('regescrt')) as Array<{ uri: string }>;
    expect(sipUri(c3!.uri).headers).toEqual([['Route', '%3Csip:sip.example.com%3E']]);
  });

  it('inv2543 (§3.4.1): RFC 2543 syntax — no branch, no From tag, no Max-Forwards, no Content-Length', () => {
    const data = load('inv2543');
    const msg = parseSipMessage(data) as SipRequest;
    expect(topVia(msg).params.get('branch')).toBeUndefined();
    expect(fromTag(msg)).toBeUndefined();
    expect(maxForwards(msg)).toBeUndefined();
    expect(contentLength(msg)).toBeUndefined();
    // Over a datagram the body is the rest of the datagram.
    expect(msg.body.toString()).toBe(data.subarray(data.indexOf('\r\n\r\n') + 4).toString());
  });
});
