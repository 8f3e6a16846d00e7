/**
 * What the transport layer needs of a connection-oriented flow, whatever carries it (a TCP or TLS socket with
 * RFC 3261 §18.3 framing, or a WebSocket with one message per frame, RFC 7118 §5). The transport layer keeps
 * these in its flow table; each connection belongs to exactly one transport layer, which closes it.
 */
import type { Endpoint, TransportError } from '../transport.ts';

export type StreamProtocol = 'TCP' | 'TLS' | 'WS' | 'WSS';

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface Connection {
  /** Unique for the life of the process (`tcp-12`, `wss-3`): the flow id the registrar stores. */
  readonly id: string;
  readonly protocol: StreamProtocol;
  /** Whether we opened it (a request we sent) or accepted it. */
  readonly direction: 'outbound' | 'inbound';
  readonly state: ConnectionState;
  /** Our end; until an outbound connection is established, the address it will be made from is not known. */
  readonly local: Endpoint | undefined;
  readonly remote: Endpoint;
  /** Queues one framed message. Never throws; a failure reaches onError once. */
  write(data: Buffer, onError?: (error: TransportError) => void): void;
  /** Graceful close: flush what was written, then close. Idempotent. */
  close(): void;
  /** Keeps the connection from its idle timeout until the returned release is called (WS/WSS only). */
  hold?(): () => void;
}

export interface ConnectionHandlers {
  /** One complete SIP message (framed by Content-Length, or one WebSocket message). */
  message(connection: Connection, data: Buffer): void;
  /** The connection was established (outbound) — fired once. Inbound connections are open when handed over. */
  open?(connection: Connection): void;
  /**
   * The connection is gone. `reason` says why: 'framing' (unframeable or over-size input, closed without a reply),
   * 'idle', 'error', 'remote' (the peer closed), 'local' (we closed).
   */
  closed(connection: Connection, reason: CloseReason, error?: Error): void;
  /** An RFC 5626 keep-alive ping was answered with a pong. */
  keepAlive?(connection: Connection): void;
}

export type CloseReason = 'framing' | 'idle' | 'error' | 'remote' | 'local';

/** `[::1]:5060` / `127.0.0.1:5060`, for keys, ids and logs. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.address.includes(':') ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
}

/** Node reports IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) on dual-stack sockets; SIP wants the IPv4 form. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
