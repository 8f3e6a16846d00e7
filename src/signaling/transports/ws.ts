/**
 * SIP over WebSocket (RFC 7118): one SIP message per WebSocket message, text or binary (§5.1), subprotocol `sip`
 * negotiated in the handshake (§4: the server refuses a handshake that does not offer it — see http-server.ts).
 * An over-size message closes the socket with 1009 (ws enforces `maxPayload`). A message made only of CRLFs is
 * the SIP.js/RFC 5626-style keep-alive; a CRLFCRLF ping is answered with a CRLF pong, as on TCP.
 * WebSocket pings detect dead peers (a browser tab that vanished without a close frame) so their flows — and the
 * registrations riding them — do not linger. An accepted connection that carries no SIP message for
 * `idleTimeoutMs` is closed unless something holds it (a registration or a dialog rides it): a socket opened and
 * left silent, or kept up with CRLF keep-alives only, is a held file descriptor and nothing else.
 */
import { isUtf8 } from 'node:buffer';
import WebSocket from 'ws';
import { TransportError, type Endpoint } from '../transport.ts';
import { logger } from '../../log.ts';
import {
  normalizeAddress,
  type CloseReason,
  type Connection,
  type ConnectionHandlers,
  type ConnectionState,
} from './connection.ts';

/** RFC 7118 §4: the Sec-WebSocket-Protocol token for SIP. */
export const SIP_SUBPROTOCOL = 'sip';

/** RFC 6455 §7.4.1: 1000 normal closure. (1009 "message too big" is sent by ws itself when maxPayload is hit.) */
const CLOSE_NORMAL = 1000;

export interface WsConnectionOptions {
  /** Interval of WebSocket pings; a peer that missed the previous pong is terminated. 0 disables. */
  heartbeatMs: number;
  /** A peer that does not read what we send is cut off once this much is buffered. */
  maxWriteBuffer: number;
  /** Close after this long without a SIP message while nothing holds the connection (`hold`). 0/absent: never. */
  idleTimeoutMs?: number;
}

export class WsConnection implements Connection {
  readonly id: string;
  readonly protocol: 'WS' | 'WSS';
  readonly direction: 'outbound' | 'inbound';
  readonly remote: Endpoint;
  readonly #ws: WebSocket;
  readonly #handlers: ConnectionHandlers;
  readonly #options: WsConnectionOptions;
  #state: ConnectionState;
  #local: Endpoint | undefined;
  #closeReason: CloseReason | undefined;
  #closeError: Error | undefined;
  #alive = true;
  #heartbeat: NodeJS.Timeout | undefined;
  #idle: NodeJS.Timeout | undefined;
  #holds = 0;
  /** Messages written to an outbound connection before its handshake completed. */
  #queue: Array<{ data: Buffer; onError: ((error: TransportError) => void) | undefined }> = [];

  constructor(
    ws: WebSocket,
    init: { id: string; protocol: 'WS' | 'WSS'; direction: 'outbound' | 'inbound'; remote: Endpoint; local?: Endpoint },
    handlers: ConnectionHandlers,
    options: WsConnectionOptions,
  ) {
    this.#ws = ws;
    this.id = init.id;
    this.protocol = init.protocol;
    this.direction = init.direction;
    this.remote = init.remote;
    this.#local = init.local;
    this.#handlers = handlers;
    this.#options = options;
    this.#state = ws.readyState === WebSocket.OPEN ? 'open' : 'connecting';

    ws.on('open', () => {
      if (ws.protocol !== SIP_SUBPROTOCOL) {
        // RFC 7118 §4: without the negotiated `sip` subprotocol the peer is not a SIP WebSocket server.
        this.#closeError = new Error(`server did not accept the "${SIP_SUBPROTOCOL}" subprotocol`);
        this.#closeReason = 'error';
        ws.close(CLOSE_NORMAL);
        return;
      }
      this.#state = 'open';
      this.#startHeartbeat();
      const queued = this.#queue;
      this.#queue = [];
      for (const { data, onError } of queued) this.write(data, onError);
      this.#handlers.open?.(this);
    });
    ws.on('message', (data, isBinary) => this.#onMessage(toBuffer(data), isBinary));
    ws.on('pong', () => {
      this.#alive = true;
    });
    ws.on('error', (error: Error & { code?: string }) => {
      // ws closes with 1009 itself when maxPayload is exceeded, then reports the error here.
      this.#closeReason ??= error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'framing' : 'error';
      this.#closeError ??= error;
    });
    ws.on('close', () => this.#onClose());
    if (this.#state === 'open') this.#startHeartbeat();
    this.#armIdle();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get local(): Endpoint | undefined {
    return this.#local;
  }

  write(data: Buffer, onError?: (error: TransportError) => void): void {
    if (this.#state === 'connecting' && this.#queue.length < 64) {
      // ws throws on send while CONNECTING: hold the message until the handshake is done.
      this.#queue.push({ data, onError });
      return;
    }
    if (this.#state !== 'open' || this.#ws.readyState !== WebSocket.OPEN) {
      onError?.(new TransportError(`${this.protocol} connection ${this.id} is closed`, { code: 'SIP_TRANSPORT_CLOSED' }));
      return;
    }
    if (this.#ws.bufferedAmount + data.length > this.#options.maxWriteBuffer) {
      onError?.(new TransportError(`${this.protocol} connection ${this.id}: peer is not reading`, { code: 'SIP_TRANSPORT_SLOW_PEER' }));
      this.#closeReason ??= 'error';
      this.#ws.terminate();
      return;
    }
    // Text frames when the message is UTF-8 (what JsSIP and SIP.js expect), binary otherwise (§5.1 allows both).
    this.#ws.send(data, { binary: !isUtf8(data) }, (error) => {
      if (error) onError?.(new TransportError(`${this.protocol} connection ${this.id} failed: ${error.message}`, { cause: error, code: 'SIP_TRANSPORT_CONNECTION' }));
    });
  }

  /**
   * Keeps the connection from the idle timeout while the returned release has not been called (a registration
   * or a dialog rides it; keep-alives and heartbeats then detect a dead peer). Releases are counted and idempotent.
   */
  hold(): () => void {
    this.#holds++;
    this.#disarmIdle();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      this.#armIdle();
    };
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#closeReason ??= 'local';
    this.#ws.close(CLOSE_NORMAL);
    // A peer that never answers the close frame is cut off.
    setTimeout(() => this.#ws.terminate(), 2000).unref();
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#state === 'closed') return;
    if (isKeepAlive(data)) {
      // A CRLFCRLF ping gets a single CRLF pong (RFC 5626 §3.5.1 habit, as SIP.js expects); a lone CRLF is a pong.
      if (data.length >= 4) {
        this.#ws.send(isBinary ? Buffer.from('\r\n') : '\r\n');
        this.#handlers.keepAlive?.(this);
      }
      return;
    }
    this.#armIdle();
    this.#handlers.message(this, data);
  }

  /** (Re)starts the idle timer: on open, on every SIP message, when the last hold is released. */
  #armIdle(): void {
    const ms = this.#options.idleTimeoutMs ?? 0;
    if (ms <= 0 || this.#holds > 0 || this.#state === 'closed') return;
    if (this.#idle) {
      this.#idle.refresh();
      return;
    }
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#holds > 0 || this.#state === 'closed') return;
      this.#closeReason ??= 'idle';
      this.close();
    }, ms);
    this.#idle.unref();
  }

  #disarmIdle(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = undefined;
  }

  #startHeartbeat(): void {
    if (this.#options.heartbeatMs <= 0 || this.#heartbeat) return;
    this.#heartbeat = setInterval(() => {
      if (!this.#alive) {
        this.#closeReason ??= 'idle';
        this.#ws.terminate();
        return;
      }
      this.#alive = false;
      this.#ws.ping();
    }, this.#options.heartbeatMs);
    this.#heartbeat.unref();
  }

  #onClose(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#disarmIdle();
    const queued = this.#queue;
    this.#queue = [];
    for (const { onError } of queued) {
      const cause = this.#closeError;
      onError?.(new TransportError(`${this.protocol} connection ${this.id} failed${cause ? `: ${cause.message}` : ''}`, { cause, code: 'SIP_TRANSPORT_CONNECTION' }));
    }
    try {
      this.#handlers.closed(this, this.#closeReason ?? 'remote', this.#closeError);
    } catch (error) {
      logger.error({ err: error, flow: this.id }, 'connection close handler threw');
    }
  }
}

function isKeepAlive(data: Buffer): boolean {
  if (data.length === 0) return true;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0x0d && data[i] !== 0x0a) return false;
  return true;
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export interface WsClientOptions {
  maxPayload: number;
  /** Default true; see TlsClientOptions. */
  rejectUnauthorized?: boolean;
  ca?: string | Buffer | Array<string | Buffer>;
  servername?: string;
  connectTimeoutMs: number;
}

/**
 * Opens a WebSocket to a SIP WebSocket server (the gateway as a WS client towards a WS trunk). RFC 7118 §4: the
 * handshake offers `sip`, and the connection is dropped if the server does not select it.
 */
export function connectWebSocket(protocol: 'WS' | 'WSS', remote: Endpoint, path: string, options: WsClientOptions): WebSocket {
  const host = remote.address.includes(':') ? `[${remote.address}]` : remote.address;
  const url = `${protocol === 'WSS' ? 'wss' : 'ws'}://${host}:${remote.port}${path}`;
  // ws hands these options to tls.connect, which takes `servername` for SNI and the certificate check; the URL
  // carries the resolved address so that we connect where the flow table says.
  const clientOptions: WebSocket.ClientOptions & { servername?: string } = {
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
    handshakeTimeout: options.connectTimeoutMs,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    ca: options.ca,
    servername: options.servername,
    headers: options.servername ? { Host: options.servername } : undefined,
  };
  return new WebSocket(url, SIP_SUBPROTOCOL, clientOptions);
}

/** The local endpoint of an accepted WebSocket's underlying socket, if it is known. */
export function wsEndpoints(socket: { localAddress?: string; localPort?: number; remoteAddress?: string; remotePort?: number }): {
  local: Endpoint | undefined;
  remote: Endpoint;
} {
  return {
    local:
      socket.localAddress !== undefined && socket.localPort !== undefined
        ? { address: normalizeAddress(socket.localAddress), port: socket.localPort }
        : undefined,
    remote: { address: normalizeAddress(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 },
  };
}
