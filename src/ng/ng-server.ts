/**
 * Serves a MediaApi over rtpengine's ng control protocol, on the three transports rtpengine offers:
 *   - UDP (`--listen-ng`): one message per datagram, the reply to the datagram's source;
 *   - TCP (`--listen-tcp-ng`): messages back to back on the stream, framed by the bencode itself (ng-stream.ts);
 *   - WebSocket: one message per frame, subprotocol `ng.rtpengine.com` (cookie framing, what Kamailio's
 *     rtpengine module asks for) or `ng-plain.rtpengine.com` (bare dictionaries; docs/http_websocket_support.md).
 *
 * A channel the server does not own (a supervised media worker's IPC pipe to its gateway) hands its messages to
 * receive(): cookie framing, no size limit but the decoder's, no socket at all.
 *
 * Every cookie-framed message goes through the retransmission cache (cookie-cache.ts) before anything runs.
 * Nothing a peer sends can stop the server: undecodable input gets an error reply (or silence when not even a
 * cookie can be read), media API failures become `result: error`, socket errors are logged and the socket
 * dropped. close() stops accepting, lets running commands finish and answer, then closes every socket.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { logger } from '../log.ts';
import type { MediaApi } from '../rtp-bridge/media-api.ts';
import { BencodeError, DEFAULT_MAX_DEPTH } from './bencode.ts';
import { CookieCache } from './cookie-cache.ts';
import type { CookieCacheOptions, ReplyTarget } from './cookie-cache.ts';
import { parseNgCommand } from './ng-command.ts';
import type { NgParseOptions } from './ng-command.ts';
import { executeNgCommand } from './ng-handler.ts';
import { decodeNgBody, encodeNgReply, errorReply, frameNgMessage, splitCookie } from './ng-message.ts';
import type { NgFormat, NgReply } from './ng-message.ts';
import { ControlCounters } from './ng-reply.ts';
import { NgStreamFramer } from './ng-stream.ts';

export const WS_SUBPROTOCOL = 'ng.rtpengine.com';
export const WS_PLAIN_SUBPROTOCOL = 'ng-plain.rtpengine.com';
/** Largest UDP payload over IPv4 (65535 − 8 − 20). */
export const MAX_UDP_REPLY = 65_507;

export interface NgListenAddress {
  host: string;
  port: number;
}

export interface NgServerOptions {
  media: MediaApi;
  udp?: readonly NgListenAddress[];
  tcp?: readonly NgListenAddress[];
  ws?: readonly NgListenAddress[];
  parse?: NgParseOptions;
  /** Largest message accepted on any transport (default 1 MiB). */
  maxMessageLength?: number;
  maxDepth?: number;
  cache?: CookieCacheOptions;
  /** TCP + WebSocket connections at once (default 256). */
  maxConnections?: number;
  /** Commands running at once per TCP connection before reading pauses (default 64). */
  maxInFlightPerConnection?: number;
  /** How long close() waits for running commands (default 5 s). */
  drainTimeoutMs?: number;
}

export interface NgServerAddresses {
  udp: AddressInfo[];
  tcp: AddressInfo[];
  ws: AddressInfo[];
}

type Framing = 'ng' | 'plain';
const log = logger.child({ component: 'ng' });

export class NgServer {
  readonly #media: MediaApi;
  readonly #options: NgServerOptions;
  readonly #limits: { maxLength: number; maxDepth: number };
  readonly #cache: CookieCache;
  readonly #control = new ControlCounters();
  readonly #startedAt = Date.now();
  readonly #udp: dgram.Socket[] = [];
  readonly #tcp: net.Server[] = [];
  readonly #ws: WebSocketServer[] = [];
  readonly #connections = new Set<net.Socket | WebSocket>();
  #connectionIds = 0;
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];
  #closing: Promise<void> | undefined;

  private constructor(options: NgServerOptions) {
    this.#media = options.media;
    this.#options = options;
    this.#limits = { maxLength: options.maxMessageLength ?? 1024 * 1024, maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH };
    this.#cache = new CookieCache(options.cache);
  }

  /** Binds every listener given; if one fails, the others are closed and the error is thrown. */
  static async listen(options: NgServerOptions): Promise<NgServer> {
    const server = new NgServer(options);
    try {
      for (const address of options.udp ?? []) await server.#listenUdp(address);
      for (const address of options.tcp ?? []) await server.#listenTcp(address);
      for (const address of options.ws ?? []) await server.#listenWs(address);
    } catch (err) {
      await server.close();
      throw err;
    }
    return server;
  }

  get addresses(): NgServerAddresses {
    return {
      udp: this.#udp.map((s) => s.address()),
      tcp: this.#tcp.map((s) => s.address() as AddressInfo),
      ws: this.#ws.map((s) => s.address() as AddressInfo),
    };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Stop accepting; keep the UDP sockets and open connections until running commands have answered.
    await Promise.all([
      ...this.#tcp.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      ...this.#ws.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    ]);
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#options.drainTimeoutMs ?? 5000);
        this.#idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    for (const connection of this.#connections) {
      if (connection instanceof net.Socket) connection.destroy();
      else connection.terminate();
    }
    this.#connections.clear();
    await Promise.all(this.#udp.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.#cache.clear();
  }

  // ------------------------------------------------------------------------------------------ transports

  async #listenUdp({ host, port }: NgListenAddress): Promise<void> {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.#udp.push(socket);
    socket.on('error', (err) => log.warn({ err }, 'ng UDP socket error'));
    socket.on('message', (message, remote) => {
      const target: ReplyTarget = {
        id: `${remote.address}:${remote.port}`,
        send: (reply) => {
          try {
            // Counted as work in flight: close() must not close the socket under a send still queued.
            this.#inFlight++;
            socket.send(reply, remote.port, remote.address, (err) => {
              this.#done();
              if (err) log.warn({ err, remote: target.id }, 'ng UDP reply not sent');
            });
          } catch (err) {
            this.#done();
            // The socket was closed (a command outlived close()'s drain): nothing left to answer on.
            log.debug({ err, remote: target.id }, 'ng UDP reply after close dropped');
          }
        },
      };
      void this.#receive(message, remote.address, target, 'ng', MAX_UDP_REPLY);
    });
  }

  async #listenTcp({ host, port }: NgListenAddress): Promise<void> {
    const server = net.createServer((socket) => this.#acceptTcp(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.warn({ err }, 'ng TCP listener error'));
    this.#tcp.push(server);
  }

  #acceptTcp(socket: net.Socket): void {
    if (this.#closing !== undefined || this.#connections.size >= (this.#options.maxConnections ?? 256)) {
      socket.destroy();
      return;
    }
    this.#connections.add(socket);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const source = socket.remoteAddress ?? 'unknown';
    const id = `tcp:${++this.#connectionIds}`;
    const framer = new NgStreamFramer(this.#limits);
    const maxInFlight = this.#options.maxInFlightPerConnection ?? 64;
    let inFlight = 0;
    const target: ReplyTarget = {
      id,
      send: (reply) => {
        if (!socket.destroyed && socket.writable) socket.write(reply);
      },
    };
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = framer.push(chunk);
      } catch (err) {
        log.warn({ err, source }, 'ng TCP stream malformed, closing');
        const cookie = framer.cookie;
        if (cookie !== undefined) {
          socket.end(frameNgMessage(cookie, encodeNgReply(errorReply(reasonOf(err)), 'bencode')));
        } else {
          socket.end();
        }
        return;
      }
      for (const message of messages) {
        // ws-style backpressure: stop reading while this connection has too much work outstanding.
        if (++inFlight >= maxInFlight) socket.pause();
        void this.#receive(message, source, target, 'ng', Infinity).finally(() => {
          if (--inFlight < maxInFlight && !socket.destroyed) socket.resume();
        });
      }
    });
    socket.on('error', (err) => log.debug({ err, source }, 'ng TCP connection error'));
    socket.on('close', () => this.#connections.delete(socket));
  }

  async #listenWs({ host, port }: NgListenAddress): Promise<void> {
    const wss = new WebSocketServer({
      host,
      port,
      maxPayload: this.#limits.maxLength,
      handleProtocols: (protocols) =>
        protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : protocols.has(WS_PLAIN_SUBPROTOCOL) ? WS_PLAIN_SUBPROTOCOL : false,
    });
    await new Promise<void>((resolve, reject) => {
      wss.once('error', reject);
      wss.once('listening', () => {
        wss.off('error', reject);
        resolve();
      });
    });
    wss.on('error', (err) => log.warn({ err }, 'ng WebSocket listener error'));
    wss.on('connection', (ws, request) => {
      if (this.#closing !== undefined || this.#connections.size >= (this.#options.maxConnections ?? 256)) {
        ws.close(1013, 'try again later');
        return;
      }
      this.#connections.add(ws);
      const source = request.socket.remoteAddress ?? 'unknown';
      const framing: Framing = ws.protocol === WS_PLAIN_SUBPROTOCOL ? 'plain' : 'ng';
      const id = `ws:${++this.#connectionIds}`;
      ws.on('message', (data, isBinary) => {
        const message = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        const target: ReplyTarget = {
          id,
          send: (reply) => {
            if (ws.readyState === ws.OPEN) ws.send(reply, { binary: isBinary });
          },
        };
        void this.#receive(message, source, target, framing, Infinity);
      });
      ws.on('error', (err) => log.debug({ err, source }, 'ng WebSocket error'));
      ws.on('close', () => this.#connections.delete(ws));
    });
    this.#ws.push(wss);
  }

  /**
   * One cookie-framed message from a channel the server does not own; `reply` gets the framed reply (or the cached
   * one for a retransmission). `source` names the peer for the cookie cache and the counters. Never rejects.
   */
  receive(message: Buffer, source: string, reply: (message: Buffer) => void): Promise<void> {
    return this.#receive(message, source, { id: source, send: reply }, 'ng', Infinity);
  }

  // ---------------------------------------------------------------------------------------------- messages

  /** Never rejects: callers fire and forget. */
  async #receive(message: Buffer, source: string, target: ReplyTarget, framing: Framing, maxReply: number): Promise<void> {
    try {
      await this.#receiveMessage(message, source, target, framing, maxReply);
    } catch (err) {
      log.error({ err, source }, 'ng message handling failed');
    }
  }

  async #receiveMessage(message: Buffer, source: string, target: ReplyTarget, framing: Framing, maxReply: number): Promise<void> {
    if (framing === 'plain') {
      this.#inFlight++;
      try {
        target.send(await this.#process(message, source, maxReply));
      } finally {
        this.#done();
      }
      return;
    }
    let cookie: Buffer;
    let body: Buffer;
    try {
      ({ cookie, body } = splitCookie(message));
    } catch (err) {
      // rtpengine drops these too: without a cookie there is no reply the proxy could match.
      log.debug({ err, source }, 'ng message without cookie dropped');
      return;
    }
    const lookup = this.#cache.lookup(source, cookie, target);
    if (lookup.status !== 'run') {
      log.debug({ source, cookie: cookie.toString('latin1'), status: lookup.status }, 'ng retransmission');
      return;
    }
    this.#inFlight++;
    try {
      const reply = await this.#process(body, source, maxReply - cookie.length - 1);
      lookup.finish(frameNgMessage(cookie, reply));
    } finally {
      this.#done();
    }
  }

  /** Body in, encoded reply out; never throws. */
  async #process(body: Buffer, source: string, maxReply: number): Promise<Buffer> {
    let format: NgFormat = body[0] === 0x7b /* { */ ? 'json' : 'bencode';
    let reply: NgReply;
    let command: string | undefined;
    try {
      const decoded = decodeNgBody(body, this.#limits);
      format = decoded.format;
      const cmd = parseNgCommand(decoded.dict, this.#options.parse);
      command = cmd.command;
      log.debug({ callId: 'callId' in cmd ? cmd.callId : undefined, command, source }, 'ng command');
      reply =
        this.#closing !== undefined
          ? errorReply('Shutting down')
          : await executeNgCommand(this.#media, cmd, { startedAt: this.#startedAt, control: this.#control });
      this.#control.count(source, cmd.command, reply.result === 'error');
    } catch (err) {
      this.#control.count(source, undefined, true);
      reply = errorReply(reasonOf(err));
    }
    if (reply.result === 'error') log.info({ command, source, reason: reply['error-reason'] }, 'ng command failed');
    let encoded: Buffer;
    try {
      encoded = encodeNgReply(reply, format);
    } catch (err) {
      log.error({ err, command }, 'ng reply not encodable');
      encoded = encodeNgReply(errorReply('Internal error'), format);
    }
    if (encoded.length > maxReply) encoded = encodeNgReply(errorReply('Reply too large for UDP'), format);
    return encoded;
  }

  #done(): void {
    if (--this.#inFlight === 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }
}

function reasonOf(err: unknown): string {
  // rtpengine's wording first, so a proxy's log reads the same whichever media node it talks to.
  if (err instanceof BencodeError) return `Could not decode bencode dictionary: ${err.message}`;
  return err instanceof Error && err.message !== '' ? err.message : 'Internal error';
}
