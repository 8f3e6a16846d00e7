/**
 * The UAS core's wait for the ACK of a 2xx to INVITE (RFC 3261 §13.3.1.4): the 2xx is sent again after T1,
 * the interval doubling up to T2, until the ACK arrives — JsSIP does so over WebSocket too — and after Timer H
 * without ACK the dialog is given up (§14.2: the UAS "SHOULD" send BYE; `onTimerH` does).
 */
import { T1, T2, TIMER_H } from './jssip-wire.ts';
import { deferred, TestPhoneError, type Deferred } from './phone-errors.ts';

export class AckWaiter {
  /** CSeq number of the INVITE, which the ACK carries. */
  readonly seq: number;
  /** Our 2xx carried an offer: the answer comes in the ACK (§13.2.1). */
  readonly lateOffer: boolean;
  readonly done: Deferred<void> = deferred<void>();
  retransmissions = 0;
  readonly #timers: NodeJS.Timeout[] = [];
  #active = true;

  constructor(seq: number, lateOffer: boolean, resend: () => void, onTimerH: () => void) {
    this.seq = seq;
    this.lateOffer = lateOffer;
    let interval = T1;
    const retransmit = (): void => {
      if (!this.#active) return;
      try {
        resend();
        this.retransmissions++;
      } catch {
        return; // the transport closed; the phone ends the call
      }
      interval = Math.min(interval * 2, T2);
      this.#timers.push(setTimeout(retransmit, interval).unref());
    };
    this.#timers.push(setTimeout(retransmit, interval).unref());
    this.#timers.push(setTimeout(() => {
      if (!this.#active) return;
      this.stop();
      this.done.reject(new TestPhoneError('PHONE_TIMEOUT', 'no ACK for our 2xx within Timer H'));
      onTimerH();
    }, TIMER_H).unref());
  }

  get active(): boolean {
    return this.#active;
  }

  stop(): void {
    this.#active = false;
    for (const timer of this.#timers) clearTimeout(timer);
  }
}
