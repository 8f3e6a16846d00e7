/**
 * INVITE client transaction: RFC 3261 §17.1.1 with the RFC 6026 correction (the Accepted state, Timer M).
 *
 *   Calling ──1xx──▶ Proceeding ──2xx──▶ Accepted ──Timer M──▶ Terminated
 *   Calling ──2xx──▶ Accepted
 *   Calling | Proceeding ──3xx–6xx──▶ Completed (ACK; the ACK again per retransmitted final) ──Timer D──▶ Terminated
 *   Calling | Proceeding | Completed ──transport error──▶ Terminated;  Calling ──Timer B──▶ Terminated
 */
import type { SipRequest, SipResponse } from '../message.ts';
import type { Channel, TransportError } from '../transport.ts';
import { buildNon2xxAck } from './ack.ts';
import { TransactionError } from './errors.ts';
import { tagOf } from './matching.ts';
import { nextTimerA, timerA, timerB, timerD, timerM, type TimerConfig } from './timers.ts';
import { isProvisional, isSuccess, Transaction, type ClientTransactionUser } from './transaction.ts';

export type InviteClientState = 'Calling' | 'Proceeding' | 'Accepted' | 'Completed' | 'Terminated';

export class InviteClientTransaction extends Transaction<Exclude<InviteClientState, 'Terminated'>, ClientTransactionUser> {
  readonly kind = 'invite-client';
  #started = false;
  #intervalA = 0;
  #ack: SipRequest | undefined;

  /** `request` must already carry its top Via (the transaction layer adds it); `id` is its §17.1.3 key. */
  constructor(id: string, request: SipRequest, channel: Channel, config: Readonly<TimerConfig>, user: ClientTransactionUser) {
    if (request.method !== 'INVITE') {
      throw new TransactionError('SIP_TRANSACTION_REQUEST', `INVITE client transaction for a ${request.method}`);
    }
    super(id, request, channel, config, user, 'Calling');
  }

  /** The ACK this transaction generated for a 3xx–6xx response, once it has. */
  get ack(): SipRequest | undefined {
    return this.#ack;
  }

  /**
   * §17.1.1.2: "The initial state, "calling", MUST be entered when the TU initiates a new client transaction
   * with an INVITE request. The client transaction MUST pass the request to the transport layer for
   * transmission … If an unreliable transport is being used, the client transaction MUST start timer A with a
   * value of T1 … For any transport, the client transaction MUST start timer B with a value of 64*T1 seconds."
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.run(() => {
      this.send(this.request);
      // A transport that delivered a response synchronously has already moved us on.
      if (this.state !== 'Calling') return;
      if (!this.channel.reliable) {
        this.#intervalA = timerA(this.config);
        this.startTimer('A', this.#intervalA, () => this.#fireA());
      }
      this.startTimer('B', timerB(this.config), () => this.#fireB());
    });
  }

  /** A response matched to this transaction by the transaction layer (§17.1.3). */
  receiveResponse(response: SipResponse): void {
    if (this.terminated) return;
    this.run(() => this.#onResponse(response));
  }

  /**
   * The TU sent a CANCEL for this INVITE. §9.1: "If there is no final response for the original request in
   * 64*T1 seconds …, the client SHOULD then consider the original transaction cancelled and SHOULD destroy the
   * client transaction handling the original request." Without this, a UAS that never answers the CANCEL's
   * INVITE would keep a Proceeding transaction (which has no timer of its own) forever.
   */
  cancelSent(): void {
    if (this.state !== 'Calling' && this.state !== 'Proceeding') return;
    this.startTimer('Cancel', timerB(this.config), () => {
      this.safely('onTimeout', () => this.user.onTimeout());
      this.transition('Terminated');
    });
  }

  #onResponse(response: SipResponse): void {
    const status = response.status;
    switch (this.state) {
      case 'Calling':
      case 'Proceeding':
        if (isProvisional(status)) {
          // §17.1.1.2: "If the client transaction receives a provisional response while in the "Calling" state,
          // it transitions to the "Proceeding" state … Furthermore, the provisional response MUST be passed to
          // the TU. Any further provisional responses MUST be passed up to the TU while in the "Proceeding" state."
          if (this.state === 'Calling') this.transition('Proceeding');
          this.#passUp(response);
        } else if (isSuccess(status)) {
          // RFC 6026: "If, while in the "Calling" or "Proceeding" state, a 2xx response is received, the client
          // transaction MUST transition to the "Accepted" state … The 2xx MUST be passed up to the TU."
          // The transaction does not ACK a 2xx: the TU does (§13.2.2.4).
          this.transition('Accepted');
          this.#passUp(response);
        } else if (status >= 300) {
          // §17.1.1.2: "When in either the "Calling" or "Proceeding" states, reception of a response with status
          // code from 300-699 MUST cause the client transaction to transition to "Completed". The client
          // transaction MUST pass the received response up to the TU, and the client transaction MUST generate
          // an ACK request." Timer D starts once the TU has the response, so that a zero D (reliable transport)
          // cannot report Terminated before the response itself.
          this.#ack = buildNon2xxAck(this.request, response);
          this.transition('Completed');
          this.#passUp(response);
          this.startTimer('D', timerD(this.config, this.channel.reliable), () => this.transition('Terminated'));
        }
        return;
      case 'Accepted':
        // RFC 6026: "Any 2xx responses that match this client transaction and that are received while in the
        // "Accepted" state MUST be passed up directly to the TU" — retransmissions and 2xx from other forks.
        if (isSuccess(status)) this.#passUp(response);
        return;
      case 'Completed':
        if (status >= 300) {
          // §17.1.1.2: "Any retransmissions of the final response that are received while in the "Completed"
          // state MUST cause the ACK to be re-passed to the transport layer for retransmission, but the newly
          // received response MUST NOT be passed up to the TU." A different final response (another fork's,
          // with another To tag) is acknowledged with its own To tag, as §17.1.1.3 builds the ACK from the
          // response being acknowledged; it is not passed up either.
          const ack = this.#ack && tagOf(this.#ack.headers.get('to')) === tagOf(response.headers.get('to'))
            ? this.#ack
            : buildNon2xxAck(this.request, response);
          this.send(ack);
        } else if (isSuccess(status)) {
          // A 2xx from another fork after this branch failed. RFC 3261 leaves it unmatched in Completed; passing
          // it up lets the TU ACK and BYE it (§13.2.2.4: "the UAC core MUST generate an ACK request for each 2xx
          // received from the transaction layer"), instead of leaving that UAS retransmitting for 64*T1.
          this.#passUp(response);
        }
        return;
      case 'Terminated':
        return;
    }
  }

  /** §17.1.1.2: "When timer A fires, the client transaction MUST retransmit the request … and reset the timer with a value of 2*T1." */
  #fireA(): void {
    if (this.state !== 'Calling') return;
    this.send(this.request);
    this.#intervalA = nextTimerA(this.#intervalA);
    this.startTimer('A', this.#intervalA, () => this.#fireA());
  }

  /**
   * §17.1.1.2: "If the client transaction is still in the "Calling" state when timer B fires, the client
   * transaction SHOULD inform the TU that a timeout has occurred. The client transaction MUST NOT generate an ACK."
   */
  #fireB(): void {
    if (this.state !== 'Calling') return;
    this.safely('onTimeout', () => this.user.onTimeout());
    this.transition('Terminated');
  }

  /**
   * §17.1.4: "the client transaction SHOULD inform the TU that a transport failure has occurred, and the client
   * transaction SHOULD transition directly to the "Terminated" state." In Accepted the transaction sends
   * nothing, so an error there is a late report about the INVITE: the TU hears it, Timer M still runs.
   */
  protected handleTransportError(error: TransportError): void {
    this.reportTransportError(error);
    if (this.state !== 'Accepted') this.transition('Terminated');
  }

  protected reportTransportError(error: TransportError): void {
    this.safely('onTransportError', () => this.user.onTransportError(error));
  }

  protected transition(to: InviteClientState): void {
    const from = this.state;
    switch (to) {
      case 'Proceeding':
        if (from !== 'Calling') this.illegal(to);
        // §17.1.1.2: "In the "Proceeding" state, the client transaction SHOULD NOT retransmit the request any
        // longer." Timer B only acts "if the client transaction is still in the "Calling" state", so it goes too.
        this.clearTimer('A');
        this.clearTimer('B');
        this.setState(to);
        return;
      case 'Accepted':
        if (from !== 'Calling' && from !== 'Proceeding') this.illegal(to);
        this.clearTimer('A');
        this.clearTimer('B');
        this.clearTimer('Cancel');
        this.setState(to);
        this.dropRequestBody(); // never sent again; the ACK for a 2xx is the TU's
        // RFC 6026: "… transition to the "Accepted" state, and Timer M MUST be set to fire in 64*T1." and "If
        // Timer M fires while the client transaction is in the "Accepted" state, the client transaction MUST
        // move to the "Terminated" state."
        this.startTimer('M', timerM(this.config), () => this.transition('Terminated'));
        return;
      case 'Completed':
        if (from !== 'Calling' && from !== 'Proceeding') this.illegal(to);
        this.clearTimer('A');
        this.clearTimer('B');
        this.clearTimer('Cancel');
        this.setState(to);
        this.dropRequestBody(); // ACKs for other forks' responses need its headers only
        // §17.1.1.3: the ACK "MUST be passed to the client transport … the ACK MUST be sent to the same address,
        // port, and transport to which the original request was sent" — the transaction's channel.
        if (this.#ack) this.send(this.#ack);
        // Timer D is started by the caller once the response is with the TU (see #onResponse).
        return;
      case 'Terminated':
        // §17.1.1.2: Timer D ("the client transaction MUST move to the terminated state"), Timer B, Timer M,
        // transport errors; and an owner's terminate().
        this.setState(to);
        return;
      case 'Calling':
        this.illegal(to);
    }
  }

  #passUp(response: SipResponse): void {
    this.safely('onResponse', () => this.user.onResponse(response));
  }
}
