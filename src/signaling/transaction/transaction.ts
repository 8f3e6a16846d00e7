/**
 * What the four RFC 3261 §17 state machines share: the request that created the transaction, the Channel it
 * talks over, its named timers, and the run-to-completion rule for events.
 *
 * Run to completion: every event (a message from the network, a response from the TU, a timer) is handled
 * fully before the next one. A Channel may report a send failure synchronously, from inside `send()`, i.e. in
 * the middle of handling another event; such an error is held and handled as its own event right after the
 * current one finishes, so a state machine never sees its state change underneath it.
 *
 * TU callbacks are called through `safely`: an exception thrown by the TU is logged and does not corrupt the
 * transaction (one bad listener must not kill a call).
 */
import type { SipRequest, SipResponse, SipMessage } from '../message.ts';
import type { Channel, TransportError } from '../transport.ts';
import type { TimerConfig, TimerName } from './timers.ts';
import { TransactionError } from './errors.ts';
import { bodilessRequest } from './retention.ts';
import { logger } from '../../log.ts';

export type TransactionKind = 'invite-client' | 'non-invite-client' | 'invite-server' | 'non-invite-server';

/** What a client transaction reports to its transaction user (RFC 3261 §17.1). */
export interface ClientTransactionUser {
  /** Every response the state machine passes up (provisionals, the final response, RFC 6026 2xx retransmissions). */
  onResponse(response: SipResponse): void;
  /** Timer B (INVITE, in Calling), Timer F (non-INVITE), or the §9.1 64*T1 wait after a CANCEL. */
  onTimeout(): void;
  /**
   * §17.1.4: a send failed. The transaction then goes to Terminated — except an INVITE transaction in Accepted,
   * which sends nothing itself and only reports. Also called, after Terminated, for a failure of the last message
   * a transaction sent (a reliable transport's zero Timer D/K can end it before an asynchronous failure arrives).
   */
  onTransportError(error: TransportError): void;
  onTerminated?(): void;
}

/** What a server transaction reports to its transaction user (RFC 3261 §17.2). */
export interface ServerTransactionUser {
  /** Timer H: no ACK for a 3xx–6xx response to an INVITE (§17.2.1). */
  onTimeout?(): void;
  /** §17.2.4 as updated by RFC 6026 §8.8: the TU is informed and the transaction remains in its state. */
  onTransportError?(error: TransportError): void;
  onTerminated?(): void;
  /** RFC 6026 (INVITE server, Accepted): "Any ACKs received … MUST be passed directly to the TU". */
  onAck?(ack: SipRequest): void;
  /** INVITE server: left Proceeding (a final response, or terminated unanswered); the call is out of setup. */
  onSetupEnded?(): void;
}

const log = logger.child({ module: 'sip-transaction' });

export abstract class Transaction<Live extends string, User extends { onTerminated?(): void }> {
  abstract readonly kind: TransactionKind;
  readonly channel: Channel;
  readonly config: Readonly<TimerConfig>;
  /** The key under which the transaction layer finds this transaction (§17.1.3 / §17.2.3). */
  readonly id: string;
  protected readonly user: User;
  #request: SipRequest;
  #state: Live | 'Terminated';
  readonly #timers = new Map<TimerName, ReturnType<typeof setTimeout>>();
  #depth = 0;
  readonly #heldErrors: TransportError[] = [];

  protected constructor(
    id: string,
    request: SipRequest,
    channel: Channel,
    config: Readonly<TimerConfig>,
    user: User,
    initial: Live,
  ) {
    this.id = id;
    this.#request = request;
    this.channel = channel;
    this.config = config;
    this.user = user;
    this.#state = initial;
  }

  /**
   * The request that created the transaction (for a client transaction: with our top Via). Once the outcome is
   * known and the transaction only lingers, the same request without its body (retention.ts).
   */
  get request(): SipRequest {
    return this.#request;
  }

  /** Called on entering a state that only absorbs retransmissions: the request's body is not needed any more. */
  protected dropRequestBody(): void {
    this.#request = bodilessRequest(this.#request);
  }

  get state(): Live | 'Terminated' {
    return this.#state;
  }

  get terminated(): boolean {
    return this.#state === 'Terminated';
  }

  /** Timers currently armed; 0 once Terminated (leak tests count these). */
  get liveTimers(): number {
    return this.#timers.size;
  }

  get callId(): string | undefined {
    return this.request.headers.get('call-id');
  }

  /** Ends the transaction at once (owner shutdown): every timer cleared, the TU told `onTerminated`. */
  terminate(): void {
    if (this.terminated) return;
    this.run(() => this.transition('Terminated'));
  }

  /** The one place states change: rejects illegal moves, clears the old state's timers, starts the new ones. */
  protected abstract transition(to: Live | 'Terminated'): void;

  /** A send failed while the transaction is live; the machine decides per its state. */
  protected abstract handleTransportError(error: TransportError): void;

  /** Moves the state, after the subclass checked legality; Terminated also clears every timer. */
  protected setState(to: Live | 'Terminated'): void {
    const from = this.#state;
    if (from === 'Terminated') return;
    this.#state = to;
    if (log.isLevelEnabled('debug')) log.debug({ callId: this.callId, kind: this.kind, id: this.id, from, to }, 'transaction state');
    if (to === 'Terminated') {
      this.clearAllTimers();
      this.safely('onTerminated', () => this.user.onTerminated?.());
    }
  }

  protected illegal(to: string): never {
    throw new TransactionError('SIP_TRANSACTION_STATE', `${this.kind} transaction: illegal transition ${this.#state} → ${to}`);
  }

  /**
   * Arms timer `name` (replacing it if armed). A zero duration — the RFC's value for D, I, J and K over reliable
   * transports — fires synchronously: "zero seconds" means the state is left at once, not on a later tick.
   */
  protected startTimer(name: TimerName, ms: number, fire: () => void): void {
    this.clearTimer(name);
    if (this.terminated) return;
    if (ms <= 0) {
      fire();
      return;
    }
    const handle = setTimeout(() => {
      this.#timers.delete(name);
      if (this.terminated) return;
      try {
        this.run(fire);
      } catch (err) {
        // Nothing above a timer can catch this; a state-machine bug must not take the process down.
        log.error({ err, callId: this.callId, kind: this.kind, id: this.id, timer: name }, 'transaction timer failed');
      }
    }, ms);
    this.#timers.set(name, handle);
  }

  protected clearTimer(name: TimerName): void {
    const handle = this.#timers.get(name);
    if (handle !== undefined) {
      clearTimeout(handle);
      this.#timers.delete(name);
    }
  }

  protected clearAllTimers(): void {
    for (const handle of this.#timers.values()) clearTimeout(handle);
    this.#timers.clear();
  }

  /** Passes a message to the transport; failures come back through `handleTransportError`. */
  protected send(message: SipMessage): void {
    this.channel.send(message, (error) => this.#onSendError(error));
  }

  /** Runs one event to completion, then handles any transport error reported synchronously meanwhile. */
  protected run(event: () => void): void {
    this.#depth++;
    try {
      event();
    } finally {
      this.#depth--;
    }
    if (this.#depth === 0) {
      while (this.#heldErrors.length > 0) this.#deliverError(this.#heldErrors.shift()!);
    }
  }

  /** Calls into the TU; an exception there is logged, never propagated into the state machine. */
  protected safely(callback: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      log.error({ err, callId: this.callId, kind: this.kind, id: this.id, callback }, 'transaction user callback threw');
    }
  }

  #onSendError(error: TransportError): void {
    if (this.#depth > 0) this.#heldErrors.push(error);
    else this.run(() => this.#deliverError(error));
  }

  #deliverError(error: TransportError): void {
    log.info({ callId: this.callId, kind: this.kind, id: this.id, state: this.#state, err: error }, 'transport error');
    if (this.terminated) {
      // A failure of a message we sent while live (typically the last one, when a reliable transport's zero
      // Timer D/J/K ended the transaction in the same step) is still news for the TU; no state to change.
      this.reportTransportError(error);
      return;
    }
    this.handleTransportError(error);
  }

  /** Tells the TU about a transport error (each machine's user has `onTransportError`). */
  protected abstract reportTransportError(error: TransportError): void;
}

/** Status classes as the state machines branch on them. */
export function isProvisional(status: number): boolean {
  return status >= 100 && status < 200;
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

export function isFinalNon2xx(status: number): boolean {
  return status >= 300 && status < 700;
}

/** A response the TU hands to a server transaction must carry a status a SIP peer can parse (§7.2, §21). */
export function assertResponseStatus(response: SipResponse): void {
  if (!Number.isInteger(response.status) || response.status < 100 || response.status > 699) {
    throw new TransactionError('SIP_TRANSACTION_RESPONSE', `invalid response status ${response.status}`);
  }
}
