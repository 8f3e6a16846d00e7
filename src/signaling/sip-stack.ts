/**
 * The SIP stack: the transport layer (RFC 3261 §18) under the transaction layer (§17), and the UAS checks of
 * §8.2 in front of a transaction user — later the B2BUA — that declares which methods it handles.
 *
 * Order of the §8.2 checks on a new request (the RFC's order): method inspection (§8.2.1: 501 for a method
 * nobody here knows, 405 with Allow for a known one nobody handles), Request-URI scheme (§8.2.2.1: 416),
 * Require (§8.2.2.3: 420 with Unsupported). Then the TU gets the request if it claims the method; otherwise the
 * stack answers OPTIONS itself (§11: 200 with Allow/Accept/Accept-Encoding/Accept-Language/Supported) — also
 * with Max-Forwards 0, since a UAS is the final recipient (§16.3 item 3 lets even a proxy do so) — and answers
 * an in-dialog OPTIONS nobody claims with 481 (§12.2.2).
 * Every final response built here carries a To tag when the request's To had none (§8.2.6.2).
 */
import { createResponseTo, type SipRequest, type SipResponse } from './message.ts';
import type { Channel, TransportError } from './transport.ts';
import { optionTags, toTag } from './header-accessors.ts';
import { newTag } from './transaction/branch.ts';
import {
  TransactionLayer,
  type ServerTransaction,
  type TransactionUser,
} from './transaction/transaction-layer.ts';
import type { InviteServerTransaction } from './transaction/invite-server-transaction.ts';
import type { NonInviteServerTransaction } from './transaction/non-invite-server-transaction.ts';
import type { TimerConfig } from './transaction/timers.ts';
import {
  TransportLayer,
  type BoundListener,
  type ChannelTarget,
  type HttpConfig,
  type ListenerConfig,
  type TransportCounters,
  type TransportLayerOptions,
  type TransportLimits,
} from './transport-layer.ts';
import type { CloseReason } from './transports/connection.ts';
import { OverloadControl, type OverloadOptions } from './overload.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'sip-stack' });

/**
 * What the B2BUA (or any UA core) implements. Requests of `methods` reach `onRequest` after the §8.2 checks; the
 * TU answers through `transaction.respond(...)` (exactly one final response). ACK for a 2xx and CANCEL bypass the
 * checks (§8.2.2.3: Require is not applied to them).
 */
export interface SipTransactionUser {
  /** Methods the TU handles, upper case (`INVITE`, `BYE`, `REGISTER` …). They make up Allow, with OPTIONS. */
  readonly methods: readonly string[];
  /** Extra option tags the TU implements (they join Supported and pass the Require check). */
  readonly supported?: readonly string[];
  onRequest(request: SipRequest, transaction: ServerTransaction, channel: Channel): void;
  /**
   * Asked for every request (retransmissions, ACK and CANCEL included) before the transaction layer sees it:
   * false drops it unanswered and creates no transaction (no 100 Trying, no timers) — for sources the TU wants to
   * stay silent towards. Must be cheap.
   */
  admitRequest?(request: SipRequest, channel: Channel): boolean;
  /** An ACK for a 2xx (or a late one); without it ACKs are dropped. */
  onAck?(ack: SipRequest, channel: Channel): void;
  /**
   * §9.2. Without it the stack answers the CANCEL 200 and the pending INVITE 487 — or the CANCEL 481 when no
   * INVITE matches.
   */
  onCancel?(cancel: SipRequest, cancelTransaction: NonInviteServerTransaction, target: InviteServerTransaction | undefined): void;
  /** A response matching no client transaction (RFC 6026: discarded after this). */
  onStrayResponse?(response: SipResponse): void;
  /** Timer H fired: no ACK for our 3xx–6xx to an INVITE. */
  onServerTimeout?(transaction: InviteServerTransaction): void;
  onServerTransportError?(transaction: ServerTransaction, error: TransportError): void;
  /** A TCP/TLS/WS/WSS flow closed: bindings registered over it are dead (RFC 5626 §5.3 spirit). */
  onFlowClosed?(flowId: string, reason: CloseReason): void;
}

export interface SipStackOptions {
  /** SIP listeners (UDP, TCP, TLS; WS/WSS here get a bare HTTP server). Default UDP and TCP on 127.0.0.1:5060. */
  listeners?: readonly ListenerConfig[];
  /** The HTTP server for `public/` and WS (WSS with `tls`). Default 127.0.0.1:8080, `public`, `/sip`. `false`: none. */
  http?: HttpConfig | false;
  timers?: Partial<TimerConfig>;
  limits?: TransportLimits;
  /** Server header on responses the stack builds, and the name peers log. */
  userAgent: string;
  /** Option tags the stack itself supports; default none (nothing is claimed that is not implemented). */
  supported?: readonly string[];
  /** Transport knobs (idle timeout, connect timeout, WebSocket heartbeat, write buffer, TLS client trust). */
  transport?: Omit<TransportLayerOptions, 'listeners' | 'http' | 'limits' | 'userAgent'>;
  /**
   * 503 + Retry-After for new out-of-dialog INVITEs while saturated (overload.ts). Absent: off (an embedded stack
   * such as the services peer shares the gateway's event loop, whose own stack already sheds); given: on unless
   * `enabled: false`, with overload.ts's defaults for what it leaves out.
   */
  overload?: OverloadOptions;
}

export const DEFAULT_LISTENERS: readonly ListenerConfig[] = Object.freeze([
  { protocol: 'UDP', host: '127.0.0.1', port: 5060 },
  { protocol: 'TCP', host: '127.0.0.1', port: 5060 },
]);

export const DEFAULT_HTTP: Readonly<HttpConfig> = Object.freeze({ host: '127.0.0.1', port: 8080, publicDir: 'public', wsPath: '/sip' });

/** Methods this code base knows (RFC 3261 and the extensions a gateway meets): 405, not 501, when unhandled. */
export const KNOWN_METHODS: readonly string[] = Object.freeze([
  'INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'REGISTER', 'PRACK', 'UPDATE', 'INFO', 'SUBSCRIBE', 'NOTIFY',
  'REFER', 'MESSAGE', 'PUBLISH',
]);

/** URI schemes a Request-URI may use here (§8.2.2.1; tel per RFC 3966 for the B2BUA's routing). */
const SCHEMES: ReadonlySet<string> = new Set(['sip', 'sips', 'tel']);

export interface SipStackCounters {
  /** The transport layer's counters (messages, parse errors, drops, connections). */
  readonly transport: TransportCounters;
  /** New server transactions (each new request once, retransmissions absorbed). */
  serverTransactions: number;
  /** Requests handed to the TU's onRequest. */
  toTransactionUser: number;
  /** OPTIONS the stack answered itself. */
  optionsAnswered: number;
  /** Responses the stack sent by rule, by status: 405, 416, 420, 481, 487, 501, 503. */
  rejected: Record<number, number>;
  /** Requests the TU's admitRequest refused (dropped before the transaction layer). */
  notAdmitted: number;
}

export class SipStack {
  readonly transport: TransportLayer;
  readonly transactions: TransactionLayer;
  readonly counters: SipStackCounters;
  readonly overload: OverloadControl;
  readonly #options: SipStackOptions;
  #tu: SipTransactionUser | undefined;
  #state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  #closing: Promise<void> | undefined;

  constructor(options: SipStackOptions) {
    this.#options = options;
    const http = options.http === false ? undefined : (options.http ?? DEFAULT_HTTP);
    this.transactions = new TransactionLayer(this.#layerUser(), { timers: options.timers });
    this.transport = new TransportLayer(
      {
        ...options.transport,
        listeners: options.listeners ?? DEFAULT_LISTENERS,
        http,
        limits: options.limits,
        userAgent: options.userAgent,
      },
      {
        request: (request, channel) => {
          if (this.#tu?.admitRequest?.(request, channel) === false) {
            this.counters.notAdmitted++;
            return;
          }
          this.transactions.receiveRequest(request, channel);
        },
        response: (response) => this.transactions.receiveResponse(response),
        flowClosed: (flowId, reason) => this.#tu?.onFlowClosed?.(flowId, reason),
      },
    );
    this.counters = { transport: this.transport.counters, serverTransactions: 0, toTransactionUser: 0, optionsAnswered: 0, rejected: {}, notAdmitted: 0 };
    this.overload = new OverloadControl(options.overload ?? { enabled: false }, { callsInSetup: () => this.transactions.callsInSetup });
  }

  /** Binds every listener; resolves with what was bound (ports, when 0 was asked). */
  async start(): Promise<readonly BoundListener[]> {
    if (this.#state !== 'new') throw new Error('SipStack.start() called twice');
    this.#state = 'starting';
    const bound = await this.transport.start();
    this.overload.start();
    this.#state = 'running';
    log.info({ listeners: bound.map((l) => `${l.protocol} ${l.local.address}:${l.local.port}`) }, 'sip stack started');
    return bound;
  }

  get listeners(): readonly BoundListener[] {
    return this.transport.listeners;
  }

  /** The bound port of the first listener of `protocol` (tests bind port 0). */
  port(protocol: BoundListener['protocol']): number {
    const listener = this.transport.listeners.find((l) => l.protocol === protocol);
    if (!listener) throw new Error(`no ${protocol} listener`);
    return listener.local.port;
  }

  /** Sets (or with undefined removes) the transaction user. */
  setTransactionUser(tu: SipTransactionUser | undefined): void {
    this.#tu = tu;
  }

  channelFor(target: ChannelTarget): Promise<Channel> {
    return this.transport.channelFor(target);
  }

  flow(flowId: string): Channel | undefined {
    return this.transport.flow(flowId);
  }

  /** The Allow list: OPTIONS, the TU's methods, and ACK/CANCEL with INVITE (§20.5). */
  get allow(): string[] {
    const methods = new Set<string>(['OPTIONS', ...(this.#tu?.methods ?? [])]);
    if (methods.has('INVITE')) {
      methods.add('ACK');
      methods.add('CANCEL');
    }
    const known = KNOWN_METHODS.filter((m) => methods.has(m));
    return [...known, ...[...methods].filter((m) => !KNOWN_METHODS.includes(m))];
  }

  get supported(): string[] {
    return [...new Set([...(this.#options.supported ?? []), ...(this.#tu?.supported ?? [])])];
  }

  /**
   * Graceful and idempotent: new requests are answered 503 while listeners and connections close (what was
   * written is flushed), then every transaction is terminated and its timers cleared.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = 'closing';
      this.overload.stop();
      await this.transport.close();
      this.transactions.close();
      this.#state = 'closed';
    })();
    return this.#closing;
  }

  #layerUser(): TransactionUser {
    return {
      onRequest: (request, transaction) => this.#onRequest(request, transaction),
      onAck: (ack, channel) => this.#tu?.onAck?.(ack, channel),
      onCancel: (cancel, cancelTx, target) => {
        if (this.#tu?.onCancel) return this.#tu.onCancel(cancel, cancelTx, target);
        this.#defaultCancel(cancelTx, target);
      },
      onStrayResponse: (response) => this.#tu?.onStrayResponse?.(response),
      onServerTimeout: (transaction) => this.#tu?.onServerTimeout?.(transaction),
      onServerTransportError: (transaction, error) => this.#tu?.onServerTransportError?.(transaction, error),
    };
  }

  #onRequest(request: SipRequest, transaction: ServerTransaction): void {
    this.counters.serverTransactions++;
    if (this.#state !== 'running') {
      // Shutting down: "the server is temporarily unable to process the request" (§21.5.4).
      this.#reject(transaction, 503);
      return;
    }
    const method = request.method;
    const tu = this.#tu;
    const claimed = tu !== undefined && tu.methods.includes(method);

    // §8.2.1 Method inspection.
    if (!claimed && method !== 'OPTIONS') {
      if (KNOWN_METHODS.includes(method)) this.#reject(transaction, 405, [['Allow', this.allow.join(', ')]]);
      else this.#reject(transaction, 501, [['Allow', this.allow.join(', ')]]);
      return;
    }
    // §8.2.2.1: "If the Request-URI uses a scheme not supported by the UAS, it SHOULD reject the request with a
    // 416 (Unsupported URI Scheme) response."
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(request.uri)?.[1]?.toLowerCase();
    if (scheme === undefined || !SCHEMES.has(scheme)) {
      this.#reject(transaction, 416);
      return;
    }
    // §8.2.2.3: a Require naming an extension we do not support gets 420 listing them in Unsupported.
    let required: string[];
    try {
      required = optionTags(request, 'require');
    } catch (error) {
      this.#reject(transaction, 400, [], `Bad Request (${(error as Error).message.replace(/[^\x20-\x7e]/g, ' ').slice(0, 100)})`);
      return;
    }
    const supported = this.supported.map((t) => t.toLowerCase());
    const unsupported = required.filter((tag) => !supported.includes(tag));
    if (unsupported.length > 0) {
      this.#reject(transaction, 420, [['Unsupported', unsupported.join(', ')]]);
      return;
    }

    if (claimed) {
      if (this.overload.shouldShed(request)) {
        // §21.5.4: "The server is temporarily unable to process the request due to a temporary overloading …
        // the server MAY indicate when the client should retry the request in a Retry-After header field."
        // Answered before the TU sees it: no call, no media ports, no onward INVITE.
        this.#reject(transaction, 503, [['Retry-After', String(this.overload.retryAfterSeconds)]]);
        return;
      }
      this.counters.toTransactionUser++;
      tu.onRequest(request, transaction, transaction.channel);
      return;
    }
    // OPTIONS nobody claimed.
    if (hasToTag(request)) {
      // §12.2.2: a request inside a dialog we do not know.
      this.#reject(transaction, 481);
      return;
    }
    this.counters.optionsAnswered++;
    transaction.respond(this.optionsResponse(request));
  }

  /** §11.2: the capabilities a UAS reports in a 200 to OPTIONS (public: a TU that claims OPTIONS answers with it). */
  optionsResponse(request: SipRequest): SipResponse {
    const response = createResponseTo(request, 200, undefined, newTag());
    response.headers.append('Allow', this.allow.join(', '));
    response.headers.append('Accept', 'application/sdp');
    response.headers.append('Accept-Encoding', 'identity');
    response.headers.append('Accept-Language', 'en');
    response.headers.append('Supported', this.supported.join(', '));
    this.#finish(response);
    return response;
  }

  /** §9.2 without a TU that handles CANCEL. */
  #defaultCancel(cancelTx: NonInviteServerTransaction, target: InviteServerTransaction | undefined): void {
    if (target === undefined) {
      this.#reject(cancelTx, 481);
      return;
    }
    const ok = createResponseTo(cancelTx.request, 200, undefined, newTag());
    this.#finish(ok);
    cancelTx.respond(ok);
    if (target.finalResponse === undefined && !target.terminated) this.#reject(target, 487);
  }

  #reject(transaction: ServerTransaction, status: number, headers: Array<[string, string]> = [], reason?: string): void {
    const response = createResponseTo(transaction.request, status, reason, newTag());
    for (const [name, value] of headers) response.headers.append(name, value);
    this.#finish(response);
    this.counters.rejected[status] = (this.counters.rejected[status] ?? 0) + 1;
    try {
      transaction.respond(response);
    } catch (error) {
      log.warn({ err: error, status }, 'could not send a stack response');
    }
  }

  /** The serializer writes Content-Length; Server names us (§20.35). */
  #finish(response: SipResponse): void {
    response.headers.append('Server', this.#options.userAgent);
  }
}

function hasToTag(request: SipRequest): boolean {
  try {
    return toTag(request) !== undefined;
  } catch {
    return false; // the parser validated To; a TU that edited it into garbage gets the out-of-dialog answer
  }
}
