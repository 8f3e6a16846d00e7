/**
 * The SIP WebSocket's front door, on a real HTTP server with the `ws` client: Origin allow-list (403 before any
 * SIP), connections per address (503), `?token=` verified at the upgrade (401, or the identity handed on), and
 * banned sources dropped at accept.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { once } from 'node:events';
import net from 'node:net';
import WebSocket from 'ws';
import { HttpServer, type HttpServerOptions } from '../../src/signaling/http-server.ts';
import { ConnectionLimiter } from '../../src/security/connection-limiter.ts';
import { tokenUpgradeAuthorizer } from '../../src/security/token-http.ts';
import { SipGuard } from '../../src/security/sip-guard.ts';
import { mintToken, type TokenIdentity } from '../../src/signaling/auth/token.ts';
import type { FailureReason } from '../../src/security/ban-list.ts';

const SECRET = 'upgrade-test-secret-0123456789-abcdefghij';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function server(options: Partial<HttpServerOptions> = {}) {
  const opened: Array<{ ws: WebSocket; identity: TokenIdentity | undefined }> = [];
  const srv = new HttpServer({ host: '127.0.0.1', port: 0, maxPayload: 4096, ...options }, (ws, _req, identity) => {
    opened.push({ ws, identity });
    cleanup.push(() => ws.terminate());
  });
  const { port } = await srv.listen();
  cleanup.push(() => srv.close());
  return { srv, port, opened };
}

/** Opens a WebSocket; resolves with the HTTP status of a refused handshake, or 101. */
function connect(url: string, headers: Record<string, string> = {}, origin?: string): Promise<{ status: number; ws?: WebSocket; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'sip', { headers, ...(origin === undefined ? {} : { origin }) });
    cleanup.push(() => ws.terminate());
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (error) => reject(error));
  });
}

describe('WebSocket upgrade: Origin allow-list', () => {
  it('refuses a cross-site page with 403 before any SIP, allows the gateway’s own page and clients without Origin', async () => {
    const { port, opened } = await server();
    const url = `ws://127.0.0.1:${port}/sip`;
    const refused = await connect(url, {}, 'https://evil.example');
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('Origin not allowed');
    expect(opened).toHaveLength(0);

    expect((await connect(url, {}, `http://127.0.0.1:${port}`)).status).toBe(101);
    expect((await connect(url, {}, `http://localhost:${port}`)).status).toBe(101); // the demo opened by name
    expect((await connect(url)).status).toBe(101); // SIPp, the test phone: no Origin
    expect((await connect(url, {}, `http://127.0.0.1:${port + 1}`)).status).toBe(403);
    expect((await connect(url, {}, 'null')).status).toBe(403); // a sandboxed frame or file:// page
    expect(opened).toHaveLength(3);
  });

  it('allows configured origins, and any with "*"', async () => {
    const listed = await server({ allowedOrigins: ['https://shop.example'] });
    expect((await connect(`ws://127.0.0.1:${listed.port}/sip`, {}, 'https://shop.example')).status).toBe(101);
    expect((await connect(`ws://127.0.0.1:${listed.port}/sip`, {}, 'https://other.example')).status).toBe(403);
    const any = await server({ allowedOrigins: ['*'] });
    expect((await connect(`ws://127.0.0.1:${any.port}/sip`, {}, 'https://other.example')).status).toBe(101);
    expect(any.srv.origins).toBe('any');
  });
});

describe('WebSocket upgrade: connections per address', () => {
  it('refuses connections beyond the limit from one address with 503, and frees slots as they close', async () => {
    const limiter = new ConnectionLimiter(3);
    const { port } = await server({ connectionLimiter: limiter });
    const url = `ws://127.0.0.1:${port}/sip`;
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await connect(url));
    expect(open.map((o) => o.status)).toEqual([101, 101, 101]);
    const over = await connect(url);
    expect(over.status).toBe(503);
    expect(over.body).toContain('Too many connections');
    expect(limiter.refused).toBe(1);
    open[0]!.ws!.close();
    await once(open[0]!.ws!, 'close');
    await expect.poll(() => limiter.count('127.0.0.1')).toBe(2);
    expect((await connect(url)).status).toBe(101);
  });

  it('destroys a banned source’s sockets as they are accepted, for HTTP and upgrades alike', async () => {
    const guard = new SipGuard({ bans: { exemptLoopback: false } });
    guard.bans.ban('127.0.0.1');
    const { port } = await server({ allowConnection: (a) => guard.allowConnection(a) });
    await expect(connect(`ws://127.0.0.1:${port}/sip`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    expect(guard.counters.refusedConnections).toBe(2);
  });
});

describe('WebSocket upgrade: ?token=', () => {
  async function tokenServer(requireToken = false, now = Date.now) {
    const failures: Array<[string, FailureReason]> = [];
    const s = await server({
      authorizeUpgrade: tokenUpgradeAuthorizer({ token: { secret: SECRET, now }, requireToken, onFailure: (source, reason) => failures.push([source, reason]) }),
    });
    return { ...s, failures };
  }

  it('accepts a valid token at the upgrade and hands its identity to the flow', async () => {
    const { port, opened } = await tokenServer();
    const { token } = await mintToken({ user: 'alice', destinations: ['echo'] }, { secret: SECRET });
    const res = await connect(`ws://127.0.0.1:${port}/sip?token=${token}`);
    expect(res.status).toBe(101);
    expect(res.ws!.protocol).toBe('sip');
    expect(opened[0]!.identity).toMatchObject({ user: 'alice', destinations: ['echo'] });
    // Without a token, the flow opens unbound (digest authentication later).
    expect((await connect(`ws://127.0.0.1:${port}/sip`)).status).toBe(101);
    expect(opened[1]!.identity).toBeUndefined();
  });

  it('refuses an expired token (401, not reported) and a forged one (401, reported as a failure)', async () => {
    const { port, opened, failures } = await tokenServer();
    const { token: old } = await mintToken({ user: 'alice', destinations: ['echo'], ttlSeconds: 60 }, { secret: SECRET, now: () => Date.now() - 120_000 });
    const expired = await connect(`ws://127.0.0.1:${port}/sip?token=${old}`);
    expect(expired).toMatchObject({ status: 401, body: 'Token expired\n' });
    const { token: forged } = await mintToken({ user: 'alice', destinations: ['.*'] }, { secret: 'attacker-guess-attacker-guess-attacker-guess' });
    const invalid = await connect(`ws://127.0.0.1:${port}/sip?token=${forged}`);
    expect(invalid).toMatchObject({ status: 401, body: 'Invalid token\n' });
    expect(opened).toHaveLength(0);
    expect(failures).toEqual([['127.0.0.1', 'token']]);
  });

  it('with requireToken refuses an upgrade without a token', async () => {
    const { port } = await tokenServer(true);
    expect(await connect(`ws://127.0.0.1:${port}/sip`)).toMatchObject({ status: 401, body: 'A token is required\n' });
  });

  it('a client that gives up during token verification leaves no flow and no held slot', async () => {
    const limiter = new ConnectionLimiter(2);
    const { port, opened } = await server({
      connectionLimiter: limiter,
      authorizeUpgrade: () => new Promise((resolve) => setTimeout(() => resolve({ ok: true }), 100)),
    });
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`GET /sip HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n`);
    await expect.poll(() => limiter.count('127.0.0.1')).toBe(1);
    socket.destroy();
    await expect.poll(() => limiter.count('127.0.0.1')).toBe(0);
    await new Promise((r) => setTimeout(r, 150));
    expect(opened).toHaveLength(0);
  });
});
