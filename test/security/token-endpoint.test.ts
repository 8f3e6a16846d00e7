/**
 * `POST /api/token` on a real HTTP server, and the `npm run token` CLI: both mint tokens that verify.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HttpServer } from '../../src/signaling/http-server.ts';
import { tokenRoute, constantTimeEqual } from '../../src/security/token-http.ts';
import { verifyToken, type TokenOptions } from '../../src/signaling/auth/token.ts';
import type { FailureReason } from '../../src/security/ban-list.ts';

const run = promisify(execFile);
const TOKEN: TokenOptions = { secret: 'endpoint-test-token-secret-0123456789abcd' };
const ADMIN = 'admin-secret-for-tests-0123';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function endpoint(adminSecret: string | undefined, token: TokenOptions | undefined) {
  const failures: Array<[string, FailureReason]> = [];
  const server = new HttpServer(
    { host: '127.0.0.1', port: 0, maxPayload: 4096, routes: [tokenRoute({ adminSecret, token, onFailure: (s, r) => failures.push([s, r]) })] },
    () => {},
  );
  const { port } = await server.listen();
  cleanup.push(() => server.close());
  const post = async (body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/token`, { method: 'POST', body, headers });
    return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
  };
  return { post, failures, port };
}

const JSON_TYPE = { 'content-type': 'application/json' };

describe('POST /api/token', () => {
  it('mints a token for the backend that holds the admin secret', async () => {
    const { post } = await endpoint(ADMIN, TOKEN);
    const res = await post(JSON.stringify({ user: 'alice', destinations: ['echo'], ttl: 120 }), { ...JSON_TYPE, authorization: `Bearer ${ADMIN}` });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.json).toMatchObject({ user: 'alice', destinations: ['echo'] });
    const identity = await verifyToken(res.json.token as string, TOKEN);
    expect(identity).toMatchObject({ user: 'alice', destinations: ['echo'] });
    expect(identity.expiresAt - identity.issuedAt).toBe(120_000);
    expect(new Date(res.json.expiresAt as string).getTime()).toBe(identity.expiresAt);
  });

  it('refuses a missing or wrong admin secret with 401 and reports it', async () => {
    const { post, failures } = await endpoint(ADMIN, TOKEN);
    const body = JSON.stringify({ user: 'alice', destinations: [] });
    expect((await post(body, JSON_TYPE)).status).toBe(401);
    const wrong = await post(body, { ...JSON_TYPE, authorization: `Bearer ${ADMIN}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await post(body, { ...JSON_TYPE, authorization: `Basic ${ADMIN}` })).status).toBe(401);
    expect(failures).toEqual([['127.0.0.1', 'admin-auth'], ['127.0.0.1', 'admin-auth'], ['127.0.0.1', 'admin-auth']]);
  });

  it('refuses everyone when no admin secret (or no token secret) is configured', async () => {
    for (const [admin, token] of [[undefined, TOKEN], [ADMIN, undefined]] as const) {
      const { post } = await endpoint(admin, token);
      const res = await post(JSON.stringify({ user: 'alice', destinations: [] }), { ...JSON_TYPE, authorization: `Bearer ${ADMIN}` });
      expect(res).toMatchObject({ status: 403, json: { error: 'TOKEN_ENDPOINT_DISABLED' } });
    }
  });

  it('answers bad requests with 400/415/413 and a stable error code', async () => {
    const { post, port } = await endpoint(ADMIN, TOKEN);
    const auth = { authorization: `Bearer ${ADMIN}` };
    expect((await post('{}', auth)).status).toBe(415);
    expect(await post('{not json', { ...JSON_TYPE, ...auth })).toMatchObject({ status: 400, json: { error: 'TOKEN_REQUEST_INVALID' } });
    expect(await post('[]', { ...JSON_TYPE, ...auth })).toMatchObject({ status: 400 });
    expect(await post(JSON.stringify({ user: 'a b', destinations: [] }), { ...JSON_TYPE, ...auth })).toMatchObject({ status: 400, json: { error: 'TOKEN_REQUEST_INVALID' } });
    expect(await post(JSON.stringify({ user: 'alice', destinations: ['('] }), { ...JSON_TYPE, ...auth })).toMatchObject({ status: 400 });
    expect(await post(JSON.stringify({ user: 'alice', destinations: [], ttl: 86_400 }), { ...JSON_TYPE, ...auth })).toMatchObject({ status: 400 });
    expect(await post(JSON.stringify({ user: 'alice', destinations: [], ttl: '60' }), { ...JSON_TYPE, ...auth })).toMatchObject({ status: 400 });
    const big = await fetch(`http://127.0.0.1:${port}/api/token`, { method: 'POST', body: 'x'.repeat(10_000), headers: { ...JSON_TYPE, ...auth } });
    expect(big.status).toBe(413);
    // Only POST is routed; other methods fall through to the static server.
    expect((await fetch(`http://127.0.0.1:${port}/api/token`)).status).toBe(404);
  });

  it('compares secrets in constant time whatever their length', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', 'x')).toBe(false);
  });
});

describe('token CLI', () => {
  const node = process.execPath;
  const cli = path.resolve('src/token-cli.ts');

  it('prints a token minted with GATEWAY_TOKEN_SECRET', async () => {
    const { stdout } = await run(node, [cli, '--user', 'alice', '--allow', 'echo', '--allow', '1[0-9]{3}', '--ttl', '300'], {
      env: { ...process.env, GATEWAY_TOKEN_SECRET: TOKEN.secret as string },
    });
    const identity = await verifyToken(stdout.trim(), TOKEN);
    expect(identity).toMatchObject({ user: 'alice', destinations: ['echo', '1[0-9]{3}'] });
    expect(identity.expiresAt - identity.issuedAt).toBe(300_000);
  });

  it('reads the secret and the TTL limits from the configuration', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'token-cli-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'gw.yaml');
    fs.writeFileSync(file, 'security:\n  tokenSecret: ${MY_SECRET}\n  tokenTtl: 60\n  tokenMaxTtl: 120\n');
    const env = { ...process.env, MY_SECRET: TOKEN.secret as string, GATEWAY_TOKEN_SECRET: '' };
    const { stdout } = await run(node, [cli, '--user', 'bob', '--config', file, '--json'], { env });
    const out = JSON.parse(stdout) as { token: string; expiresAt: string };
    const identity = await verifyToken(out.token, TOKEN);
    expect(identity.expiresAt - identity.issuedAt).toBe(60_000);
    await expect(run(node, [cli, '--user', 'bob', '--config', file, '--ttl', '600'], { env })).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/ttl must be/) });
  });

  it('fails with a usage message without --user, and without a secret', async () => {
    await expect(run(node, [cli], { env: { ...process.env, GATEWAY_TOKEN_SECRET: 'x'.repeat(40) } })).rejects.toMatchObject({ code: 2 });
    await expect(run(node, [cli, '--user', 'alice'], { env: { ...process.env, GATEWAY_TOKEN_SECRET: '', CONFIG: '' } })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/no secret/),
    });
  });
});
