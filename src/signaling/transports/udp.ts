/**
 * A SIP UDP listener (RFC 3261 §18): one datagram is one message. One socket per listener, of the family of its
 * address (udp4 for IPv4, udp6 for IPv6, the latter IPv6-only so an IPv4 and an IPv6 listener on the same port do
 * not collide). Requests sent over UDP leave from the listener's socket so responses and symmetric-response
 * peers (RFC 3581) come back to the port we advertise in Via.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { TransportError, type Endpoint } from '../transport.ts';
import { logger } from '../../log.ts';

/** RFC 768: 65,535 − 8 (UDP header) − 20 (IPv4 header). Node refuses larger sends with EMSGSIZE anyway. */
export const MAX_UDP_PAYLOAD = 65_507;

export interface UdpHandlers {
  datagram(data: Buffer, remote: Endpoint): void;
}

export interface UdpListenOptions {
  host: string;
  port: number;
  /**
   * SO_RCVBUF in bytes: a burst of INVITEs must not be dropped by the kernel while the event loop is busy (the
   * Linux default, ~208 KiB, holds only a few hundred datagrams). Linux caps it at net.core.rmem_max (an
   * unprivileged process cannot use SO_RCVBUFFORCE); what was granted is logged when it is less than asked.
   */
  receiveBufferSize?: number;
  /** SO_SNDBUF in bytes (capped at net.core.wmem_max): a burst of answers must not fail with ENOBUFS/EAGAIN. */
  sendBufferSize?: number;
}

export class UdpTransport {
  readonly family: 4 | 6;
  readonly #socket: dgram.Socket;
  readonly #options: UdpListenOptions;
  #local: Endpoint | undefined;
  #closed = false;

  constructor(options: UdpListenOptions, handlers: UdpHandlers) {
    this.#options = options;
    this.family = isIPv6(options.host) ? 6 : 4;
    this.#socket = dgram.createSocket(
      this.family === 6 ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' },
    );
    this.#socket.on('message', (data, rinfo) => {
      handlers.datagram(data, { address: rinfo.address, port: rinfo.port });
    });
    // After bind, 'error' is rare (the socket is not connected, so ICMP errors do not surface here) but it must
    // never go unhandled: an unhandled 'error' would kill the process.
    this.#socket.on('error', (error) => {
      logger.warn({ err: error, local: this.#local }, 'sip udp socket error');
    });
  }

  get local(): Endpoint {
    if (!this.#local) throw new TransportError('UDP transport is not listening', { code: 'SIP_TRANSPORT_NOT_LISTENING' });
    return this.#local;
  }

  listen(): Promise<Endpoint> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(new TransportError(`cannot bind UDP ${this.#options.host}:${this.#options.port}`, { cause: error, code: 'SIP_TRANSPORT_BIND' }));
      };
      this.#socket.once('error', onError);
      this.#socket.bind({ address: this.#options.host, port: this.#options.port, exclusive: true }, () => {
        this.#socket.off('error', onError);
        const address = this.#socket.address();
        this.#local = { address: address.address, port: address.port };
        this.#sizeBuffers();
        resolve(this.#local);
      });
    });
  }

  /** The kernel's buffer sizes for this socket (Linux reports twice what was set: it counts its bookkeeping). */
  get bufferSizes(): { receive: number; send: number } {
    return { receive: this.#socket.getRecvBufferSize(), send: this.#socket.getSendBufferSize() };
  }

  #sizeBuffers(): void {
    const sizes = [
      ['receive', this.#options.receiveBufferSize, (n: number) => this.#socket.setRecvBufferSize(n), () => this.#socket.getRecvBufferSize(), 'net.core.rmem_max'],
      ['send', this.#options.sendBufferSize, (n: number) => this.#socket.setSendBufferSize(n), () => this.#socket.getSendBufferSize(), 'net.core.wmem_max'],
    ] as const;
    for (const [which, asked, set, get, sysctl] of sizes) {
      if (asked === undefined) continue;
      try {
        set(asked);
        // Linux stores (and reports) twice the value granted, for its bookkeeping overhead, and silently caps
        // the value at the sysctl first; a grant below what was asked means bursts the operator sized for drop.
        const effective = get();
        const granted = process.platform === 'linux' ? effective / 2 : effective;
        if (granted < asked) {
          logger.warn({ local: this.#local, asked, effective, sysctl }, `SIP UDP ${which} buffer capped by the kernel; raise ${sysctl}`);
        }
      } catch (error) {
        logger.warn({ err: error, local: this.#local, asked }, `cannot set SIP UDP ${which} buffer size`);
      }
    }
  }

  /** Sends one datagram. Never throws: a failure (EMSGSIZE, a closed socket, EHOSTUNREACH) goes to onError. */
  send(data: Buffer, remote: Endpoint, onError?: (error: TransportError) => void): void {
    if (this.#closed) {
      onError?.(new TransportError('UDP transport is closed', { code: 'SIP_TRANSPORT_CLOSED' }));
      return;
    }
    if (data.length > MAX_UDP_PAYLOAD) {
      onError?.(new TransportError(`message of ${data.length} bytes does not fit a UDP datagram`, { code: 'SIP_TRANSPORT_TOO_LARGE' }));
      return;
    }
    try {
      this.#socket.send(data, remote.port, remote.address, (error) => {
        if (error) onError?.(new TransportError(`UDP send to ${remote.address}:${remote.port} failed`, { cause: error }));
      });
    } catch (error) {
      // dgram throws synchronously on an invalid port or address.
      onError?.(new TransportError(`UDP send to ${remote.address}:${remote.port} failed`, { cause: error }));
    }
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    });
  }
}
