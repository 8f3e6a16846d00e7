/**
 * Outbound TLS connection reuse (transports/flow-reuse.ts): a connection opened without certificate verification
 * for a `tlsVerify: false` peer never carries a request for a target that wants verification, even at the same
 * address and port; a verified one serves both. Real TLS on loopback with a self-signed certificate.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { TransportLayer } from '../../src/signaling/transport-layer.ts';
import { createRequest, type SipRequest } from '../../src/signaling/message.ts';
import type { Channel, TransportError } from '../../src/signaling/transport.ts';
import { newBranch } from '../../src/signaling/transaction/branch.ts';
import { canCarry } from '../../src/signaling/transports/flow-reuse.ts';
import { testCert } from './helpers/tls.ts';

const layers: TransportLayer[] = [];
afterEach(async () => {
  await Promise.all(layers.splice(0).map((l) => l.close()));
});

async function tlsServer(): Promise<{ port: number; received: SipRequest[] }> {
  const received: SipRequest[] = [];
  const server = new TransportLayer(
    { listeners: [{ protocol: 'TLS', host: '127.0.0.1', port: 0, tls: testCert() }] },
    { request: (request) => received.push(request), response: () => {} },
  );
  layers.push(server);
  const [bound] = await server.start();
  return { port: bound!.local.port, received };
}

async function client(ca?: string): Promise<TransportLayer> {
  const layer = new TransportLayer(
    { listeners: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }], connectTimeoutMs: 3000, ...(ca === undefined ? {} : { tlsClient: { ca } }) },
    { request: () => {}, response: () => {} },
  );
  layers.push(layer);
  await layer.start();
  return layer;
}

function options(channel: Channel): SipRequest {
  return createRequest('OPTIONS', 'sip:trunk@127.0.0.1', [
    ['Via', channel.via(newBranch())],
    ['Max-Forwards', '70'],
    ['From', '<sip:gw@127.0.0.1>;tag=reuse'],
    ['To', '<sip:trunk@127.0.0.1>'],
    ['Call-ID', `reuse-${newBranch()}`],
    ['CSeq', '1 OPTIONS'],
  ]);
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('TLS connection reuse honours tlsVerify', () => {
  it('an unverified connection (tlsVerify: false) is not reused for a target that verifies', async () => {
    const server = await tlsServer();
    const gw = await client();
    const unverified = await gw.channelFor({ protocol: 'TLS', host: '127.0.0.1', port: server.port, tlsVerify: false });
    unverified.send(options(unverified));
    await until(() => server.received.length === 1);

    // Same address and port, verification wanted: a new connection, whose handshake fails (self-signed).
    const verified = await gw.channelFor({ protocol: 'TLS', host: '127.0.0.1', port: server.port });
    expect(verified.flowId).not.toBe(unverified.flowId);
    const failure = await new Promise<TransportError>((resolve) => verified.send(options(verified), resolve));
    expect(failure).toBeInstanceOf(Error);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.received).toHaveLength(1);

    // Another tlsVerify: false request still rides the first connection.
    const again = await gw.channelFor({ protocol: 'TLS', host: '127.0.0.1', port: server.port, tlsVerify: false });
    expect(again).toBe(unverified);
    again.send(options(again));
    await until(() => server.received.length === 2);
  });

  it('a verified connection serves a tlsVerify: false target at the same endpoint too', async () => {
    const server = await tlsServer();
    const gw = await client(testCert().cert);
    const verified = await gw.channelFor({ protocol: 'TLS', host: '127.0.0.1', port: server.port });
    verified.send(options(verified));
    await until(() => server.received.length === 1);
    const relaxed = await gw.channelFor({ protocol: 'TLS', host: '127.0.0.1', port: server.port, tlsVerify: false });
    expect(relaxed).toBe(verified);
  });
});

describe('canCarry', () => {
  it('matches server name and verification', () => {
    const byName = { servername: 'trunk.example', verify: true };
    expect(canCarry(byName, { servername: 'TRUNK.example', verify: true })).toBe(true);
    expect(canCarry(byName, { servername: 'other.example', verify: true })).toBe(false); // another certificate name
    expect(canCarry(byName, { servername: undefined, verify: true })).toBe(true); // the same endpoint, authenticated
    expect(canCarry({ servername: undefined, verify: true }, byName)).toBe(false); // checked for the IP, not the name
    expect(canCarry({ servername: 'trunk.example', verify: false }, byName)).toBe(false);
    expect(canCarry({ servername: 'trunk.example', verify: false }, { servername: 'x', verify: false })).toBe(true);
    expect(canCarry(undefined, byName)).toBe(true); // a flow the peer opened to us (documented limit)
  });
});
