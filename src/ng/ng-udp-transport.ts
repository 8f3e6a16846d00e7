/**
 * UDP as an NgTransport: how NgClient reaches a media node at Kamailio's `rtpengine_sock` address
 * (send_rtpp_command() in src/modules/rtpengine/rtpengine.c). The socket is connect()ed to the node, so the kernel
 * only hands us datagrams from it. UDP loses datagrams, so the transport says it is not `reliable` and the client
 * retransmits each request with the same cookie until its deadline (the node's cookie cache makes that safe).
 */
import dgram from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import { logger } from '../log.ts';
import type { NgTransport } from './ng-client.ts';
import { NgClientError } from './ng-client-error.ts';

const log = logger.child({ component: 'ng-client' });

export interface NgAddress {
  transport: 'udp';
  host: string;
  port: number;
}

/**
 * Kamailio's rtpengine_sock syntax for UDP: `udp:127.0.0.1:2223`, `udp6:[::1]:2223` (also `udp:[::1]:2223`).
 * Only IP literals: a media node is addressed exactly, and nothing here resolves names.
 */
export function parseNgAddress(value: string): NgAddress {
  const m = /^(udp6?):(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const host = m?.[2] ?? m?.[3];
  const port = Number(m?.[4]);
  if (m === null || host === undefined || isIP(host) === 0 || !(port > 0 && port < 65536)) {
    throw new NgClientError('NG_ADDRESS', `ng address ${JSON.stringify(value)}: expected udp:IP:PORT or udp6:[IPv6]:PORT`);
  }
  if (m[1] === 'udp6' && !isIPv6(host)) throw new NgClientError('NG_ADDRESS', `ng address ${JSON.stringify(value)}: udp6 needs an IPv6 address`);
  if (m[2] !== undefined && !isIPv6(host)) throw new NgClientError('NG_ADDRESS', `ng address ${JSON.stringify(value)}: brackets are for IPv6`);
  return { transport: 'udp', host, port };
}

export function formatNgAddress(address: NgAddress): string {
  return isIPv6(address.host) ? `udp6:[${address.host}]:${address.port}` : `udp:${address.host}:${address.port}`;
}

/** A UDP socket connected to the node, as an NgTransport. */
export class UdpTransport implements NgTransport {
  readonly label: string;
  readonly reliable = false;
  readonly socket: dgram.Socket;

  private constructor(address: NgAddress, socket: dgram.Socket) {
    this.label = formatNgAddress(address);
    this.socket = socket;
    // ICMP port unreachable on a connected socket surfaces here (ECONNREFUSED): the node is not listening.
    // Requests keep retransmitting until their deadline; the error itself is only worth a debug line.
    socket.on('error', (err) => log.debug({ err, node: this.label }, 'ng client socket error'));
  }

  /**
   * Binds a socket and connects it to the node (nothing is sent). `bindAddress` defaults to the loopback address
   * when the node is on loopback (a client for a local node never binds a public interface), else the wildcard
   * of the node's family.
   */
  static async open(address: NgAddress, bindAddress?: string): Promise<UdpTransport> {
    const v6 = isIPv6(address.host);
    const bind = bindAddress ?? defaultBind(address.host, v6);
    const socket = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, bind, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(address.port, address.host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      throw err;
    }
    return new UdpTransport(address, socket);
  }

  send(message: Buffer): void {
    this.socket.send(message, (err) => {
      if (err) log.debug({ err, node: this.label }, 'ng request not sent');
    });
  }

  receive(handler: (message: Buffer) => void): void {
    this.socket.on('message', (message) => handler(message));
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

function defaultBind(host: string, v6: boolean): string {
  if (v6) return host === '::1' ? '::1' : '::';
  return host.startsWith('127.') ? '127.0.0.1' : '0.0.0.0';
}
