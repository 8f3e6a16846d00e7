import { describe, it, expect, afterEach } from 'vitest';
import { once } from 'node:events';
import net from 'node:net';
import WebSocket from 'ws';
import { HttpServer } from '../../src/signaling/http-server.ts';
import { WsConnection, connectWebSocket } from '../../src/signaling/transports/ws.ts';
import type { CloseReason, ConnectionHandlers } from '../../src/signaling/transports/connection.ts';
import type { TransportError } from '../../src/signaling/transport.ts';
import { hasIPv6Loopback, testCert } from './helpers/tls.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const MSG = 'OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nCall-ID: ws\r\nContent-Length: 0\r\n\r\n';

function recorder() {
  const messages: string[] = [];
  const closed: CloseReason[] = [];
  let keepAlives = 0;
  let wake: (() => void) | undefined;
  const handlers: ConnectionHandlers = {
    message: (_c, data) => {
      messages.push(data.toString());
      wake?.();
    },
    closed: (_c, reason) => {
      closed.push(reason);
      wake?.();
    },
    keepAlive: () => keepAlives++,
  };
  const until = async (cond: () => boolean): Promise<void> => {
    while (!cond()) await new Promise<void>((resolve) => (wake = resolve));
  };
  return { handlers, messages, closed, until, keepAlives: () => keepAlives };
}

/** An HTTP(S) server whose WebSocket upgrades become WsConnections feeding one recorder. */
async function wsServer(host = '127.0.0.1', secure = false, maxPayload = 4096) {
  const rec = recorder();
  const connections: WsConnection[] = [];
  const server = new HttpServer({ host, port: 0, wsPath: '/sip', maxPayload, tls: secure ? testCert() : undefined }, (ws, req) => {
    const conn = new WsConnection(ws, {
      id: `ws-${connections.length + 1}`, protocol: secure ? 'WSS' : 'WS', direction: 'inbound',
      remote: { address: req.socket.remoteAddress!, port: req.socket.remotePort! },
    }, rec.handlers, { heartbeatMs: 0, maxWriteBuffer: 1 << 20 });
    connections.push(conn);
    cleanup.push(() => conn.close());
  });
  const local = await server.listen();
  cleanup.push(() => server.close());
  return { server, local, rec, connections };
}

function client(url: string, protocols?: string | string[], options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, protocols, options);
  ws.on('error', () => {});
  cleanup.push(() => ws.terminate());
  return ws;
}

describe.each([
  ['WS', '127.0.0.1', false],
  ['WS', '::1', false],
  ['WSS', '127.0.0.1', true],
] as const)('%s on %s', (_p, host, secure) => {
  it.skipIf(host === '::1' && !hasIPv6Loopback())('negotiates "sip" and carries one SIP message per WebSocket message, text or binary', async () => {
    const srv = await wsServer(host, secure);
    const h = host.includes(':') ? `[${host}]` : host;
    const ws = client(`${secure ? 'wss' : 'ws'}://${h}:${srv.local.port}/sip`, 'sip', { ca: testCert().cert });
    await once(ws, 'open');
    expect(ws.protocol).toBe('sip');
    ws.send(MSG); // text frame
    ws.send(Buffer.from(MSG), { binary: true });
    await srv.rec.until(() => srv.rec.messages.length === 2);
    expect(srv.rec.messages).toEqual([MSG, MSG]);

    const reply = once(ws, 'message');
    srv.connections[0]!.write(Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const [data, isBinary] = (await reply) as [Buffer, boolean];
    expect(isBinary).toBe(false); // UTF-8 goes out as a text frame, what JsSIP/SIP.js expect
    expect(data.toString()).toBe('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n');
  });
});

describe('SIP WebSocket server', () => {
  it('refuses a handshake without the "sip" subprotocol with HTTP 400 (RFC 7118 §4)', async () => {
    const srv = await wsServer();
    for (const protocols of [undefined, 'chat']) {
      const ws = client(`ws://127.0.0.1:${srv.local.port}/sip`, protocols);
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
      expect(res.statusCode).toBe(400);
    }
    expect(srv.connections).toHaveLength(0);
  });

  it('answers 404 to an upgrade on another path', async () => {
    const srv = await wsServer();
    const ws = client(`ws://127.0.0.1:${srv.local.port}/other`, 'sip');
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(404);
  });

  it('closes with 1009 when a message exceeds the limit, and the flow reports framing', async () => {
    const srv = await wsServer('127.0.0.1', false, 1000);
    const ws = client(`ws://127.0.0.1:${srv.local.port}/sip`, 'sip');
    await once(ws, 'open');
    ws.send('x'.repeat(1001));
    const [code] = (await once(ws, 'close')) as [number];
    expect(code).toBe(1009);
    await srv.rec.until(() => srv.rec.closed.length === 1);
    expect(srv.rec.closed).toEqual(['framing']);
    expect(srv.rec.messages).toEqual([]);
  });

  it('answers a CRLFCRLF keep-alive frame with CRLF and passes nothing up', async () => {
    const srv = await wsServer();
    const ws = client(`ws://127.0.0.1:${srv.local.port}/sip`, 'sip');
    await once(ws, 'open');
    const pong = once(ws, 'message');
    ws.send('\r\n\r\n');
    const [data] = (await pong) as [Buffer];
    expect(data.toString()).toBe('\r\n');
    await srv.rec.until(() => srv.rec.keepAlives() === 1);
    expect(srv.rec.messages).toEqual([]);
  });

  it('terminates a peer that stops answering WebSocket pings', async () => {
    const rec = recorder();
    const server = new HttpServer({ host: '127.0.0.1', port: 0, maxPayload: 4096 }, (ws) => {
      const conn = new WsConnection(ws, { id: 'ws-1', protocol: 'WS', direction: 'inbound', remote: { address: '127.0.0.1', port: 1 } }, rec.handlers, {
        heartbeatMs: 50, maxWriteBuffer: 1 << 20,
      });
      cleanup.push(() => conn.close());
    });
    const local = await server.listen();
    cleanup.push(() => server.close());
    // autoPong off: a client that vanished without a close frame.
    const ws = client(`ws://127.0.0.1:${local.port}/sip`, 'sip', { autoPong: false });
    await once(ws, 'open');
    await rec.until(() => rec.closed.length === 1);
    expect(rec.closed).toEqual(['idle']);
  });
});

describe('WebSocket client flow', () => {
  it('connects with the "sip" subprotocol and queues messages written during the handshake', async () => {
    const srv = await wsServer();
    const rec = recorder();
    const remote = { address: '127.0.0.1', port: srv.local.port };
    const ws = connectWebSocket('WS', remote, '/sip', { maxPayload: 4096, connectTimeoutMs: 2000 });
    const conn = new WsConnection(ws, { id: 'ws-out', protocol: 'WS', direction: 'outbound', remote }, rec.handlers, { heartbeatMs: 0, maxWriteBuffer: 1 << 20 });
    cleanup.push(() => conn.close());
    expect(conn.state).toBe('connecting');
    conn.write(Buffer.from(MSG));
    await srv.rec.until(() => srv.rec.messages.length === 1);
    expect(conn.state).toBe('open');
  });

  it('drops a server that does not select "sip", failing queued writes', async () => {
    // A plain WebSocket server that accepts any handshake but never selects a subprotocol.
    const { WebSocketServer } = await import('ws');
    const plain = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => false });
    await once(plain, 'listening');
    cleanup.push(() => new Promise((resolve) => plain.close(resolve)));
    const port = (plain.address() as net.AddressInfo).port;
    const rec = recorder();
    const ws = connectWebSocket('WS', { address: '127.0.0.1', port }, '/', { maxPayload: 4096, connectTimeoutMs: 2000 });
    const conn = new WsConnection(ws, { id: 'ws-out', protocol: 'WS', direction: 'outbound', remote: { address: '127.0.0.1', port } }, rec.handlers, { heartbeatMs: 0, maxWriteBuffer: 1 << 20 });
    const errors: TransportError[] = [];
    conn.write(Buffer.from(MSG), (e) => errors.push(e));
    await rec.until(() => rec.closed.length === 1);
    expect(rec.closed).toEqual(['error']);
    expect(errors[0]!.message).toMatch(/subprotocol/);
  });
});
