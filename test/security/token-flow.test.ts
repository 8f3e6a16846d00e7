/**
 * Tokens end to end on a real stack: a real JsSIP UA registering with `authorization_jwt` (no password), a
 * WebSocket opened with `?token=` bound to its identity, and the token's destinations enforced on INVITE.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { once } from 'node:events';
import JsSIP from 'jssip';
import WebSocket from 'ws';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import type { SipResponse } from '../../src/signaling/message.ts';
import { mintToken, type TokenOptions } from '../../src/signaling/auth/token.ts';
import { SipGuard } from '../../src/security/sip-guard.ts';
import { REALM, startGuardedGateway } from './helpers/guarded-gateway.ts';

const TOKEN: TokenOptions = { secret: 'token-flow-test-secret-0123456789abcdefghij' };
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function gateway() {
  const guard = new SipGuard({ bans: { maxFailures: 50, exemptLoopback: false } });
  const gw = await startGuardedGateway({ guard, token: TOKEN });
  cleanup.push(() => gw.close());
  return gw;
}

/** Registers a real JsSIP 3.x UA whose only credential is the token; resolves with the outcome. */
function jssipRegister(url: string, user: string, authorizationJwt: string): Promise<{ registered: boolean; status?: number }> {
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(url)],
    uri: `sip:${user}@${REALM}`,
    authorization_jwt: authorizationJwt,
    register: false,
    connection_recovery_min_interval: 60,
    connection_recovery_max_interval: 60,
  });
  cleanup.push(() => ua.stop());
  return new Promise((resolve) => {
    ua.on('registered', () => resolve({ registered: true }));
    ua.on('registrationFailed', (e: { response?: { status_code: number } }) => resolve({ registered: false, status: e.response?.status_code }));
    ua.on('connected', () => ua.register());
    ua.start();
  });
}

let seq = 0;
function invite(user: string, extra: string[] = []): string {
  const n = ++seq;
  return [
    `INVITE sip:${user}@${REALM} SIP/2.0`,
    `Via: SIP/2.0/WS tf${n}.invalid;branch=z9hG4bK-tf-${n}`,
    'Max-Forwards: 70',
    `To: <sip:${user}@${REALM}>`,
    `From: <sip:alice@${REALM}>;tag=tf${n}`,
    `Call-ID: tf-${n}`,
    `CSeq: 1 INVITE`,
    'Contact: <sip:alice@tf.invalid;transport=ws>',
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

async function wsClient(url: string) {
  const ws = new WebSocket(url, 'sip');
  ws.on('error', () => {});
  cleanup.push(() => ws.terminate());
  const finals: SipResponse[] = [];
  ws.on('message', (data: Buffer) => {
    const msg = parseSipMessage(data) as SipResponse;
    if (msg.status >= 200) finals.push(msg);
  });
  await once(ws, 'open');
  return { ws, finals };
}

describe('tokens on SIP', () => {
  it('a real JsSIP UA registers with authorization_jwt alone, as "Bearer <jwt>" or a bare JWT', async () => {
    const gw = await gateway();
    const { token } = await mintToken({ user: 'alice', destinations: ['echo'] }, TOKEN);
    expect(await jssipRegister(gw.wsUrl, 'alice', `Bearer ${token}`)).toEqual({ registered: true });
    expect(await jssipRegister(gw.wsUrl, 'alice', token)).toEqual({ registered: true });
    expect(gw.registered).toEqual(['alice', 'alice']);
  });

  it('refuses a token for another user’s address (403), an expired or forged token (401)', async () => {
    const gw = await gateway();
    const { token } = await mintToken({ user: 'alice', destinations: [] }, TOKEN);
    expect(await jssipRegister(gw.wsUrl, 'bob', `Bearer ${token}`)).toEqual({ registered: false, status: 403 });
    const { token: old } = await mintToken({ user: 'alice', destinations: [] }, { ...TOKEN, now: () => Date.now() - 3_600_000 });
    expect(await jssipRegister(gw.wsUrl, 'alice', `Bearer ${old}`)).toEqual({ registered: false, status: 401 });
    const { token: forged } = await mintToken({ user: 'alice', destinations: [] }, { secret: 'not-the-gateway-secret-0123456789abcdefgh' });
    expect(await jssipRegister(gw.wsUrl, 'alice', `Bearer ${forged}`)).toEqual({ registered: false, status: 401 });
    expect(gw.guard.bans.counters.failures.token).toBe(1); // the forged one; an expired token is no attack
  });

  it('enforces the token’s destinations on INVITE: allowed → routed, another destination → 403', async () => {
    const gw = await gateway();
    const { token } = await mintToken({ user: 'alice', destinations: ['echo'] }, TOKEN);
    const { ws, finals } = await wsClient(gw.wsUrl);
    ws.send(invite('echo', [`Authorization: Bearer ${token}`])); // where JsSIP puts authorization_jwt
    ws.send(invite('bob', [`Authorization: Bearer ${token}`]));
    await expect.poll(() => finals.length).toBe(2);
    expect(finals.map((r) => `${r.headers.get('call-id')} ${r.status}`)).toEqual([`tf-${seq - 1} 480`, `tf-${seq} 403`]);
    expect(gw.guard.bans.counters.failures.forbidden).toBe(1);
  });

  it('binds a WebSocket opened with ?token= to its identity: INVITEs on it need no credentials', async () => {
    const gw = await gateway();
    const { token } = await mintToken({ user: 'alice', destinations: ['tone'] }, TOKEN);
    const bound = await wsClient(`${gw.wsUrl}?token=${token}`);
    bound.ws.send(invite('tone'));
    bound.ws.send(invite('echo'));
    await expect.poll(() => bound.finals.length).toBe(2);
    expect(bound.finals.map((r) => r.status)).toEqual([480, 403]);
    // The same INVITE on an unbound WebSocket is challenged.
    const unbound = await wsClient(gw.wsUrl);
    unbound.ws.send(invite('tone'));
    await expect.poll(() => unbound.finals.length).toBe(1);
    expect(unbound.finals[0]!.status).toBe(407);
  });
});
