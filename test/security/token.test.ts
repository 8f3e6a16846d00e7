import { describe, it, expect } from 'vitest';
import { SignJWT } from 'jose';
import {
  TOKEN_AUDIENCE,
  TokenError,
  authorizeDestination,
  bearerToken,
  mintToken,
  tokenFromUrl,
  tokenKey,
  verifyToken,
  type TokenOptions,
} from '../../src/signaling/auth/token.ts';

const SECRET = 'k7Q2vX9pL4mN8rT1wY6zB3cF5hJ0dG2sA9eR4tU7';
const T0 = 1_700_000_000_000;

function options(now = T0, extra: Partial<TokenOptions> = {}): TokenOptions {
  return { secret: SECRET, now: () => now, ...extra };
}

const directory = {
  isUser: (name: string) => name === 'alice' || name === 'bob',
  isService: (name: string) => name === 'echo' || name === 'tone',
};

async function rejection(promise: Promise<unknown>): Promise<TokenError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TokenError);
    return error as TokenError;
  }
  throw new Error('expected a rejection');
}

describe('tokens for embedded pages', () => {
  it('mints a token that verifies to its user, destinations and expiry (default 5 min)', async () => {
    const { token, identity } = await mintToken({ user: 'alice', destinations: ['echo', '1[0-9]{3}'] }, options());
    expect(token.split('.')).toHaveLength(3);
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(claims).toEqual({ sub: 'alice', dst: ['echo', '1[0-9]{3}'], aud: TOKEN_AUDIENCE, iat: T0 / 1000, exp: T0 / 1000 + 300 });
    const verified = await verifyToken(token, options(T0 + 60_000));
    expect(verified).toEqual({ user: 'alice', destinations: ['echo', '1[0-9]{3}'], issuedAt: T0, expiresAt: T0 + 300_000 });
    expect(identity).toEqual(verified);
  });

  it('an expired token is TOKEN_EXPIRED with status 401', async () => {
    const { token } = await mintToken({ user: 'alice', destinations: ['echo'], ttlSeconds: 60 }, options());
    const error = await rejection(verifyToken(token, options(T0 + 60_000 + 11_000)));
    expect(error).toMatchObject({ code: 'TOKEN_EXPIRED', status: 401 });
    // Within the 10 s clock tolerance it still passes.
    await expect(verifyToken(token, options(T0 + 65_000))).resolves.toMatchObject({ user: 'alice' });
  });

  it('a bad signature, a tampered payload, another audience or alg "none" is TOKEN_INVALID (401)', async () => {
    const { token } = await mintToken({ user: 'alice', destinations: ['echo'] }, options());
    const [h, p, s] = token.split('.') as [string, string, string];
    const widened = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), dst: ['.*'] })).toString('base64url');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${p}.`;
    const otherSecret = await mintToken({ user: 'alice', destinations: ['echo'] }, { ...options(), secret: 'another-secret-that-is-long-enough-0123456789' });
    const otherAudience = await new SignJWT({ dst: ['echo'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setAudience('someone-else')
      .setIssuedAt(T0 / 1000).setExpirationTime(T0 / 1000 + 300).sign(tokenKey(SECRET));
    const hs512 = await new SignJWT({ dst: ['echo'] }).setProtectedHeader({ alg: 'HS512' }).setSubject('alice').setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(T0 / 1000).setExpirationTime(T0 / 1000 + 300).sign(tokenKey(SECRET));
    for (const bad of [`${h}.${widened}.${s}`, `${h}.${p}.${s.slice(0, -2)}AA`, none, otherSecret.token, otherAudience, hs512, 'garbage', '', 'a.b.c', `${h}.${p}`]) {
      expect(await rejection(verifyToken(bad, options())), bad).toMatchObject({ code: 'TOKEN_INVALID', status: 401 });
    }
  });

  it('refuses tokens minted elsewhere with a lifetime over the maximum, no iat, or malformed claims', async () => {
    const key = tokenKey(SECRET);
    const base = () => new SignJWT({ dst: ['echo'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setAudience(TOKEN_AUDIENCE);
    const yearLong = await base().setIssuedAt(T0 / 1000).setExpirationTime(T0 / 1000 + 365 * 86400).sign(key);
    const noIat = await base().setExpirationTime(T0 / 1000 + 60).sign(key);
    const future = await base().setIssuedAt(T0 / 1000 + 3600).setExpirationTime(T0 / 1000 + 3700).sign(key);
    const badDst = await new SignJWT({ dst: ['(unclosed'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(T0 / 1000).setExpirationTime(T0 / 1000 + 60).sign(key);
    const badSub = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice@evil; x').setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(T0 / 1000).setExpirationTime(T0 / 1000 + 60).sign(key);
    for (const bad of [yearLong, noIat, future, badDst, badSub]) {
      expect((await rejection(verifyToken(bad, options()))).code).toBe('TOKEN_INVALID');
    }
  });

  it('refuses to mint for a bad request or with a short secret', async () => {
    expect((await rejection(mintToken({ user: 'al ice', destinations: [] }, options()))).code).toBe('TOKEN_REQUEST_INVALID');
    expect((await rejection(mintToken({ user: 'alice', destinations: ['(x'] }, options()))).code).toBe('TOKEN_REQUEST_INVALID');
    expect((await rejection(mintToken({ user: 'alice', destinations: ['@everyone'] }, options()))).code).toBe('TOKEN_REQUEST_INVALID');
    expect((await rejection(mintToken({ user: 'alice', destinations: [], ttlSeconds: 3601 }, options()))).code).toBe('TOKEN_REQUEST_INVALID');
    expect((await rejection(mintToken({ user: 'alice', destinations: [], ttlSeconds: 120 }, options(T0, { maxTtlSeconds: 60 })))).status).toBe(400);
    expect((await rejection(mintToken({ user: 'alice', destinations: [] }, { secret: 'too-short' }))).code).toBe('TOKEN_SECRET_INVALID');
  });

  it('a token for destination A used for B: authorizeDestination is false', async () => {
    const { token } = await mintToken({ user: 'alice', destinations: ['echo'] }, options());
    const identity = await verifyToken(token, options());
    expect(authorizeDestination(identity, 'echo', directory)).toBe(true);
    expect(authorizeDestination(identity, 'tone', directory)).toBe(false);
    expect(authorizeDestination(identity, 'bob', directory)).toBe(false);
    expect(authorizeDestination(identity, '+4930123456', directory)).toBe(false);
    expect(authorizeDestination(identity, 'echoecho', directory)).toBe(false); // patterns match the whole destination
  });

  it('authorizes with the dialPatterns syntax: @users, @services and anchored patterns on normalized numbers', () => {
    const id = { destinations: ['@services', '\\+49[0-9]{6,12}'] };
    expect(authorizeDestination(id, 'tone', directory)).toBe(true);
    expect(authorizeDestination(id, 'alice', directory)).toBe(false);
    expect(authorizeDestination(id, '+49 (30) 123-456', directory)).toBe(true);
    expect(authorizeDestination(id, '+4930123456;x', directory)).toBe(false);
    expect(authorizeDestination({ destinations: ['@users'] }, 'bob', directory)).toBe(true);
    expect(authorizeDestination({ destinations: [] }, 'echo', directory)).toBe(false);
  });

  it('finds the token in Authorization as JsSIP sends authorization_jwt, and in the WebSocket URL', async () => {
    const { token } = await mintToken({ user: 'alice', destinations: [] }, options());
    expect(bearerToken([`Bearer ${token}`])).toBe(token);
    expect(bearerToken([`bearer   ${token}`])).toBe(token);
    expect(bearerToken([token])).toBe(token); // authorization_jwt set without the "Bearer " prefix
    expect(bearerToken(['Digest username="alice", realm="x", nonce="n", uri="sip:x", response="0"'])).toBeUndefined();
    expect(bearerToken([])).toBeUndefined();
    expect(tokenFromUrl(`/sip?token=${token}`)).toBe(token);
    expect(tokenFromUrl(`/sip?x=1&token=${encodeURIComponent(token)}`)).toBe(token);
    expect(tokenFromUrl('/sip')).toBeUndefined();
    expect(tokenFromUrl('/sip?token=')).toBeUndefined();
  });
});
