import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { UdpTransport, MAX_UDP_PAYLOAD } from '../../src/signaling/transports/udp.ts';
import type { Endpoint, TransportError } from '../../src/signaling/transport.ts';
import { hasIPv6Loopback } from './helpers/tls.ts';

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

function listen(host: string) {
  const received: Array<{ data: string; remote: Endpoint }> = [];
  const waiters: Array<() => void> = [];
  const transport = new UdpTransport({ host, port: 0 }, {
    datagram: (data, remote) => {
      received.push({ data: data.toString(), remote });
      waiters.shift()?.();
    },
  });
  open.push(transport);
  const next = () => new Promise<void>((resolve) => waiters.push(resolve));
  return { transport, received, next };
}

describe.each([
  ['IPv4', '127.0.0.1', 'udp4'],
  ['IPv6', '::1', 'udp6'],
] as const)('UdpTransport over %s', (_name, host, type) => {
  it.skipIf(type === 'udp6' && !hasIPv6Loopback())('receives datagrams with the source endpoint and answers from its own port', async () => {
    const server = listen(host);
    const local = await server.transport.listen();
    expect(local.address).toBe(host);
    expect(local.port).toBeGreaterThan(0);
    expect(server.transport.family).toBe(type === 'udp6' ? 6 : 4);

    const client = dgram.createSocket(type);
    open.push({ close: () => client.close() });
    await new Promise<void>((resolve) => client.bind(0, host, resolve));
    const got = server.next();
    client.send('OPTIONS sip:x SIP/2.0\r\n\r\n', local.port, host);
    await got;
    expect(server.received[0]!.data).toBe('OPTIONS sip:x SIP/2.0\r\n\r\n');
    expect(server.received[0]!.remote).toEqual({ address: host, port: client.address().port });

    const reply = once(client, 'message');
    server.transport.send(Buffer.from('SIP/2.0 200 OK\r\n\r\n'), server.received[0]!.remote);
    const [data, rinfo] = (await reply) as [Buffer, dgram.RemoteInfo];
    expect(data.toString()).toBe('SIP/2.0 200 OK\r\n\r\n');
    expect(rinfo.port).toBe(local.port);
  });
});

describe('UdpTransport errors', () => {
  it('reports a datagram too large for UDP through onError without throwing', async () => {
    const server = listen('127.0.0.1');
    await server.transport.listen();
    const errors: TransportError[] = [];
    server.transport.send(Buffer.alloc(MAX_UDP_PAYLOAD + 1), { address: '127.0.0.1', port: 9 }, (e) => errors.push(e));
    expect(errors.map((e) => e.code)).toEqual(['SIP_TRANSPORT_TOO_LARGE']);
  });

  it('reports an invalid destination through onError', async () => {
    const server = listen('127.0.0.1');
    await server.transport.listen();
    const error = await new Promise<TransportError>((resolve) => {
      server.transport.send(Buffer.from('x'), { address: '127.0.0.1', port: 0 }, resolve);
    });
    expect(error.code).toBe('SIP_TRANSPORT');
  });

  it('refuses to bind a port already in use', async () => {
    const a = listen('127.0.0.1');
    const local = await a.transport.listen();
    const b = new UdpTransport({ host: '127.0.0.1', port: local.port }, { datagram: () => {} });
    open.push(b);
    await expect(b.listen()).rejects.toMatchObject({ code: 'SIP_TRANSPORT_BIND' });
  });

  it('fails sends after close, and close is idempotent', async () => {
    const server = listen('127.0.0.1');
    await server.transport.listen();
    await server.transport.close();
    await server.transport.close();
    const errors: TransportError[] = [];
    server.transport.send(Buffer.from('x'), { address: '127.0.0.1', port: 5060 }, (e) => errors.push(e));
    expect(errors.map((e) => e.code)).toEqual(['SIP_TRANSPORT_CLOSED']);
  });
});

describe('UdpTransport buffer sizes', () => {
  // Linux stores twice the value set and caps it at net.core.rmem_max / wmem_max.
  const sysctl = (name: string): number | undefined => {
    try {
      return Number(readFileSync(`/proc/sys/net/core/${name}`, 'utf8'));
    } catch {
      return undefined;
    }
  };

  it('sets the receive and send buffers it is given, so a burst is not dropped by the kernel', async () => {
    const sized = new UdpTransport({ host: '127.0.0.1', port: 0, receiveBufferSize: 131072, sendBufferSize: 131072 }, { datagram: () => {} });
    open.push(sized);
    await sized.listen();
    expect(sized.bufferSizes.receive).toBeGreaterThanOrEqual(131072);
    expect(sized.bufferSizes.send).toBeGreaterThanOrEqual(131072);
  });

  it.skipIf(sysctl('rmem_max') === undefined)('reports what the kernel granted when the sysctl caps the receive buffer', async () => {
    const max = sysctl('rmem_max')!;
    const asked = max * 4;
    const transport = new UdpTransport({ host: '127.0.0.1', port: 0, receiveBufferSize: asked }, { datagram: () => {} });
    open.push(transport);
    await transport.listen();
    const effective = transport.bufferSizes.receive;
    expect(effective).toBeLessThan(asked);
    expect(effective).toBeLessThanOrEqual(2 * max);
  });

  it('still binds when asked for an impossible buffer size', async () => {
    const transport = new UdpTransport({ host: '127.0.0.1', port: 0, receiveBufferSize: -1 }, { datagram: () => {} });
    open.push(transport);
    const local = await transport.listen();
    expect(local.port).toBeGreaterThan(0);
  });
});
