/**
 * The HTTP(S) server that carries SIP WebSocket upgrades (RFC 7118) at one path and serves the softphone page
 * from `public/`. Static serving is deliberately small: GET/HEAD only, no directory listings, no dotfiles, and
 * every path is resolved (symlinks included) and checked to stay inside the public directory.
 *
 * The upgrade is refused with HTTP 400 when the client does not offer the `sip` subprotocol (RFC 7118 §4 makes
 * it mandatory; accepting a handshake without it would leave a client that cannot speak SIP on a SIP flow), and
 * with 404 on any other path.
 */
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { TransportError, type Endpoint } from './transport.ts';
import { SIP_SUBPROTOCOL } from './transports/ws.ts';
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
  /** When set, an upgrade whose Origin is not listed gets 403 (browsers always send Origin). */
  allowedOrigins?: readonly string[];
}

export type WebSocketHandler = (ws: WebSocket, request: http.IncomingMessage) => void;

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

  constructor(options: HttpServerOptions, onWebSocket: WebSocketHandler) {
    this.#options = options;
    this.secure = options.tls !== undefined;
    this.#wsPath = options.wsPath ?? '/sip';
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
    return this.#local;
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
    const origins = this.#options.allowedOrigins;
    if (origins !== undefined && !origins.includes(req.headers.origin ?? '')) {
      refuseUpgrade(socket, 403, 'Forbidden');
      return;
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(SIP_SUBPROTOCOL)) {
      // RFC 7118 §4: the client MUST offer "sip"; we refuse rather than open a flow that is not SIP.
      refuseUpgrade(socket, 400, 'Bad Request', `WebSocket subprotocol "${SIP_SUBPROTOCOL}" required (RFC 7118)\n`);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => onWebSocket(ws, req));
  }

  async #serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
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
