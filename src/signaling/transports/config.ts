/**
 * Configuration, results and counters of the transport layer: what a deployment writes in its config file and
 * what tests and benchmarks read back.
 */
import { isIP } from 'node:net';
import type { SipRequest, SipResponse } from '../message.ts';
import type { HttpRoute, UpgradeAuthorizer } from '../http-server.ts';
import type { TransportGuard } from './guard.ts';

export type { TransportGuard } from './guard.ts';
import type { Channel, Endpoint, TransportProtocol } from '../transport.ts';
import type { TlsClientOptions } from './tcp.ts';
import type { SentBy } from './channels.ts';
import type { CloseReason, StreamProtocol } from './connection.ts';
import { logger } from '../../log.ts';

export interface ListenerConfig {
  protocol: TransportProtocol;
  /** An IP literal to bind (`127.0.0.1`, `::1`, `0.0.0.0`). */
  host: string;
  /** 0 binds an ephemeral port; `listeners` tells which. */
  port: number;
  /** TLS and WSS: the server certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** What Via sent-by says for this listener, when the bound address is not what peers reach (0.0.0.0, NAT). */
  advertisedHost?: string;
  advertisedPort?: number;
  /** WS/WSS: the upgrade path. Default `/sip`. */
  wsPath?: string;
  /** UDP: SO_RCVBUF / SO_SNDBUF in bytes (see UdpListenOptions); the kernel default when absent. */
  receiveBufferSize?: number;
  sendBufferSize?: number;
}

/** The HTTP(S) server that serves `public/` and carries WS (or WSS, with `tls`) at `wsPath`. */
export interface HttpConfig {
  host: string;
  port: number;
  publicDir?: string;
  tls?: { cert: string | Buffer; key: string | Buffer };
  wsPath?: string;
  /**
   * Origins allowed to open the SIP WebSocket besides the server's own (`http(s)://host:port`, the advertised
   * host, and the loopback spellings when bound to loopback); `*` allows any origin (unsafe: any web page can
   * then drive the gateway through a visitor's browser). Upgrades without an Origin (non-browser clients) pass.
   */
  allowedOrigins?: readonly string[];
  advertisedHost?: string;
  advertisedPort?: number;
  /** Hook run on every WebSocket upgrade that passed the path/Origin/subprotocol checks (e.g. `?token=`). */
  authorizeUpgrade?: UpgradeAuthorizer;
  /** Extra HTTP endpoints (`POST /api/token`). */
  routes?: readonly HttpRoute[];
}


export interface TransportLimits {
  /** Start line + headers + body; over it: 513 on UDP, the stream closed on TCP/TLS, 1009 on WS. Default 64 KiB. */
  maxMessageSize?: number;
  /** Header fields per message, passed to the parser. */
  maxHeaders?: number;
  /** Concurrent inbound TCP/TLS/WS/WSS connections per source address (IPv6: per /64). Default 32. */
  maxConnectionsPerAddress?: number;
}

export interface TransportLayerOptions {
  listeners: readonly ListenerConfig[];
  http?: HttpConfig;
  limits?: TransportLimits;
  /** TCP/TLS: close after this long without traffic in either direction. Default 120 000 ms; 0 disables. */
  idleTimeoutMs?: number;
  /**
   * Inbound WS/WSS: close after this long without a SIP message, unless the flow is held (`holdFlow`: it carries
   * a registration or a dialog). Default 120 000 ms; 0 disables.
   */
  wsIdleTimeoutMs?: number;
  /** Flood and brute-force defences consulted before parsing (see TransportGuard). Default none. */
  guard?: TransportGuard;
  /** Outbound TCP/TLS/WS connect (and TLS/WS handshake) timeout. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** WS/WSS: WebSocket ping interval for dead-peer detection. Default 30 000 ms; 0 disables. */
  wsHeartbeatMs?: number;
  /** Per connection; a peer that lets more pile up is disconnected. Default 1 MiB. */
  maxWriteBuffer?: number;
  /** Outbound TLS/WSS: trust anchors and verification (on by default). */
  tlsClient?: TlsClientOptions;
  /** Server header on the responses the transport layer itself sends (to malformed requests). */
  userAgent?: string;
}

export interface TransportHandlers {
  /** A parsed request with its top Via stamped; `channel` is where its responses go (§18.2.2). */
  request(request: SipRequest, channel: Channel): void;
  /** A parsed response; §18.1.2 matching is the transaction layer's. */
  response(response: SipResponse, channel: Channel): void;
  /** A connection-oriented flow closed (the registrar drops bindings on it, RFC 5626 §5.3 spirit). */
  flowClosed?(flowId: string, reason: CloseReason): void;
}

/** Where a request should go: protocol, host (name or IP literal, IPv6 with or without brackets) and port. */
export interface ChannelTarget {
  protocol: TransportProtocol;
  host: string;
  /** Default: 5060 (UDP/TCP), 5061 (TLS), 80 (WS), 443 (WSS). */
  port?: number;
  /** WS/WSS client: the request path. Default `/`. */
  path?: string;
  /**
   * TLS/WSS: verify the peer's certificate (default true, and the transport's `tlsClient.rejectUnauthorized`).
   * False only for a peer configured so (a trunk's `tlsVerify: false`): the connection is still encrypted.
   */
  tlsVerify?: boolean;
}

export interface BoundListener {
  protocol: TransportProtocol;
  /** What was bound (the port is the real one when 0 was asked). */
  local: Endpoint;
  /** What Via sent-by says (IPv6 in brackets). */
  sentBy: SentBy;
  /** `advertisedHost` was configured (NAT, a name): sentBy is where peers reach us, whatever `local` is. */
  advertised: boolean;
}

export interface TransportCounters {
  messagesIn: Record<TransportProtocol, number>;
  messagesOut: Record<TransportProtocol, number>;
  /** Messages the parser rejected (answered or not). */
  parseErrors: number;
  /** Input discarded without an answer: unanswerable parse failures, requests without a readable Via, framing errors. */
  dropped: number;
  /** 4xx/5xx the transport layer sent to malformed requests. */
  badInputResponses: number;
  /** CRLF keep-alives seen (pings answered on streams; CRLF datagrams on UDP). */
  keepAlives: number;
  /** Streams closed because they could not be framed (no Content-Length, over-size, WS 1009). */
  framingErrors: number;
  connectionsOpen: Record<StreamProtocol, number>;
  connectionsAccepted: number;
  connectionsOpened: number;
  /** Exceptions thrown by the handlers above the transport layer (caught and logged). */
  handlerErrors: number;
  /** Datagrams, stream messages and requests the guard dropped (banned sources, over-rate sources). */
  guardDropped: number;
  /** Inbound connections refused: banned source, or over the per-address limit. */
  connectionsRefused: number;
}

export function newTransportCounters(): TransportCounters {
  const perProtocol = (): Record<TransportProtocol, number> => ({ UDP: 0, TCP: 0, TLS: 0, WS: 0, WSS: 0 });
  return {
    messagesIn: perProtocol(),
    messagesOut: perProtocol(),
    parseErrors: 0,
    dropped: 0,
    badInputResponses: 0,
    keepAlives: 0,
    framingErrors: 0,
    connectionsOpen: { TCP: 0, TLS: 0, WS: 0, WSS: 0 },
    connectionsAccepted: 0,
    connectionsOpened: 0,
    handlerErrors: 0,
    guardDropped: 0,
    connectionsRefused: 0,
  };
}

/** The listener's Via sent-by: advertised, else the bound address; a wildcard bind needs `advertisedHost`. */
export function sentByFor(config: ListenerConfig, local: Endpoint): SentBy {
  let host = config.advertisedHost ?? local.address;
  if (config.advertisedHost === undefined && (host === '0.0.0.0' || host === '::')) {
    logger.warn({ protocol: config.protocol, local }, 'listener bound to a wildcard address without advertisedHost; Via will say loopback');
    host = host === '::' ? '::1' : '127.0.0.1';
  }
  if (isIP(host) === 6) host = `[${host}]`;
  return { host, port: config.advertisedPort ?? local.port };
}
