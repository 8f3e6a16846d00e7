/**
 * Non-INVITE server transaction: RFC 3261 §17.2.2.
 *
 *   Trying ──1xx from TU──▶ Proceeding ──200–699 from TU──▶ Completed ──Timer J──▶ Terminated
 *      └──────────────200–699 from TU─────────────────────────▲
 *
 * Retransmitted requests: dropped in Trying, answered with the last provisional in Proceeding and with the
 * final response in Completed.
 */
import type { SipRequest, SipResponse } from '../message.ts';
import type { Channel, TransportError } from '../transport.ts';
import { TransactionError } from './errors.ts';
import { timerJ, type TimerConfig } from './timers.ts';
import { assertResponseStatus, isProvisional, Transaction, type ServerTransactionUser } from './transaction.ts';

export type NonInviteServerState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';

export class NonInviteServerTransaction extends Transaction<Exclude<NonInviteServerState, 'Terminated'>, ServerTransactionUser> {
  readonly kind = 'non-invite-server';
  #lastProvisional: SipResponse | undefined;
  #finalResponse: SipResponse | undefined;

  /**
   * §17.2.2: "The state machine is initialized in the "Trying" state and is passed a request other than INVITE
   * or ACK when initialized. This request is passed up to the TU." (The transaction layer does the passing up.)
   */
  constructor(id: string, request: SipRequest, channel: Channel, config: Readonly<TimerConfig>, user: ServerTransactionUser) {
    if (request.method === 'INVITE' || request.method === 'ACK') {
      throw new TransactionError('SIP_TRANSACTION_REQUEST', `non-INVITE server transaction for a ${request.method}`);
    }
    super(id, request, channel, config, user, 'Trying');
  }

  get lastResponse(): SipResponse | undefined {
    return this.#finalResponse ?? this.#lastProvisional;
  }

  get finalResponse(): SipResponse | undefined {
    return this.#finalResponse;
  }

  respond(response: SipResponse): void {
    assertResponseStatus(response);
    if (this.terminated) return;
    this.run(() => {
      switch (this.state) {
        case 'Trying':
        case 'Proceeding':
          if (isProvisional(response.status)) {
            // §17.2.2: "While in the "Trying" state, if the TU passes a provisional response to the server
            // transaction, the server transaction MUST enter the "Proceeding" state. The response MUST be passed
            // to the transport layer for transmission." and "Any further provisional responses that are received
            // from the TU while in the "Proceeding" state MUST be passed to the transport layer for transmission."
            this.#lastProvisional = response;
            if (this.state === 'Trying') this.transition('Proceeding');
            this.send(response);
          } else {
            // §17.2.2: "If the TU passes a final response (status codes 200-699) to the server while in the
            // "Proceeding" state [or "Trying"], the transaction MUST enter the "Completed" state, and the response
            // MUST be passed to the transport layer for transmission."
            // Completed first: with a reliable transport Timer J is zero and the transaction ends right here,
            // the response still goes out (and a failure is still reported to the TU).
            this.#finalResponse = response;
            this.transition('Completed');
            this.send(response);
          }
          return;
        case 'Completed':
          // §17.2.2: "Any other final responses passed by the TU to the server transaction MUST be discarded
          // while in the "Completed" state."
          return;
        case 'Terminated':
          return;
      }
    });
  }

  /** A retransmission of the request, matched by the transaction layer (§17.2.3). */
  receiveRequest(_retransmission: SipRequest): void {
    if (this.terminated) return;
    this.run(() => {
      switch (this.state) {
        case 'Trying':
          // §17.2.2: "While in the "Trying" state, any further request retransmissions are discarded."
          return;
        case 'Proceeding':
          // §17.2.2: "If a retransmission of the request is received while in the "Proceeding" state, the most
          // recently sent provisional response MUST be passed to the transport layer for retransmission."
          if (this.#lastProvisional) this.send(this.#lastProvisional);
          return;
        case 'Completed':
          // §17.2.2: "While in the "Completed" state, the server transaction MUST pass the final response to the
          // transport layer for retransmission whenever a retransmission of the request is received."
          if (this.#finalResponse) this.send(this.#finalResponse);
          return;
        case 'Terminated':
          return;
      }
    });
  }

  /** §17.2.4 as replaced by RFC 6026 §8.8: inform the TU, "MUST remain in the current state". */
  protected handleTransportError(error: TransportError): void {
    this.reportTransportError(error);
  }

  protected reportTransportError(error: TransportError): void {
    this.safely('onTransportError', () => this.user.onTransportError?.(error));
  }

  protected transition(to: NonInviteServerState): void {
    const from = this.state;
    switch (to) {
      case 'Proceeding':
        if (from !== 'Trying') this.illegal(to);
        this.setState(to);
        return;
      case 'Completed':
        if (from !== 'Trying' && from !== 'Proceeding') this.illegal(to);
        this.setState(to);
        // Only the final response is retransmitted from now on (§17.2.2).
        this.#lastProvisional = undefined;
        this.dropRequestBody();
        // §17.2.2: "When the server transaction enters the "Completed" state, it MUST set Timer J to fire in
        // 64*T1 seconds for unreliable transports, and zero seconds for reliable transports … The server
        // transaction remains in this state until Timer J fires, at which point it MUST transition to the
        // "Terminated" state."
        this.startTimer('J', timerJ(this.config, this.channel.reliable), () => this.transition('Terminated'));
        return;
      case 'Terminated':
        this.setState(to);
        return;
      case 'Trying':
        this.illegal(to);
    }
  }
}
