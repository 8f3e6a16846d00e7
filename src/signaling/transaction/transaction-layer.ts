/**
 * The transaction layer (RFC 3261 §17): owns every client and server transaction, matches messages from the
 * transport to them (§17.1.3, §17.2.3), hands new requests, ACKs for 2xx and CANCELs to the TU, and sends
 * CANCELs when §9.1 allows (outgoing-cancels.ts). Transactions are made only here; each removes itself from the
 * layer when it is Terminated, with every timer it started cleared. `close()` terminates all of them.
 *
 * The receive paths never throw on network input: a message that cannot be matched (no Via, no CSeq, CSeq
 * method ≠ request method) is dropped and counted in `stats`.
 */
import { createResponseTo, type SipRequest, type SipResponse } from '../message.ts';
import type { Channel, TransportError } from '../transport.ts';
import { logger } from '../../log.ts';
import { TwoXxRetransmitter, type TwoXxRetransmitterUser } from './2xx-retransmitter.ts';
import { AcceptedInvites, type AcceptedInvite, type NextHopResolver } from './accepted-invites.ts';
import { newBranch, newTag } from './branch.ts';
import { TransactionError } from './errors.ts';
import { InviteClientTransaction } from './invite-client-transaction.ts';
import { InviteServerTransaction } from './invite-server-transaction.ts';
import { clientKey, dialogAckKey, isRfc3261Branch, readCSeq, readTopVia, requestKeys, responseKey, tagOf } from './matching.ts';
import { NonInviteClientTransaction } from './non-invite-client-transaction.ts';
import { NonInviteServerTransaction } from './non-invite-server-transaction.ts';
import { OutgoingCancels, type CancelOutcome } from './outgoing-cancels.ts';
import { resolveTimerConfig, type TimerConfig } from './timers.ts';
import type { ClientTransactionUser, ServerTransactionUser } from './transaction.ts';

export type { NextHopResolver } from './accepted-invites.ts';
export type { CancelOutcome } from './outgoing-cancels.ts';
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

/** The transaction user: the UA core (or B2BUA) above the layer. */
export interface TransactionUser {
  /** A new request with its new server transaction (not ACK, not CANCEL). Answer through `transaction.respond`. */
  onRequest(request: SipRequest, transaction: ServerTransaction): void;
  /** An ACK that belongs to no transaction: the ACK for a 2xx (§17.2.3, §13.3.1.4) — or a late non-2xx ACK. */
  onAck(ack: SipRequest, channel: Channel): void;
  /**
   * §9.2: a CANCEL, its own server transaction, and the INVITE server transaction it targets (undefined when
   * none matches). The TU answers the CANCEL (200, or 481 without a target) and, if the INVITE has no final
   * response yet, answers the INVITE with 487.
   */
  onCancel(cancel: SipRequest, cancelTransaction: NonInviteServerTransaction, target: InviteServerTransaction | undefined): void;
  /**
   * A response matching no client transaction. RFC 6026 (update to §18.1.2): "any element other than a stateless
   * proxy MUST silently discard the response" — the Accepted state (Timer M) already passes every 2xx
   * retransmission to the INVITE's user for 64*T1. Optional; counted in `stats.strayResponses` either way.
   */
  onStrayResponse?(response: SipResponse): void;
  /** Timer H: no ACK for a 3xx–6xx to an INVITE (§17.2.1). */
  onServerTimeout?(transaction: InviteServerTransaction): void;
  /** §17.2.4 / RFC 6026 §8.8: a response could not be sent; the transaction stays in its state. */
  onServerTransportError?(transaction: ServerTransaction, error: TransportError): void;
}

export interface TransactionLayerOptions {
  timers?: Partial<TimerConfig>;
}

export interface TransactionCounts {
  inviteClient: number;
  nonInviteClient: number;
  inviteServer: number;
  nonInviteServer: number;
  retransmitters: number;
  pendingCancels: number;
  /** Armed timers across all transactions and 2xx retransmitters. */
  timers: number;
}

export interface TransactionStats {
  strayResponses: number;
  discardedRequests: number;
  discardedResponses: number;
}

const log = logger.child({ module: 'sip-transaction-layer' });

export class TransactionLayer {
  readonly config: Readonly<TimerConfig>;
  readonly stats: TransactionStats = { strayResponses: 0, discardedRequests: 0, discardedResponses: 0 };
  readonly #tu: TransactionUser;
  readonly #clients = new Map<string, ClientTransaction>();
  readonly #servers = new Map<string, ServerTransaction>();
  readonly #rfc2543Acks = new Map<string, InviteServerTransaction>();
  readonly #retransmitters = new Set<TwoXxRetransmitter>();
  readonly #retransmittersByAck = new Map<string, TwoXxRetransmitter>();
  readonly #cancels = new OutgoingCancels((invite, cancel, user) => {
    this.#startClient(clientKey(readTopVia(cancel)!.branch!, 'CANCEL'), cancel, invite.channel, user);
  });
  #callsInSetup = 0;
  readonly #accepted = new AcceptedInvites({
    sendBye: (bye, channel) => {
      this.sendRequest(bye, channel, { onResponse: () => {}, onTimeout: () => {}, onTransportError: () => {} });
    },
  });
  #closed = false;

  constructor(tu: TransactionUser, options: TransactionLayerOptions = {}) {
    this.#tu = tu;
    this.config = resolveTimerConfig(options.timers);
  }

  /** INVITE server transactions still in Proceeding (no final response yet): the calls in setup, in O(1). */
  get callsInSetup(): number {
    return this.#callsInSetup;
  }

  get counts(): TransactionCounts {
    const counts: TransactionCounts = {
      inviteClient: 0, nonInviteClient: 0, inviteServer: 0, nonInviteServer: 0,
      retransmitters: this.#retransmitters.size, pendingCancels: this.#cancels.held, timers: 0,
    };
    for (const tx of this.#clients.values()) {
      if (tx.kind === 'invite-client') counts.inviteClient++;
      else counts.nonInviteClient++;
      counts.timers += tx.liveTimers;
    }
    for (const tx of this.#servers.values()) {
      if (tx.kind === 'invite-server') counts.inviteServer++;
      else counts.nonInviteServer++;
      counts.timers += tx.liveTimers;
    }
    for (const r of this.#retransmitters) counts.timers += r.liveTimers;
    return counts;
  }

  /**
   * A request from the transport. §17.2.3 matching first: a match is a retransmission (or, for ACK, part of the
   * INVITE transaction) and goes to that transaction; otherwise a new server transaction is created and the
   * request passed to the TU. An ACK never creates a transaction (§17).
   */
  receiveRequest(request: SipRequest, channel: Channel): void {
    if (this.#closed) return this.#discardRequest(request, 'layer closed');
    try {
      this.#receiveRequest(request, channel);
    } catch (err) {
      this.#discardRequest(request, 'error', err);
    }
  }

  /** A response from the transport, matched per §17.1.3 to the client transaction that sent its request. */
  receiveResponse(response: SipResponse): void {
    if (this.#closed) return;
    try {
      const rk = responseKey(response);
      if (rk === undefined) return this.#discardResponse(response, 'no Via branch or CSeq');
      const tx = this.#clients.get(rk.key);
      if (tx === undefined) {
        this.stats.strayResponses++;
        log.debug({ callId: response.headers.get('call-id'), status: response.status }, 'stray response');
        if (this.#tu.onStrayResponse) this.#safely('onStrayResponse', () => this.#tu.onStrayResponse!(response));
        return;
      }
      // §18.1.2: "If the value of the "sent-by" parameter in that header field does not match the value the
      // client transport inserted into the request, the response MUST be silently discarded."
      if (readTopVia(tx.request)?.sentBy !== rk.sentBy) return this.#discardResponse(response, 'sent-by mismatch');
      tx.receiveResponse(response);
    } catch (err) {
      this.#discardResponse(response, 'error', err);
    }
  }

  /**
   * Starts a client transaction. A request without a Via gets `channel.via(branch)` with a fresh RFC 3261 branch
   * (§8.1.1.7); a request that has one must carry a magic-cookie branch. ACK has no transaction: use `sendAck`.
   */
  sendRequest(request: SipRequest, channel: Channel, user: ClientTransactionUser): ClientTransaction {
    if (this.#closed) throw new TransactionError('SIP_TRANSACTION_CLOSED', 'transaction layer is closed');
    if (request.method === 'ACK') {
      throw new TransactionError('SIP_TRANSACTION_REQUEST', 'an ACK is not sent in a client transaction (§17); use sendAck');
    }
    const cseq = readCSeq(request);
    if (cseq === undefined || cseq.method !== request.method) {
      throw new TransactionError('SIP_TRANSACTION_REQUEST', `${request.method} needs a CSeq with the same method (§8.1.1.5)`);
    }
    if (!request.headers.has('via')) request.headers.prepend('Via', channel.via(newBranch()));
    const branch = readTopVia(request)?.branch;
    if (!isRfc3261Branch(branch)) {
      throw new TransactionError('SIP_TRANSACTION_REQUEST', 'the top Via must carry a branch starting with z9hG4bK (§8.1.1.7)');
    }
    return this.#startClient(clientKey(branch, request.method), request, channel, user);
  }

  /**
   * Cancels a pending INVITE (§9.1) through its own non-INVITE client transaction; the CANCEL's responses go to
   * `user`. Held until the first provisional, never after a final response: see outgoing-cancels.ts. A held
   * CANCEL that is never sent (the INVITE ended first) ends with `user.onTerminated` and no response.
   */
  cancel(invite: InviteClientTransaction, user: ClientTransactionUser): CancelOutcome {
    if (this.#closed) throw new TransactionError('SIP_TRANSACTION_CLOSED', 'transaction layer is closed');
    if (this.#clients.get(invite.id) !== invite) return 'not-sent';
    return this.#cancels.cancel(invite, user);
  }

  /**
   * Sends an ACK for a 2xx, which is its own message outside any transaction (§17, §13.2.2.4): a fresh branch
   * when it has no Via yet, passed straight to the channel. Also how the TU re-ACKs 2xx retransmissions.
   */
  sendAck(ack: SipRequest, channel: Channel, onError?: (error: TransportError) => void): void {
    if (ack.method !== 'ACK') throw new TransactionError('SIP_TRANSACTION_REQUEST', `sendAck got a ${ack.method}`);
    if (!ack.headers.has('via')) ack.headers.prepend('Via', channel.via(newBranch()));
    channel.send(ack, onError);
    // With its channel: the dialog's next hop (§12.2.1.1), which need not be the INVITE's.
    this.#accepted.noteAck(ack, channel);
  }

  /**
   * The TU is done with every dialog of `callId` (its call ended). An INVITE client transaction of that Call-ID
   * lingering in Accepted (Timer M, 64*T1 — RFC 6026) or Completed (Timer D, 32 s over UDP) would otherwise keep
   * the TU's whole call reachable through its callbacks for that long. From now on it answers a 2xx itself
   * (§13.2.2.4: "The UAC core MUST generate an ACK request for each 2xx received"): a retransmission with the ACK
   * the TU sent, on the channel the TU sent it on; a fork answering after the call ended with an ACK and a BYE
   * built from that 2xx, sent to its next hop through `resolve` (the stack's `channelFor`; without it, over the
   * INVITE's channel). Non-2xx retransmissions are still ACKed by the transaction (§17.1.1.2). Transactions
   * still waiting for their outcome are not affected. See accepted-invites.ts.
   */
  release(callId: string, resolve?: NextHopResolver): void {
    this.#accepted.release(callId, resolve);
  }

  /**
   * Starts the UAS core's 2xx retransmissions (§13.3.1.4) for a 2xx the TU has just sent on `transaction`.
   * They stop when a matching ACK reaches the layer (same Call-ID, CSeq number, From and To tags), after 64*T1
   * (`user.onTimeout`: send BYE), or on `stop()`.
   */
  retransmit2xx(transaction: InviteServerTransaction, response: SipResponse, user: TwoXxRetransmitterUser): TwoXxRetransmitter {
    if (this.#closed) throw new TransactionError('SIP_TRANSACTION_CLOSED', 'transaction layer is closed');
    const key = dialogAckKey(response);
    const retransmitter = new TwoXxRetransmitter(transaction, response, {
      onTimeout: () => user.onTimeout(),
      onTransportError: (error) => user.onTransportError?.(error),
      onStopped: () => {
        this.#retransmitters.delete(retransmitter);
        if (key !== undefined && this.#retransmittersByAck.get(key) === retransmitter) this.#retransmittersByAck.delete(key);
        user.onStopped?.();
      },
    });
    if (key !== undefined) {
      this.#retransmittersByAck.get(key)?.stop();
      this.#retransmittersByAck.set(key, retransmitter);
    }
    this.#retransmitters.add(retransmitter);
    retransmitter.start();
    return retransmitter;
  }

  /** Terminates every transaction and stops every retransmitter; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancels.dropAll();
    for (const r of [...this.#retransmitters]) r.stop();
    for (const tx of [...this.#clients.values()]) tx.terminate();
    for (const tx of [...this.#servers.values()]) tx.terminate();
  }

  #receiveRequest(request: SipRequest, channel: Channel): void {
    const keys = requestKeys(request);
    if (keys === undefined) return this.#discardRequest(request, 'no readable top Via, CSeq or Call-ID');

    if (request.method === 'ACK') {
      let invite: ServerTransaction | undefined = this.#servers.get(keys.key);
      if (invite === undefined && !keys.rfc3261) {
        // RFC 2543 (§17.2.3): "… and the To tag of the ACK matches the To tag of the response sent by the
        // server transaction."
        const candidate = this.#rfc2543Acks.get(keys.key);
        const sentTag = tagOf(candidate?.finalResponse?.headers.get('to'));
        if (sentTag !== undefined && sentTag === tagOf(request.headers.get('to'))) invite = candidate;
      }
      if (invite instanceof InviteServerTransaction) return invite.receiveAck(request);
      return this.#ackFor2xx(request, channel);
    }

    const existing = this.#servers.get(keys.key);
    if (existing !== undefined) return existing.receiveRequest(request);

    if (request.method === 'INVITE') {
      const tx: InviteServerTransaction = new InviteServerTransaction(keys.key, request, channel, this.config, this.#serverUser(keys.key, keys.rfc2543AckKey, () => tx, true));
      this.#servers.set(keys.key, tx);
      this.#callsInSetup++;
      if (keys.rfc2543AckKey !== undefined) this.#rfc2543Acks.set(keys.rfc2543AckKey, tx);
      this.#deliver(tx, 'onRequest', () => this.#tu.onRequest(request, tx));
      tx.trying();
      return;
    }

    const tx: NonInviteServerTransaction = new NonInviteServerTransaction(keys.key, request, channel, this.config, this.#serverUser(keys.key, undefined, () => tx));
    this.#servers.set(keys.key, tx);
    if (request.method === 'CANCEL') {
      // §9.2: "The TU determines the transaction to be cancelled by taking the CANCEL request, and then assuming
      // that the request method is anything but CANCEL or ACK and applying the transaction matching procedures
      // of Section 17.2.3." We look for the INVITE, the only request a CANCEL has an effect on here.
      const target = keys.cancelTarget === undefined ? undefined : this.#servers.get(keys.cancelTarget);
      const invite = target instanceof InviteServerTransaction ? target : undefined;
      this.#deliver(tx, 'onCancel', () => this.#tu.onCancel(request, tx, invite));
      return;
    }
    this.#deliver(tx, 'onRequest', () => this.#tu.onRequest(request, tx));
  }

  /** An ACK for a 2xx: stops the matching 2xx retransmissions (§13.3.1.4) and goes to the TU. */
  #ackFor2xx(ack: SipRequest, channel: Channel): void {
    const key = dialogAckKey(ack);
    if (key !== undefined) this.#retransmittersByAck.get(key)?.acknowledged();
    this.#safely('onAck', () => this.#tu.onAck(ack, channel));
  }

  #startClient(key: string, request: SipRequest, channel: Channel, user: ClientTransactionUser): ClientTransaction {
    if (this.#clients.has(key)) {
      throw new TransactionError('SIP_TRANSACTION_EXISTS', `a client transaction with branch and method ${key} exists`);
    }
    let tx: ClientTransaction;
    let inner = user;
    let accepted: AcceptedInvite | undefined;
    const wrapped: ClientTransactionUser = {
      onResponse: (response) => {
        // Tracked before the TU runs: it usually sends its ACK from inside this call.
        if (accepted === undefined && tx instanceof InviteClientTransaction && (tx.state === 'Accepted' || tx.state === 'Completed')) {
          accepted = this.#accepted.track(tx, (standIn) => (inner = standIn));
        }
        try {
          inner.onResponse(response);
        } finally {
          if (tx instanceof InviteClientTransaction) this.#cancels.afterResponse(tx, response, this.#closed);
        }
      },
      onTimeout: () => inner.onTimeout(),
      onTransportError: (error) => inner.onTransportError(error),
      onTerminated: () => {
        if (this.#clients.get(key) === tx) this.#clients.delete(key);
        if (tx instanceof InviteClientTransaction) this.#cancels.drop(tx);
        if (accepted !== undefined) this.#accepted.untrack(accepted);
        inner.onTerminated?.();
      },
    };
    tx = request.method === 'INVITE'
      ? new InviteClientTransaction(key, request, channel, this.config, wrapped)
      : new NonInviteClientTransaction(key, request, channel, this.config, wrapped);
    this.#clients.set(key, tx);
    tx.start();
    return tx;
  }

  #serverUser(key: string, rfc2543AckKey: string | undefined, self: () => ServerTransaction, inSetup = false): ServerTransactionUser {
    const setupEnded = (): void => {
      if (!inSetup) return;
      inSetup = false;
      this.#callsInSetup--;
    };
    return {
      onSetupEnded: setupEnded,
      onTimeout: () => {
        const tx = self();
        if (tx instanceof InviteServerTransaction) this.#tu.onServerTimeout?.(tx);
      },
      onTransportError: (error) => this.#tu.onServerTransportError?.(self(), error),
      onTerminated: () => {
        setupEnded();
        const tx = self();
        if (this.#servers.get(key) === tx) this.#servers.delete(key);
        if (rfc2543AckKey !== undefined && this.#rfc2543Acks.get(rfc2543AckKey) === tx) this.#rfc2543Acks.delete(rfc2543AckKey);
      },
      // RFC 6026: ACKs reaching an INVITE server transaction in Accepted go to the TU, as unmatched ones do.
      onAck: (ack) => this.#ackFor2xx(ack, self().channel),
    };
  }

  /**
   * Hands a new request to the TU. A TU that throws has not answered: the request gets 500 (§21.5.1) rather
   * than a server transaction left in Trying/Proceeding — states without a timer — forever.
   */
  #deliver(tx: ServerTransaction, callback: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      log.error({ err, callId: tx.callId, callback }, 'transaction user threw on a new request; answering 500');
      if (!tx.terminated && tx.finalResponse === undefined) tx.respond(createResponseTo(tx.request, 500, undefined, newTag()));
    }
  }

  #safely(callback: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      log.error({ err, callback }, 'transaction user callback threw');
    }
  }

  #discardRequest(request: SipRequest, reason: string, err?: unknown): void {
    this.stats.discardedRequests++;
    log.debug({ err, callId: request.headers?.get('call-id'), method: request.method, reason }, 'request discarded');
  }

  #discardResponse(response: SipResponse, reason: string, err?: unknown): void {
    this.stats.discardedResponses++;
    log.debug({ err, callId: response.headers?.get('call-id'), status: response.status, reason }, 'response discarded');
  }
}
