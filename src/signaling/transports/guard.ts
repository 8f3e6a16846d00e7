/**
 * The transport layer's front gate: the optional TransportGuard (flood and brute-force defences, implemented by
 * src/security/sip-guard.ts) and the per-address connection cap, applied where input first arrives — per datagram,
 * per accepted connection, per framed stream message (all before parsing) and per parsed request (before the
 * transaction layer). Drops and refusals are counted in the transport counters; a guard that throws is logged and
 * treated as "allow", never as a crash of the receive path.
 */
import type { SipRequest } from '../message.ts';
import type { Connection } from './connection.ts';
import type { TransportCounters } from './config.ts';
import { ConnectionLimiter } from '../../security/connection-limiter.ts';
import { logger } from '../../log.ts';

/**
 * The early-drop hooks. `source` is the remote IP address as the transport sees it (IPv4-mapped IPv6 already
 * reduced to IPv4). Every method must be cheap.
 */
export interface TransportGuard {
  /** Per datagram and per framed stream message, before parsing: false drops it (banned or over its rate). */
  allowPacket(source: string): boolean;
  /** A message from `source` failed to parse, or its stream could not be framed. */
  onBadMessage(source: string): void;
  /** Per accepted TCP/TLS connection and HTTP/WebSocket socket: false closes it at once (a banned source). */
  allowConnection?(source: string): boolean;
  /** Per parsed request, before the transaction layer: false drops it unanswered (e.g. over an unauthenticated budget). */
  allowRequest?(source: string, request: SipRequest): boolean;
  /** Subscribes to "sources are now blocked": the transport layer then closes the streams `allowConnection` refuses. */
  watchBlocked?(listener: () => void): () => void;
}

const log = logger.child({ module: 'sip-transport' });

export class TransportGate {
  readonly limiter: ConnectionLimiter;
  readonly #guard: TransportGuard | undefined;
  readonly #counters: TransportCounters;
  /** Release of the per-address slot of each accepted connection, by flow id. */
  readonly #slots = new Map<string, () => void>();
  #unwatch: (() => void) | undefined;

  constructor(guard: TransportGuard | undefined, counters: TransportCounters, maxConnectionsPerAddress: number) {
    this.#guard = guard;
    this.#counters = counters;
    this.limiter = new ConnectionLimiter(maxConnectionsPerAddress);
  }

  /** Whether there is a guard whose connection check the HTTP server should run on every socket. */
  get checksConnections(): boolean {
    return this.#guard?.allowConnection !== undefined;
  }

  /** Starts closing the streams of newly banned sources. */
  watch(connections: () => Iterable<Connection>): void {
    this.#unwatch = this.#guard?.watchBlocked?.(() => this.#closeBlocked(connections()));
  }

  unwatch(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  /** One datagram, before anything else is done with it. */
  allowDatagram(source: string): boolean {
    if (this.#guard === undefined || this.#ask(() => this.#guard!.allowPacket(source))) return true;
    this.#counters.guardDropped++;
    return false;
  }

  /** One framed message on an accepted stream: dropped when refused, and the stream closed if its source is banned. */
  allowStreamMessage(connection: Connection): boolean {
    const guard = this.#guard;
    if (guard === undefined || this.#ask(() => guard.allowPacket(connection.remote.address))) return true;
    this.#counters.guardDropped++;
    if (!this.allowConnection(connection.remote.address)) connection.close();
    return false;
  }

  /** The banned-source check alone (the HTTP server runs it on every socket it accepts). */
  allowConnection(source: string): boolean {
    const guard = this.#guard;
    if (guard?.allowConnection === undefined || this.#ask(() => guard.allowConnection!(source))) return true;
    this.#counters.connectionsRefused++;
    return false;
  }

  /** A TCP/TLS connection being accepted: the banned-source check and a slot under the per-address cap. */
  acceptConnection(id: string, source: string): boolean {
    if (!this.allowConnection(source)) return false;
    const release = this.limiter.acquire(source);
    if (release === undefined) {
      this.#counters.connectionsRefused++;
      log.debug({ source }, 'connection refused: too many from this address');
      return false;
    }
    this.#slots.set(id, release);
    return true;
  }

  /** A connection closed: its slot is free again. */
  release(id: string): void {
    this.#slots.get(id)?.();
    this.#slots.delete(id);
  }

  /** A parsed request, before a transaction exists for it. */
  allowRequest(source: string, request: SipRequest): boolean {
    const guard = this.#guard;
    if (guard?.allowRequest === undefined || this.#ask(() => guard.allowRequest!(source, request))) return true;
    this.#counters.guardDropped++;
    return false;
  }

  badMessage(source: string): void {
    const guard = this.#guard;
    if (guard !== undefined) this.#ask(() => (guard.onBadMessage(source), true));
  }

  #closeBlocked(connections: Iterable<Connection>): void {
    for (const connection of connections) {
      if (connection.direction !== 'inbound' || connection.state === 'closed') continue;
      if (!this.allowConnection(connection.remote.address)) {
        log.info({ flow: connection.id, remote: connection.remote }, 'closing a stream from a banned source');
        connection.close();
      }
    }
  }

  #ask(check: () => boolean): boolean {
    try {
      return check();
    } catch (error) {
      log.error({ err: error }, 'transport guard threw; allowing');
      return true;
    }
  }
}
