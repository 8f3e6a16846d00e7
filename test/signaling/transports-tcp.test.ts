import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { StreamConnection, StreamListener, connectStream } from '../../src/signaling/transports/tcp.ts';
import type { CloseReason, Connection, ConnectionHandlers } from '../../src/signaling/transports/connection.ts';
import type { TransportError } from '../../src/signaling/transport.ts';
import { hasIPv6Loopback, testCert } from './helpers/tls.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const MSG = 'OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nCall-ID: a\r\nContent-Length: 5\r\n\r\nhello';

/** A recorder for one connection's events, with a promise per awaited event. */
function recorder() {
  const messages: string[] = [];
  const closed: Array<{ reason: CloseReason; error?: Error }> = [];
  let keepAlives = 0;
  let wake: (() => void) | undefined;
  const handlers: ConnectionHandlers = {
    message: (_c, data) => {
      messages.push(data.toString());
      wake?.();
    },
    closed: (_c, reason, error) => {
      closed.push({ reason, error });
      wake?.();
    },
    keepAlive: () => keepAlives++,
  };
  const until = async (cond: () => boolean): Promise<void> => {
    while (!cond()) await new Promise<void>((resolve) => (wake = resolve));
  };
  return { handlers, messages, closed, until, keepAlives: () => keepAlives };
}

const options = { maxMessageSize: 1024, idleTimeoutMs: 0, maxWriteBuffer: 1 << 20 };

async function server(protocol: 'TCP' | 'TLS', host: string, opts = options) {
  const rec = recorder();
  const accepted: Connection[] = [];
  let n = 0;
  const listener = new StreamListener(
    { protocol, host, port: 0, tls: protocol === 'TLS' ? testCert() : undefined },
    (socket) => {
      const conn = new StreamConnection(socket, {
        id: `in-${++n}`, protocol, direction: 'inbound', remote: { address: socket.remoteAddress!, port: socket.remotePort! },
      }, rec.handlers, opts);
      accepted.push(conn);
      cleanup.push(() => conn.close());
    },
  );
  const local = await listener.listen();
  cleanup.push(() => listener.close());
  return { listener, local, rec, accepted };
}

describe.each([
  ['TCP', '127.0.0.1'],
  ['TCP', '::1'],
  ['TLS', '127.0.0.1'],
  ['TLS', '::1'],
] as const)('%s on %s', (protocol, host) => {
  it.skipIf(host === '::1' && !hasIPv6Loopback())('carries framed messages both ways through StreamConnection', async () => {
    const srv = await server(protocol, host);
    const client = recorder();
    const socket = connectStream(protocol, { address: host, port: srv.local.port }, {
      connectTimeoutMs: 5000,
      tls: { ca: testCert().cert },
    });
    const outbound = new StreamConnection(socket, { id: 'out-1', protocol, direction: 'outbound', remote: { address: host, port: srv.local.port } }, client.handlers, options);
    cleanup.push(() => outbound.close());
    expect(outbound.state).toBe('connecting');
    // Written before the connection is up: queued, then delivered.
    outbound.write(Buffer.from(MSG.slice(0, 20)));
    outbound.write(Buffer.from(MSG.slice(20) + MSG));
    await srv.rec.until(() => srv.rec.messages.length === 2);
    expect(srv.rec.messages).toEqual([MSG, MSG]);
    expect(outbound.state).toBe('open');
    expect(outbound.local?.address).toBe(host);

    srv.accepted[0]!.write(Buffer.from(MSG));
    await client.until(() => client.messages.length === 1);
    expect(client.messages).toEqual([MSG]);
  });
});

describe('StreamConnection', () => {
  it('answers a CRLFCRLF ping with a single CRLF pong (RFC 5626 §3.5.1)', async () => {
    const srv = await server('TCP', '127.0.0.1');
    const raw = net.connect(srv.local.port, '127.0.0.1');
    cleanup.push(() => raw.destroy());
    await once(raw, 'connect');
    raw.write('\r\n\r\n');
    const [pong] = (await once(raw, 'data')) as [Buffer];
    expect(pong.toString()).toBe('\r\n');
    await srv.rec.until(() => srv.rec.keepAlives() === 1);
  });

  it('closes an over-size stream without sending anything back', async () => {
    const srv = await server('TCP', '127.0.0.1');
    const raw = net.connect(srv.local.port, '127.0.0.1');
    cleanup.push(() => raw.destroy());
    const received: Buffer[] = [];
    raw.on('data', (d: Buffer) => received.push(d));
    raw.on('error', () => {});
    await once(raw, 'connect');
    raw.write(`MESSAGE sip:x SIP/2.0\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(100)}`);
    await once(raw, 'close');
    expect(Buffer.concat(received).length).toBe(0);
    await srv.rec.until(() => srv.rec.closed.length === 1);
    expect(srv.rec.closed[0]!.reason).toBe('framing');
    expect(srv.rec.closed[0]!.error).toMatchObject({ code: 'SIP_FRAMING_TOO_LARGE' });
  });

  it('closes a stream whose message has no Content-Length', async () => {
    const srv = await server('TCP', '127.0.0.1');
    const raw = net.connect(srv.local.port, '127.0.0.1');
    cleanup.push(() => raw.destroy());
    raw.on('error', () => {});
    await once(raw, 'connect');
    raw.write('OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n');
    await once(raw, 'close');
    await srv.rec.until(() => srv.rec.closed.length === 1);
    expect(srv.rec.closed[0]!.error).toMatchObject({ code: 'SIP_FRAMING_NO_CONTENT_LENGTH' });
  });

  it('closes an idle connection after the idle timeout', async () => {
    const srv = await server('TCP', '127.0.0.1', { ...options, idleTimeoutMs: 150 });
    const raw = net.connect(srv.local.port, '127.0.0.1');
    cleanup.push(() => raw.destroy());
    await once(raw, 'connect');
    const started = Date.now();
    await once(raw, 'close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    await srv.rec.until(() => srv.rec.closed.length === 1);
    expect(srv.rec.closed[0]!.reason).toBe('idle');
  });

  it('reports a refused connection to every pending write, once', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const rec = recorder();
    const socket = connectStream('TCP', { address: '127.0.0.1', port }, { connectTimeoutMs: 5000 });
    const conn = new StreamConnection(socket, { id: 'o', protocol: 'TCP', direction: 'outbound', remote: { address: '127.0.0.1', port } }, rec.handlers, options);
    const errors: TransportError[] = [];
    conn.write(Buffer.from(MSG), (e) => errors.push(e));
    conn.write(Buffer.from(MSG), (e) => errors.push(e));
    await rec.until(() => rec.closed.length === 1);
    expect(rec.closed[0]!.reason).toBe('error');
    expect(errors).toHaveLength(2);
    expect(errors[0]!.message).toMatch(/ECONNREFUSED/);
    const late: TransportError[] = [];
    conn.write(Buffer.from(MSG), (e) => late.push(e));
    expect(late.map((e) => e.code)).toEqual(['SIP_TRANSPORT_CLOSED']);
  });
});

describe('TLS client verification', () => {
  it('rejects a self-signed server certificate by default', async () => {
    const srv = await server('TLS', '127.0.0.1');
    const rec = recorder();
    const socket = connectStream('TLS', { address: '127.0.0.1', port: srv.local.port }, { connectTimeoutMs: 5000 });
    const conn = new StreamConnection(socket, { id: 'o', protocol: 'TLS', direction: 'outbound', remote: { address: '127.0.0.1', port: srv.local.port } }, rec.handlers, options);
    const errors: TransportError[] = [];
    conn.write(Buffer.from(MSG), (e) => errors.push(e));
    await rec.until(() => rec.closed.length === 1);
    expect(errors[0]!.message).toMatch(/self[- ]signed/i);
    expect(srv.rec.messages).toEqual([]);
  });

  it('checks the certificate against servername, not the address', async () => {
    const srv = await server('TLS', '127.0.0.1');
    const ok = connectStream('TLS', { address: '127.0.0.1', port: srv.local.port }, {
      connectTimeoutMs: 5000, servername: 'localhost', tls: { ca: testCert().cert },
    }) as tls.TLSSocket;
    cleanup.push(() => ok.destroy());
    await once(ok, 'secureConnect');
    expect(ok.authorized).toBe(true);

    const wrong = connectStream('TLS', { address: '127.0.0.1', port: srv.local.port }, {
      connectTimeoutMs: 5000, servername: 'sip.example.com', tls: { ca: testCert().cert },
    });
    cleanup.push(() => wrong.destroy());
    const [error] = (await once(wrong, 'error')) as [Error & { code?: string }];
    expect(error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});
