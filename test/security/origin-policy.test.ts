import { describe, it, expect } from 'vitest';
import { isOriginAllowed, normalizeOrigin, originPolicy, ownOrigins } from '../../src/security/origin-policy.ts';

describe('WebSocket Origin policy', () => {
  it('normalizes origins as browsers serialize them (RFC 6454 §6.2)', () => {
    expect(normalizeOrigin('HTTPS://Phone.Example.COM:443')).toBe('https://phone.example.com');
    expect(normalizeOrigin('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(normalizeOrigin('http://[::1]:8080')).toBe('http://[::1]:8080');
    expect(normalizeOrigin('null')).toBe('null');
    for (const bad of ['example.com', 'ftp://example.com', 'https://example.com/path', 'https://u:p@example.com', 'https://x.com?q', '']) {
      expect(normalizeOrigin(bad), bad).toBeUndefined();
    }
  });

  it('allows the demo page by localhost, 127.0.0.1 or [::1] when bound to loopback', () => {
    const own = ownOrigins({ secure: false, host: '127.0.0.1', port: 8080 });
    expect(own.sort()).toEqual(['http://127.0.0.1:8080', 'http://[::1]:8080', 'http://localhost:8080']);
    const policy = originPolicy(own);
    expect(isOriginAllowed(policy, 'http://localhost:8080')).toBe(true);
    expect(isOriginAllowed(policy, 'http://127.0.0.1:8080')).toBe(true);
    expect(isOriginAllowed(policy, 'http://127.0.0.1:8081')).toBe(false);
    expect(isOriginAllowed(policy, 'https://127.0.0.1:8080')).toBe(false);
    expect(isOriginAllowed(policy, 'http://evil.example')).toBe(false);
    expect(isOriginAllowed(policy, 'null')).toBe(false);
  });

  it('allows the advertised name by either scheme and on default ports (a TLS proxy in front)', () => {
    const own = ownOrigins({ secure: false, host: '0.0.0.0', port: 8080, advertisedHost: 'phone.example.com' });
    const policy = originPolicy(own);
    for (const origin of ['https://phone.example.com', 'http://phone.example.com:8080', 'https://phone.example.com:8080', 'http://localhost:8080']) {
      expect(isOriginAllowed(policy, origin), origin).toBe(true);
    }
    expect(isOriginAllowed(policy, 'https://evil.example.com')).toBe(false);
    expect(isOriginAllowed(policy, 'https://phone.example.com.evil.example')).toBe(false);
  });

  it('adds configured origins, and * allows any', () => {
    const policy = originPolicy(ownOrigins({ secure: true, host: '203.0.113.1', port: 443 }), ['https://shop.example']);
    expect(isOriginAllowed(policy, 'https://203.0.113.1')).toBe(true);
    expect(isOriginAllowed(policy, 'https://shop.example:443')).toBe(true);
    expect(isOriginAllowed(policy, 'http://shop.example')).toBe(false);
    expect(isOriginAllowed(originPolicy([], ['*']), 'https://anything.example')).toBe(true);
    expect(() => originPolicy([], ['shop.example'])).toThrow(RangeError);
  });

  it('lets an upgrade without Origin through (not a browser), but not an empty one', () => {
    const policy = originPolicy([]);
    expect(isOriginAllowed(policy, undefined)).toBe(true);
    expect(isOriginAllowed(policy, '')).toBe(false);
  });
});
