/**
 * The two kinds of Channel (transport.ts): a UDP socket plus a destination, and a connection-oriented flow
 * (TCP, TLS, WS, WSS). Channels are made only by the transport layer, which passes them a narrow `ChannelHost`
 * for what they cannot do alone: count, open a lazy outbound connection, and re-route a response whose
 * connection is gone (RFC 3261 §18.2.2).
 */
import type { SipMessage, SipResponse } from '../message.ts';
import { serializeSipMessage } from '../serializer.ts';
import { TransportError, type Channel, type Endpoint, type TransportProtocol } from '../transport.ts';
import type { UdpTransport } from './udp.ts';
import { formatEndpoint, type Connection, type StreamProtocol } from './connection.ts';

/** What a Via sent-by says: host as written in Via (IPv6 bracketed) and port. */
export interface SentBy {
  host: string;
  port: number;
}

export interface ChannelHost {
  countOut(protocol: TransportProtocol): void;
  /** §18.2.2: the response's connection is closed; open a new one to `received`/sent-by port (TCP/TLS only). */
  rerouteResponse(response: SipResponse, onError: ((error: TransportError) => void) | undefined): void;
}

function encode(message: SipMessage, onError: ((error: TransportError) => void) | undefined): Buffer | undefined {
  try {
    return serializeSipMessage(message);
  } catch (error) {
    onError?.(new TransportError(`cannot serialize message: ${(error as Error).message}`, { cause: error, code: 'SIP_TRANSPORT_SERIALIZE' }));
    return undefined;
  }
}

export function viaValue(protocol: TransportProtocol, sentBy: SentBy, branch: string): string {
  return `SIP/2.0/${protocol} ${sentBy.host}:${sentBy.port};branch=${branch};rport`;
}

export class UdpChannel implements Channel {
  readonly protocol = 'UDP' as const;
  readonly reliable = false;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly flowId: string;
  readonly #transport: UdpTransport;
  readonly #sentBy: SentBy;
  readonly #host: ChannelHost;

  constructor(transport: UdpTransport, remote: Endpoint, sentBy: SentBy, host: ChannelHost) {
    this.#transport = transport;
    this.local = transport.local;
    this.remote = remote;
    this.#sentBy = sentBy;
    this.#host = host;
    this.flowId = udpFlowId(this.local, remote);
  }

  via(branch: string): string {
    return viaValue('UDP', this.#sentBy, branch);
  }

  send(message: SipMessage, onError?: (error: TransportError) => void): void {
    const data = encode(message, onError);
    if (data === undefined) return;
    this.#host.countOut('UDP');
    this.#transport.send(data, this.remote, onError);
  }
}

/** `udp:127.0.0.1:5060-127.0.0.1:40000`; the transport layer parses it back in `flow()`. */
export function udpFlowId(local: Endpoint, remote: Endpoint): string {
  return `udp:${formatEndpoint(local)}-${formatEndpoint(remote)}`;
}

export function parseUdpFlowId(flowId: string): { local: Endpoint; remote: Endpoint } | undefined {
  const m = /^udp:(\[[^\]]+\]|[^:\]]+):(\d+)-(\[[^\]]+\]|[^:\]]+):(\d+)$/.exec(flowId);
  if (!m) return undefined;
  const strip = (host: string): string => (host.startsWith('[') ? host.slice(1, -1) : host);
  return {
    local: { address: strip(m[1]!), port: Number(m[2]) },
    remote: { address: strip(m[3]!), port: Number(m[4]) },
  };
}

/**
 * A connection-oriented flow. For an outbound flow the connection is made on the first send (`open`), so that
 * `channelFor` is cheap and a flow that is never used never connects.
 */
export class StreamChannel implements Channel {
  readonly protocol: StreamProtocol;
  readonly reliable = true;
  readonly remote: Endpoint;
  readonly flowId: string;
  readonly #sentBy: SentBy;
  readonly #host: ChannelHost;
  readonly #open: (() => Connection) | undefined;
  #connection: Connection | undefined;
  readonly #fallbackLocal: Endpoint;
  /** Set once a 2xx to REGISTER or INVITE went out on this flow: it is in authenticated use, not idle. */
  #inUse = false;

  constructor(
    init: {
      protocol: StreamProtocol;
      flowId: string;
      remote: Endpoint;
      sentBy: SentBy;
      /** Our end before an outbound connection exists (the listener's address). */
      fallbackLocal: Endpoint;
      connection?: Connection;
      open?: () => Connection;
    },
    host: ChannelHost,
  ) {
    this.protocol = init.protocol;
    this.flowId = init.flowId;
    this.remote = init.remote;
    this.#sentBy = init.sentBy;
    this.#fallbackLocal = init.fallbackLocal;
    this.#connection = init.connection;
    this.#open = init.open;
    this.#host = host;
  }

  get local(): Endpoint {
    return this.#connection?.local ?? this.#fallbackLocal;
  }

  get connection(): Connection | undefined {
    return this.#connection;
  }

  /** Closed once its connection closed; a not yet opened outbound flow is not closed. */
  get closed(): boolean {
    return this.#connection?.state === 'closed';
  }

  via(branch: string): string {
    return viaValue(this.protocol, this.#sentBy, branch);
  }

  send(message: SipMessage, onError?: (error: TransportError) => void): void {
    const data = encode(message, onError);
    if (data === undefined) return;
    if (this.#connection === undefined) {
      if (this.#open === undefined) {
        onError?.(new TransportError(`flow ${this.flowId} has no connection`, { code: 'SIP_TRANSPORT_CLOSED' }));
        return;
      }
      try {
        this.#connection = this.#open();
      } catch (error) {
        onError?.(new TransportError(`cannot connect to ${formatEndpoint(this.remote)}`, { cause: error, code: 'SIP_TRANSPORT_CONNECTION' }));
        return;
      }
    }
    if (this.#connection.state === 'closed') {
      // §18.2.2: a response whose connection closed goes over a new connection (not for WS: browsers cannot be
      // connected to, so a WS flow is the only way back to them).
      if (message.type === 'response' && (this.protocol === 'TCP' || this.protocol === 'TLS')) {
        this.#host.rerouteResponse(message, onError);
        return;
      }
      onError?.(new TransportError(`${this.protocol} flow ${this.flowId} is closed`, { code: 'SIP_TRANSPORT_CLOSED' }));
      return;
    }
    this.#host.countOut(this.protocol);
    if (!this.#inUse && message.type === 'response' && isAcceptedRegisterOrInvite(message)) {
      // The gateway accepted a REGISTER or INVITE on this flow: a registration or a call now rides it, so the
      // idle timeout for silent WebSockets no longer applies (heartbeats still catch a dead peer).
      this.#inUse = true;
      this.#connection.hold?.();
    }
    this.#connection.write(data, onError);
  }
}

function isAcceptedRegisterOrInvite(response: SipResponse): boolean {
  if (response.status < 200 || response.status > 299) return false;
  const method = /^\s*\d+\s+([A-Za-z]+)/.exec(response.headers.get('cseq') ?? '')?.[1]?.toUpperCase();
  return method === 'REGISTER' || method === 'INVITE';
}
