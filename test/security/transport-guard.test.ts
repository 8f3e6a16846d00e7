/**
 * The transport layer's defences on real sockets: early drop of banned sources (before parsing), malformed input
 * counted towards a ban, connections per source address (TCP and WebSocket together), and the idle timeout of
 * WebSockets that carry no SIP unless a registration or dialog holds them.
 */
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import WebSocket from 'ws';
import { TransportLayer, type TransportLayerOptions } from '../../src/signaling/transport-layer.ts';
import { createResponseTo, type SipRequest } from '../../src/signaling/message.ts';
import type { Channel } from '../../src/signaling/transport.ts';
import { UdpPeer, options } from '../signaling/helpers/sip-clients.ts';
import { SipGuard } from '../../src/security/sip-guard.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function layer(extra: Partial<TransportLayerOptions> = {}) {
  const requests: Array<{ request: SipRequest; channel: Channel }> = [];
  const tl = new TransportLayer(
    {
      listeners: [
        { protocol: 'UDP', host: '127.0.0.1', port: 0 },
        { protocol: 'TCP', host: '127.0.0.1', port: 0 },
      ],
      http: { host: '127.0.0.1', port: 0 },
      userAgent: 'guard-test',
      ...extra,
    },
    {
      request: (request, channel) => {
        requests.push({ request, channel });
        channel.send(createResponseTo(request, 200, 'OK', 'gw-tag'));
      },
      response: () => {},
    },
  );
  await tl.start();
  cleanup.push(() => tl.close());
  const port = (protocol: string) => tl.listeners.find((l) => l.protocol === protocol)!.local.port;
  return { tl, requests, port };
}

async function tcpFrom(localAddress: string, port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  cleanup.push(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

function wsFrom(localAddress: string, url: string): WebSocket {
  const ws = new WebSocket(url, 'sip', { localAddress });
  ws.on('error', () => {});
  cleanup.push(() => ws.terminate());
  return ws;
}

async function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  if (socket.destroyed || socket.readableEnded) return true;
  return Promise.race([once(socket, 'close').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

describe('early drop', () => {
  it('drops a banned source’s datagrams before parsing, and counts them', async () => {
    const guard = new SipGuard({ bans: { exemptLoopback: false } });
    const { tl, port, requests } = await layer({ guard });
    const peer = await UdpPeer.open('127.0.0.9');
    cleanup.push(() => peer.close());
    peer.send(options({ host: '127.0.0.9', port: peer.port }), port('UDP'));
    await peer.inbox.next();
    guard.bans.ban('127.0.0.9');
    for (let i = 0; i < 20; i++) peer.send(i % 2 ? 'not SIP at all' : options({ host: '127.0.0.9', port: peer.port }), port('UDP'));
    expect(await peer.inbox.quiet(300)).toBe(true);
    expect(tl.counters.guardDropped).toBe(20);
    expect(tl.counters.parseErrors).toBe(0);
    expect(requests).toHaveLength(1);
    expect(guard.counters.droppedBanned).toBe(20);
  });

  it('counts malformed datagrams and unframeable streams as failures, and bans their source', async () => {
    const guard = new SipGuard({ bans: { maxFailures: 4, exemptLoopback: false } });
    const { tl, port } = await layer({ guard });
    const peer = await UdpPeer.open('127.0.0.10');
    cleanup.push(() => peer.close());
    for (let i = 0; i < 3; i++) peer.send(`GARBAGE ${i}\r\n\r\n`, port('UDP'));
    await expect.poll(() => tl.counters.parseErrors).toBe(3);
    expect(guard.isBanned('127.0.0.10')).toBe(false);
    // A TCP stream with a message that cannot be framed (no Content-Length, RFC 3261 §18.3) is the fourth.
    const socket = await tcpFrom('127.0.0.10', port('TCP'));
    socket.write('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK1\r\n\r\n');
    expect(await closedWithin(socket, 2000)).toBe(true);
    await expect.poll(() => guard.isBanned('127.0.0.10')).toBe(true);
    expect(guard.bans.banOf('127.0.0.10')?.reason).toBe('malformed');
    // Now its connections are refused at accept.
    const again = net.connect({ port: port('TCP'), host: '127.0.0.1', localAddress: '127.0.0.10' });
    again.on('error', () => {});
    cleanup.push(() => again.destroy());
    expect(await closedWithin(again, 2000)).toBe(true);
    expect(tl.counters.connectionsRefused).toBe(1);
  });

  it('closes every open stream of a source the moment it is banned', async () => {
    const guard = new SipGuard({ bans: { exemptLoopback: false } });
    const { tl, port } = await layer({ guard });
    const url = `ws://127.0.0.1:${port('WS')}/sip`;
    const tcp = await tcpFrom('127.0.0.11', port('TCP'));
    const ws = wsFrom('127.0.0.11', url);
    const bystander = wsFrom('127.0.0.12', url);
    await Promise.all([once(ws, 'open'), once(bystander, 'open')]);
    await expect.poll(() => tl.counters.connectionsOpen.WS).toBe(2);
    const wsClosed = once(ws, 'close');
    guard.bans.ban('127.0.0.11');
    await wsClosed;
    expect(await closedWithin(tcp, 3000)).toBe(true);
    expect(bystander.readyState).toBe(WebSocket.OPEN);
  });
});

describe('connections per source address', () => {
  it('refuses TCP connections beyond the limit from one address; other addresses are unaffected', async () => {
    const { tl, port } = await layer({ limits: { maxConnectionsPerAddress: 3 } });
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push(await tcpFrom('127.0.0.20', port('TCP')));
    await expect.poll(() => tl.counters.connectionsOpen.TCP).toBe(3);
    const fourth = await tcpFrom('127.0.0.20', port('TCP'));
    expect(await closedWithin(fourth, 2000)).toBe(true);
    expect(tl.counters.connectionsRefused).toBe(1);
    const elsewhere = await tcpFrom('127.0.0.21', port('TCP'));
    expect(await closedWithin(elsewhere, 200)).toBe(false);
    // A closed connection frees its slot.
    mine[0]!.destroy();
    await expect.poll(() => tl.counters.connectionsOpen.TCP).toBe(3);
    const again = await tcpFrom('127.0.0.20', port('TCP'));
    expect(await closedWithin(again, 200)).toBe(false);
  });

  it('counts WebSockets and TCP together: over the limit the upgrade gets 503', async () => {
    const { port } = await layer({ limits: { maxConnectionsPerAddress: 2 } });
    await tcpFrom('127.0.0.22', port('TCP'));
    const first = wsFrom('127.0.0.22', `ws://127.0.0.1:${port('WS')}/sip`);
    await once(first, 'open');
    const second = wsFrom('127.0.0.22', `ws://127.0.0.1:${port('WS')}/sip`);
    const [, res] = (await once(second, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(503);
  });
});

describe('WebSocket idle timeout', () => {
  const OPTIONS_WS = () => options({ transport: 'WS', host: 'idle.invalid', port: 0 });

  it('closes a WebSocket that sends no SIP (or only CRLF keep-alives) within the timeout', async () => {
    const { tl, port } = await layer({ wsIdleTimeoutMs: 300 });
    const silent = wsFrom('127.0.0.30', `ws://127.0.0.1:${port('WS')}/sip`);
    const pinger = wsFrom('127.0.0.30', `ws://127.0.0.1:${port('WS')}/sip`);
    await Promise.all([once(silent, 'open'), once(pinger, 'open')]);
    const started = Date.now();
    const timer = setInterval(() => pinger.readyState === WebSocket.OPEN && pinger.send('\r\n\r\n'), 50);
    cleanup.push(() => clearInterval(timer));
    await Promise.all([once(silent, 'close'), once(pinger, 'close')]);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
    await expect.poll(() => tl.counters.connectionsOpen.WS).toBe(0);
  });

  it('keeps a WebSocket that carries SIP, and one the B2BUA holds (a registration rides it)', async () => {
    const { tl, port, requests } = await layer({ wsIdleTimeoutMs: 300 });
    const talker = wsFrom('127.0.0.31', `ws://127.0.0.1:${port('WS')}/sip`);
    const registered = wsFrom('127.0.0.31', `ws://127.0.0.1:${port('WS')}/sip`);
    await Promise.all([once(talker, 'open'), once(registered, 'open')]);
    registered.send(OPTIONS_WS());
    await expect.poll(() => requests.length).toBe(1);
    const release = tl.holdFlow(requests[0]!.channel.flowId);
    const timer = setInterval(() => talker.readyState === WebSocket.OPEN && talker.send(OPTIONS_WS()), 100);
    cleanup.push(() => clearInterval(timer));
    await new Promise((r) => setTimeout(r, 900));
    expect(talker.readyState).toBe(WebSocket.OPEN);
    expect(registered.readyState).toBe(WebSocket.OPEN);
    // Released (the registration ended): the timeout applies again.
    clearInterval(timer);
    release();
    release(); // idempotent
    await Promise.all([once(registered, 'close'), once(talker, 'close')]);
  });

  it('stops applying once the gateway accepted a REGISTER or INVITE on the flow (a 2xx went out), but not for OPTIONS', async () => {
    const { port } = await layer({ wsIdleTimeoutMs: 300 });
    const registered = wsFrom('127.0.0.32', `ws://127.0.0.1:${port('WS')}/sip`);
    const pinged = wsFrom('127.0.0.32', `ws://127.0.0.1:${port('WS')}/sip`);
    await Promise.all([once(registered, 'open'), once(pinged, 'open')]);
    const register = OPTIONS_WS().replace(/OPTIONS/g, 'REGISTER');
    const answers = [once(registered, 'message'), once(pinged, 'message')];
    registered.send(register);
    pinged.send(OPTIONS_WS());
    await Promise.all(answers); // both answered 200 by the layer's handler
    await once(pinged, 'close');
    await new Promise((r) => setTimeout(r, 400));
    expect(registered.readyState).toBe(WebSocket.OPEN);
  });
});
