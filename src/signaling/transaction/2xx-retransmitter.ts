/**
 * The UAS core's 2xx retransmission (RFC 3261 §13.3.1.4). Not part of any transaction: the INVITE server
 * transaction sends a 2xx once and moves to Accepted (RFC 6026); reliability end to end is the UAS core's job.
 *
 * §13.3.1.4: "The 2xx response is passed to the transport with an interval that starts at T1 seconds and doubles
 * for each retransmission until it reaches T2 seconds … Response retransmissions cease when an ACK request for
 * the response is received … If the server retransmits the 2xx response for 64*T1 seconds without receiving an
 * ACK, the dialog is confirmed, but the session SHOULD be terminated. This is accomplished with a BYE."
 * And: "the response is retransmitted periodically even if the transport at the UAS is reliable" — so this
 * runs over TCP/TLS/WS too (a UDP hop may sit behind the proxy).
 *
 * The TU sends the 2xx itself first (`transaction.respond(ok)`) and then starts this; it only retransmits.
 */
import type { SipResponse } from '../message.ts';
import type { TransportError } from '../transport.ts';
import type { InviteServerTransaction } from './invite-server-transaction.ts';
import { TransactionError } from './errors.ts';
import { isSuccess } from './transaction.ts';
import { logger } from '../../log.ts';

const log = logger.child({ module: 'sip-2xx-retransmitter' });

export interface TwoXxRetransmitterUser {
  /** 64*T1 without an ACK: the TU should end the session with a BYE (§13.3.1.4). */
  onTimeout(): void;
  /** A retransmission sent directly on the channel failed (while the transaction is in Accepted, it reports). */
  onTransportError?(error: TransportError): void;
  /** Called once when retransmission stops for any reason (ACK, timeout, stop()). */
  onStopped?(): void;
}

export class TwoXxRetransmitter {
  readonly transaction: InviteServerTransaction;
  readonly response: SipResponse;
  readonly #user: TwoXxRetransmitterUser;
  #interval: number;
  #retransmit: ReturnType<typeof setTimeout> | undefined;
  #giveUp: ReturnType<typeof setTimeout> | undefined;
  #state: 'idle' | 'running' | 'stopped' = 'idle';

  constructor(transaction: InviteServerTransaction, response: SipResponse, user: TwoXxRetransmitterUser) {
    if (!isSuccess(response.status)) {
      throw new TransactionError('SIP_TRANSACTION_RESPONSE', `only a 2xx is retransmitted by the UAS core, got ${response.status}`);
    }
    this.transaction = transaction;
    this.response = response;
    this.#user = user;
    this.#interval = transaction.config.T1;
  }

  get active(): boolean {
    return this.#state === 'running';
  }

  get liveTimers(): number {
    return (this.#retransmit === undefined ? 0 : 1) + (this.#giveUp === undefined ? 0 : 1);
  }

  start(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'running';
    this.#retransmit = setTimeout(() => this.#fire(), this.#interval);
    this.#giveUp = setTimeout(() => {
      this.#giveUp = undefined;
      this.#stop();
      this.#safely('onTimeout', () => this.#user.onTimeout());
    }, 64 * this.transaction.config.T1);
  }

  /** "Response retransmissions cease when an ACK request for the response is received." */
  acknowledged(): void {
    this.#stop();
  }

  stop(): void {
    this.#stop();
  }

  #fire(): void {
    this.#retransmit = undefined;
    if (this.#state !== 'running') return;
    if (this.transaction.state === 'Accepted') {
      // RFC 6026: "Any retransmission of the 2xx response passed from the TU to the transaction while in the
      // "Accepted" state MUST be passed to the transport layer for transmission."
      this.transaction.respond(this.response);
    } else {
      // Timer L (64*T1) normally outlives us; if the transaction is gone (owner closed it), send directly.
      this.transaction.channel.send(this.response, (error) => {
        if (this.#state === 'running') this.#safely('onTransportError', () => this.#user.onTransportError?.(error));
      });
    }
    this.#interval = Math.min(this.#interval * 2, this.transaction.config.T2);
    if (this.#state === 'running') this.#retransmit = setTimeout(() => this.#fire(), this.#interval);
  }

  #stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    if (this.#retransmit !== undefined) clearTimeout(this.#retransmit);
    if (this.#giveUp !== undefined) clearTimeout(this.#giveUp);
    this.#retransmit = undefined;
    this.#giveUp = undefined;
    this.#safely('onStopped', () => this.#user.onStopped?.());
  }

  /** Timers are cleared before any callback runs, so a throwing owner cannot leave one behind. */
  #safely(callback: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      log.error({ err, callId: this.response.headers.get('call-id'), callback }, '2xx retransmitter callback threw');
    }
  }
}
