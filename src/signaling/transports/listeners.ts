/**
 * Opening and closing one listener of any protocol: a UDP socket, a TCP/TLS server, or an HTTP(S) server that
 * carries WS/WSS. The transport layer owns the result; what arrives on it goes to the given callbacks.
 */
import { isIP } from 'node:net';
import type net from 'node:net';
import type http from 'node:http';
import type WebSocket from 'ws';
import { HttpServer } from '../http-server.ts';
import type { TokenIdentity } from '../auth/token.ts';
import type { ConnectionLimiter } from '../../security/connection-limiter.ts';
import { TransportError, type Endpoint } from '../transport.ts';
import { UdpTransport } from './udp.ts';
import { StreamListener } from './tcp.ts';
import type { SentBy } from './channels.ts';
import { sentByFor, type HttpConfig, type ListenerConfig } from './config.ts';
import { logger } from '../../log.ts';

export interface UdpListener {
  protocol: 'UDP';
  family: 4 | 6;
  udp: UdpTransport;
  local: Endpoint;
  sentBy: SentBy;
  /** `advertisedHost` was configured: sentBy is what peers reach, whatever address is bound. */
  advertised: boolean;
}

export interface StreamListenerEntry {
  protocol: 'TCP' | 'TLS';
  family: 4 | 6;
  stream: StreamListener;
  local: Endpoint;
  sentBy: SentBy;
  /** `advertisedHost` was configured: sentBy is what peers reach, whatever address is bound. */
  advertised: boolean;
}

export interface WebSocketListener {
  protocol: 'WS' | 'WSS';
  family: 4 | 6;
  http: HttpServer;
  local: Endpoint;
  sentBy: SentBy;
  /** `advertisedHost` was configured: sentBy is what peers reach, whatever address is bound. */
  advertised: boolean;
}

export type Listener = UdpListener | StreamListenerEntry | WebSocketListener;

export interface ListenerCallbacks {
  datagram(listener: UdpListener, data: Buffer, remote: Endpoint): void;
  socket(protocol: 'TCP' | 'TLS', socket: net.Socket): void;
  webSocket(protocol: 'WS' | 'WSS', ws: WebSocket, request: http.IncomingMessage, identity: TokenIdentity | undefined): void;
}

/** What every listener that accepts connections shares: the per-address count and the banned-source check. */
export interface AcceptPolicy {
  connectionLimiter?: ConnectionLimiter;
  allowConnection?: (address: string) => boolean;
}

/**
 * Binds one listener. `http` is given for the HTTP server of `public/` (its static-file settings); a WS/WSS
 * entry in `listeners` gets a bare server that only upgrades. On failure nothing stays open.
 */
export async function openListener(
  config: ListenerConfig,
  http: HttpConfig | undefined,
  maxMessageSize: number,
  callbacks: ListenerCallbacks,
  accept: AcceptPolicy = {},
): Promise<Listener> {
  const family: 4 | 6 = isIP(config.host) === 6 ? 6 : 4;
  if (config.protocol === 'UDP') {
    let bound: UdpListener | undefined;
    const udp = new UdpTransport({
      host: config.host,
      port: config.port,
      receiveBufferSize: config.receiveBufferSize,
      sendBufferSize: config.sendBufferSize,
    }, {
      datagram: (data, remote) => {
        if (bound) callbacks.datagram(bound, data, remote);
      },
    });
    const local = await udp.listen().catch(async (error: unknown) => {
      await udp.close();
      throw error;
    });
    bound = { protocol: 'UDP', family, udp, local, sentBy: sentByFor(config, local), advertised: config.advertisedHost !== undefined };
    return bound;
  }
  if (config.protocol === 'TCP' || config.protocol === 'TLS') {
    const protocol = config.protocol;
    const stream = new StreamListener(
      { protocol, host: config.host, port: config.port, tls: config.tls },
      (socket) => callbacks.socket(protocol, socket),
      (error) => logger.debug({ err: error }, 'tls handshake failed'),
    );
    const local = await stream.listen();
    return { protocol, family, stream, local, sentBy: sentByFor(config, local), advertised: config.advertisedHost !== undefined };
  }
  const protocol = config.protocol;
  if (protocol === 'WSS' && !config.tls) {
    throw new TransportError('a WSS listener needs a certificate and key', { code: 'SIP_TRANSPORT_CONFIG' });
  }
  const server = new HttpServer(
    {
      host: config.host,
      port: config.port,
      tls: protocol === 'WSS' ? config.tls : undefined,
      wsPath: config.wsPath ?? '/sip',
      publicDir: http?.publicDir,
      allowedOrigins: http?.allowedOrigins,
      advertisedHost: config.advertisedHost,
      advertisedPort: config.advertisedPort,
      maxPayload: maxMessageSize,
      connectionLimiter: accept.connectionLimiter,
      allowConnection: accept.allowConnection,
      authorizeUpgrade: http?.authorizeUpgrade,
      routes: http?.routes,
    },
    (ws, request, identity) => callbacks.webSocket(protocol, ws, request, identity),
  );
  const local = await server.listen();
  return { protocol, family, http: server, local, sentBy: sentByFor(config, local), advertised: config.advertisedHost !== undefined };
}

/** Stops accepting (connections already accepted are closed by their owner). */
export function closeListener(listener: Listener): Promise<void> {
  if (listener.protocol === 'UDP') return listener.udp.close();
  if ('stream' in listener) return listener.stream.close();
  return listener.http.close();
}
