/**
 * One call's offer/answer traffic once a side has its dialog (RFC 3261 §14, RFC 3264 §8): re-offers (re-INVITE,
 * UPDATE) relayed through the media layer to the other side and back, session refreshes answered locally, and
 * answers that come in an ACK — after our offer in the 2xx to an offerless INVITE (late offer, §13.2.1) or
 * re-INVITE (§14.2).
 *
 * An answer in an ACK answers an SDP of ours that no offer of the other side asked for, so it goes to the media
 * layer as such (`subscribeAnswer`): the side's leg moves to it and nothing is produced for anyone. Running it
 * through an offer and an answer instead would make SDP for both legs that neither peer sees, and the next real
 * SDP each peer gets would skip o= versions (RFC 3264 §8: each new SDP carries the previous version + 1).
 *
 * Media API tags: the A side is 'a', the B side 'b'.
 */
import type { InviteServerTransaction } from '../signaling/transaction/invite-server-transaction.ts';
import type { NonInviteServerTransaction } from '../signaling/transaction/non-invite-server-transaction.ts';
import type { MediaApi } from '../rtp-bridge/media-api.ts';
import type { LegKind } from '../rtp-bridge/sdp/index.ts';
import type { TypedEventSource } from '../typed-events.ts';
import type { Logger } from '../log.ts';
import { GatewayError } from '../errors.ts';
import type { InviteSession, InviteSessionEvents } from './invite-session.ts';
import { sdpOf } from './session-body.ts';
import { mapFailure } from './failure-mapping.ts';

export type CallSide = 'a' | 'b';

/** What the call needs of either side's session for in-dialog traffic. */
export type SideSession = TypedEventSource<InviteSessionEvents> &
  Pick<InviteSession, 'callId' | 'respond' | 'localSdp' | 'terminated' | 'remoteAllow' | 'request' | 'flowId'>;

export interface InDialogHost {
  readonly media: MediaApi;
  /** The call's id in the media API. */
  readonly mediaId: string;
  readonly log: Logger;
  /** The side's session once it has one (B: the fork that answered). */
  session(side: CallSide): SideSession | undefined;
  /** What the side speaks (the kind of its media leg). */
  kind(side: CallSide): LegKind;
  /** Both sides answered: re-offers can be relayed. */
  confirmed(): boolean;
  over(): boolean;
  end(why: string): void;
}

/** The o= session id and version of an SDP (what tells a refresh from a change, RFC 3264 §8). */
export function sdpVersion(sdp: string | undefined): string | undefined {
  if (sdp === undefined) return undefined;
  const m = /^o=\S+ (\S+) (\S+)/m.exec(sdp);
  return m === null ? undefined : `${m[1]} ${m[2]}`;
}

const other = (side: CallSide): CallSide => (side === 'a' ? 'b' : 'a');

export class InDialogOffers {
  readonly #host: InDialogHost;
  /** The last SDP each side sent us, to tell a session refresh (same o= version) from a real re-offer. */
  readonly #lastRemote: Record<CallSide, string | undefined> = { a: undefined, b: undefined };
  /** Sides whose re-INVITE had no offer: our 2xx offered, their answer comes in the ACK (§14.2). */
  readonly #answerInAck = new Set<CallSide>();
  /** Late offer: our 2xx to A's offerless INVITE offered; A's answer, its first SDP, comes in the ACK (§13.2.1). */
  #lateOfferAck = false;
  /** Serializes offer/answer work: one exchange at a time through the media layer (RFC 3264 §4). */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(host: InDialogHost) {
    this.#host = host;
  }

  /** The side sent us this SDP (its INVITE's offer, a provisional's or 2xx's answer). */
  remember(side: CallSide, sdp: string | undefined): void {
    if (sdp !== undefined) this.#lastRemote[side] = sdp;
  }

  /** Our 2xx to A's offerless INVITE carries an offer: the ACK must bring the answer. */
  awaitLateOfferAck(): void {
    this.#lateOfferAck = true;
  }

  /**
   * An ACK from one side. After our 2xx offered to an offerless INVITE it carries the answer (§13.2.1): the
   * initial one is A's first real SDP and, without it or unusable, the call cannot go on — §13.3.1.4 / RFC 3264
   * §4: the UAS ends the session with BYE (and so does the B side). After an offerless re-INVITE (§14.2) a changed
   * answer (new o= version) is applied the same way; the same one is a refresh; an unusable one leaves the session
   * as it was (the ACK cannot be refused).
   */
  onAck(side: CallSide, sdp: string | undefined): void {
    const initial = side === 'a' && this.#lateOfferAck;
    if (!initial && !this.#answerInAck.delete(side)) return;
    if (initial) this.#lateOfferAck = false;
    if (sdp === undefined) {
      if (initial) this.#host.end('ACK without the answer to our offer');
      else this.#host.log.warn({ from: side }, 'ACK without the answer to our re-INVITE offer; the session is kept as it was');
      return;
    }
    if (!initial && sdpVersion(sdp) === sdpVersion(this.#lastRemote[side])) return;
    this.#serialize(() => this.#applyAckAnswer(side, sdp, initial));
  }

  /** A re-INVITE or UPDATE from a side, with its offer if it had one. */
  onOffer(
    side: CallSide,
    session: SideSession,
    tx: InviteServerTransaction | NonInviteServerTransaction,
    sdp: string | undefined,
    method: 'INVITE' | 'UPDATE',
  ): void {
    this.#serialize(() => this.#reoffer(side, session, tx, sdp, method));
  }

  async #applyAckAnswer(side: CallSide, sdp: string, initial: boolean): Promise<void> {
    const host = this.#host;
    if (host.over()) return;
    try {
      await host.media.subscribeAnswer(host.mediaId, side, sdp);
      // Late offer: the B side's media waited for A's real address and codecs.
      if (initial) await host.media.blockMedia(host.mediaId, other(side), false);
    } catch (err) {
      host.log.warn({ err, from: side }, 'the answer in the ACK is not usable');
      if (initial) host.end('unusable answer in the ACK');
      return;
    }
    this.#lastRemote[side] = sdp;
    host.log.info({ from: side, initial }, 'answer from the ACK applied');
  }

  #serialize(work: () => Promise<void>): void {
    this.#chain = this.#chain.then(work, work).catch((err: unknown) => this.#host.log.error({ err }, 're-offer failed'));
  }

  /**
   * A re-offer from one side (hold, resume, codec change, new address): through the media layer to the other
   * side and back. A session refresh (no SDP, or the same o= version) is answered locally and never forwarded:
   * each side's session timer is its own (RFC 4028 for a B2BUA).
   */
  async #reoffer(
    side: CallSide,
    session: SideSession,
    tx: InviteServerTransaction | NonInviteServerTransaction,
    sdp: string | undefined,
    method: 'INVITE' | 'UPDATE',
  ): Promise<void> {
    const host = this.#host;
    const otherSide = other(side);
    const peer = host.session(otherSide);
    const refresh = sdp === undefined || sdpVersion(sdp) === sdpVersion(this.#lastRemote[side]);
    if (refresh || peer === undefined || !host.confirmed()) {
      // An offerless re-INVITE (§14.2) gets our current SDP as the offer — unchanged, so with its o= version
      // unchanged too (RFC 3264 §8); the answer comes in the ACK.
      if (method === 'INVITE' && sdp === undefined) this.#answerInAck.add(side);
      if (method === 'INVITE') session.respond(tx, 200, { sdp: session.localSdp ?? '' });
      else session.respond(tx, refresh ? 200 : 491);
      return;
    }
    try {
      const forwarded = await host.media.offer(host.mediaId, side, sdp!, { to: host.kind(otherSide) });
      const useUpdate = method === 'UPDATE' && (peer.remoteAllow?.has('UPDATE') ?? false);
      const response = await peer.request(useUpdate ? 'UPDATE' : 'INVITE', { body: forwarded });
      const answerSdp = sdpOf(response);
      if (response.status >= 300 || answerSdp === undefined) {
        session.respond(tx, response.status >= 300 ? mapFailure(response.status, response.reason).status : 488);
        return;
      }
      const answer = await host.media.answer(host.mediaId, side, otherSide, answerSdp);
      this.#lastRemote[side] = sdp;
      this.#lastRemote[otherSide] = answerSdp;
      session.respond(tx, 200, { sdp: answer });
      host.log.info({ from: side, method }, 're-offer relayed');
    } catch (err) {
      host.log.warn({ err, from: side }, 're-offer failed');
      if (!session.terminated) session.respond(tx, err instanceof GatewayError && err.status !== undefined && err.status >= 400 ? err.status : 488);
    }
  }
}
