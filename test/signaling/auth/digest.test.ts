import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import { computeDigestResponse, computeHa1, parseAuthHeader } from '../../../src/signaling/auth/digest.ts';
import { DigestServer } from '../../../src/signaling/auth/digest-server.ts';
import { DigestClient, selectChallenge } from '../../../src/signaling/auth/digest-client.ts';

const require = createRequire(import.meta.url);

describe('digest computation (RFC test vectors)', () => {
  it('matches RFC 2617 §3.5 (MD5, qop=auth)', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    expect(
      computeDigestResponse({ algorithm: 'MD5', ha1, method: 'GET', uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', qop: 'auth', nc: '00000001', cnonce: '0a4f113b' }),
    ).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('matches RFC 7616 §3.9.1 for SHA-256 and MD5', () => {
    const input = { method: 'GET', uri: '/dir/index.html', nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', qop: 'auth' as const, nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' };
    const sha = computeHa1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(computeDigestResponse({ ...input, algorithm: 'SHA-256', ha1: sha })).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    const md5 = computeHa1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(computeDigestResponse({ ...input, algorithm: 'MD5', ha1: md5 })).toBe('8ca523f5e9506fed4657c9700eebdbec');
  });

  it('parses quoted values holding commas and escapes', () => {
    const p = parseAuthHeader('Digest realm="a,b", nonce="x\\"y", qop="auth,auth-int", algorithm=MD5');
    expect(p.scheme).toBe('Digest');
    expect([...p.params]).toEqual([['realm', 'a,b'], ['nonce', 'x"y'], ['qop', 'auth,auth-int'], ['algorithm', 'MD5']]);
  });
});

describe('digest server and client', () => {
  const users: Record<string, string> = { alice: 'demo' };
  const lookup = (user: string, realm: string, alg: 'MD5' | 'SHA-256' | 'MD5-sess' | 'SHA-256-sess') =>
    users[user] === undefined ? undefined : computeHa1(alg, user, realm, users[user]!);

  it('accepts our own client for both algorithms and rejects a replayed nonce count', () => {
    for (const algorithm of ['MD5', 'SHA-256'] as const) {
      const server = new DigestServer({ realm: 'example.test', algorithms: [algorithm] });
      const challenge = selectChallenge(server.challenges())!;
      expect(challenge.algorithm).toBe(algorithm);
      const auth = new DigestClient({ username: 'alice', password: 'demo' }).authorize(challenge, 'REGISTER', 'sip:example.test');
      expect(server.verify('REGISTER', [auth], lookup)).toEqual({ ok: true, username: 'alice' });
      expect(server.verify('REGISTER', [auth], lookup)).toMatchObject({ ok: false, reason: 'replay' });
    }
  });

  it('answers the same for an unknown user as for a wrong password', () => {
    const server = new DigestServer({ realm: 'example.test' });
    const challenge = selectChallenge(server.challenges())!;
    const wrong = new DigestClient({ username: 'alice', password: 'nope' }).authorize(challenge, 'INVITE', 'sip:echo@example.test');
    const unknown = new DigestClient({ username: 'mallory', password: 'demo' }).authorize(challenge, 'INVITE', 'sip:echo@example.test');
    expect(server.verify('INVITE', [wrong], lookup)).toMatchObject({ ok: false, reason: 'bad-credentials' });
    expect(server.verify('INVITE', [unknown], lookup)).toMatchObject({ ok: false, reason: 'bad-credentials' });
  });

  it('says stale for a right password on an expired nonce, and refuses a forged nonce', () => {
    let now = 1_000_000;
    const server = new DigestServer({ realm: 'example.test', nonceLifetimeMs: 60_000, now: () => now });
    const challenge = selectChallenge(server.challenges())!;
    now += 61_000;
    const client = new DigestClient({ username: 'alice', password: 'demo' });
    expect(server.verify('REGISTER', [client.authorize(challenge, 'REGISTER', 'sip:example.test')], lookup)).toMatchObject({ reason: 'stale' });
    expect(server.challenges(true)[0]).toContain('stale=true');
    const forged = { ...challenge, nonce: `${now.toString(36)}.AAAAAAAA.${'A'.repeat(22)}` };
    expect(server.verify('REGISTER', [client.authorize(forged, 'REGISTER', 'sip:example.test')], lookup)).toMatchObject({ reason: 'bad-credentials' });
  });

  it('uses the request method: credentials for REGISTER do not authorize an INVITE', () => {
    const server = new DigestServer({ realm: 'example.test' });
    const challenge = selectChallenge(server.challenges())!;
    const auth = new DigestClient({ username: 'alice', password: 'demo' }).authorize(challenge, 'REGISTER', 'sip:example.test');
    expect(server.verify('INVITE', [auth], lookup)).toMatchObject({ ok: false, reason: 'bad-credentials' });
  });

  it('interoperates with JsSIP, which keeps only the last challenge it parses and answers only MD5', () => {
    const server = new DigestServer({ realm: 'example.test' });
    const values = server.challenges();
    const first = parseAuthHeader(values.at(-1)!).params;
    const JsSipDigest = require('jssip/lib/DigestAuthentication.js') as new (c: { username: string; password: string }) => {
      authenticate(req: { method: string; ruri: string; body?: string }, challenge: Record<string, unknown>): boolean;
      toString(): string;
    };
    const jssip = new JsSipDigest({ username: 'alice', password: 'demo' });
    const ok = jssip.authenticate({ method: 'REGISTER', ruri: 'sip:example.test' }, {
      algorithm: first.get('algorithm'), realm: first.get('realm'), nonce: first.get('nonce'), opaque: undefined, stale: undefined, qop: first.get('qop'),
    });
    expect(ok).toBe(true);
    expect(server.verify('REGISTER', [jssip.toString()], lookup)).toEqual({ ok: true, username: 'alice' });
  });
});
