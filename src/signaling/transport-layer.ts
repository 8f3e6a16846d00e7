/**
 * The SIP transport layer (RFC 3261 §18): owns every listener (UDP, TCP, TLS, and WS/WSS through the HTTP
 * server) and every connection, keeps the flow table, and runs the receive path up to the transaction layer.
 *
 * The receive path is the security boundary: input from the network never throws out of here. A datagram or a
 * framed message is parsed; a parse failure is answered (400 naming the fault, 505, 513) only when the request's
 * Via, From, To, Call-ID and CSeq could be read, and otherwise dropped and counted. Every request gets its top
 * Via stamped (§18.2.1 `received`, RFC 3581 `rport`) before the transaction layer sees it, and is handed up with
 * the Channel its responses must take (§18.2.2).
 *
 * An optional guard (TransportGuard, src/security/sip-guard.ts) sees every datagram, stream message and accepted
 * connection before parsing, so that a banned or flooding source costs a map lookup: its datagrams are dropped
 * and counted, its connections refused, its open streams closed when it is banned. Parse failures are reported
 * to it. Inbound connections are also capped per source address (`limits.maxConnectionsPerAddress`).
 *
 * Outbound: `channelFor` resolves a host with dns.lookup (RFC 3263 NAPTR/SRV is not done: the target gives
 * protocol and port) and reuses an open connection to the same remote endpoint and protocol — for TLS and WSS only
 * one whose server name and certificate verification serve the target (transports/flow-reuse.ts).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type net from 'node:net';
import type http from 'node:http';
import type WebSocket from 'ws';
import type { SipResponse } from './message.ts';
import type { TokenIdentity } from './auth/token.ts';
import { DEFAULT_MAX_CONNECTIONS_PER_ADDRESS } from '../security/connection-limiter.ts';
import { TransportGate } from './transports/guard.ts';
import { parseSipMessage } from './parser.ts';
import { SipParseError } from './parse-error.ts';
import { parseVia } from './via.ts';
import { TransportError, type Channel, type Endpoint, type TransportProtocol } from './transport.ts';
import { DEFAULT_MAX_MESSAGE_SIZE } from './framing.ts';
import { newTag } from './transaction/branch.ts';
import { StreamConnection } from './transports/tcp.ts';
import { WsConnection, wsEndpoints } from './transports/ws.ts';
import { formatEndpoint, normalizeAddress, type CloseReason, type Connection, type ConnectionHandlers, type StreamProtocol } from './transports/connection.ts';
import { StreamChannel, UdpChannel, parseUdpFlowId, type ChannelHost, type SentBy } from './transports/channels.ts';
import { answerParseError, defaultPort, reliableResponseTarget, stampTopVia, udpResponseDestination } from './transports/inbound.ts';
import {
  newTransportCounters,
  type BoundListener,
  type ChannelTarget,
  type HttpConfig,
  type ListenerConfig,
  type TransportCounters,
  type TransportHandlers,
  type TransportLayerOptions,
} from './transports/config.ts';
import { closeListener, openListener, type Listener, type UdpListener } from './transports/listeners.ts';
import { FlowIndex } from './transports/flow-reuse.ts';
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_WRITE_BUFFER,
  DEFAULT_WS_HEARTBEAT_MS,
  openOutboundConnection,
} from './transports/outbound.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'sip-transport' });

export type {
  BoundListener,
  ChannelTarget,
  HttpConfig,
  ListenerConfig,
  TransportCounters,
  TransportGuard,
  TransportHandlers,
  TransportLayerOptions,
  TransportLimits,
} from './transports/config.ts';

/** Inbound WS/WSS without a SIP message for this long are closed unless held (a registration, a dialog). */
export const DEFAULT_WS_IDLE_TIMEOUT_MS = 120_000;

export class TransportLayer {
  readonly counters: TransportCounters = newTransportCounters();
  readonly #options: TransportLayerOptions;
  readonly #handlers: TransportHandlers;
  readonly #maxMessageSize: number;
  readonly #listeners: Listener[] = [];
  /** Connection-oriented flows by flow id, and by remote endpoint for reuse. */
  readonly #flows = new Map<string, StreamChannel>();
  readonly #byRemote = new FlowIndex();
  /** During close(): resolves the wait for each connection still open. */
  readonly #closeWaiters = new Map<string, () => void>();
  readonly #host: ChannelHost;
  readonly #connectionHandlers: ConnectionHandlers;
  readonly #gate: TransportGate;
  /** The token identity a WebSocket flow was opened with (`?token=`), by flow id. */
  readonly #identities = new Map<string, TokenIdentity>();
  #nextId = 0;
  #state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  #closing: Promise<void> | undefined;

  constructor(options: TransportLayerOptions, handlers: TransportHandlers) {
    this.#options = options;
    this.#handlers = handlers;
    this.#maxMessageSize = options.limits?.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#gate = new TransportGate(options.guard, this.counters, options.limits?.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS);
    this.#host = {
      countOut: (protocol) => {
        this.counters.messagesOut[protocol]++;
      },
      rerouteResponse: (response, onError) => this.#rerouteResponse(response, onError),
    };
    this.#connectionHandlers = {
      message: (connection, data) => {
        const channel = this.#flows.get(connection.id);
        if (!channel) return;
        this.#safely(() => {
          if (connection.direction === 'inbound' && !this.#gate.allowStreamMessage(connection)) return;
          this.#receive(data, channel.protocol, connection.remote, channel, undefined);
        });
      },
      closed: (connection, reason, error) => this.#onConnectionClosed(connection, reason, error),
      keepAlive: () => {
        this.counters.keepAlives++;
      },
    };
  }

  /** Binds every listener. On failure, whatever was bound is closed again and the error is rethrown. */
  async start(): Promise<readonly BoundListener[]> {
    if (this.#state !== 'new') throw new TransportError('transport layer already started', { code: 'SIP_TRANSPORT_STATE' });
    this.#state = 'starting';
    this.#gate.watch(() => this.#openConnections());
    try {
      for (const config of this.#options.listeners) await this.#listen(config, undefined);
      const http = this.#options.http;
      if (http) {
        await this.#listen({
          protocol: http.tls ? 'WSS' : 'WS',
          host: http.host,
          port: http.port,
          tls: http.tls,
          wsPath: http.wsPath,
          advertisedHost: http.advertisedHost,
          advertisedPort: http.advertisedPort,
        }, http);
      }
    } catch (error) {
      await this.close();
      throw error;
    }
    this.#state = 'running';
    return this.listeners;
  }

  get listeners(): readonly BoundListener[] {
    return this.#listeners.map((l) => ({ protocol: l.protocol, local: l.local, sentBy: l.sentBy, advertised: l.advertised }));
  }

  /**
   * A Channel towards `target`. IP literals are used as they are; names go through dns.lookup. For TCP/TLS/WS/WSS
   * an open flow to the same address, port and protocol is reused (including one the peer opened to us) — for
   * TLS/WSS only one whose server name and certificate check serve the target (transports/flow-reuse.ts);
   * otherwise a new outbound flow is returned that connects on its first send. Rejects with a TransportError when
   * the name does not resolve or no listener can carry the protocol/family.
   */
  async channelFor(target: ChannelTarget): Promise<Channel> {
    if (this.#state === 'closing' || this.#state === 'closed') {
      throw new TransportError('transport layer is closed', { code: 'SIP_TRANSPORT_CLOSED' });
    }
    const host = target.host.startsWith('[') && target.host.endsWith(']') ? target.host.slice(1, -1) : target.host;
    const port = target.port ?? defaultPort(target.protocol);
    let address: string;
    if (isIP(host) !== 0) {
      address = host;
    } else {
      try {
        address = (await lookup(host)).address;
      } catch (error) {
        throw new TransportError(`cannot resolve ${host}`, { cause: error, code: 'SIP_TRANSPORT_RESOLVE' });
      }
    }
    return this.#channelTo(target.protocol, { address: normalizeAddress(address), port }, isIP(host) === 0 ? host : undefined, target.path, target.tlsVerify);
  }

  /**
   * The Channel of a flow id as given by `Channel.flowId`: the same connection while it is open (for a browser,
   * the only way to reach it), or for UDP the same local socket and remote address. Undefined once closed.
   */
  flow(flowId: string): Channel | undefined {
    const stream = this.#flows.get(flowId);
    if (stream) return stream.closed ? undefined : stream;
    const udp = parseUdpFlowId(flowId);
    if (!udp) return undefined;
    const listener = this.#listeners.find(
      (l): l is UdpListener =>
        l.protocol === 'UDP' && l.local.address === udp.local.address && l.local.port === udp.local.port,
    );
    return listener ? new UdpChannel(listener.udp, udp.remote, listener.sentBy, this.#host) : undefined;
  }

  /**
   * Keeps an inbound WebSocket flow from the idle timeout (`wsIdleTimeoutMs`) until the returned release is
   * called: the B2BUA holds a flow while a registration or a dialog rides it. A no-op for other flows.
   */
  holdFlow(flowId: string): () => void {
    const connection = this.#flows.get(flowId)?.connection;
    return connection instanceof WsConnection ? connection.hold() : () => {};
  }

  /** The token identity a WebSocket flow was opened with (`?token=` verified at the upgrade), if any. */
  flowIdentity(flowId: string): TokenIdentity | undefined {
    return this.#identities.get(flowId);
  }

  /** Closes one connection-oriented flow (e.g. a registration that was removed). */
  closeFlow(flowId: string): void {
    this.#flows.get(flowId)?.connection?.close();
  }

  /**
   * Graceful, idempotent: stop accepting, close listeners, close every connection (flushing what was written),
   * and resolve when all are gone or after a short grace period.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    this.#gate.unwatch();
    const closed: Promise<void>[] = [];
    for (const listener of this.#listeners) closed.push(closeListener(listener));
    for (const channel of this.#flows.values()) {
      const connection = channel.connection;
      if (connection === undefined || connection.state === 'closed') continue;
      closed.push(new Promise<void>((resolve) => this.#closeWaiters.set(connection.id, resolve)));
      connection.close();
    }
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => {
        // A peer that neither reads nor closes does not hold up shutdown; connections destroy themselves soon after.
        grace = setTimeout(resolve, 3000);
        grace.unref();
      }),
    ]);
    clearTimeout(grace);
    this.#closeWaiters.clear();
    this.#flows.clear();
    this.#byRemote.clear();
    this.#state = 'closed';
  }

  async #listen(config: ListenerConfig, http: HttpConfig | undefined): Promise<void> {
    const gate = this.#gate;
    const listener = await openListener(config, http, this.#maxMessageSize, {
      datagram: (bound, data, remote) => this.#safely(() => this.#onDatagram(bound, data, remote)),
      socket: (protocol, socket) => this.#onInboundSocket(protocol, socket),
      webSocket: (protocol, ws, request, identity) => this.#onWebSocket(protocol, ws, request, identity),
    }, {
      connectionLimiter: gate.limiter,
      allowConnection: gate.checksConnections ? (address) => gate.allowConnection(address) : undefined,
    });
    this.#listeners.push(listener);
  }

  // ---- inbound --------------------------------------------------------------------------------------------

  #onDatagram(listener: UdpListener, data: Buffer, remote: Endpoint): void {
    this.counters.messagesIn.UDP++;
    // Before parsing, before the CRLF check: a banned or flooding source costs a lookup and a counter.
    if (!this.#gate.allowDatagram(normalizeAddress(remote.address))) return;
    if (isCrlfOnly(data)) {
      // Some UAs send CRLF keep-alives over UDP too; RFC 5626 uses STUN there, and nothing is owed in reply.
      this.counters.keepAlives++;
      return;
    }
    this.#receive(data, 'UDP', { address: normalizeAddress(remote.address), port: remote.port }, undefined, listener);
  }

  #onInboundSocket(protocol: 'TCP' | 'TLS', socket: net.Socket): void {
    socket.on('error', () => {}); // replaced by the connection's own handler; never unhandled meanwhile
    if (this.#state === 'closing' || this.#state === 'closed' || socket.remoteAddress === undefined || socket.remotePort === undefined) {
      socket.destroy();
      return;
    }
    const remote = { address: normalizeAddress(socket.remoteAddress), port: socket.remotePort };
    const id = this.#newFlowId(protocol);
    if (!this.#gate.acceptConnection(id, remote.address)) {
      socket.destroy();
      return;
    }
    const connection = new StreamConnection(socket, { id, protocol, direction: 'inbound', remote }, this.#connectionHandlers, {
      maxMessageSize: this.#maxMessageSize,
      idleTimeoutMs: this.#options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      maxWriteBuffer: this.#options.maxWriteBuffer ?? DEFAULT_MAX_WRITE_BUFFER,
    });
    this.#adopt(connection);
  }

  #onWebSocket(protocol: 'WS' | 'WSS', ws: WebSocket, request: http.IncomingMessage, identity: TokenIdentity | undefined): void {
    ws.on('error', () => {}); // as above
    if (this.#state === 'closing' || this.#state === 'closed') {
      ws.close(1001);
      return;
    }
    // The HTTP server already counted this connection against its address (and refused banned sources).
    const { local, remote } = wsEndpoints(request.socket);
    const id = this.#newFlowId(protocol);
    const connection = new WsConnection(ws, { id, protocol, direction: 'inbound', remote, local }, this.#connectionHandlers, {
      heartbeatMs: this.#options.wsHeartbeatMs ?? DEFAULT_WS_HEARTBEAT_MS,
      maxWriteBuffer: this.#options.maxWriteBuffer ?? DEFAULT_MAX_WRITE_BUFFER,
      idleTimeoutMs: this.#options.wsIdleTimeoutMs ?? DEFAULT_WS_IDLE_TIMEOUT_MS,
    });
    if (identity !== undefined) this.#identities.set(id, identity);
    this.#adopt(connection);
  }

  /** Registers an accepted connection as a flow. */
  #adopt(connection: Connection): void {
    const listener = this.#listenerFor(connection.protocol, isIP(connection.remote.address) === 6 ? 6 : 4);
    const channel = new StreamChannel(
      {
        protocol: connection.protocol,
        flowId: connection.id,
        remote: connection.remote,
        sentBy: listener?.sentBy ?? { host: 'invalid.invalid', port: defaultPort(connection.protocol) },
        fallbackLocal: connection.local ?? listener?.local ?? { address: '', port: 0 },
        connection,
      },
      this.#host,
    );
    this.counters.connectionsAccepted++;
    this.counters.connectionsOpen[connection.protocol]++;
    this.#flows.set(connection.id, channel);
    this.#byRemote.add(connection.protocol, connection.remote, channel, undefined);
  }

  #onConnectionClosed(connection: Connection, reason: CloseReason, error: Error | undefined): void {
    this.counters.connectionsOpen[connection.protocol]--;
    this.#gate.release(connection.id);
    this.#identities.delete(connection.id);
    if (reason === 'framing') {
      this.counters.framingErrors++;
      this.counters.dropped++;
      if (connection.direction === 'inbound') this.#gate.badMessage(connection.remote.address);
    }
    log.debug({ flow: connection.id, remote: connection.remote, reason, err: error }, 'connection closed');
    const channel = this.#flows.get(connection.id);
    this.#flows.delete(connection.id);
    this.#byRemote.remove(connection.id);
    this.#safely(() => this.#handlers.flowClosed?.(connection.id, reason));
    this.#closeWaiters.get(connection.id)?.();
  }

  /**
   * One message from the network. `stream` is the flow for connection-oriented input; `udp` the listener for
   * a datagram.
   */
  #receive(
    data: Buffer,
    protocol: TransportProtocol,
    source: Endpoint,
    stream: StreamChannel | undefined,
    udp: UdpListener | undefined,
  ): void {
    if (stream) this.counters.messagesIn[protocol]++;
    let message;
    try {
      message = parseSipMessage(data, { maxMessageSize: this.#maxMessageSize, maxHeaders: this.#options.limits?.maxHeaders });
    } catch (error) {
      this.counters.parseErrors++;
      if (stream === undefined || stream.connection?.direction === 'inbound') this.#gate.badMessage(source.address);
      this.#onParseError(error, source, stream, udp);
      return;
    }
    if (message.type === 'response') {
      const channel = stream ?? (udp ? new UdpChannel(udp.udp, source, udp.sentBy, this.#host) : undefined);
      if (channel) this.#safely(() => this.#handlers.response(message, channel));
      return;
    }
    // Dropped unanswered, before a transaction exists: an answer would be work (and a reflection) for a flood.
    if (!this.#gate.allowRequest(source.address, message)) return;
    const via = stampTopVia(message.headers, source);
    if (via === undefined) {
      // No readable top Via: there is nowhere to send a response (§18.2.2), so nothing is owed.
      this.counters.dropped++;
      return;
    }
    const channel = stream ?? (udp ? new UdpChannel(udp.udp, udpResponseDestination(via), udp.sentBy, this.#host) : undefined);
    if (channel) this.#safely(() => this.#handlers.request(message, channel));
  }

  /** Accepted connections still open (for closing a newly banned source's streams). */
  *#openConnections(): Iterable<Connection> {
    for (const channel of this.#flows.values()) if (channel.connection !== undefined) yield channel.connection;
  }

  #onParseError(
    error: unknown,
    source: Endpoint,
    stream: StreamChannel | undefined,
    udp: UdpListener | undefined,
  ): void {
    if (!(error instanceof SipParseError)) {
      // The parser promises SipParseError only; anything else is our bug, and still not the process's death.
      log.error({ err: error }, 'parser threw an unexpected error');
      this.counters.dropped++;
      return;
    }
    if (stream && error.status === 513) {
      // Over a stream an over-size message means the stream can no longer be trusted: close, answer nothing.
      this.counters.framingErrors++;
      this.counters.dropped++;
      stream.connection?.close();
      return;
    }
    const answer = answerParseError(error, source, newTag());
    if (answer === undefined) {
      log.debug({ err: error, source }, 'unanswerable malformed message dropped');
      this.counters.dropped++;
      return;
    }
    if (this.#options.userAgent) answer.response.headers.append('Server', this.#options.userAgent);
    const channel = stream ?? (udp ? new UdpChannel(udp.udp, udpResponseDestination(answer.via), udp.sentBy, this.#host) : undefined);
    if (!channel) return;
    this.counters.badInputResponses++;
    log.debug({ status: answer.response.status, reason: answer.response.reason, source }, 'malformed request answered');
    channel.send(answer.response, (sendError) => log.debug({ err: sendError }, 'answer to malformed request not sent'));
  }

  // ---- outbound -------------------------------------------------------------------------------------------

  #channelTo(protocol: TransportProtocol, remote: Endpoint, servername: string | undefined, path: string | undefined, tlsVerify?: boolean): Channel {
    const family: 4 | 6 = isIP(remote.address) === 6 ? 6 : 4;
    if (protocol === 'UDP') {
      const listener = this.#listeners.find(
        (l): l is UdpListener => l.protocol === 'UDP' && l.family === family,
      );
      if (!listener) {
        throw new TransportError(`no UDP listener for IPv${family} to reach ${formatEndpoint(remote)}`, { code: 'SIP_TRANSPORT_NO_LISTENER' });
      }
      return new UdpChannel(listener.udp, remote, listener.sentBy, this.#host);
    }
    const tls = protocol === 'TLS' || protocol === 'WSS' ? { servername, verify: tlsVerify !== false } : undefined;
    const existing = this.#byRemote.find(protocol, remote, tls);
    if (existing) return existing;

    const flowId = this.#newFlowId(protocol);
    const listener = this.#listenerFor(protocol, family);
    const sentBy = this.#outboundSentBy(protocol, family, listener);
    const channel = new StreamChannel(
      {
        protocol,
        flowId,
        remote,
        sentBy,
        fallbackLocal: listener?.local ?? { address: family === 6 ? '::' : '0.0.0.0', port: 0 },
        open: () => this.#openOutbound(protocol, flowId, remote, servername, path, tlsVerify),
      },
      this.#host,
    );
    this.#flows.set(flowId, channel);
    this.#byRemote.add(protocol, remote, channel, tls);
    return channel;
  }

  #openOutbound(protocol: StreamProtocol, id: string, remote: Endpoint, servername: string | undefined, path: string | undefined, tlsVerify?: boolean): Connection {
    if (this.#state === 'closing' || this.#state === 'closed') throw new TransportError('transport layer is closed', { code: 'SIP_TRANSPORT_CLOSED' });
    const connection = openOutboundConnection(protocol, id, remote, { servername, path, tlsVerify }, this.#options, this.#connectionHandlers);
    this.counters.connectionsOpened++;
    this.counters.connectionsOpen[protocol]++;
    return connection;
  }

  /** §18.2.2: the connection a request came in on is gone; open one to `received` and the sent-by port. */
  #rerouteResponse(response: SipResponse, onError: ((error: TransportError) => void) | undefined): void {
    let target: { host: string; port: number };
    let protocol: TransportProtocol;
    try {
      const via = parseVia(response.headers.getAll('via')[0] ?? '');
      target = reliableResponseTarget(via);
      protocol = via.transport as TransportProtocol;
      if (protocol !== 'TCP' && protocol !== 'TLS') throw new TransportError(`cannot reopen a ${via.transport} flow`);
    } catch (error) {
      onError?.(error instanceof TransportError ? error : new TransportError('response has no usable Via', { cause: error }));
      return;
    }
    this.channelFor({ protocol, host: target.host, port: target.port }).then(
      (channel) => channel.send(response, onError),
      (error: unknown) => onError?.(error instanceof TransportError ? error : new TransportError('cannot reopen flow', { cause: error })),
    );
  }

  // ---- helpers --------------------------------------------------------------------------------------------

  #listenerFor(protocol: TransportProtocol, family: 4 | 6): Listener | undefined {
    return (
      this.#listeners.find((l) => l.protocol === protocol && l.family === family) ??
      this.#listeners.find((l) => l.protocol === protocol)
    );
  }

  /**
   * Via sent-by for an outbound flow: the listener of that protocol; as a WebSocket client a random `.invalid`
   * host (RFC 7118 §5.2: we cannot be reached at our address); for TCP/TLS without a listener of that protocol,
   * our address from any listener with the protocol's default port.
   */
  #outboundSentBy(protocol: StreamProtocol, family: 4 | 6, listener: Listener | undefined): SentBy {
    if (listener) return listener.sentBy;
    if (protocol === 'WS' || protocol === 'WSS') return { host: `${newTag()}.invalid`, port: defaultPort(protocol) };
    const any = this.#listeners.find((l) => l.family === family) ?? this.#listeners[0];
    return { host: any?.sentBy.host ?? 'invalid.invalid', port: defaultPort(protocol) };
  }

  #newFlowId(protocol: TransportProtocol): string {
    return `${protocol.toLowerCase()}-${++this.#nextId}`;
  }

  #safely(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.counters.handlerErrors++;
      log.error({ err: error }, 'transport handler threw');
    }
  }
}

function isCrlfOnly(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) if (data[i] !== 0x0d && data[i] !== 0x0a) return false;
  return true;
}
