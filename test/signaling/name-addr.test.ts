import { describe, expect, it } from 'vitest';
import { parseNameAddr, serializeNameAddr } from '../../src/signaling/name-addr.ts';
import { SipParseError } from '../../src/signaling/parse-error.ts';

describe('parseNameAddr (RFC 3261 §20.10, §25)', () => {
  it('reads a quoted display name, the URI in brackets and the header parameters', () => {
    expect(parseNameAddr('"Alice Liddell" <sip:alice@example.com;transport=tcp>;tag=1928301774;x')).toEqual({
      displayName: 'Alice Liddell',
      uri: 'sip:alice@example.com;transport=tcp',
      params: new Map([['tag', '1928301774'], ['x', null]]),
    });
  });

  it('resolves quoted-pairs in the display name and keeps UTF-8', () => {
    expect(parseNameAddr('"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>').displayName).toBe('J Rosenberg \\"');
    expect(parseNameAddr('"Žofie Nováková" <sip:z@example.cz>').displayName).toBe('Žofie Nováková');
    expect(parseNameAddr('"" <sip:z@example.cz>').displayName).toBe('');
  });

  it('accepts token display names, with or without LWS before "<" (RFC 4475 §3.1.1.6)', () => {
    expect(parseNameAddr('A.  Bell <sip:a.g.bell@example.com>').displayName).toBe('A. Bell');
    expect(parseNameAddr('caller<sip:caller@example.com>;tag=323')).toMatchObject({ displayName: 'caller', uri: 'sip:caller@example.com' });
    expect(parseNameAddr('<sip:bob@example.com>')).not.toHaveProperty('displayName');
  });

  it('gives the parameters after an addr-spec to the header, not to the URI (§20)', () => {
    expect(parseNameAddr('sip:+12125551212@phone2net.com;tag=887s')).toEqual({
      uri: 'sip:+12125551212@phone2net.com',
      params: new Map([['tag', '887s']]),
    });
    expect(parseNameAddr(' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n ').params.get('tag')).toBe('1918181833n');
  });

  it('accepts other URI schemes and the Contact wildcard', () => {
    expect(parseNameAddr('<tel:+14085551234>;tag=a').uri).toBe('tel:+14085551234');
    expect(parseNameAddr('isbn:2983792873').uri).toBe('isbn:2983792873');
    expect(parseNameAddr('  *  ')).toEqual({ uri: '*', params: new Map() });
  });

  it('keeps "<" and ">" inside a quoted parameter value after the URI', () => {
    const value = '<sip:a@192.0.2.1;ob>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1';
    expect(parseNameAddr(value).params.get('+sip.instance')).toBe('"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"');
  });

  const invalid: Array<[string, RegExp]> = [
    ['"Mr. J. User <sip:j.user@example.com>', /unterminated quoted string/],
    ['Bell, Alexander <sip:a.g.bell@example.com>', /display name/],
    ['"Watson, Thomas" < sip:t.watson@example.org >', /whitespace inside/],
    ['<sip:a@example.com', /unterminated "<"/],
    ['<sip:a@example.com> junk', /unexpected text/],
    ['"Joe" sip:joe@example.org', /expected "<"/],
    ['sip:user@example.com?Route=%3Csip:sip.example.com%3E', /must be enclosed/],
    ['<sip:joe@example.org>;;;;', /empty header parameter/],
    ['<sip:joe@example.org>;tag=a;tag=b', /repeated/],
    ['<sip:joe@example.org>;tag="open', /unterminated quoted/],
    ['<>', /invalid URI/],
    ['<sip:exa mple.org>', /invalid/],
    ['', /empty address/],
    ['"a\x01b" <sip:x@example.org>', /invalid character in quoted string/],
  ];
  it.each(invalid)('rejects %j', (text, reason) => {
    expect(() => parseNameAddr(text)).toThrow(SipParseError);
    expect(() => parseNameAddr(text)).toThrow(reason);
  });

  it('requires brackets when asked (Route, Record-Route)', () => {
    expect(() => parseNameAddr('sip:p1.example.com;lr', { requireBrackets: true })).toThrow(/name-addr form/);
    expect(parseNameAddr('<sip:p1.example.com;lr>', { requireBrackets: true }).uri).toBe('sip:p1.example.com;lr');
  });
});

describe('serializeNameAddr', () => {
  it('writes the safe form: quoted display name, URI in brackets, parameters', () => {
    expect(serializeNameAddr(parseNameAddr('Bob <sip:bob@biloxi.com>;tag=a6c85cf'))).toBe('"Bob" <sip:bob@biloxi.com>;tag=a6c85cf');
    expect(serializeNameAddr(parseNameAddr('sip:bob@biloxi.com;tag=x'))).toBe('<sip:bob@biloxi.com>;tag=x');
    expect(serializeNameAddr({ uri: '*', params: new Map() })).toBe('*');
  });

  it('escapes quotes and backslashes and can never produce a line break', () => {
    const text = serializeNameAddr({ displayName: 'say "hi" \\ \r\nInjected: yes', uri: 'sip:a@b.example', params: new Map() });
    expect(text).not.toMatch(/[\r\n]/);
    expect(parseNameAddr(text).displayName).toBe('say "hi" \\   Injected: yes');
  });

  it('round-trips display names with control characters through quoted-pairs', () => {
    const value = { displayName: 'BEL:\x07 NUL:\x00', uri: 'sip:x@example.com', params: new Map([['tag', '1']]) };
    expect(parseNameAddr(serializeNameAddr(value))).toEqual(value);
  });
});
