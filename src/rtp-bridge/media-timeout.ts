/**
 * Media timeout: end calls whose RTP stopped (a peer that vanished without BYE, a NAT binding that died), as
 * rtpengine's `timeout` and Asterisk's `rtptimeout` do. One periodic sweep for all watched legs reads a number the
 * leg updates per packet (`lastRtpAt`), instead of re-arming a timer per packet, which would put a timer operation
 * on the hot path of every leg.
 *
 * A leg on hold (not expecting media) is never timed out; its clock restarts while it is on hold, so resuming after
 * a long hold gives the peer a full timeout to start sending again. The callback fires once; the leg is then no
 * longer watched.
 */
import { logger } from '../log.ts';

export interface TimedLeg {
  /** Monotonic ms (performance.now()) of the last RTP packet received; 0 if none yet. */
  readonly lastRtpAt: number;
  readonly onHold: boolean;
}

export type MediaTimeoutCallback<L extends TimedLeg> = (leg: L, silentForMs: number) => void;

export interface MediaTimeoutOptions {
  /** Default 60 s. */
  readonly timeoutMs?: number;
  /** Sweep period; the timeout fires up to this late. Default 1 s. */
  readonly sweepMs?: number;
}

interface Watch<L extends TimedLeg> {
  readonly callback: MediaTimeoutCallback<L>;
  readonly timeoutMs: number;
  /** Start of the silence being measured when no packet has come since (watch start, or last seen on hold). */
  since: number;
}

export class MediaTimeoutWatcher<L extends TimedLeg = TimedLeg> {
  readonly timeoutMs: number;
  readonly sweepMs: number;
  readonly #watched = new Map<L, Watch<L>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MediaTimeoutOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.sweepMs = options.sweepMs ?? 1000;
    if (!(this.timeoutMs > 0) || !(this.sweepMs > 0)) throw new RangeError('media timeout and sweep period must be > 0');
  }

  get size(): number {
    return this.#watched.size;
  }

  /** Start watching `leg`; `timeoutMs` overrides the watcher's default for this leg. Re-watching resets it. */
  watch(leg: L, callback: MediaTimeoutCallback<L>, timeoutMs: number = this.timeoutMs): void {
    this.#watched.set(leg, { callback, timeoutMs, since: performance.now() });
    if (this.#timer === undefined) {
      this.#timer = setInterval(this.#sweep, this.sweepMs);
      // A watcher alone must not keep the process alive (graceful shutdown closes the calls anyway).
      this.#timer.unref();
    }
  }

  unwatch(leg: L): void {
    this.#watched.delete(leg);
    if (this.#watched.size === 0) this.#stop();
  }

  close(): void {
    this.#watched.clear();
    this.#stop();
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  readonly #sweep = (): void => {
    const now = performance.now();
    for (const [leg, watch] of this.#watched) {
      if (leg.onHold) {
        watch.since = now;
        continue;
      }
      const last = leg.lastRtpAt > watch.since ? leg.lastRtpAt : watch.since;
      const silent = now - last;
      if (silent < watch.timeoutMs) continue;
      this.#watched.delete(leg);
      try {
        watch.callback(leg, silent);
      } catch (err) {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'media timeout callback threw');
      }
    }
    if (this.#watched.size === 0) this.#stop();
  };
}
