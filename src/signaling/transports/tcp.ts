/**
 * SIP over TCP and TLS (RFC 3261 §18.3, §26.2): a listener that accepts connections, an outbound connector, and
 * the connection itself — a socket, a StreamFramer (Content-Length framing, RFC 5626 CRLF keep-alives), an idle
 * timeout and a bound on what may wait in the write buffer. As a TLS client, certificates are verified by
 * default against `servername` (the SIP domain, RFC 5922 §7.2), never skipped silently.
 */
import net from 'node:net';
import tls from 'node:tls';
import { StreamFramer, type FramingError } from '../framing.ts';
import { TransportError, type Endpoint } from '../transport.ts';
import { logger } from '../../log.ts';
import {
  normalizeAddress,
  type CloseReason,
  type Connection,
  type ConnectionHandlers,
  type ConnectionState,
} from './connection.ts';

export interface StreamConnectionOptions {
  maxMessageSize: number;
  /** Close after this long without a byte in either direction. 0 disables. */
  idleTimeoutMs: number;
  /** A peer that does not read what we send is cut off once this much is queued. */
  maxWriteBuffer: number;
}

const PONG = Buffer.from('\r\n');
/** Grace for a graceful close to flush a last response before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

export class StreamConnection implements Connection {
  readonly id: string;
  readonly protocol: 'TCP' | 'TLS';
  readonly direction: 'outbound' | 'inbound';
  readonly remote: Endpoint;
  readonly #socket: net.Socket;
  readonly #framer: StreamFramer;
  readonly #handlers: ConnectionHandlers;
  readonly #options: StreamConnectionOptions;
  #state: ConnectionState;
  #local: Endpoint | undefined;
  #closeReason: CloseReason | undefined;
  #closeError: Error | undefined;
  #writeError: Error | undefined;
  /** onError callbacks of writes not yet flushed; each is called at most once. */
  readonly #pending = new Set<(error: TransportError) => void>();

  constructor(
    socket: net.Socket,
    init: { id: string; protocol: 'TCP' | 'TLS'; direction: 'outbound' | 'inbound'; remote: Endpoint },
    handlers: ConnectionHandlers,
    options: StreamConnectionOptions,
  ) {
    this.#socket = socket;
    this.id = init.id;
    this.protocol = init.protocol;
    this.direction = init.direction;
    this.remote = init.remote;
    this.#handlers = handlers;
    this.#options = options;
    this.#state = socket.connecting || socket.pending ? 'connecting' : 'open';
    if (this.#state === 'open') this.#local = localOf(socket);
    this.#framer = new StreamFramer(
      {
        message: (data) => {
          if (this.#state !== 'closed') this.#handlers.message(this, data);
        },
        ping: () => {
          // RFC 5626 §3.5.1: answer a CRLFCRLF ping with a single CRLF pong.
          if (this.#state !== 'open') return;
          this.#socket.write(PONG);
          this.#handlers.keepAlive?.(this);
        },
        error: (error: FramingError) => this.#destroy('framing', error),
      },
      { maxMessageSize: options.maxMessageSize },
    );

    socket.setNoDelay(true);
    if (options.idleTimeoutMs > 0) socket.setTimeout(options.idleTimeoutMs);
    socket.on('timeout', () => this.#destroy('idle'));
    socket.on('data', (chunk: Buffer) => this.#framer.push(chunk));
    socket.on(init.protocol === 'TLS' && init.direction === 'outbound' ? 'secureConnect' : 'connect', () => {
      if (this.#state !== 'connecting') return;
      this.#state = 'open';
      this.#local = localOf(socket);
      this.#handlers.open?.(this);
    });
    socket.on('end', () => {
      // The peer half-closed; SIP has no use for a half-open connection.
      this.#closeReason ??= 'remote';
      socket.end();
    });
    socket.on('error', (error) => {
      this.#closeReason ??= 'error';
      this.#closeError ??= error;
    });
    socket.on('close', () => this.#onClose());
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get local(): Endpoint | undefined {
    return this.#local;
  }

  write(data: Buffer, onError?: (error: TransportError) => void): void {
    if (this.#state === 'closed' || this.#socket.destroyed || !this.#socket.writable) {
      onError?.(new TransportError(`${this.protocol} connection ${this.id} is closed`, { code: 'SIP_TRANSPORT_CLOSED' }));
      return;
    }
    if (this.#socket.writableLength + data.length > this.#options.maxWriteBuffer) {
      onError?.(new TransportError(`${this.protocol} connection ${this.id}: peer is not reading`, { code: 'SIP_TRANSPORT_SLOW_PEER' }));
      this.#destroy('error', new Error('write buffer limit exceeded'));
      return;
    }
    if (onError) this.#pending.add(onError);
    this.#socket.write(data, (error) => {
      if (error) {
        // The socket is failing; its 'error' event usually says why better than the write does (a certificate
        // rejected, a reset), so the callback is answered from #onClose with the connection's error.
        this.#writeError ??= error;
        this.#socket.destroy();
        return;
      }
      if (onError) this.#pending.delete(onError);
    });
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#closeReason ??= 'local';
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  #destroy(reason: CloseReason, error?: Error): void {
    this.#closeReason ??= reason;
    if (error) this.#closeError ??= error;
    this.#framer.destroy();
    this.#socket.destroy();
  }

  #onClose(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#framer.destroy();
    const failure = this.#transportError(this.#closeError ?? this.#writeError);
    for (const onError of this.#pending) onError(failure);
    this.#pending.clear();
    try {
      this.#handlers.closed(this, this.#closeReason ?? 'remote', this.#closeError);
    } catch (error) {
      logger.error({ err: error, flow: this.id }, 'connection close handler threw');
    }
  }

  #transportError(cause: Error | undefined): TransportError {
    const what = cause ? `: ${cause.message}` : ' before the message was sent';
    return new TransportError(`${this.protocol} connection ${this.id} failed${what}`, { cause, code: 'SIP_TRANSPORT_CONNECTION' });
  }
}

function localOf(socket: net.Socket): Endpoint | undefined {
  if (socket.localAddress === undefined || socket.localPort === undefined) return undefined;
  return { address: normalizeAddress(socket.localAddress), port: socket.localPort };
}

export interface TlsServerOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA bundle for client certificates when mutual TLS is wanted (then also set requestCert). */
  ca?: string | Buffer | Array<string | Buffer>;
  requestCert?: boolean;
}

export interface StreamListenerOptions {
  protocol: 'TCP' | 'TLS';
  host: string;
  port: number;
  tls?: TlsServerOptions;
  /** Connections beyond this are refused at accept time. */
  maxConnections?: number;
}

/** Accepts TCP or TLS connections and hands each socket, once usable, to `onSocket`. */
export class StreamListener {
  readonly protocol: 'TCP' | 'TLS';
  readonly #server: net.Server;
  readonly #options: StreamListenerOptions;
  #local: Endpoint | undefined;

  constructor(options: StreamListenerOptions, onSocket: (socket: net.Socket) => void, onTlsError?: (error: Error) => void) {
    this.protocol = options.protocol;
    this.#options = options;
    if (options.protocol === 'TLS') {
      if (!options.tls) throw new TransportError('a TLS listener needs a certificate and key', { code: 'SIP_TRANSPORT_CONFIG' });
      const server = tls.createServer({
        cert: options.tls.cert,
        key: options.tls.key,
        ca: options.tls.ca,
        requestCert: options.tls.requestCert ?? false,
        rejectUnauthorized: options.tls.requestCert ?? false,
        handshakeTimeout: 10_000,
      });
      // A failed handshake (a port scanner, a wrong certificate) must not reach 'error' on the server.
      server.on('tlsClientError', (error) => onTlsError?.(error));
      server.on('secureConnection', onSocket);
      this.#server = server;
    } else {
      this.#server = net.createServer(onSocket);
    }
    if (options.maxConnections !== undefined) this.#server.maxConnections = options.maxConnections;
    this.#server.on('error', (error) => logger.warn({ err: error, local: this.#local }, 'sip stream listener error'));
  }

  get local(): Endpoint {
    if (!this.#local) throw new TransportError(`${this.protocol} listener is not listening`, { code: 'SIP_TRANSPORT_NOT_LISTENING' });
    return this.#local;
  }

  listen(): Promise<Endpoint> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(new TransportError(`cannot listen on ${this.protocol} ${this.#options.host}:${this.#options.port}`, { cause: error, code: 'SIP_TRANSPORT_BIND' }));
      };
      this.#server.once('error', onError);
      this.#server.listen({ host: this.#options.host, port: this.#options.port, ipv6Only: net.isIPv6(this.#options.host), exclusive: true }, () => {
        this.#server.off('error', onError);
        const address = this.#server.address() as net.AddressInfo;
        this.#local = { address: address.address, port: address.port };
        resolve(this.#local);
      });
    });
  }

  /** Stops accepting; existing connections are closed by their owner. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
    });
  }
}

export interface TlsClientOptions {
  /** Extra trust anchors (a private CA, a test certificate). Default: Node's bundled roots. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Default true. Turning it off is for tests against self-signed peers only. */
  rejectUnauthorized?: boolean;
  /** Client certificate, for trunks that want mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
}

/**
 * Opens a TCP or TLS connection. `servername` is the host name the target was given by (for SNI and certificate
 * checks); with an IP literal target the certificate must name that IP.
 */
export function connectStream(
  protocol: 'TCP' | 'TLS',
  remote: Endpoint,
  options: { servername?: string; tls?: TlsClientOptions; connectTimeoutMs: number },
): net.Socket {
  let socket: net.Socket;
  if (protocol === 'TLS') {
    const servername = options.servername !== undefined && net.isIP(options.servername) === 0 ? options.servername : undefined;
    socket = tls.connect({
      host: remote.address,
      port: remote.port,
      servername,
      ca: options.tls?.ca,
      cert: options.tls?.cert,
      key: options.tls?.key,
      rejectUnauthorized: options.tls?.rejectUnauthorized ?? true,
      // Verify against the name we were asked to reach, not the address it resolved to.
      checkServerIdentity: (_host, cert) => checkIdentity(servername ?? remote.address, cert),
    });
  } else {
    socket = net.connect({ host: remote.address, port: remote.port });
  }
  // A SYN into the void takes the kernel minutes to give up; a transaction gives up after 64*T1.
  const timer = setTimeout(() => {
    socket.destroy(new Error(`connect timeout after ${options.connectTimeoutMs} ms`));
  }, options.connectTimeoutMs);
  timer.unref();
  socket.once(protocol === 'TLS' ? 'secureConnect' : 'connect', () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
  return socket;
}

/**
 * tls.checkServerIdentity, except for IPv6 literals: Node 22 passes the name through domainToASCII first, which
 * turns `::1` into '' so an IPv6 address never matches an `IP Address:` SAN. Those are compared here canonically.
 */
export function checkIdentity(name: string, cert: tls.PeerCertificate): Error | undefined {
  if (net.isIP(name) !== 6) return tls.checkServerIdentity(name, cert);
  const canonical = (ip: string): string => new URL(`http://[${ip}]/`).hostname;
  const wanted = canonical(name);
  const ips = (cert.subjectaltname ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('IP Address:'))
    .map((entry) => entry.slice('IP Address:'.length));
  for (const ip of ips) {
    if (net.isIP(ip) === 6 && canonical(ip) === wanted) return undefined;
  }
  const error = new Error(`IP: ${name} is not in the certificate's list: ${ips.join(', ')}`) as Error & { code: string };
  error.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  return error;
}
