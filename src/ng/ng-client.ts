/**
 * The client side of rtpengine's ng control protocol: what Kamailio's rtpengine module does
 * (send_rtpp_command() in src/modules/rtpengine/rtpengine.c), for a gateway that drives remote media nodes.
 *
 *   request(dict) ─▶ `cookie SP bencode` ─▶ sent, retransmitted with the SAME cookie until a reply comes or the
 *   deadline passes (the server's cookie cache answers a retransmission with the first reply, so a command never
 *   runs twice) ─▶ reply `cookie SP dict` matched by cookie ─▶ `result: ok|pong` resolves, `result: error` rejects.
 *
 * Retransmission backs off: first after `retransmitMs`, then doubling up to `maxRetransmitMs` (Kamailio retries
 * at a fixed rtpengine_tout_ms; doubling keeps a loaded node from being flooded while it works through a queue).
 * The messages travel over an NgTransport: UDP (ng-udp-transport.ts, retransmitted on) or a supervised worker's
 * IPC pipe (src/cluster/worker-ng-transport.ts, reliable: never retransmitted on, only the deadline runs).
 * abort() is for a node known dead: every waiting request rejects at once (NG_ABORTED), nothing more is sent.
 * Nothing the node sends can throw out of here: a message without a known cookie is dropped, an undecodable reply
 * rejects only the request it names. ng-reply-reader.ts turns `query`/`statistics`/`list` replies back into the
 * media API's types.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { logger } from '../log.ts';
import { encodeBencode } from './bencode.ts';
import type { BencodeDict, BencodeInput } from './bencode.ts';
import { decodeNgBody, frameNgMessage, splitCookie } from './ng-message.ts';
import { NgClientError } from './ng-client-error.ts';
import { UdpTransport, parseNgAddress, type NgAddress } from './ng-udp-transport.ts';

// The client's public surface stays importable from here (config, remote-media, the cluster transport, tests).
export { NgClientError, type NgClientErrorCode } from './ng-client-error.ts';
export { formatNgAddress, parseNgAddress, type NgAddress } from './ng-udp-transport.ts';
export { parseListReply, parseQueryReply, parseStatisticsReply } from './ng-reply-reader.ts';

/**
 * What carries ng messages (`cookie SP bencode`) between the client and one node: a connected UDP socket
 * (UdpTransport) or a supervised media worker's IPC channel (src/cluster/worker-ng-transport.ts).
 */
export interface NgTransport {
  /** For messages and logs: `ipc:worker-1 (pid 1234)`. */
  readonly label: string;
  /** Messages sent are delivered in order or the channel is gone (a pipe): no retransmissions then. */
  readonly reliable: boolean;
  send(message: Buffer): void;
  /** Sets the one receiver of the node's messages. */
  receive(handler: (message: Buffer) => void): void;
  /** Stops receiving; the channel itself belongs to whoever made the transport. */
  close(): Promise<void>;
}

export interface NgClientOptions {
  /** The node: `udp:127.0.0.1:2223` or a parsed address. */
  address: string | NgAddress;
  /**
   * Local address to bind. Default: the loopback address when the node is on loopback (so a client for a local
   * node never binds a public interface), else the wildcard of the node's family.
   */
  bindAddress?: string;
  /** Deadline of one request, retransmissions included (default 3000 ms). */
  timeoutMs?: number;
  /** First retransmission after this long (default 500 ms); then doubling. */
  retransmitMs?: number;
  /** Longest gap between two retransmissions (default 2000 ms). */
  maxRetransmitMs?: number;
  /** Requests waiting at once; more are refused at once with NG_BUSY (default 4096). */
  maxPending?: number;
  /**
   * Requests on the wire at once (default 64); the others wait their turn, their deadline running. A burst of
   * hundreds of datagrams overflows the receive buffers at both ends, and retransmitting them all in step
   * overflows them again: a window keeps the burst a node must absorb bounded.
   */
  maxInFlight?: number;
}

export interface NgRequestOptions {
  /** Overrides the client's deadline for this request. */
  timeoutMs?: number;
}

/** A request dictionary: `command` plus whatever the command takes; undefined values are left out. */
export type NgRequest = { readonly command: string } & { readonly [key: string]: BencodeInput | undefined };

interface Pending {
  readonly cookie: string;
  readonly datagram: Buffer;
  readonly deadline: number;
  readonly command: string;
  /** Sent at least once (else waiting in the queue for a place in the window). */
  sent: boolean;
  nextGapMs: number;
  /** The retransmission timer once sent, the deadline timer while queued. */
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve(reply: BencodeDict): void;
  reject(error: NgClientError): void;
}

const log = logger.child({ component: 'ng-client' });

export class NgClient {
  /** The node's UDP address (undefined over another transport). */
  readonly address: NgAddress | undefined;
  /** The node, for messages: `udp:127.0.0.1:2223`, `ipc:worker-1 (pid 1234)`. */
  readonly label: string;
  readonly #transport: NgTransport;
  readonly #options: Required<Omit<NgClientOptions, 'address' | 'bindAddress'>>;
  readonly #pending = new Map<string, Pending>();
  /** Requests waiting for a place in the window, oldest first. */
  readonly #queue: Pending[] = [];
  #inFlight = 0;
  /** Cookies are `<random>_<seq>`, like Kamailio's `<server id>_<random>_<seq>`: unique per client run. */
  readonly #prefix = randomBytes(4).toString('hex');
  #seq = 0;
  #closed = false;
  /** Datagrams that matched no waiting request (late replies to a timed-out request, duplicates). */
  strayReplies = 0;

  private constructor(address: NgAddress | undefined, transport: NgTransport, options: Omit<NgClientOptions, 'address'>) {
    this.address = address;
    this.label = transport.label;
    this.#transport = transport;
    this.#options = {
      timeoutMs: options.timeoutMs ?? 3000,
      retransmitMs: options.retransmitMs ?? 500,
      maxRetransmitMs: options.maxRetransmitMs ?? 2000,
      maxPending: options.maxPending ?? 4096,
      maxInFlight: options.maxInFlight ?? 64,
    };
    transport.receive((message) => this.#receive(message));
  }

  /** A client over another channel than UDP (`bindAddress` does not apply). */
  static over(transport: NgTransport, options: Omit<NgClientOptions, 'address' | 'bindAddress'> = {}): NgClient {
    return new NgClient(undefined, transport, options);
  }

  /** Binds a UDP socket and connects it to the node (no datagram is sent until the first request). */
  static async open(options: NgClientOptions): Promise<NgClient> {
    const address = typeof options.address === 'string' ? parseNgAddress(options.address) : options.address;
    return new NgClient(address, await UdpTransport.open(address, options.bindAddress), options);
  }

  /** The local UDP address (throws over another transport: there is none). */
  get local(): AddressInfo {
    if (!(this.#transport instanceof UdpTransport)) throw new NgClientError('NG_ADDRESS', `${this.label} is not a UDP client`);
    return this.#transport.socket.address();
  }

  /** Requests waiting for a reply. */
  get pending(): number {
    return this.#pending.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one command and resolves with the reply dictionary when `result` is anything but `error`
   * (`ok`, `pong`, or rtpengine's `load limit`). Rejects with NgClientError: NG_REMOTE_ERROR (with the
   * node's `error-reason`), NG_TIMEOUT, NG_BAD_REPLY or NG_CLOSED.
   */
  request(dict: NgRequest, options: NgRequestOptions = {}): Promise<BencodeDict> {
    if (this.#closed) return Promise.reject(new NgClientError('NG_CLOSED', 'the ng client is closed'));
    if (this.#pending.size >= this.#options.maxPending) {
      return Promise.reject(new NgClientError('NG_BUSY', `${this.#pending.size} ng requests already waiting for ${this.label}`));
    }
    const cookie = `${this.#prefix}_${this.#seq++}`;
    const datagram = frameNgMessage(cookie, encodeBencode(dict));
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs;
    return new Promise<BencodeDict>((resolve, reject) => {
      const pending: Pending = {
        cookie,
        datagram,
        deadline: Date.now() + timeoutMs,
        command: dict.command,
        sent: false,
        nextGapMs: this.#options.retransmitMs,
        timer: undefined,
        resolve,
        reject,
      };
      this.#pending.set(cookie, pending);
      if (this.#inFlight < this.#options.maxInFlight) return this.#start(pending);
      pending.timer = setTimeout(() => this.#timeout(pending), timeoutMs);
      this.#queue.push(pending);
    });
  }

  /** ng `ping`; resolves with the round trip in ms. */
  async ping(timeoutMs?: number): Promise<number> {
    const started = performance.now();
    const reply = await this.request({ command: 'ping' }, timeoutMs === undefined ? {} : { timeoutMs });
    if (reply['result'] !== 'pong') {
      throw new NgClientError('NG_BAD_REPLY', `ping answered ${JSON.stringify(String(reply['result']))}, not pong`, reply);
    }
    return performance.now() - started;
  }

  /** Rejects every waiting request with NG_CLOSED and closes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#shutdown((pending) => new NgClientError('NG_CLOSED', `the ng client was closed before ${pending.command} was answered`));
    await this.#transport.close();
  }

  /**
   * The node is known to be gone (its process exited): every waiting request rejects now with NG_ABORTED
   * rather than at its deadline, and nothing more is sent (no delete could reach it). Idempotent; the transport
   * is closed in the background.
   */
  abort(reason: string): void {
    if (this.#closed) return;
    this.#shutdown((pending) => new NgClientError('NG_ABORTED', `${pending.command} to ${this.label} aborted: ${reason}`));
    this.#transport.close().catch((err: unknown) => log.debug({ err, node: this.label }, 'ng transport close failed'));
  }

  #shutdown(error: (pending: Pending) => NgClientError): void {
    this.#closed = true;
    this.#queue.length = 0;
    for (const pending of [...this.#pending.values()]) {
      this.#settle(pending);
      pending.reject(error(pending));
    }
  }

  /** Into the window: first send, retransmissions scheduled. */
  #start(pending: Pending): void {
    pending.sent = true;
    this.#inFlight++;
    this.#send(pending);
    this.#schedule(pending);
  }

  #send(pending: Pending): void {
    try {
      this.#transport.send(pending.datagram);
    } catch (err) {
      // Only after close(); the request has been rejected already.
      log.debug({ err }, 'ng send after close');
    }
  }

  /** Next retransmission, or the deadline when it comes first (a reliable transport: only the deadline). */
  #schedule(pending: Pending): void {
    const left = pending.deadline - Date.now();
    if (left <= 0) return this.#timeout(pending);
    const reliable = this.#transport.reliable;
    const gap = reliable ? left : Math.min(pending.nextGapMs, left);
    pending.timer = setTimeout(() => {
      if (Date.now() >= pending.deadline) return this.#timeout(pending);
      if (!reliable) {
        this.#send(pending);
        pending.nextGapMs = Math.min(pending.nextGapMs * 2, this.#options.maxRetransmitMs);
      }
      this.#schedule(pending);
    }, gap);
  }

  #timeout(pending: Pending): void {
    this.#settle(pending);
    pending.reject(new NgClientError('NG_TIMEOUT', `no reply to ${pending.command} from ${this.label}`));
  }

  /** Done with a request (answered, timed out or closed): out of the map, its place in the window to the next. */
  #settle(pending: Pending): void {
    clearTimeout(pending.timer);
    this.#pending.delete(pending.cookie);
    if (!pending.sent) {
      const at = this.#queue.indexOf(pending);
      if (at >= 0) this.#queue.splice(at, 1);
      return;
    }
    this.#inFlight--;
    while (!this.#closed && this.#inFlight < this.#options.maxInFlight && this.#queue.length > 0) {
      const next = this.#queue.shift()!;
      clearTimeout(next.timer);
      this.#start(next);
    }
  }

  #receive(message: Buffer): void {
    let cookie: string;
    let body: Buffer;
    try {
      const frame = splitCookie(message);
      cookie = frame.cookie.toString('latin1');
      body = frame.body;
    } catch {
      this.strayReplies++;
      return;
    }
    const pending = this.#pending.get(cookie);
    if (pending === undefined) {
      this.strayReplies++;
      return;
    }
    this.#settle(pending);
    let reply: BencodeDict;
    try {
      reply = decodeNgBody(body).dict;
    } catch (err) {
      pending.reject(new NgClientError('NG_BAD_REPLY', `undecodable reply to ${pending.command}: ${(err as Error).message}`));
      return;
    }
    const result = reply['result'];
    if (typeof result !== 'string') {
      pending.reject(new NgClientError('NG_BAD_REPLY', `reply to ${pending.command} has no result`, reply));
    } else if (result === 'error') {
      const reason = reply['error-reason'];
      const text = typeof reason === 'string' && reason !== '' ? reason : 'error without a reason';
      pending.reject(new NgClientError('NG_REMOTE_ERROR', text, reply));
    } else {
      pending.resolve(reply);
    }
  }
}
