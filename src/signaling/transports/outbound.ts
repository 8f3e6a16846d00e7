/**
 * Opening a connection we initiate (TCP, TLS, WS, WSS client) with the transport layer's settings. The caller
 * registers it in the flow table; the connection reports through `handlers` like an accepted one.
 */
import type { Endpoint } from '../transport.ts';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../framing.ts';
import { StreamConnection, connectStream } from './tcp.ts';
import { WsConnection, connectWebSocket } from './ws.ts';
import type { Connection, ConnectionHandlers, StreamProtocol } from './connection.ts';
import type { TransportLayerOptions } from './config.ts';
import { logger } from '../../log.ts';

const log = logger.child({ module: 'transport' });

export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_WS_HEARTBEAT_MS = 30_000;
export const DEFAULT_MAX_WRITE_BUFFER = 1024 * 1024;

type TlsStage = 'tcp-connect' | 'tls-handshake' | 'established';

const TLS_FAILURE: Readonly<Record<TlsStage, string>> = {
  'tcp-connect': 'TLS peer unreachable: TCP connect failed',
  'tls-handshake': 'TLS handshake failed',
  established: 'TLS connection failed after the handshake',
};

export function openOutboundConnection(
  protocol: StreamProtocol,
  id: string,
  remote: Endpoint,
  target: { servername: string | undefined; path: string | undefined; tlsVerify?: boolean | undefined },
  options: TransportLayerOptions,
  handlers: ConnectionHandlers,
): Connection {
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const maxWriteBuffer = options.maxWriteBuffer ?? DEFAULT_MAX_WRITE_BUFFER;
  const maxMessageSize = options.limits?.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  // A peer configured with tlsVerify: false (a trunk's self-signed certificate) is not verified; everything else is.
  const tlsClient = target.tlsVerify === false ? { ...options.tlsClient, rejectUnauthorized: false } : options.tlsClient;
  if (protocol === 'TCP' || protocol === 'TLS') {
    const socket = connectStream(protocol, remote, { servername: target.servername, tls: tlsClient, connectTimeoutMs });
    if (protocol === 'TLS') {
      // Why a trunk's calls fail with 503 must be in the log, and which step failed: the TCP connect (refused,
      // unreachable, timed out), the TLS handshake (a certificate not verified, a name that does not match), or
      // the connection once up (reset).
      let stage: TlsStage = 'tcp-connect';
      socket.once('connect', () => (stage = 'tls-handshake'));
      socket.once('secureConnect', () => (stage = 'established'));
      socket.once('error', (err: NodeJS.ErrnoException) => {
        log.warn({ err, code: err.code, stage, remote, servername: target.servername, verify: tlsClient?.rejectUnauthorized ?? true }, TLS_FAILURE[stage]);
      });
    }
    return new StreamConnection(socket, { id, protocol, direction: 'outbound', remote }, handlers, {
      maxMessageSize,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      maxWriteBuffer,
    });
  }
  const ws = connectWebSocket(protocol, remote, target.path ?? '/', {
    maxPayload: maxMessageSize,
    connectTimeoutMs,
    servername: target.servername,
    ca: options.tlsClient?.ca,
    rejectUnauthorized: tlsClient?.rejectUnauthorized,
  });
  return new WsConnection(ws, { id, protocol, direction: 'outbound', remote }, handlers, {
    heartbeatMs: options.wsHeartbeatMs ?? DEFAULT_WS_HEARTBEAT_MS,
    maxWriteBuffer,
  });
}
