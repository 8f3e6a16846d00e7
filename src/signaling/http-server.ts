/**
 * The HTTP(S) server that carries SIP WebSocket upgrades (RFC 7118) at one path and serves the softphone page
 * from `public/`. Static serving is deliberately small: GET/HEAD only, no directory listings, no dotfiles, and
 * every path is resolved (symlinks included) and checked to stay inside the public directory.
 *
 * The upgrade is checked in this order, each refusal an HTTP status before any SIP: 404 on any other path; 403
 * for an Origin that is not allowed (src/security/origin-policy.ts: the server's own origins plus the configured
 * ones; cross-site WebSocket hijacking); 400 when the client does not offer the `sip` subprotocol (RFC 7118 §4
 * makes it mandatory; accepting a handshake without it would leave a client that cannot speak SIP on a SIP flow);
 * 503 when the source address already holds its share of connections; then the `authorizeUpgrade` hook (401 for
 * a bad `?token=`). A banned source's sockets are destroyed as they are accepted, before a byte is read.
 *
 * `routes` adds small JSON endpoints (`POST /api/token`, see http-routes.ts).
 */
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { TransportError, type Endpoint } from './transport.ts';
import { SIP_SUBPROTOCOL } from './transports/ws.ts';
import { normalizeAddress } from './transports/connection.ts';
import { serveRoute, type HttpRoute } from './http-routes.ts';
import type { TokenIdentity } from './auth/token.ts';
import { isOriginAllowed, originPolicy, ownOrigins, type OriginPolicy } from '../security/origin-policy.ts';
import type { ConnectionLimiter } from '../security/connection-limiter.ts';
import { logger } from '../log.ts';

export interface HttpServerOptions {
  host: string;
  port: number;
  /** Directory served at `/`. Without it, every non-upgrade request is a 404. */
  publicDir?: string;
  /** HTTPS (and WSS) with this certificate. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Path of the SIP WebSocket endpoint. Default `/sip`. */
  wsPath?: string;
  /** Largest WebSocket message accepted; a larger one closes the socket with 1009. */
  maxPayload: number;
  /**
   * Origins allowed besides the server's own (see origin-policy.ts); `*` allows any. An upgrade with another
   * Origin gets 403; one without Origin (not a browser) passes.
   */
  allowedOrigins?: readonly string[];
  /** The name the world reaches this server by (and its port), so that pages served under it are own origins. */
  advertisedHost?: string;
  advertisedPort?: number;
  /** Shared per-address count of open connections; an upgrade over the limit gets 503. */
  connectionLimiter?: ConnectionLimiter;
  /** Per accepted socket (HTTP, HTTPS, upgrades): false destroys it at once (a banned source). */
  allowConnection?: (address: string) => boolean;
  /** Last check of an upgrade (e.g. `?token=`); its identity is handed to the WebSocket handler. */
  authorizeUpgrade?: UpgradeAuthorizer;
  /** JSON endpoints, matched by method and exact path before static files. */
  routes?: readonly HttpRoute[];
}

export type UpgradeVerdict =
  | { ok: true; identity?: TokenIdentity }
  | { ok: false; status: 400 | 401 | 403 | 503; reason: string };

export type UpgradeAuthorizer = (request: http.IncomingMessage, source: string) => UpgradeVerdict | Promise<UpgradeVerdict>;

export type { HttpRoute, HttpRouteRequest, HttpRouteResponse } from './http-routes.ts';

export type WebSocketHandler = (ws: WebSocket, request: http.IncomingMessage, identity: TokenIdentity | undefined) => void;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
};

export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export class HttpServer {
  readonly secure: boolean;
  readonly #options: HttpServerOptions;
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  readonly #wsPath: string;
  #publicRoot: string | undefined;
  #local: Endpoint | undefined;
  #origins: OriginPolicy;

  constructor(options: HttpServerOptions, onWebSocket: WebSocketHandler) {
    this.#options = options;
    this.secure = options.tls !== undefined;
    this.#wsPath = options.wsPath ?? '/sip';
    // Until listen() knows the bound port, only the configured origins are allowed.
    this.#origins = originPolicy([], options.allowedOrigins);
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.#serve(req, res).catch((error: unknown) => {
        logger.warn({ err: error, url: req.url }, 'http request failed');
        if (!res.headersSent) respond(res, 500, 'Internal Server Error');
        else res.destroy();
      });
    };
    this.#server = options.tls
      ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler)
      : http.createServer(handler);
    // Slow-header clients (slowloris) are cut off instead of holding sockets for Node's default minute.
    this.#server.headersTimeout = 10_000;
    this.#server.requestTimeout = 30_000;
    const allowConnection = options.allowConnection;
    if (allowConnection) {
      // The raw TCP socket, before TLS or HTTP parsing: the cheapest place to drop a banned source.
      this.#server.on('connection', (socket: Duplex & { remoteAddress?: string }) => {
        if (!allowConnection(normalizeAddress(socket.remoteAddress ?? ''))) socket.destroy();
      });
    }
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols) => (protocols.has(SIP_SUBPROTOCOL) ? SIP_SUBPROTOCOL : false),
    });
    this.#wss.on('error', (error) => logger.warn({ err: error }, 'websocket server error'));
    this.#server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        this.#upgrade(req, socket, head, onWebSocket);
      } catch (error) {
        logger.warn({ err: error }, 'websocket upgrade failed');
        socket.destroy();
      }
    });
    // A TLS handshake failure or a garbage request line: drop the socket, never the process.
    this.#server.on('tlsClientError', (error: Error) => logger.debug({ err: error }, 'https handshake failed'));
    this.#server.on('error', (error) => logger.warn({ err: error, local: this.#local }, 'http server error'));
  }

  get local(): Endpoint {
    if (!this.#local) throw new TransportError('HTTP server is not listening', { code: 'SIP_TRANSPORT_NOT_LISTENING' });
    return this.#local;
  }

  async listen(): Promise<Endpoint> {
    if (this.#options.publicDir !== undefined) {
      try {
        this.#publicRoot = await fs.promises.realpath(this.#options.publicDir);
      } catch {
        logger.warn({ publicDir: this.#options.publicDir }, 'public directory not found; serving nothing');
      }
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(new TransportError(`cannot listen on HTTP ${this.#options.host}:${this.#options.port}`, { cause: error, code: 'SIP_TRANSPORT_BIND' }));
      };
      this.#server.once('error', onError);
      this.#server.listen({ host: this.#options.host, port: this.#options.port, exclusive: true }, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new TransportError('HTTP server has no address');
    this.#local = { address: address.address, port: address.port };
    const own = ownOrigins({
      secure: this.secure,
      host: this.#options.host,
      port: address.port,
      advertisedHost: this.#options.advertisedHost,
      advertisedPort: this.#options.advertisedPort,
    });
    this.#origins = originPolicy(own, this.#options.allowedOrigins);
    if (this.#origins !== 'any' && this.#options.advertisedHost === undefined && (this.#options.host === '0.0.0.0' || this.#options.host === '::')
      && (this.#options.allowedOrigins ?? []).length === 0) {
      logger.warn({ local: this.#local }, 'HTTP server bound to a wildcard address without advertisedHost or allowedOrigins: browsers on other hosts will be refused the WebSocket (403)');
    }
    return this.#local;
  }

  /** The origins allowed to open the WebSocket (`any`, or the normalized list). */
  get origins(): 'any' | readonly string[] {
    return this.#origins === 'any' ? 'any' : [...this.#origins];
  }

  /** Stops accepting and drops idle keep-alive HTTP connections; upgraded WebSockets belong to their owner. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, onWebSocket: WebSocketHandler): void {
    socket.on('error', (error) => logger.debug({ err: error }, 'upgrade socket error'));
    const pathname = pathnameOf(req.url);
    if (pathname !== this.#wsPath) {
      refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    // RFC 6455 §10.2: the server decides from Origin whether the page that asked may connect.
    const origin = req.headers.origin;
    if (!isOriginAllowed(this.#origins, origin)) {
      // debug, not info: a stream of refused upgrades must not become a stream of log lines.
      logger.debug({ origin, source: req.socket.remoteAddress }, 'websocket upgrade refused: origin not allowed');
      refuseUpgrade(socket, 403, 'Forbidden', 'Origin not allowed\n');
      return;
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(SIP_SUBPROTOCOL)) {
      // RFC 7118 §4: the client MUST offer "sip"; we refuse rather than open a flow that is not SIP.
      refuseUpgrade(socket, 400, 'Bad Request', `WebSocket subprotocol "${SIP_SUBPROTOCOL}" required (RFC 7118)\n`);
      return;
    }
    const source = normalizeAddress(req.socket.remoteAddress ?? '');
    let release: (() => void) | undefined;
    if (this.#options.connectionLimiter) {
      release = this.#options.connectionLimiter.acquire(source);
      if (release === undefined) {
        logger.debug({ source }, 'websocket upgrade refused: too many connections from this address');
        refuseUpgrade(socket, 503, 'Service Unavailable', 'Too many connections from this address\n');
        return;
      }
      // The raw socket closes with the WebSocket, or with a handshake that never completed.
      socket.once('close', release);
    }
    const authorize = this.#options.authorizeUpgrade;
    if (authorize === undefined) {
      this.#wss.handleUpgrade(req, socket, head, (ws) => onWebSocket(ws, req, undefined));
      return;
    }
    Promise.resolve()
      .then(() => authorize(req, source))
      .then(
        (verdict) => {
          if (socket.destroyed) return;
          if (!verdict.ok) {
            refuseUpgrade(socket, verdict.status, reasonPhrase(verdict.status), `${verdict.reason}\n`);
            return;
          }
          this.#wss.handleUpgrade(req, socket, head, (ws) => onWebSocket(ws, req, verdict.identity));
        },
        (error: unknown) => {
          logger.warn({ err: error }, 'websocket upgrade authorizer failed');
          if (!socket.destroyed) refuseUpgrade(socket, 503, 'Service Unavailable');
        },
      );
  }

  #route(req: http.IncomingMessage): HttpRoute | undefined {
    const routes = this.#options.routes;
    if (routes === undefined || routes.length === 0) return undefined;
    const pathname = pathnameOf(req.url);
    return routes.find((r) => r.path === pathname && r.method === req.method);
  }

  async #serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const route = this.#route(req);
    if (route !== undefined) {
      await serveRoute(route, req, res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      respond(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
      return;
    }
    const pathname = pathnameOf(req.url);
    const root = this.#publicRoot;
    if (pathname === undefined) {
      respond(res, 400, 'Bad Request');
      return;
    }
    if (root === undefined || pathname === this.#wsPath) {
      respond(res, 404, 'Not Found');
      return;
    }
    const file = await resolveInside(root, pathname);
    if (file === undefined) {
      respond(res, 404, 'Not Found');
      return;
    }
    res.writeHead(200, {
      'Content-Type': contentTypeFor(file.path),
      'Content-Length': file.size,
      'Cache-Control': 'no-cache',
      'Last-Modified': file.mtime.toUTCString(),
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = fs.createReadStream(file.path);
    stream.on('error', (error) => {
      logger.warn({ err: error, file: file.path }, 'static file read failed');
      res.destroy();
    });
    stream.pipe(res);
  }
}

function reasonPhrase(status: number): string {
  return http.STATUS_CODES[status] ?? 'Error';
}

/** The decoded path of a request target, or undefined when it cannot be decoded or holds a NUL byte. */
function pathnameOf(url: string | undefined): string | undefined {
  try {
    const pathname = decodeURIComponent(new URL(url ?? '/', 'http://localhost').pathname);
    return pathname.includes('\0') ? undefined : pathname;
  } catch {
    return undefined;
  }
}

/**
 * The regular file a URL path names inside `root`, `index.html` for a directory. `..` segments are resolved by
 * URL parsing and again by path.resolve; the realpath check catches symlinks that point out of the root.
 * Dotfiles and dot-directories (`.git`, `.env`) are never served.
 */
async function resolveInside(root: string, pathname: string): Promise<{ path: string; size: number; mtime: Date } | undefined> {
  if (pathname.split('/').some((segment) => segment.startsWith('.'))) return undefined;
  let candidate = path.resolve(root, `.${pathname}`);
  if (!isInside(root, candidate)) return undefined;
  try {
    let stat = await fs.promises.stat(candidate);
    if (stat.isDirectory()) {
      candidate = path.join(candidate, 'index.html');
      stat = await fs.promises.stat(candidate);
    }
    if (!stat.isFile()) return undefined;
    const real = await fs.promises.realpath(candidate);
    if (!isInside(root, real)) return undefined;
    return { path: real, size: stat.size, mtime: stat.mtime };
  } catch {
    return undefined;
  }
}

function isInside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root + path.sep);
}

function respond(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  const body = `${status} ${text}\n`;
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(body);
}

function refuseUpgrade(socket: Duplex, status: number, reason: string, body = `${status} ${reason}\n`): void {
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
