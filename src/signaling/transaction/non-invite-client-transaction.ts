/**
 * Non-INVITE client transaction: RFC 3261 §17.1.2.
 *
 *   Trying ──1xx──▶ Proceeding ──200–699──▶ Completed ──Timer K──▶ Terminated
 *      └────────────200–699─────────────────▲
 *   Trying / Proceeding ──Timer F / transport error──▶ Terminated
 *
 * Timer E retransmits over unreliable transports: T1 doubling up to T2 in Trying, every T2 in Proceeding.
 */
import type { SipRequest, SipResponse } from '../message.ts';
import type { Channel, TransportError } from '../transport.ts';
import { TransactionError } from './errors.ts';
import { nextTimerE, timerE, timerEProceeding, timerF, timerK, type TimerConfig } from './timers.ts';
import { isProvisional, Transaction, type ClientTransactionUser } from './transaction.ts';

export type NonInviteClientState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';

export class NonInviteClientTransaction extends Transaction<Exclude<NonInviteClientState, 'Terminated'>, ClientTransactionUser> {
  readonly kind = 'non-invite-client';
  #started = false;
  #intervalE = 0;

  /** `request` must already carry its top Via; `id` is its §17.1.3 key. ACK never gets a transaction (§17). */
  constructor(id: string, request: SipRequest, channel: Channel, config: Readonly<TimerConfig>, user: ClientTransactionUser) {
    if (request.method === 'INVITE' || request.method === 'ACK') {
      throw new TransactionError('SIP_TRANSACTION_REQUEST', `non-INVITE client transaction for a ${request.method}`);
    }
    super(id, request, channel, config, user, 'Trying');
  }

  /**
   * §17.1.2.2: "The "Trying" state is entered when the TU initiates a new client transaction with a request.
   * When entering this state, the client transaction SHOULD set timer F to fire in 64*T1 seconds. The request
   * MUST be passed to the transport layer for transmission. If an unreliable transport is in use, the client
   * transaction MUST set timer E to fire in T1 seconds."
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.run(() => {
      this.startTimer('F', timerF(this.config), () => this.#fireF());
      this.send(this.request);
      // A transport that delivered a final response synchronously has already moved us to Completed.
      if ((this.state === 'Trying' || this.state === 'Proceeding') && !this.channel.reliable) {
        this.#intervalE = timerE(this.config);
        this.startTimer('E', this.#intervalE, () => this.#fireE());
      }
    });
  }

  receiveResponse(response: SipResponse): void {
    if (this.terminated) return;
    this.run(() => this.#onResponse(response));
  }

  #onResponse(response: SipResponse): void {
    switch (this.state) {
      case 'Trying':
      case 'Proceeding':
        if (isProvisional(response.status)) {
          // §17.1.2.2: "If a provisional response is received while in the "Trying" state, the response MUST be
          // passed to the TU, and then the client transaction SHOULD move to the "Proceeding" state." and, in
          // Proceeding, "If a provisional response is received …, it MUST be passed to the TU".
          this.#passUp(response);
          if (this.state === 'Trying') this.transition('Proceeding');
        } else if (response.status >= 200) {
          // §17.1.2.2: "If a final response (status codes 200-699) is received while the client transaction is in
          // the "Trying" state [or "Proceeding"], the response MUST be passed to the TU, and the client
          // transaction MUST transition to the "Completed" state."
          this.#passUp(response);
          this.transition('Completed');
        }
        return;
      case 'Completed':
        // §17.1.2.2: "The "Completed" state exists to buffer any additional response retransmissions that may
        // be received (which is why the client transaction remains there only for unreliable transports)."
        return;
      case 'Terminated':
        return;
    }
  }

  /**
   * §17.1.2.2 (Trying): "If timer E fires while still in this state, the timer is reset, but this time with a
   * value of MIN(2*T1, T2) …" (Proceeding): "If Timer E fires while in the "Proceeding" state, the request MUST
   * be passed to the transport layer for retransmission, and Timer E MUST be reset with a value of T2 seconds."
   */
  #fireE(): void {
    if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
    this.send(this.request);
    this.#intervalE = this.state === 'Trying' ? nextTimerE(this.#intervalE, this.config) : timerEProceeding(this.config);
    this.startTimer('E', this.#intervalE, () => this.#fireE());
  }

  /**
   * §17.1.2.2: "If Timer F fires while the client transaction is still in the "Trying" state [or "Proceeding"],
   * the client transaction SHOULD inform the TU about the timeout, and then it SHOULD enter the "Terminated" state."
   */
  #fireF(): void {
    if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
    this.safely('onTimeout', () => this.user.onTimeout());
    this.transition('Terminated');
  }

  /** §17.1.4: inform the TU, then "transition directly to the "Terminated" state". */
  protected handleTransportError(error: TransportError): void {
    this.reportTransportError(error);
    this.transition('Terminated');
  }

  protected reportTransportError(error: TransportError): void {
    this.safely('onTransportError', () => this.user.onTransportError(error));
  }

  protected transition(to: NonInviteClientState): void {
    const from = this.state;
    switch (to) {
      case 'Proceeding':
        if (from !== 'Trying') this.illegal(to);
        // Timer E keeps its schedule; when it next fires it is reset to T2 (see #fireE). Timer F keeps running.
        this.setState(to);
        return;
      case 'Completed':
        if (from !== 'Trying' && from !== 'Proceeding') this.illegal(to);
        this.clearTimer('E');
        this.clearTimer('F');
        this.setState(to);
        this.dropRequestBody();
        // §17.1.2.2: "Once the client transaction enters the "Completed" state, it MUST set Timer K to fire in T4
        // seconds for unreliable transports, and zero seconds for reliable transports … If Timer K fires while
        // in this state, the client transaction MUST transition to the "Terminated" state."
        this.startTimer('K', timerK(this.config, this.channel.reliable), () => this.transition('Terminated'));
        return;
      case 'Terminated':
        this.setState(to);
        return;
      case 'Trying':
        this.illegal(to);
    }
  }

  #passUp(response: SipResponse): void {
    this.safely('onResponse', () => this.user.onResponse(response));
  }
}
