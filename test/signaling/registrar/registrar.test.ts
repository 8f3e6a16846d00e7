import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import { parseSipMessage } from '../../../src/signaling/parser.ts';
import type { SipRequest } from '../../../src/signaling/message.ts';
import { DigestServer } from '../../../src/signaling/auth/digest-server.ts';
import { parseAuthHeader, computeHa1 } from '../../../src/signaling/auth/digest.ts';
import { LocationService } from '../../../src/signaling/registrar/location-service.ts';
import { Registrar } from '../../../src/signaling/registrar/registrar.ts';
import { contacts } from '../../../src/signaling/header-accessors.ts';

const require = createRequire(import.meta.url);
type JsSipDigest = { authenticate(req: { method: string; ruri: string }, ch: Record<string, unknown>): boolean; toString(): string };
const JsSipDigestAuthentication = require('jssip/lib/DigestAuthentication.js') as new (c: { username: string; password: string }) => JsSipDigest;

/** A REGISTER as JsSIP 3.x sends it over WebSocket (Contact with +sip.ice, reg-id and +sip.instance). */
function jssipRegister(cseq: number, authorization?: string, expires = 600, user = 'alice'): SipRequest {
  const lines = [
    'REGISTER sip:example.test SIP/2.0',
    'Via: SIP/2.0/WS 3v5c8u2o1s1x.invalid;branch=z9hG4bK' + cseq + 'abc',
    'Max-Forwards: 69',
    `To: <sip:${user}@example.test>`,
    `From: <sip:${user}@example.test>;tag=f00lt3rsip`,
    'Call-ID: 8i5ns9sa7c6hhd1l6q3m3f',
    `CSeq: ${cseq} REGISTER`,
    ...(authorization ? [`Authorization: ${authorization}`] : []),
    'Contact: <sip:k4kc3sn5@3v5c8u2o1s1x.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:2e1f0a5c-8f27-4d1e-9f0e-7c1d8a1e5b3a>";expires=' + expires,
    'Expires: ' + expires,
    'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY',
    'Supported: path,gruu,outbound',
    'User-Agent: JsSIP 3.13.8',
    'Content-Length: 0',
    '',
    '',
  ];
  return parseSipMessage(Buffer.from(lines.join('\r\n'))) as SipRequest;
}

function setup() {
  let now = 1_700_000_000_000;
  const digest = new DigestServer({ realm: 'example.test', now: () => now });
  const location = new LocationService({ now: () => now });
  const failures: string[] = [];
  const registrar = new Registrar({
    location,
    digest,
    now: () => now,
    lookup: (u, realm, alg) => (u === 'alice' || u === 'bob' ? computeHa1(alg, u, realm, 'demo') : undefined),
    onAuthFailure: (source) => failures.push(source),
  });
  return { registrar, location, failures, advance: (ms: number) => (now += ms) };
}

function answerChallenge(wwwAuthenticate: string, password = 'demo', username = 'alice'): string {
  const p = parseAuthHeader(wwwAuthenticate).params;
  const jssip = new JsSipDigestAuthentication({ username, password });
  expect(jssip.authenticate({ method: 'REGISTER', ruri: 'sip:example.test' }, {
    realm: p.get('realm'), nonce: p.get('nonce'), algorithm: p.get('algorithm'), qop: p.get('qop'), opaque: undefined, stale: undefined,
  })).toBe(true);
  return jssip.toString();
}

describe('registrar with a JsSIP client', () => {
  it('challenges, then registers and lists the binding with its instance, reg-id and expires', () => {
    const { registrar, location } = setup();
    const challenge = registrar.handle(jssipRegister(1), { flowId: 'ws-1', source: '127.0.0.1' });
    expect(challenge.status).toBe(401);
    const www = challenge.headers.getAll('WWW-Authenticate');
    // SHA-256 preferred first (RFC 8760); MD5 last, the one JsSIP keeps.
    expect(www[0]).toMatch(/algorithm=SHA-256/);
    expect(www.at(-1)).toMatch(/algorithm=MD5/);
    expect(challenge.headers.get('To')).toMatch(/;tag=/);

    const ok = registrar.handle(jssipRegister(2, answerChallenge(www.at(-1)!)), { flowId: 'ws-1', source: '127.0.0.1' });
    expect(ok.status).toBe(200);
    const listed = contacts(ok);
    expect(listed).not.toBe('*');
    const [c] = listed as Exclude<typeof listed, '*'>;
    expect(c!.uri).toBe('sip:k4kc3sn5@3v5c8u2o1s1x.invalid;transport=ws');
    expect(c!.params.get('+sip.instance')).toBe('"<urn:uuid:2e1f0a5c-8f27-4d1e-9f0e-7c1d8a1e5b3a>"');
    expect(c!.params.get('reg-id')).toBe('1');
    expect(c!.expires).toBe(600);
    expect(ok.headers.get('Require')).toBe('outbound');
    expect(location.lookup('sip:alice@example.test')).toHaveLength(1);
  });

  it('refuses a wrong password with a fresh challenge and counts the failure', () => {
    const { registrar, location, failures } = setup();
    const www = registrar.handle(jssipRegister(1), { flowId: 'ws-1', source: '127.0.0.9' }).headers.getAll('WWW-Authenticate');
    const res = registrar.handle(jssipRegister(2, answerChallenge(www.at(-1)!, 'wrong')), { flowId: 'ws-1', source: '127.0.0.9' });
    expect(res.status).toBe(401);
    expect(failures).toEqual(['127.0.0.9']);
    expect(location.size).toBe(0);
  });

  it('answers stale=true when the nonce expired but the password was right', () => {
    const { registrar, advance } = setup();
    const www = registrar.handle(jssipRegister(1), { flowId: 'ws-1', source: '127.0.0.1' }).headers.getAll('WWW-Authenticate');
    advance(10 * 60_000);
    const res = registrar.handle(jssipRegister(2, answerChallenge(www.at(-1)!)), { flowId: 'ws-1', source: '127.0.0.1' });
    expect(res.status).toBe(401);
    expect(res.headers.get('WWW-Authenticate')).toMatch(/stale=true/);
  });

  it('forbids registering another user’s address with one’s own credentials', () => {
    const { registrar } = setup();
    const www = registrar.handle(jssipRegister(1, undefined, 600, 'bob'), { flowId: 'ws-1', source: '127.0.0.1' }).headers.getAll('WWW-Authenticate');
    const res = registrar.handle(jssipRegister(2, answerChallenge(www.at(-1)!, 'demo', 'alice'), 600, 'bob'), { flowId: 'ws-1', source: '127.0.0.1' });
    expect(res.status).toBe(403);
  });

  it('unregisters with expires=0 and refuses a too-short interval with 423 Min-Expires', () => {
    const { registrar, location } = setup();
    const ctx = { flowId: 'ws-1', source: '127.0.0.1' };
    // JsSIP sends each REGISTER unauthenticated first and answers the fresh challenge (nc=00000001 each time).
    let cseq = 0;
    const register = (expires: number) => {
      const www = registrar.handle(jssipRegister(++cseq, undefined, expires), ctx).headers.getAll('WWW-Authenticate');
      return registrar.handle(jssipRegister(++cseq, answerChallenge(www.at(-1)!), expires), ctx);
    };
    expect(register(600).status).toBe(200);
    const brief = register(10);
    expect(brief.status).toBe(423);
    expect(brief.headers.get('Min-Expires')).toBe('60');
    const bye = register(0);
    expect(bye.status).toBe(200);
    expect(bye.headers.has('Contact')).toBe(false);
    expect(location.size).toBe(0);
  });
});
