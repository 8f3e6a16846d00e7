/**
 * The seam between transports (UDP, TCP, TLS, WS, WSS) and the layers above (transactions, the transaction user).
 * A Channel is "where a message goes": a connected flow (TCP/TLS/WS connection) or a UDP socket plus a destination.
 * Sending never throws: failures (connection refused, reset, unreachable) reach the `onError` given to `send`,
 * which is how RFC 3261 §17.1.4 transport errors get to a transaction.
 */
import type { SipMessage } from './message.ts';
import { GatewayError } from '../errors.ts';

export type TransportProtocol = 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';

export interface Endpoint {
  /** An IP literal without brackets (`127.0.0.1`, `::1`). */
  address: string;
  port: number;
}

export class TransportError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'SIP_TRANSPORT', message, { status: 503, cause: options?.cause });
  }
}

export interface Channel {
  readonly protocol: TransportProtocol;
  /** TCP, TLS, WS and WSS are reliable: no retransmissions (RFC 3261 §17.1.1.2, §17.1.2.2). */
  readonly reliable: boolean;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /** A stable id for the underlying connection (or `udp:<local>-<remote>`), for logs and registrar bindings. */
  readonly flowId: string;
  /**
   * The Via value for a request sent on this channel (`SIP/2.0/UDP 192.0.2.1:5060;branch=…;rport`); WS/WSS use a
   * `.invalid` host per RFC 7118 §5.2 when the gateway acts as a WebSocket client.
   */
  via(branch: string): string;
  /** Serializes and sends. Never throws; a failure is reported once through onError. */
  send(message: SipMessage, onError?: (error: TransportError) => void): void;
}
