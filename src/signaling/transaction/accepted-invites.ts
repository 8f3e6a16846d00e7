/**
 * INVITE client transactions past their outcome — Accepted (RFC 6026 Timer M, 64*T1) or Completed (Timer D, 32 s
 * over UDP) — and the ACKs the TU sent for their 2xx, one per fork. Once the TU is done with a call (`release`),
 * each such transaction's TU is swapped for a stand-in that keeps only what it needs to meet §13.2.2.4 on its own,
 * so that the ended call is no longer reachable from the transaction for those seconds:
 *
 * - a retransmitted 2xx the TU ACKed gets that ACK again, on the channel the TU sent it on (the dialog's next hop,
 *   §12.2.1.1 — not necessarily the INVITE's: the 2xx may name another Contact);
 * - a 2xx from another fork ("The UAC core MUST generate an ACK request for each 2xx received from the transaction
 *   layer … it MUST terminate the dialog by sending a BYE request") is ACKed and BYEd from the 2xx alone
 *   (late-fork.ts), and its retransmissions get the same ACK.
 */
import type { SipRequest, SipResponse } from '../message.ts';
import type { Channel } from '../transport.ts';
import type { ChannelTarget } from '../transports/config.ts';
import { defaultPort } from '../transports/inbound.ts';
import { logger } from '../../log.ts';
import { newBranch } from './branch.ts';
import { lateForkRequests, targetOf } from './late-fork.ts';
import { dialogAckKey, readCSeq } from './matching.ts';
import type { InviteClientTransaction } from './invite-client-transaction.ts';
import type { ClientTransactionUser } from './transaction.ts';

const log = logger.child({ module: 'sip-transaction-layer' });

/** How a released transaction reaches a late fork's next hop (the stack's `channelFor`). */
export type NextHopResolver = (target: ChannelTarget) => Promise<Channel>;

/** An ACK and where it went; `channel` is undefined while a late fork's next hop is being resolved. */
interface SentAck {
  readonly ack: SipRequest;
  channel: Channel | undefined;
}

export interface AcceptedInvite {
  readonly tx: InviteClientTransaction;
  readonly callId: string;
  readonly seq: number;
  /** By dialogAckKey: the ACK for each 2xx (one per fork). */
  readonly acks: Map<string, SentAck>;
  /** Replaces the transaction's TU. */
  readonly setUser: (user: ClientTransactionUser) => void;
  released: boolean;
}

/** What the tracker needs from the transaction layer: a non-INVITE client transaction for the BYE. */
export interface AcceptedInvitesHost {
  sendBye(bye: SipRequest, channel: Channel): void;
}

const IGNORE_ERROR = (): void => {};

export class AcceptedInvites {
  readonly #byCallId = new Map<string, Set<AcceptedInvite>>();
  readonly #host: AcceptedInvitesHost;

  constructor(host: AcceptedInvitesHost) {
    this.#host = host;
  }

  get size(): number {
    return this.#byCallId.size;
  }

  /** Files `tx` (now Accepted or Completed) under its Call-ID; undefined when it has no Call-ID or CSeq. */
  track(tx: InviteClientTransaction, setUser: (user: ClientTransactionUser) => void): AcceptedInvite | undefined {
    const callId = tx.callId;
    const seq = readCSeq(tx.request)?.seq;
    if (callId === undefined || seq === undefined) return undefined;
    const entry: AcceptedInvite = { tx, callId, seq, acks: new Map(), setUser, released: false };
    let set = this.#byCallId.get(callId);
    if (set === undefined) this.#byCallId.set(callId, (set = new Set()));
    set.add(entry);
    return entry;
  }

  untrack(entry: AcceptedInvite): void {
    const set = this.#byCallId.get(entry.callId);
    if (set === undefined) return;
    set.delete(entry);
    if (set.size === 0) this.#byCallId.delete(entry.callId);
  }

  /** The TU sent `ack` on `channel`: kept with the INVITE transaction it acknowledges, for re-sending after release. */
  noteAck(ack: SipRequest, channel: Channel): void {
    const callId = ack.headers.get('call-id');
    const set = callId === undefined ? undefined : this.#byCallId.get(callId);
    if (set === undefined) return;
    const seq = readCSeq(ack)?.seq;
    const key = dialogAckKey(ack);
    if (key === undefined) return;
    for (const entry of set) if (entry.seq === seq) entry.acks.set(key, { ack, channel });
  }

  /**
   * The TU is done with every dialog of `callId`: its transactions answer 2xx themselves from now on (see the
   * module comment). `resolve` finds a late fork's next hop when it is not the INVITE's own; without it such a
   * request goes over the INVITE's channel. Transactions still waiting for their outcome are not affected.
   */
  release(callId: string, resolve: NextHopResolver | undefined): void {
    const set = this.#byCallId.get(callId);
    if (set === undefined) return;
    for (const entry of set) {
      if (entry.released) continue;
      entry.released = true;
      entry.setUser({
        onResponse: (response) => this.#standIn(entry, response, resolve),
        onTimeout: IGNORE_ERROR,
        onTransportError: IGNORE_ERROR,
      });
    }
  }

  #standIn(entry: AcceptedInvite, response: SipResponse, resolve: NextHopResolver | undefined): void {
    if (response.status < 200 || response.status >= 300) return;
    const key = dialogAckKey(response);
    if (key === undefined) return;
    const sent = entry.acks.get(key);
    if (sent !== undefined) {
      // Still resolving a late fork's next hop: the ACK goes out once it is known.
      sent.channel?.send(sent.ack, IGNORE_ERROR);
      return;
    }
    const requests = lateForkRequests(entry.tx.request, response);
    if (requests === undefined) return;
    const pending: SentAck = { ack: requests.ack, channel: undefined };
    entry.acks.set(key, pending);
    log.info({ callId: entry.callId, status: response.status }, '2xx from another fork after its call ended: ACK and BYE (§13.2.2.4)');
    const send = (channel: Channel): void => {
      pending.channel = channel;
      const { ack, bye } = requests;
      ack.headers.prepend('Via', channel.via(newBranch()));
      channel.send(ack, IGNORE_ERROR);
      try {
        this.#host.sendBye(bye, channel);
      } catch (err) {
        log.warn({ err, callId: entry.callId }, 'could not BYE a late fork');
      }
    };
    const fallback = entry.tx.channel;
    // RFC 7118 §5: a WebSocket client's Contact (x.invalid;transport=ws) is reachable only over its own flow.
    if (fallback.protocol === 'WS' || fallback.protocol === 'WSS') return send(fallback);
    const target = targetOf(requests.nextHop, fallback.protocol);
    if (target === undefined || resolve === undefined || sameHop(target, fallback)) return send(fallback);
    resolve(target)
      .catch((err: unknown) => {
        // The INVITE's channel reaches at least the hop that forwarded the 2xx; without an ACK there, it would
        // be retransmitted for 64*T1 and every retransmission dropped (pending.channel unset).
        log.warn({ err, callId: entry.callId, target }, 'no channel to the late fork\'s next hop: ACK and BYE over the INVITE\'s');
        return fallback;
      })
      .then(send)
      .catch((err: unknown) => log.warn({ err, callId: entry.callId }, 'could not ACK and BYE a late fork'));
  }
}

/** The INVITE's own channel when the target names its remote address (keeps e.g. a trunk's TLS settings). */
function sameHop(target: ChannelTarget, channel: Channel): boolean {
  if (target.protocol !== channel.protocol) return false;
  const host = target.host.startsWith('[') ? target.host.slice(1, -1) : target.host;
  if (host.toLowerCase() !== channel.remote.address.toLowerCase()) return false;
  return (target.port ?? defaultPort(target.protocol)) === channel.remote.port;
}
