/**
 * UDP port pool for media legs over a configured range.
 *
 * - Plain RTP/AVP legs get an even RTP port and the next odd port for RTCP (RFC 3550 §11: "RTP SHOULD use an
 *   even destination port number and the corresponding RTCP stream SHOULD use the next higher (odd)"); both bind
 *   or neither is kept.
 * - WebRTC legs use rtcp-mux (RFC 8834 §4.5 / RFC 5761) and take a single port, even ones preferred.
 * - Allocation is round-robin from just past the last port handed out, so a port released at the end of a call is
 *   not reused until the rest of the range has been cycled: late packets of the old call (retransmits, a peer that
 *   has not seen the BYE yet) must not land in a new call.
 * - A port that another process holds is skipped (bind fails with EADDRINUSE/EACCES), not fatal; when every
 *   candidate has been tried, allocation fails with `PortPoolExhaustedError` (503: the call cannot be served now).
 *
 * The pool owns the sockets it binds: `release(port)` closes them (idempotently) and returns the ports.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { GatewayError } from '../errors.ts';
import { logger } from '../log.ts';

export interface PortRange {
  readonly min: number;
  readonly max: number;
  readonly bindAddress: string;
}

export interface PortPoolOptions extends Partial<PortRange> {
  /** SO_RCVBUF / SO_SNDBUF per socket; the kernel caps them at net.core.rmem_max / wmem_max. Default 256 KiB. */
  readonly socketBufferBytes?: number;
}

export interface PortPair {
  readonly port: number;
  readonly rtp: dgram.Socket;
  readonly rtcp: dgram.Socket;
}

export interface SinglePort {
  readonly port: number;
  readonly socket: dgram.Socket;
}

export const DEFAULT_PORT_RANGE: PortRange = Object.freeze({ min: 30000, max: 39999, bindAddress: '127.0.0.1' });
export const DEFAULT_SOCKET_BUFFER_BYTES = 256 * 1024;

export class PortPoolExhaustedError extends GatewayError {
  constructor(range: PortRange, what: 'pair' | 'single') {
    super('PORTS_EXHAUSTED', `no free UDP ${what === 'pair' ? 'port pair' : 'port'} in ${range.min}-${range.max} on ${range.bindAddress}`, {
      status: 503,
    });
  }
}

export class PortRangeError extends GatewayError {
  constructor(message: string) {
    super('BAD_PORT_RANGE', message);
  }
}

// Per-port state in the pool's table.
const FREE = 0;
const RESERVED = 1; // a bind is in progress
const SINGLE = 2;
const PAIR_RTP = 3;
const PAIR_RTCP = 4;

export class PortPool {
  readonly range: PortRange;
  readonly socketType: 'udp4' | 'udp6';
  readonly #bufferBytes: number;
  readonly #state: Uint8Array; // indexed by port - min
  readonly #sockets = new Map<number, dgram.Socket>();
  #cursor: number; // next port to consider (absolute port number)
  #inUse = 0;
  #closed = false;

  constructor(options: PortPoolOptions = {}) {
    const min = options.min ?? DEFAULT_PORT_RANGE.min;
    const max = options.max ?? DEFAULT_PORT_RANGE.max;
    const bindAddress = options.bindAddress ?? DEFAULT_PORT_RANGE.bindAddress;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535 || min > max) {
      throw new PortRangeError(`invalid media port range ${min}-${max}`);
    }
    this.range = Object.freeze({ min, max, bindAddress });
    this.socketType = isIPv6(bindAddress) ? 'udp6' : 'udp4';
    this.#bufferBytes = options.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES;
    this.#state = new Uint8Array(max - min + 1);
    this.#cursor = min;
  }

  /** Ports currently bound (a pair counts as two). */
  get inUse(): number {
    return this.#inUse;
  }

  /** Ports of the range not bound by this pool (some may still be held by other processes). */
  get free(): number {
    return this.#state.length - this.#inUse;
  }

  /** Even RTP port + odd RTCP port, both bound, or PortPoolExhaustedError. */
  async allocatePair(): Promise<PortPair> {
    if (this.#closed) throw new PortPoolExhaustedError(this.range, 'pair');
    const { min, max } = this.range;
    const firstEven = min % 2 === 0 ? min : min + 1;
    const candidates = firstEven + 1 <= max ? Math.floor((max - firstEven - 1) / 2) + 1 : 0;
    let port = this.#cursor % 2 === 0 ? this.#cursor : this.#cursor + 1;
    for (let tried = 0; tried < candidates; tried++, port += 2) {
      if (port + 1 > max) port = firstEven;
      if (this.#get(port) !== FREE || this.#get(port + 1) !== FREE) continue;
      this.#set(port, RESERVED);
      this.#set(port + 1, RESERVED);
      this.#inUse += 2;
      const rtp = await this.#bind(port);
      const rtcp = rtp === undefined ? undefined : await this.#bind(port + 1);
      if (rtp === undefined || rtcp === undefined || this.#closed) {
        if (rtp !== undefined) closeQuietly(rtp);
        if (rtcp !== undefined) closeQuietly(rtcp);
        this.#set(port, FREE);
        this.#set(port + 1, FREE);
        this.#inUse -= 2;
        if (this.#closed) break;
        continue;
      }
      this.#set(port, PAIR_RTP);
      this.#set(port + 1, PAIR_RTCP);
      this.#sockets.set(port, rtp);
      this.#sockets.set(port + 1, rtcp);
      this.#cursor = port + 2 > max ? min : port + 2;
      return { port, rtp, rtcp };
    }
    throw new PortPoolExhaustedError(this.range, 'pair');
  }

  /** One port for an rtcp-mux leg: even ports first, then odd ones, round-robin from the cursor. */
  async allocateSingle(): Promise<SinglePort> {
    if (this.#closed) throw new PortPoolExhaustedError(this.range, 'single');
    const { min, max } = this.range;
    const size = max - min + 1;
    for (const parity of [0, 1]) {
      for (let i = 0; i < size; i++) {
        const port = min + ((this.#cursor - min + i) % size);
        if (port % 2 !== parity || this.#get(port) !== FREE) continue;
        this.#set(port, RESERVED);
        this.#inUse++;
        const socket = await this.#bind(port);
        if (socket === undefined || this.#closed) {
          if (socket !== undefined) closeQuietly(socket);
          this.#set(port, FREE);
          this.#inUse--;
          if (this.#closed) throw new PortPoolExhaustedError(this.range, 'single');
          continue;
        }
        this.#set(port, SINGLE);
        this.#sockets.set(port, socket);
        this.#cursor = port + 1 > max ? min : port + 1;
        return { port, socket };
      }
    }
    throw new PortPoolExhaustedError(this.range, 'single');
  }

  /**
   * Give a port back; for a pair, pass the RTP port and both are released. Closes the sockets if the owner has
   * not. Releasing a port that is not allocated is a no-op (close paths may run twice).
   */
  release(port: number): void {
    const state = this.#get(port);
    if (state === SINGLE) {
      this.#free(port);
    } else if (state === PAIR_RTP) {
      this.#free(port);
      this.#free(port + 1);
    } else if (state === PAIR_RTCP) {
      this.release(port - 1);
    }
  }

  /** Release everything and refuse further allocations (they fail with PORTS_EXHAUSTED, 503: shutting down). */
  close(): void {
    this.#closed = true;
    for (const port of [...this.#sockets.keys()]) this.release(port);
  }

  #free(port: number): void {
    const socket = this.#sockets.get(port);
    if (socket !== undefined) closeQuietly(socket);
    this.#sockets.delete(port);
    this.#set(port, FREE);
    this.#inUse--;
  }

  #get(port: number): number {
    const i = port - this.range.min;
    return i >= 0 && i < this.#state.length ? this.#state[i]! : -1;
  }

  #set(port: number, value: number): void {
    this.#state[port - this.range.min] = value;
  }

  /** Bind one socket; undefined when the port is taken by someone else (or not ours to take). */
  #bind(port: number): Promise<dgram.Socket | undefined> {
    const socket = dgram.createSocket({ type: this.socketType });
    return new Promise((resolve) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        socket.off('listening', onListening);
        closeQuietly(socket);
        if (err.code !== 'EADDRINUSE' && err.code !== 'EACCES') {
          logger.warn({ port, bindAddress: this.range.bindAddress, err: err.message, code: err.code }, 'media port bind failed');
        }
        resolve(undefined);
      };
      const onListening = (): void => {
        socket.off('error', onError);
        // Errors after bind (a send to an unreachable address, ICMP errors) must never crash the process; the
        // leg that takes the socket adds its own listener that counts them.
        socket.on('error', logSocketErrorOnce);
        try {
          socket.setRecvBufferSize(this.#bufferBytes);
          socket.setSendBufferSize(this.#bufferBytes);
        } catch (err) {
          logger.debug({ port, err: (err as Error).message }, 'could not set media socket buffer size');
        }
        resolve(socket);
      };
      socket.once('error', onError);
      socket.once('listening', onListening);
      socket.bind({ port, address: this.range.bindAddress, exclusive: true });
    });
  }
}

let loggedSocketError = false;
function logSocketErrorOnce(err: Error): void {
  if (loggedSocketError) return;
  loggedSocketError = true;
  logger.warn({ err: err.message, code: (err as NodeJS.ErrnoException).code }, 'media socket error (further ones not logged here)');
}

function closeQuietly(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    // already closed (ERR_SOCKET_DGRAM_NOT_RUNNING): closing is idempotent for us
  }
}
