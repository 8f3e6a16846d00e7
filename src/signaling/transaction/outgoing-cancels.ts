/**
 * When a CANCEL for one of our INVITEs may go out (RFC 3261 §9.1): "If no provisional response has been
 * received, the CANCEL request MUST NOT be sent; rather, the client MUST wait for the arrival of a provisional
 * response before sending the request. If the original request has generated a final response, the CANCEL SHOULD
 * NOT be sent". An INVITE is cancelled at most once; a CANCEL held for a provisional that never comes (the INVITE
 * ended first) ends with its user's `onTerminated` and no response. The CANCEL's own client transaction is started
 * by the transaction layer (`send`).
 */
import type { SipRequest, SipResponse } from '../message.ts';
import { logger } from '../../log.ts';
import { buildCancel } from './cancel.ts';
import type { InviteClientTransaction } from './invite-client-transaction.ts';
import type { ClientTransactionUser } from './transaction.ts';

/** `cancel()`: sent now, held until the first provisional (§9.1), or not sent (final response already, or twice). */
export type CancelOutcome = 'sent' | 'queued' | 'not-sent';

/** Starts the CANCEL's non-INVITE client transaction, on the INVITE's channel. */
export type SendCancel = (invite: InviteClientTransaction, cancel: SipRequest, user: ClientTransactionUser) => void;

const log = logger.child({ module: 'sip-transaction-layer' });

export class OutgoingCancels {
  readonly #send: SendCancel;
  /** CANCELs waiting for their INVITE's first provisional response. */
  readonly #held = new Map<InviteClientTransaction, { cancel: SipRequest; user: ClientTransactionUser }>();
  readonly #cancelled = new WeakSet<InviteClientTransaction>();

  constructor(send: SendCancel) {
    this.#send = send;
  }

  /** CANCELs held for a provisional response. */
  get held(): number {
    return this.#held.size;
  }

  /** Cancels a live INVITE client transaction of the layer (the layer checks that it is one). */
  cancel(invite: InviteClientTransaction, user: ClientTransactionUser): CancelOutcome {
    if (this.#cancelled.has(invite)) return 'not-sent';
    const cancel = buildCancel(invite.request);
    if (invite.state === 'Proceeding') {
      this.#cancelled.add(invite);
      this.#sendNow(invite, cancel, user);
      return 'sent';
    }
    if (invite.state === 'Calling') {
      this.#cancelled.add(invite);
      this.#held.set(invite, { cancel, user });
      return 'queued';
    }
    return 'not-sent';
  }

  /**
   * After each response to the INVITE: a held CANCEL goes out with the first provisional (not once the layer is
   * closed), and is dropped once a final response arrived.
   */
  afterResponse(invite: InviteClientTransaction, response: SipResponse, closed: boolean): void {
    const held = this.#held.get(invite);
    if (held === undefined) return;
    if (response.status < 200) {
      this.#held.delete(invite);
      if (!closed) this.#sendNow(invite, held.cancel, held.user);
    } else {
      this.drop(invite);
    }
  }

  /** The INVITE ended (or the layer closes) with its CANCEL still held: never sent, its user terminated. */
  drop(invite: InviteClientTransaction): void {
    const held = this.#held.get(invite);
    if (held === undefined) return;
    this.#held.delete(invite);
    try {
      held.user.onTerminated?.();
    } catch (err) {
      log.error({ err, callback: 'onTerminated' }, 'transaction user callback threw');
    }
  }

  dropAll(): void {
    for (const invite of [...this.#held.keys()]) this.drop(invite);
  }

  #sendNow(invite: InviteClientTransaction, cancel: SipRequest, user: ClientTransactionUser): void {
    this.#send(invite, cancel, user);
    invite.cancelSent();
  }
}
