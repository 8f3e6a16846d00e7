import { describe, expect, it } from 'vitest';
import {
  checkUri, parseUri, serializeUri, unescapeUriPart, uriEquals, uriParam, uriUserDecoded, type SipUri,
} from '../../src/signaling/uri.ts';
import { SipParseError } from '../../src/signaling/parse-error.ts';

const sip = (text: string): SipUri => parseUri(text) as SipUri;

describe('parseUri: SIP and SIPS URIs (RFC 3261 §19.1)', () => {
  it('splits user, password, host, port, parameters and headers', () => {
    expect(sip('sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr;maddr=239.255.255.1;ttl=15?subject=project%20x&priority=urgent')).toEqual({
      kind: 'sip',
      scheme: 'sips',
      user: 'alice',
      password: 'secret',
      host: 'atlanta.example.com',
      port: 5061,
      params: new Map([['transport', 'tcp'], ['lr', null], ['maddr', '239.255.255.1'], ['ttl', '15']]),
      headers: [['subject', 'project%20x'], ['priority', 'urgent']],
    });
  });

  it('accepts a host alone, an IPv4 address, an IPv6 reference and a trailing dot', () => {
    expect(sip('sip:example.com')).toMatchObject({ user: undefined, host: 'example.com', port: undefined });
    expect(sip('sip:192.0.2.4:5060').host).toBe('192.0.2.4');
    expect(sip('sip:bob@[2001:db8::10]:5070')).toMatchObject({ host: '[2001:db8::10]', port: 5070 });
    expect(sip('sip:[::ffff:192.0.2.1]').host).toBe('[::ffff:192.0.2.1]');
    expect(sip('sip:example.com.').host).toBe('example.com.');
  });

  it('lower-cases the scheme and parameter names but keeps values and the user as written', () => {
    const uri = sip('SIP:Alice@AtLanTa.CoM;Transport=UDP');
    expect(uri).toMatchObject({ scheme: 'sip', user: 'Alice', host: 'AtLanTa.CoM' });
    expect(uri.params.get('transport')).toBe('UDP');
  });

  it('keeps escapes encoded and decodes them once on request', () => {
    const uri = sip('sip:I%20have%20spaces@example.net;%6C%72;n%61me=v%61lue%25%34%31');
    expect(uri.user).toBe('I%20have%20spaces');
    expect(uriUserDecoded(uri)).toBe('I have spaces');
    expect(uri.params.has('lr')).toBe(true);
    expect(uriParam(uri, 'NAME')).toBe('value%41');
    expect(unescapeUriPart('%E2%82%AC')).toBe('€');
  });

  it('accepts user-unreserved characters, telephone-subscriber users and a "?" in the user', () => {
    expect(sip('sip:+1-212-555-1212:1234@gateway.com;user=phone')).toMatchObject({ user: '+1-212-555-1212', password: '1234' });
    expect(sip('sip:a?b/c;d=e@example.com').user).toBe('a?b/c;d=e');
  });

  const invalid = [
    'sip:', 'sip:@example.com', 'sip:a@b@c.com', 'sip:example.com:99999', 'sip:example.com:', 'sip:host;=x',
    'sip:host;a=', 'sip:[::1', 'sip:[zz::1]', 'sip:[fe80::1%25eth0]', 'sip:exa mple.com', 'sip:user@-bad.com',
    'sip:user@bad-.com', 'sip:a..b', 'sip:%zz@example.com', 'sip:host?x', 'sip:host?=v', 'sip:1.2.3', 'sip:256.1.1.1',
    'sip:host>', '<sip:host>', 'sip:user@host;lr ', ':x', '1sip:host', 'si p:host', 'sip:user name@host',
  ];
  it.each(invalid)('rejects %j with a SipParseError', (text) => {
    expect(() => parseUri(text)).toThrow(SipParseError);
    expect(() => checkUri(text)).toThrow(SipParseError);
  });

  it('checkUri validates the same grammar without building the parts', () => {
    expect(checkUri('sip:user@example.com')).toBe('sip');
    expect(checkUri('sip:user@example.com?Route=%3Csip:example.com%3E')).toBe('sip-with-headers');
    expect(checkUri('tel:+15551234')).toBe('tel');
    expect(checkUri('urn:service:sos')).toBe('absolute');
  });
});

describe('parseUri: tel URIs (RFC 3966)', () => {
  it('parses global and local numbers with parameters', () => {
    expect(parseUri('tel:+1-201-555-0123;ext=1234')).toEqual({
      kind: 'tel', scheme: 'tel', number: '+1-201-555-0123', global: true, params: new Map([['ext', '1234']]),
    });
    expect(parseUri('tel:7042;phone-context=example.com')).toMatchObject({ global: false, number: '7042' });
    expect(parseUri('tel:*21#;phone-context=+1')).toMatchObject({ number: '*21#' });
  });

  it.each(['tel:', 'tel:+', 'tel:+12a4', 'tel:xyz', 'tel:123;', 'tel:123;=x', 'tel:12 3'])('rejects %j', (text) => {
    expect(() => parseUri(text)).toThrow(SipParseError);
  });
});

describe('parseUri: other schemes stay opaque', () => {
  it('keeps any absoluteURI (an unknown scheme is valid syntax; the TU answers 416)', () => {
    expect(parseUri('urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6')).toEqual({
      kind: 'absolute', scheme: 'urn', opaque: 'uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
    });
    expect(parseUri('Mailto:watson@bell-telephone.com')).toMatchObject({ scheme: 'mailto' });
    expect(parseUri('http://[2001:db8::1]:8080/a?b=c')).toMatchObject({ scheme: 'http' });
  });

  it.each(['mailto:', 'mailto:a b', 'urn:<x>', 'x-y:"quoted"', 'http://host/%zz'])('rejects %j', (text) => {
    expect(() => parseUri(text)).toThrow(SipParseError);
  });
});

describe('serializeUri', () => {
  it.each([
    'sip:alice@atlanta.com', 'sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?subject=a%20b&x=y',
    'sip:I%20have%20spaces@example.net;name=v%61lue', 'tel:+1-201-555-0123;ext=12', 'urn:service:sos',
  ])('writes %s back unchanged', (text) => {
    expect(serializeUri(parseUri(text))).toBe(text);
  });

  it('writes parameter names stored unescaped with the escapes they need', () => {
    const uri = sip('sip:host');
    uri.params.set('a b', 'c');
    expect(serializeUri(uri)).toBe('sip:host;a%20b=c');
    expect(sip(serializeUri(uri)).params.get('a b')).toBe('c');
  });
});

describe('uriEquals (RFC 3261 §19.1.4)', () => {
  const equal: Array<[string, string]> = [
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
    ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
    ['tel:+1-201-555-0123', 'tel:+1.201.555.0123'],
  ];
  const different: Array<[string, string]> = [
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:alice@atlanta.com', 'sips:alice@atlanta.com'],
    ['sip:alice@atlanta.com', 'sip:alice:pw@atlanta.com'],
    ['sip:atlanta.com', 'sip:alice@atlanta.com'],
    ['sip:alice@atlanta.com;maddr=239.255.255.1', 'sip:alice@atlanta.com'],
    ['sip:alice@atlanta.com;user=phone', 'sip:alice@atlanta.com'],
    ['sip:alice@atlanta.com', 'tel:+15551234'],
    ['urn:a', 'urn:b'],
  ];
  it.each(equal)('%s == %s', (a, b) => {
    expect(uriEquals(parseUri(a), parseUri(b))).toBe(true);
    expect(uriEquals(parseUri(b), parseUri(a))).toBe(true);
  });
  it.each(different)('%s != %s', (a, b) => {
    expect(uriEquals(parseUri(a), parseUri(b))).toBe(false);
    expect(uriEquals(parseUri(b), parseUri(a))).toBe(false);
  });
});
