import { describe, expect, it } from 'vitest';
import { MAGIC_COOKIE, parseHostPort, parseVia, serializeVia, viaBranch } from '../../src/signaling/via.ts';
import { SipParseError } from '../../src/signaling/parse-error.ts';

describe('parseVia (RFC 3261 §20.42, RFC 3581)', () => {
  it('reads the sent-protocol, sent-by and parameters', () => {
    expect(parseVia('SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;rport;received=192.0.2.1')).toEqual({
      protocolName: 'SIP',
      protocolVersion: '2.0',
      transport: 'UDP',
      host: 'pc33.atlanta.com',
      port: 5066,
      params: new Map<string, string | null>([['branch', 'z9hG4bK776asdhds'], ['rport', null], ['received', '192.0.2.1']]),
    });
  });

  it('allows LWS around "/" and ";" and "=" (RFC 4475 §3.1.1.1) and upper-cases the transport', () => {
    const via = parseVia('SIP  /    2.0   / udp  192.168.255.111   ; branch= z9hG4bK30239');
    expect(via).toMatchObject({ transport: 'UDP', host: '192.168.255.111', port: undefined });
    expect(viaBranch(via)).toBe('z9hG4bK30239');
  });

  it('reads IPv6 sent-by references and IPv6 received values', () => {
    const via = parseVia('SIP/2.0/TCP [2001:db8::9:1]:5060;branch=z9hG4bKas3-111;received=2001:db8::9:255');
    expect(via).toMatchObject({ host: '[2001:db8::9:1]', port: 5060 });
    expect(via.params.get('received')).toBe('2001:db8::9:255');
  });

  it('reads the WebSocket transports and .invalid hosts of RFC 7118', () => {
    expect(parseVia('SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKhjhs8ass877')).toMatchObject({
      transport: 'WSS', host: 'df7jal23ls0d.invalid',
    });
  });

  const invalid = [
    'SIP/2.0/UDP', 'SIP/2.0 UDP host', 'SIP/2.0/UDP host:99999', 'SIP/2.0/UDP host;;', 'SIP/2.0/UDP host;branch',
    'SIP/2.0/UDP host;rport=x', 'SIP/2.0/UDP host;ttl=256', 'SIP/2.0/UDP [::1', 'SIP/2.0/UDP ho$t', '',
    'SIP/2.0/UDP host;branch=a;branch=b',
  ];
  it.each(invalid)('rejects %j', (text) => {
    expect(() => parseVia(text)).toThrow(SipParseError);
  });

  it('serializes back to an equivalent value', () => {
    const text = 'SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1;rport=5061;received=192.0.2.7';
    expect(serializeVia(parseVia(text))).toBe(text);
    expect(parseVia(serializeVia(parseVia('SIP / 2.0 / tcp host ; branch = x'))).params.get('branch')).toBe('x');
  });

  it('exposes the RFC 3261 magic cookie', () => {
    expect(MAGIC_COOKIE).toBe('z9hG4bK');
  });
});

describe('parseHostPort', () => {
  it('splits host and port, keeping IPv6 brackets', () => {
    expect(parseHostPort('example.com', 'x')).toEqual({ host: 'example.com', port: undefined });
    expect(parseHostPort('192.0.2.1:5080', 'x')).toEqual({ host: '192.0.2.1', port: 5080 });
    expect(parseHostPort('[::1]:5060', 'x')).toEqual({ host: '[::1]', port: 5060 });
  });

  it.each(['[::1]x', 'host:', 'host:65536', 'ho st'])('rejects %j', (text) => {
    expect(() => parseHostPort(text, 'sent-by')).toThrow(/sent-by/);
  });
});
