import { SrtpFailure } from './failure.ts';

/**
 * The receiver's replay list (RFC 3711 §3.3.2): the highest index accepted so far and a bitmap of which of
 * the `size` indices at or below it were received. Works on any non-negative integer index, the 48-bit SRTP
 * packet index as well as the 31-bit SRTCP index (§3.4).
 *
 * The bitmap is circular — index k lives at bit k mod size — so sliding the window clears the bits that
 * fall out instead of shifting the whole map: one bit per step, or everything on a jump past the window.
 * The caller checks before authenticating and marks only after (§3.3 steps 2 and 7), so a forged packet
 * never moves the window.
 */
export class ReplayWindow {
  readonly size: number;
  readonly #bits: Uint32Array;
  #highest = -1;

  /** `size` is validated by the context (RFC 3711 §3.3.2: at least 64). */
  constructor(size: number) {
    this.size = size;
    this.#bits = new Uint32Array(Math.ceil(size / 32));
  }

  /** The highest index accepted, or -1 before the first. */
  get highest(): number {
    return this.#highest;
  }

  /** 0 if `index` may be accepted, else Replayed or TooOld. Changes nothing. */
  check(index: number): number {
    if (index > this.#highest) return 0;
    if (this.#highest - index >= this.size) return SrtpFailure.TooOld;
    const bit = index % this.size;
    return (this.#bits[bit >>> 5]! & (1 << (bit & 31))) !== 0 ? SrtpFailure.Replayed : 0;
  }

  /** Records `index` as received, sliding the window forward if it is the new highest. */
  accept(index: number): void {
    const size = this.size;
    if (index > this.#highest) {
      if (this.#highest < 0 || index - this.#highest >= size) {
        this.#bits.fill(0);
      } else {
        for (let k = this.#highest + 1; k < index; k++) {
          const bit = k % size;
          this.#bits[bit >>> 5]! &= ~(1 << (bit & 31));
        }
      }
      this.#highest = index;
    }
    const bit = index % size;
    this.#bits[bit >>> 5]! |= 1 << (bit & 31);
  }
}
