import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import WebSocket from 'ws';
import { once } from 'node:events';
import { TransportLayer, type TransportLayerOptions } from '../../src/signaling/transport-layer.ts';
import { createRequest, createResponseTo, type SipRequest, type SipResponse } from '../../src/signaling/message.ts';
import type { Channel, TransportError } from '../../src/signaling/transport.ts';
import { parseVia } from '../../src/signaling/via.ts';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { TcpPeer, UdpPeer, options } from './helpers/sip-clients.ts';
import { hasIPv6Loopback } from './helpers/tls.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A transport layer whose request handler answers 200 on the channel it was given (what a UAS does). */
async function layer(extra: Partial<TransportLayerOptions> = {}, answer = true) {
  const requests: Array<{ request: SipRequest; channel: Channel }> = [];
  const responses: Array<{ response: SipResponse; channel: Channel }> = [];
  const closedFlows: string[] = [];
  const tl = new TransportLayer(
    {
      listeners: [
        { protocol: 'UDP', host: '127.0.0.1', port: 0 },
        { protocol: 'TCP', host: '127.0.0.1', port: 0 },
        ...(hasIPv6Loopback() ? [{ protocol: 'UDP' as const, host: '::1', port: 0 }] : []),
      ],
      http: { host: '127.0.0.1', port: 0 },
      userAgent: 'test-gw',
      ...extra,
    },
    {
      request: (request, channel) => {
        requests.push({ request, channel });
        if (answer) channel.send(createResponseTo(request, 200, 'OK', 'gw-tag'));
      },
      response: (response, channel) => responses.push({ response, channel }),
      flowClosed: (flowId) => closedFlows.push(flowId),
    },
  );
  await tl.start();
  cleanup.push(() => tl.close());
  const port = (protocol: string, family = 4) =>
    tl.listeners.find((l) => l.protocol === protocol && l.local.address.includes(':') === (family === 6))!.local.port;
  return { tl, requests, responses, closedFlows, port };
}

async function udpPeer(host = '127.0.0.1') {
  const peer = await UdpPeer.open(host);
  cleanup.push(() => peer.close());
  return peer;
}

async function tcpPeer(port: number) {
  const peer = await TcpPeer.open(port);
  cleanup.push(() => peer.close());
  return peer;
}

describe('receive path: Via stamping and response routing (§18.2.1, §18.2.2, RFC 3581)', () => {
  it('sends a UDP response to the source address and port when Via says 10.0.0.1;rport', async () => {
    const gw = await layer();
    const peer = await udpPeer();
    peer.send(options({ host: '10.0.0.1', port: 5060 }), gw.port('UDP'));
    const response = await peer.inbox.next();
    expect(response).toMatchObject({ type: 'response', status: 200 });
    const via = parseVia(response.headers.getAll('via')[0]!);
    expect(via.host).toBe('10.0.0.1');
    expect(via.params.get('received')).toBe('127.0.0.1');
    expect(via.params.get('rport')).toBe(String(peer.port));
    expect(peer.from[0]).toEqual({ address: '127.0.0.1', port: gw.port('UDP') });
    expect(gw.requests[0]!.channel.remote).toEqual({ address: '127.0.0.1', port: peer.port });
  });

  it('adds received only when sent-by differs and there is no rport, and then answers to the sent-by port', async () => {
    const gw = await layer({}, false);
    const peer = await udpPeer();
    peer.send(options({ via: `SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-same` }), gw.port('UDP'));
    peer.send(options({ via: 'SIP/2.0/UDP ua.example.com:5070;branch=z9hG4bK-name' }), gw.port('UDP'));
    await expect.poll(() => gw.requests.length).toBe(2);
    const same = parseVia(gw.requests[0]!.request.headers.getAll('via')[0]!);
    expect(same.params.has('received')).toBe(false);
    expect(same.params.has('rport')).toBe(false);
    const named = parseVia(gw.requests[1]!.request.headers.getAll('via')[0]!);
    expect(named.params.get('received')).toBe('127.0.0.1');
    // No rport: §18.2.2 sends to received at the sent-by port.
    expect(gw.requests[1]!.channel.remote).toEqual({ address: '127.0.0.1', port: 5070 });
  });

  it('stamps rport and received on TCP and answers on the same connection', async () => {
    const gw = await layer();
    const peer = await tcpPeer(gw.port('TCP'));
    peer.send(options({ transport: 'TCP', host: '192.0.2.77', port: 5060 }));
    const response = await peer.inbox.next();
    expect(response).toMatchObject({ type: 'response', status: 200 });
    const via = parseVia(response.headers.getAll('via')[0]!);
    expect(via.params.get('received')).toBe('127.0.0.1');
    expect(via.params.get('rport')).toBe(String(peer.port));
    const channel = gw.requests[0]!.channel;
    expect(channel.reliable).toBe(true);
    expect(channel.protocol).toBe('TCP');
    expect(gw.tl.flow(channel.flowId)).toBe(channel);
  });

  it('answers a CRLFCRLF ping on TCP and counts keep-alives', async () => {
    const gw = await layer();
    const peer = await tcpPeer(gw.port('TCP'));
    peer.send('\r\n\r\n');
    await expect.poll(() => peer.pongs).toBe(1);
    expect(gw.tl.counters.keepAlives).toBe(1);
  });

  it.skipIf(!hasIPv6Loopback())('serves UDP over IPv6 with received in canonical form', async () => {
    const gw = await layer();
    const peer = await udpPeer('::1');
    peer.send(options({ via: 'SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-v6;rport' }), gw.port('UDP', 6), '::1');
    const response = await peer.inbox.next();
    const via = parseVia(response.headers.getAll('via')[0]!);
    expect(via.params.get('received')).toBe('::1');
    expect(via.params.get('rport')).toBe(String(peer.port));
  });

  it('re-opens a TCP connection to received and the sent-by port when the request connection closed', async () => {
    const gw = await layer({}, false);
    const ua = net.createServer();
    await new Promise<void>((resolve) => ua.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => ua.close(resolve)));
    const uaPort = (ua.address() as net.AddressInfo).port;
    const accepted = once(ua, 'connection');

    const peer = await tcpPeer(gw.port('TCP'));
    peer.send(options({ transport: 'TCP', host: '192.0.2.9', port: uaPort }));
    await expect.poll(() => gw.requests.length).toBe(1);
    peer.close();
    await expect.poll(() => gw.closedFlows.length).toBe(1);

    const { request, channel } = gw.requests[0]!;
    channel.send(createResponseTo(request, 486, 'Busy Here', 'x'));
    const [socket] = (await accepted) as [net.Socket];
    const [data] = (await once(socket, 'data')) as [Buffer];
    socket.destroy();
    const response = parseSipMessage(data);
    expect(response).toMatchObject({ type: 'response', status: 486 });
  });
});

describe('malformed input', () => {
  it('answers a malformed request whose Via is readable with 400 naming the fault, over UDP and TCP', async () => {
    const gw = await layer();
    const bad = options({ extra: 'CSeq: 2 OPTIONS\r\n' }); // two CSeq headers
    const udp = await udpPeer();
    udp.send(bad, gw.port('UDP'));
    const r1 = await udp.inbox.next();
    expect(r1).toMatchObject({ type: 'response', status: 400 });
    expect((r1 as SipResponse).reason).toMatch(/CSeq/);
    expect(r1.headers.get('server')).toBe('test-gw');
    expect(r1.headers.get('to')).toMatch(/;tag=/);

    const tcp = await tcpPeer(gw.port('TCP'));
    tcp.send(options({ transport: 'TCP', extra: 'Max-Forwards: abc\r\n' }));
    const r2 = await tcp.inbox.next();
    expect(r2).toMatchObject({ type: 'response', status: 400 });
    expect((r2 as SipResponse).reason).toMatch(/Max-Forwards/);
    expect(gw.requests).toHaveLength(0);
    expect(gw.tl.counters.badInputResponses).toBe(2);
    expect(gw.tl.counters.parseErrors).toBe(2);
  });

  it('answers SIP/3.0 with 505 and an over-size UDP request with 513', async () => {
    const gw = await layer({ limits: { maxMessageSize: 2048 } });
    const udp = await udpPeer();
    udp.send(options().replace('SIP/2.0\r\n', 'SIP/3.0\r\n'), gw.port('UDP'));
    expect(await udp.inbox.next()).toMatchObject({ status: 505 });
    udp.send(options({ extra: `X-Padding: ${'p'.repeat(3000)}\r\n` }), gw.port('UDP'));
    expect(await udp.inbox.next()).toMatchObject({ status: 513 });
  });

  it('drops what cannot be answered: a blob, a request without Via, a broken response, a broken ACK', async () => {
    const gw = await layer();
    const udp = await udpPeer();
    udp.send(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x13]), gw.port('UDP'));
    udp.send(options().replace(/^Via: .*\r\n/m, ''), gw.port('UDP'));
    udp.send('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-x\r\nCSeq: bogus\r\n\r\n', gw.port('UDP'));
    udp.send(options().replace(/OPTIONS/g, 'ACK').replace('CSeq: 1 ACK', 'CSeq: x ACK'), gw.port('UDP'));
    expect(await udp.inbox.quiet(300)).toBe(true);
    expect(gw.tl.counters.dropped).toBe(4);
    // And it still serves.
    udp.send(options(), gw.port('UDP'));
    expect(await udp.inbox.next()).toMatchObject({ status: 200 });
  });

  it('closes a TCP connection that sends an over-size message, answering nothing', async () => {
    const gw = await layer({ limits: { maxMessageSize: 1024 } });
    const tcp = await tcpPeer(gw.port('TCP'));
    tcp.send(options({ transport: 'TCP', extra: `X-Padding: ${'p'.repeat(2000)}\r\n` }));
    await expect.poll(() => tcp.closed).toBe(true);
    expect(tcp.inbox.messages).toHaveLength(0);
    expect(gw.tl.counters.framingErrors).toBe(1);
  });

  it('passes parsable responses up with their channel', async () => {
    const gw = await layer();
    const udp = await udpPeer();
    udp.send('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-r\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: r@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n', gw.port('UDP'));
    await expect.poll(() => gw.responses.length).toBe(1);
    expect(gw.responses[0]!.channel.remote).toEqual({ address: '127.0.0.1', port: udp.port });
  });
});

describe('outbound channels', () => {
  it('sends a UDP request from the listener socket with a Via naming it and ;rport', async () => {
    const gw = await layer();
    const peer = await udpPeer();
    const channel = await gw.tl.channelFor({ protocol: 'UDP', host: '127.0.0.1', port: peer.port });
    expect(channel.via('z9hG4bK-1')).toBe(`SIP/2.0/UDP 127.0.0.1:${gw.port('UDP')};branch=z9hG4bK-1;rport`);
    const req = createRequest('OPTIONS', `sip:ua@127.0.0.1:${peer.port}`, [
      ['Via', channel.via('z9hG4bK-1')], ['From', '<sip:gw@127.0.0.1>;tag=1'], ['To', '<sip:ua@127.0.0.1>'],
      ['Call-ID', 'out@x'], ['CSeq', '1 OPTIONS'], ['Max-Forwards', '70'],
    ]);
    channel.send(req);
    expect(await peer.inbox.next()).toMatchObject({ type: 'request', method: 'OPTIONS' });
    expect(peer.from[0]!.port).toBe(gw.port('UDP'));
    expect(gw.tl.counters.messagesOut.UDP).toBe(1);
  });

  it('reuses one TCP connection per remote endpoint, connects lazily, and resolves names', async () => {
    const gw = await layer();
    const server = net.createServer();
    const accepted: net.Socket[] = [];
    server.on('connection', (s) => accepted.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => { for (const s of accepted) s.destroy(); server.close(resolve); }));
    const port = (server.address() as net.AddressInfo).port;

    const a = await gw.tl.channelFor({ protocol: 'TCP', host: '127.0.0.1', port });
    const b = await gw.tl.channelFor({ protocol: 'TCP', host: 'localhost', port });
    expect(b).toBe(a);
    expect(gw.tl.counters.connectionsOpened).toBe(0); // lazy
    const req = createRequest('OPTIONS', 'sip:x@127.0.0.1', [['Via', a.via('z9hG4bK-t')], ['From', '<sip:a@b>;tag=1'], ['To', '<sip:x@y>'], ['Call-ID', 't@x'], ['CSeq', '1 OPTIONS']]);
    a.send(req);
    b.send(req);
    await expect.poll(() => accepted.length).toBe(1);
    expect(gw.tl.counters.connectionsOpened).toBe(1);
    expect(gw.tl.counters.connectionsOpen.TCP).toBe(1);
  });

  it('reports a refused connection through onError, and the next channelFor makes a new flow', async () => {
    const gw = await layer();
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));

    const channel = await gw.tl.channelFor({ protocol: 'TCP', host: '127.0.0.1', port });
    const error = await new Promise<TransportError>((resolve) => {
      channel.send(createRequest('OPTIONS', 'sip:x@y', [['Via', channel.via('z9hG4bK-e')], ['CSeq', '1 OPTIONS']]), resolve);
    });
    expect(error.code).toBe('SIP_TRANSPORT_CONNECTION');
    expect(error.status).toBe(503);
    const again = await gw.tl.channelFor({ protocol: 'TCP', host: '127.0.0.1', port });
    expect(again).not.toBe(channel);
  });

  it('rejects names that do not resolve and protocols without a listener', async () => {
    const gw = await layer({ listeners: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }], http: undefined });
    await expect(gw.tl.channelFor({ protocol: 'UDP', host: 'no-such-host.invalid', port: 5060 })).rejects.toMatchObject({ code: 'SIP_TRANSPORT_RESOLVE' });
    await expect(gw.tl.channelFor({ protocol: 'UDP', host: '::1', port: 5060 })).rejects.toMatchObject({ code: 'SIP_TRANSPORT_NO_LISTENER' });
  });

  it('reaches a browser only over its own WebSocket flow, found by flow id or by its endpoint', async () => {
    const gw = await layer();
    const wsPort = gw.tl.listeners.find((l) => l.protocol === 'WS')!.local.port;
    const browser = new WebSocket(`ws://127.0.0.1:${wsPort}/sip`, 'sip');
    cleanup.push(() => browser.terminate());
    await once(browser, 'open');
    const reply = once(browser, 'message');
    browser.send(options({ transport: 'WS', host: 'df7jal23ls0d.invalid', port: 0 }).replace(':0;', ';'));
    const [data] = (await reply) as [Buffer];
    expect(parseSipMessage(data)).toMatchObject({ status: 200 });

    const { channel } = gw.requests[0]!;
    expect(channel.protocol).toBe('WS');
    expect(gw.tl.flow(channel.flowId)).toBe(channel);
    const local = (browser as unknown as { _socket: net.Socket })._socket.localPort!;
    expect(await gw.tl.channelFor({ protocol: 'WS', host: '127.0.0.1', port: local })).toBe(channel);

    const bye = once(browser, 'message');
    channel.send(createRequest('BYE', 'sip:b@df7jal23ls0d.invalid;transport=ws', [['Via', channel.via('z9hG4bK-b')], ['From', '<sip:gw@127.0.0.1>;tag=1'], ['To', '<sip:b@x>;tag=2'], ['Call-ID', 'b@x'], ['CSeq', '2 BYE']]));
    expect(parseSipMessage((await bye)[0] as Buffer)).toMatchObject({ method: 'BYE' });

    browser.close();
    await expect.poll(() => gw.closedFlows).toContain(channel.flowId);
    expect(gw.tl.flow(channel.flowId)).toBeUndefined();
    const lost = await new Promise<TransportError>((resolve) => channel.send(createResponseTo(gw.requests[0]!.request, 200), resolve));
    expect(lost.code).toBe('SIP_TRANSPORT_CLOSED');
  });

  it('rebuilds a UDP channel from its flow id', async () => {
    const gw = await layer();
    const peer = await udpPeer();
    const channel = await gw.tl.channelFor({ protocol: 'UDP', host: '127.0.0.1', port: peer.port });
    const again = gw.tl.flow(channel.flowId)!;
    expect(again.remote).toEqual(channel.remote);
    expect(again.local).toEqual(channel.local);
  });
});

describe('lifecycle', () => {
  it('close() is idempotent, closes connections and refuses channelFor afterwards', async () => {
    const gw = await layer();
    const tcp = await tcpPeer(gw.port('TCP'));
    await expect.poll(() => gw.tl.counters.connectionsOpen.TCP).toBe(1);
    await Promise.all([gw.tl.close(), gw.tl.close()]);
    await expect.poll(() => tcp.closed).toBe(true);
    expect(gw.tl.counters.connectionsOpen.TCP).toBe(0);
    await expect(gw.tl.channelFor({ protocol: 'UDP', host: '127.0.0.1', port: 5060 })).rejects.toMatchObject({ code: 'SIP_TRANSPORT_CLOSED' });
  });

  it('fails start() cleanly when a port is taken, releasing what it bound', async () => {
    const first = await layer();
    const taken = first.port('TCP');
    const second = new TransportLayer(
      { listeners: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }, { protocol: 'TCP', host: '127.0.0.1', port: taken }] },
      { request: () => {}, response: () => {} },
    );
    await expect(second.start()).rejects.toMatchObject({ code: 'SIP_TRANSPORT_BIND' });
  });
});
