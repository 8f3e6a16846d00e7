import { describe, it, expect } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { demoConfig } from '../../src/config/demo.ts';
import { guardFromConfig, stackSecurityOptions, tokenOptionsFromConfig } from '../../src/security/from-config.ts';
import { mintToken, verifyToken } from '../../src/signaling/auth/token.ts';

const SECRET = 'config-test-secret-0123456789abcdefghijkl';

function problems(text: string, env: NodeJS.ProcessEnv = {}): Array<{ key: string; message: string }> {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map(({ key, message }) => ({ key, message }));
  }
  throw new Error('expected a ConfigError');
}

describe('security configuration', () => {
  it('has safe defaults: bans on, budgets on, own origins only, no tokens, no token endpoint', () => {
    const cfg = parseConfig('', 'empty.yaml', {});
    expect(cfg.security).toEqual({
      exemptLoopback: true,
      exempt: [],
      ban: { maxFailures: 10, findTime: 60, banTime: 900 },
      rateLimit: { messages: { rate: 50, burst: 100 }, unauthenticated: { rate: 10, burst: 40 } },
      maxTrackedSources: 65536,
      tokenTtl: 300,
      tokenMaxTtl: 3600,
      requireToken: false,
      nonTrunkSources: 'reject',
    });
    expect(cfg.http).toMatchObject({ allowedOrigins: [], maxConnectionsPerAddress: 32, idleTimeout: 120 });
    expect(cfg.http.advertisedHost).toBeUndefined();
    expect(tokenOptionsFromConfig(cfg)).toBeUndefined();
  });

  it('takes the token and admin secrets from the environment', () => {
    const cfg = parseConfig('security:\n  tokenSecret: ${GATEWAY_TOKEN_SECRET}\n  adminSecret: ${GATEWAY_ADMIN_SECRET}\n', 't.yaml', {
      GATEWAY_TOKEN_SECRET: SECRET,
      GATEWAY_ADMIN_SECRET: 'admin-0123456789-abcdef',
    });
    expect(cfg.security.tokenSecret).toBe(SECRET);
    expect(problems('security:\n  tokenSecret: ${GATEWAY_TOKEN_SECRET}\n')).toEqual([
      { key: 'security.tokenSecret', message: 'environment variable GATEWAY_TOKEN_SECRET is not set' },
    ]);
  });

  it('refuses weak secrets, impossible lifetimes and settings that need a secret', () => {
    expect(problems('security:\n  tokenSecret: short\n')[0]).toMatchObject({ key: 'security.tokenSecret' });
    expect(problems('security:\n  adminSecret: short\n')[0]).toMatchObject({ key: 'security.adminSecret' });
    expect(problems('security:\n  tokenTtl: 7200\n')[0]).toMatchObject({ key: 'security.tokenTtl' });
    expect(problems('security:\n  requireToken: true\n')[0]).toMatchObject({ key: 'security.requireToken' });
    expect(problems('security:\n  adminSecret: long-enough-admin-secret\n')[0]).toMatchObject({ key: 'security.adminSecret' });
    expect(problems('security:\n  exempt: [not-an-ip]\n')[0]).toMatchObject({ key: 'security.exempt[0]' });
    expect(problems('security:\n  ban: { maxFailures: 0 }\n')[0]).toMatchObject({ key: 'security.ban.maxFailures' });
    expect(problems('security:\n  rateLimit: { messages: { rate: 5 } }\n')[0]).toMatchObject({ key: 'security.rateLimit.messages.burst' });
    expect(problems('security:\n  bogus: 1\n')[0]).toMatchObject({ key: 'security.bogus', message: 'unknown key "bogus"' });
    expect(problems('security:\n  nonTrunkSources: drop\n')[0]).toMatchObject({ key: 'security.nonTrunkSources' });
  });

  it('takes nonTrunkSources ignore or reject, and http.tls.selfSigned (default false)', () => {
    expect(parseConfig('security: { nonTrunkSources: ignore }\n', 't.yaml', {}).security.nonTrunkSources).toBe('ignore');
    expect(parseConfig('http: { tls: { cert: c.pem, key: k.pem } }\n', 't.yaml', {}).http.tls).toEqual({ cert: 'c.pem', key: 'k.pem', selfSigned: false });
    expect(parseConfig('http: { tls: { cert: c.pem, key: k.pem, selfSigned: true } }\n', 't.yaml', {}).http.tls?.selfSigned).toBe(true);
    expect(problems('http: { tls: { selfSigned: true } }\n').map((p) => p.key)).toEqual(['http.tls.cert', 'http.tls.key']);
    // A SIP listener's tls has no selfSigned (only HTTPS/WSS gets one).
    expect(problems('sip: { listeners: [{ protocol: tls, tls: { cert: c, key: k, selfSigned: true } }] }\n')[0]).toMatchObject({ key: 'sip.listeners[0].tls.selfSigned' });
  });

  it('accepts origins, null and *, and refuses what is not an origin', () => {
    const cfg = parseConfig('http:\n  allowedOrigins: ["https://shop.example", "null", "*"]\n  advertisedHost: phone.example.com\n', 't.yaml', {});
    expect(cfg.http.allowedOrigins).toEqual(['https://shop.example', 'null', '*']);
    expect(problems('http:\n  allowedOrigins: ["shop.example"]\n')[0]).toMatchObject({ key: 'http.allowedOrigins[0]' });
    expect(problems('http:\n  allowedOrigins: ["https://shop.example/page"]\n')[0]).toMatchObject({ key: 'http.allowedOrigins[0]' });
  });

  it('builds a guard that follows the config: thresholds, exempt trunk sources and services, loopback', () => {
    const cfg = parseConfig(
      [
        'security:',
        '  exemptLoopback: false',
        '  exempt: [192.0.2.0/28]',
        '  ban: { maxFailures: 2, findTime: 10, banTime: 60 }',
        'trunks:',
        '  - { name: carrier, host: sip.carrier.example, allowedSources: [198.51.100.0/24] }',
        'services: { host: 127.0.0.5 }',
      ].join('\n'),
      't.yaml',
      {},
    );
    let wall = 1_700_000_000_000;
    const guard = guardFromConfig(cfg, { isTrunkSource: (a) => a === '203.0.113.99', wallClock: () => wall });
    for (const exempt of ['192.0.2.3', '198.51.100.20', '203.0.113.99', '127.0.0.5']) expect(guard.recordFailure(exempt, 'auth'), exempt).toBe('exempt');
    expect(guard.recordFailure('127.0.0.1', 'auth')).toBe('counted'); // loopback not exempt here
    expect(guard.recordFailure('127.0.0.1', 'auth')).toBe('banned');
    wall += 60_000;
    expect(guard.isBanned('127.0.0.1')).toBe(false);
    // The demo keeps loopback exempt: a user mistyping the demo password does not lock out the machine.
    expect(guardFromConfig(demoConfig()).recordFailure('127.0.0.1', 'auth')).toBe('exempt');
  });

  it('gives the SipStack its fragments: guard, idle timeout, connection cap, origins, token hook and endpoint', async () => {
    const cfg = parseConfig(
      `http:\n  allowedOrigins: [https://shop.example]\n  advertisedHost: phone.example.com\n  idleTimeout: 45\n  maxConnectionsPerAddress: 8\nsecurity:\n  tokenSecret: ${SECRET}\n  tokenTtl: 120\n`,
      't.yaml',
      {},
    );
    const guard = guardFromConfig(cfg);
    const sec = stackSecurityOptions(cfg, guard);
    expect(sec.transport).toEqual({ guard, wsIdleTimeoutMs: 45_000 });
    expect(sec.limits).toEqual({ maxConnectionsPerAddress: 8 });
    expect(sec.http).toMatchObject({ allowedOrigins: ['https://shop.example'], advertisedHost: 'phone.example.com' });
    expect(sec.http.routes?.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /api/token']);
    const token = tokenOptionsFromConfig(cfg)!;
    const { token: jwt } = await mintToken({ user: 'alice', destinations: [] }, token);
    expect((await verifyToken(jwt, token)).expiresAt - Date.now()).toBeLessThanOrEqual(120_000);
  });
});
