/**
 * A drift-free frame clock for a media sender: frame n is due at start + n·period, computed from the start time
 * every time, never by adding intervals (setInterval and chained setTimeout accumulate each wake-up's lateness,
 * a few ms per second, which a receiver's jitter buffer would see as clock drift).
 *
 * Each wake-up runs every frame that is due, then sleeps until the next one. When the process was stalled
 * (GC pause, a blocked event loop), up to `maxBurst` late frames are sent at once so the stream catches up with
 * real time; beyond that the oldest ones are skipped — as a live source loses audio it could not send in time —
 * and the callback is told which frame it is, so RTP timestamps stay tied to the wall clock either way.
 */

export interface PacedTickerOptions {
  /** Frame period in ms. */
  readonly periodMs: number;
  /** Most late frames run in one wake-up; older ones are skipped. Default 5 (100 ms of 20 ms frames). */
  readonly maxBurst?: number;
  /** Monotonic clock in ms. Default performance.now (tests inject a fake one). */
  readonly now?: () => number;
}

/** `frame` is the index since start (0, 1, 2 …, with gaps when frames were skipped). */
export type TickHandler = (frame: number) => void;

/** Wake up this much before a frame is due: setTimeout fires at whole ms, at or after its delay. */
const EARLY_MS = 0.5;

export class PacedTicker {
  readonly periodMs: number;
  readonly maxBurst: number;
  /** Frames skipped because the sender was more than maxBurst frames late. */
  skipped = 0;
  /** Largest lateness (ms) seen at a wake-up, for diagnostics. */
  maxLatenessMs = 0;
  /** Exceptions thrown by the tick handler (caught; the owner decides whether to log `lastError`). */
  errors = 0;
  lastError: unknown;

  readonly #now: () => number;
  readonly #onTick: TickHandler;
  #start = 0;
  #next = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;

  constructor(options: PacedTickerOptions, onTick: TickHandler) {
    if (!(options.periodMs > 0)) throw new RangeError('periodMs must be > 0');
    this.periodMs = options.periodMs;
    this.maxBurst = Math.max(1, options.maxBurst ?? 5);
    this.#now = options.now ?? (() => performance.now());
    this.#onTick = onTick;
  }

  get running(): boolean {
    return this.#running;
  }

  /** The next frame index to run. */
  get nextFrame(): number {
    return this.#next;
  }

  /** Frame 0 is due now (it runs synchronously). Calling start on a running ticker does nothing. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#start = this.#now();
    this.#next = 0;
    this.#run();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #run = (): void => {
    this.#timer = undefined;
    if (!this.#running) return;
    const now = this.#now();
    const due = Math.floor((now - this.#start + EARLY_MS) / this.periodMs);
    if (due >= this.#next) {
      const lateness = now - (this.#start + this.#next * this.periodMs);
      if (lateness > this.maxLatenessMs) this.maxLatenessMs = lateness;
    }
    if (due - this.#next >= this.maxBurst) {
      const resume = due - this.maxBurst + 1;
      this.skipped += resume - this.#next;
      this.#next = resume;
    }
    while (this.#next <= due && this.#running) {
      const frame = this.#next++;
      try {
        this.#onTick(frame);
      } catch (err) {
        // The clock keeps going: one bad frame must not silence the call (nor throw out of a timer).
        this.errors++;
        this.lastError = err;
      }
    }
    if (!this.#running) return;
    const wait = this.#start + this.#next * this.periodMs - this.#now();
    this.#timer = setTimeout(this.#run, wait > EARLY_MS ? Math.floor(wait) : 0);
  };
}
