/**
 * INVITE server transaction: RFC 3261 §17.2.1 with the RFC 6026 correction (the Accepted state, Timer L).
 *
 *   Proceeding ──2xx from TU──▶ Accepted ──Timer L──▶ Terminated
 *      └──3xx–6xx from TU──▶ Completed ──ACK──▶ Confirmed ──Timer I──▶ Terminated
 *                               └──Timer H (no ACK)──▶ Terminated
 *
 * 100 Trying: §17.2.1 "The server transaction MUST generate a 100 (Trying) response unless it knows that the TU
 * will generate a provisional or final response within 200 ms, in which case it MAY generate a 100 (Trying)
 * response." We do not wait 200 ms: the transaction layer hands the INVITE to the TU and, if the TU has not
 * answered by the time its callback returns, `trying()` sends 100 at once — what most stacks do, and over UDP
 * the earlier 100 stops the UAC's Timer A retransmissions sooner. A TU that answers synchronously has answered
 * within 200 ms, so no 100 precedes its response.
 *
 * 2xx retransmissions are the TU's (§13.3.1.4; see 2xx-retransmitter.ts); in Accepted each one the TU passes
 * is sent, INVITE retransmissions are absorbed, and ACKs go to the TU.
 */
import { createResponseTo, type SipRequest, type SipResponse } from '../message.ts';
import type { Channel, TransportError } from '../transport.ts';
import { TransactionError } from './errors.ts';
import { bodilessResponse } from './retention.ts';
import { nextTimerG, timerG, timerH, timerI, timerL, type TimerConfig } from './timers.ts';
import {
  assertResponseStatus,
  isProvisional,
  isSuccess,
  Transaction,
  type ServerTransactionUser,
} from './transaction.ts';

export type InviteServerState = 'Proceeding' | 'Accepted' | 'Completed' | 'Confirmed' | 'Terminated';

export class InviteServerTransaction extends Transaction<Exclude<InviteServerState, 'Terminated'>, ServerTransactionUser> {
  readonly kind = 'invite-server';
  #lastProvisional: SipResponse | undefined;
  #finalResponse: SipResponse | undefined;
  #intervalG = 0;

  /**
   * §17.2.1: "When a server transaction is constructed for a request, it enters the "Proceeding" state."
   * `id` is the §17.2.3 key the transaction layer files it under.
   */
  constructor(id: string, request: SipRequest, channel: Channel, config: Readonly<TimerConfig>, user: ServerTransactionUser) {
    if (request.method !== 'INVITE') {
      throw new TransactionError('SIP_TRANSACTION_REQUEST', `INVITE server transaction for a ${request.method}`);
    }
    super(id, request, channel, config, user, 'Proceeding');
  }

  /** The last response passed to the transport (provisional or final). */
  get lastResponse(): SipResponse | undefined {
    return this.#finalResponse ?? this.#lastProvisional;
  }

  get finalResponse(): SipResponse | undefined {
    return this.#finalResponse;
  }

  /** Sends 100 Trying unless the TU has already responded (see the file comment for the 200 ms rule). */
  trying(): void {
    if (this.state !== 'Proceeding' || this.#lastProvisional !== undefined) return;
    this.respond(createResponseTo(this.request, 100));
  }

  /** A response from the TU. Responses the current state cannot carry are discarded (§17.2.1, §17.2.2 habits). */
  respond(response: SipResponse): void {
    assertResponseStatus(response);
    if (this.terminated) return;
    this.run(() => this.#onTuResponse(response));
  }

  /** A retransmission of the INVITE, matched by the transaction layer (§17.2.3). */
  receiveRequest(_retransmission: SipRequest): void {
    if (this.terminated) return;
    this.run(() => {
      switch (this.state) {
        case 'Proceeding':
          // §17.2.1: "If a request retransmission is received while in the "Proceeding" state, the most recent
          // provisional response that was received from the TU MUST be passed to the transport layer for
          // retransmission."
          if (this.#lastProvisional) this.send(this.#lastProvisional);
          return;
        case 'Completed':
          // §17.2.1: "while in the "Completed" state, if a request retransmission is received, the server SHOULD
          // pass the response to the transport for retransmission."
          if (this.#finalResponse) this.send(this.#finalResponse);
          return;
        case 'Accepted':
          // RFC 6026: "The purpose of the "Accepted" state is to absorb retransmissions of an accepted INVITE
          // request. Any such retransmissions are absorbed entirely within the server transaction. They are not
          // passed up to the TU since any downstream UAS cores that accepted the request have taken
          // responsibility for reliability and will already retransmit their 2xx responses if necessary."
          return;
        case 'Confirmed':
          // §17.2.1: Confirmed absorbs whatever still arrives, until Timer I.
          return;
        case 'Terminated':
          return;
      }
    });
  }

  /** An ACK matched to this transaction (§17.2.3: same branch and sent-by, INVITE's transaction). */
  receiveAck(ack: SipRequest): void {
    if (this.terminated) return;
    this.run(() => {
      switch (this.state) {
        case 'Completed':
          // §17.2.1: "If an ACK is received while the server transaction is in the "Completed" state, the server
          // transaction MUST transition to the "Confirmed" state."
          this.transition('Confirmed');
          return;
        case 'Accepted':
          // RFC 6026: "Any ACKs received from the network while in the "Accepted" state MUST be passed directly
          // to the TU and not absorbed."
          this.safely('onAck', () => this.user.onAck?.(ack));
          return;
        case 'Confirmed':
          // §17.2.1: "The purpose of the "Confirmed" state is to absorb any additional ACK messages that arrive,
          // triggered from retransmissions of the final response."
          return;
        case 'Proceeding':
          // An ACK before any final response acknowledges nothing; dropped.
          return;
        case 'Terminated':
          return;
      }
    });
  }

  #onTuResponse(response: SipResponse): void {
    const status = response.status;
    switch (this.state) {
      case 'Proceeding':
        if (isProvisional(status)) {
          // §17.2.1: "The TU passes any number of provisional responses to the server transaction. So long as the
          // server transaction is in the "Proceeding" state, each of these MUST be passed to the transport layer
          // for transmission."
          this.#lastProvisional = response;
          this.send(response);
        } else if (isSuccess(status)) {
          // RFC 6026: "If, while in the "Proceeding" state, the TU passes a 2xx response to the server
          // transaction, the server transaction MUST pass this response to the transport layer for transmission.
          // It is not retransmitted by the server transaction; retransmissions of 2xx responses are handled by
          // the TU. The server transaction MUST then transition to the "Accepted" state."
          // The state moves before the send so that an ACK delivered synchronously finds it.
          this.#finalResponse = response;
          this.transition('Accepted');
          this.send(response);
          // Accepted never sends it again itself (the TU's retransmitter passes its own copy); what is read from
          // here is its To tag (RFC 2543 ACK matching, CANCEL) — not the SDP.
          this.#finalResponse = bodilessResponse(response);
        } else {
          // §17.2.1: "While in the "Proceeding" state, if the TU passes a response with status code from 300 to
          // 699 to the server transaction, the response MUST be passed to the transport layer for transmission,
          // and the state machine MUST enter the "Completed" state."
          this.#finalResponse = response;
          this.transition('Completed');
          this.send(response);
        }
        return;
      case 'Accepted':
        // RFC 6026: "Any retransmission of the 2xx response passed from the TU to the transaction while in the
        // "Accepted" state MUST be passed to the transport layer for transmission." (§13.3.1.4 retransmissions)
        if (isSuccess(status)) this.send(response);
        return;
      case 'Completed':
      case 'Confirmed':
      case 'Terminated':
        // A final response has been sent; nothing more belongs to this transaction.
        return;
    }
  }

  /**
   * §17.2.1: "If timer G fires, the response is passed to the transport layer once more for retransmission,
   * and timer G is set to fire in MIN(2*T1, T2) seconds. From then on, when timer G fires, the timer is reset to
   * twice its previous value, with a maximum retransmission interval of T2 seconds."
   */
  #fireG(): void {
    if (this.state !== 'Completed' || !this.#finalResponse) return;
    this.send(this.#finalResponse);
    this.#intervalG = nextTimerG(this.#intervalG, this.config);
    this.startTimer('G', this.#intervalG, () => this.#fireG());
  }

  /**
   * §17.2.1: "If timer H fires while in the "Completed" state, it implies that the ACK was never received. In this
   * case, the server transaction MUST transition to the "Terminated" state, and MUST indicate to the TU that a
   * transaction failure has occurred."
   */
  #fireH(): void {
    if (this.state !== 'Completed') return;
    this.safely('onTimeout', () => this.user.onTimeout?.());
    this.transition('Terminated');
  }

  /**
   * §17.2.4 as replaced by RFC 6026 §8.8: "the server transaction SHOULD inform the TU that a failure has
   * occurred, and MUST remain in the current state." The state's own timer (H, I, L) still ends it; in
   * Proceeding the TU decides (it may respond again or `terminate()`).
   */
  protected handleTransportError(error: TransportError): void {
    this.reportTransportError(error);
  }

  protected reportTransportError(error: TransportError): void {
    this.safely('onTransportError', () => this.user.onTransportError?.(error));
  }

  protected transition(to: InviteServerState): void {
    const from = this.state;
    this.#transition(from, to);
    if (from === 'Proceeding' && this.state !== 'Proceeding') this.safely('onSetupEnded', () => this.user.onSetupEnded?.());
  }

  #transition(from: InviteServerState, to: InviteServerState): void {
    switch (to) {
      case 'Accepted':
        if (from !== 'Proceeding') this.illegal(to);
        this.setState(to);
        this.#lastProvisional = undefined;
        this.dropRequestBody();
        // RFC 6026: "When the INVITE server transaction enters the "Accepted" state, Timer L MUST be set to fire
        // in 64*T1 for all transports" and "When Timer L fires and the state machine is in the "Accepted" state,
        // the machine MUST transition to the "Terminated" state."
        this.startTimer('L', timerL(this.config), () => this.transition('Terminated'));
        return;
      case 'Completed':
        if (from !== 'Proceeding') this.illegal(to);
        this.setState(to);
        // Only the final response is retransmitted from now on (§17.2.1).
        this.#lastProvisional = undefined;
        this.dropRequestBody();
        // §17.2.1: "When the "Completed" state is entered, timer G MUST be set to fire in T1 seconds for
        // unreliable transports, and not at all for reliable transports … timer H MUST be set to fire in 64*T1
        // seconds for all transports."
        if (!this.channel.reliable) {
          this.#intervalG = timerG(this.config);
          this.startTimer('G', this.#intervalG, () => this.#fireG());
        }
        this.startTimer('H', timerH(this.config), () => this.#fireH());
        return;
      case 'Confirmed':
        if (from !== 'Completed') this.illegal(to);
        // §17.2.1: "As Timer G is ignored in this state, any retransmissions of the response will cease." Timer H
        // (no ACK) has nothing left to time.
        this.clearTimer('G');
        this.clearTimer('H');
        this.setState(to);
        // §17.2.1: "When this state is entered, timer I is set to fire in T4 seconds for unreliable transports,
        // and zero seconds for reliable transports. Once timer I fires, the server MUST transition to the
        // "Terminated" state."
        this.startTimer('I', timerI(this.config, this.channel.reliable), () => this.transition('Terminated'));
        return;
      case 'Terminated':
        this.setState(to);
        return;
      case 'Proceeding':
        this.illegal(to);
    }
  }
}
