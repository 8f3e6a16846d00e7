/**
 * Overload protection for new work (RFC 3261 §21.5.4; RFC 6357 §4 on why a SIP server must shed rather than let
 * everything time out). When the gateway is saturated, a new out-of-dialog INVITE that it accepts will not be
 * answered before the peer's Timer A/B retransmissions pile up more load on a process that is already behind —
 * the collapse RFC 6357 describes. Refusing it at once with 503 and Retry-After costs a parse and a response,
 * and lets a trunk try another route (RFC 3263 §4.3) instead of waiting 32 s.
 *
 * Two cheap signals, either one enough:
 * - event-loop delay: how late a 20 ms timer runs, averaged over its ticks in a sampling window. A saturated loop
 *   runs long batches of I/O callbacks, and every tick is late by about a batch: a mean above
 *   `maxEventLoopDelayMs` means every message waits about that long before it is even read. One long pause (a
 *   major GC) in an otherwise idle window is diluted by the on-time ticks, as it should be. A lag is recorded by
 *   the tick that suffered it, so a block is never lost between windows (perf_hooks.monitorEventLoopDelay drops
 *   the first interval after each reset, which is exactly the one a block delays when the sampler runs first).
 *   Hysteresis: the overload ends only when a window's mean falls below half the threshold, so it does not flap.
 * - calls in setup (INVITE server transactions without a final response, O(1) from the transaction layer):
 *   more than `maxCallsInSetup` means the gateway already holds more pending work than it is sized for.
 *
 * Only new out-of-dialog requests of the configured methods are shed: in-dialog requests (a BYE frees
 * resources; a re-INVITE belongs to a call already paid for), ACK, CANCEL and responses always pass, because
 * refusing them would strand state that exists already. The methods that can be shed are the out-of-dialog ones
 * a transaction user claims (the stack sheds only those, after its §8.2 checks: a method nobody handles gets its
 * 405/501 first): INVITE, REGISTER and OPTIONS for the B2BUA. Entering and leaving overload is logged once per
 * transition (never per request) when it happens: without the event-loop sampler (`maxEventLoopDelayMs: 0`) a
 * timer re-reads the calls in setup only while an episode lasts, so its end is not left to the next INVITE.
 * Every shed request is counted.
 */
import { performance } from 'node:perf_hooks';
import type { SipRequest } from './message.ts';
import { toTag } from './header-accessors.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'overload' });

export interface OverloadOptions {
  /** Default true. False: nothing is ever shed and no monitor runs. */
  enabled?: boolean;
  /** Mean event-loop delay over one sampling window, ms, above which new requests are shed. Default 200; 0: off. */
  maxEventLoopDelayMs?: number;
  /** INVITE server transactions still without a final response above which new INVITEs are shed. Default 1000; 0: off. */
  maxCallsInSetup?: number;
  /** Retry-After of the 503, seconds (RFC 3261 §20.33). Default 2. */
  retryAfterSeconds?: number;
  /** Sampling window of the event-loop delay, ms. Default 500. */
  sampleIntervalMs?: number;
  /** Out-of-dialog methods that are shed. Default `['INVITE']`. */
  methods?: readonly SheddableMethod[];
}

/** Methods that start new work out of any dialog and that the stack's transaction user may claim. */
export const SHEDDABLE_METHODS = Object.freeze(['INVITE', 'REGISTER', 'OPTIONS'] as const);
export type SheddableMethod = (typeof SHEDDABLE_METHODS)[number];

export type OverloadReason = 'event-loop-delay' | 'calls-in-setup';

export interface OverloadSignals {
  /** INVITE server transactions without a final response (O(1)). */
  callsInSetup(): number;
  /** Mean event-loop delay of the last window, ms; defaults to the built-in lag timer (tests inject). */
  eventLoopDelayMs?(): number;
}

export interface OverloadCounters {
  /** Requests answered 503 because of overload. */
  shed: number;
  /** Times the gateway entered overload. */
  episodes: number;
  /** The last sampled mean event-loop delay, ms. */
  eventLoopDelayMs: number;
}

export const DEFAULT_OVERLOAD = Object.freeze({
  enabled: true,
  maxEventLoopDelayMs: 200,
  maxCallsInSetup: 1000,
  retryAfterSeconds: 2,
  sampleIntervalMs: 500,
  methods: Object.freeze(['INVITE']) as readonly SheddableMethod[],
});

/** The lag timer's period: 50 cheap wakeups a second. */
const TICK_MS = 20;

export class OverloadControl {
  readonly counters: OverloadCounters = { shed: 0, episodes: 0, eventLoopDelayMs: 0 };
  readonly retryAfterSeconds: number;
  readonly #enabled: boolean;
  readonly #maxDelay: number;
  readonly #maxSetup: number;
  readonly #interval: number;
  readonly #methods: ReadonlySet<string>;
  readonly #signals: OverloadSignals;
  #timer: NodeJS.Timeout | undefined;
  /** Only while in an episode and no sampler runs: re-reads the calls in setup so the episode ends on time. */
  #episodeTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #ticker: NodeJS.Timeout | undefined;
  #nextTick = 0;
  #lagSum = 0;
  #ticks = 0;
  #loopBehind = false;
  #setupFull = false;
  #reason: OverloadReason | undefined;
  #shedThisEpisode = 0;

  constructor(options: OverloadOptions, signals: OverloadSignals) {
    this.#enabled = options.enabled ?? DEFAULT_OVERLOAD.enabled;
    this.#maxDelay = options.maxEventLoopDelayMs ?? DEFAULT_OVERLOAD.maxEventLoopDelayMs;
    this.#maxSetup = options.maxCallsInSetup ?? DEFAULT_OVERLOAD.maxCallsInSetup;
    this.retryAfterSeconds = options.retryAfterSeconds ?? DEFAULT_OVERLOAD.retryAfterSeconds;
    this.#interval = options.sampleIntervalMs ?? DEFAULT_OVERLOAD.sampleIntervalMs;
    const sheddable: ReadonlySet<string> = new Set(SHEDDABLE_METHODS);
    this.#methods = new Set((options.methods ?? DEFAULT_OVERLOAD.methods).map((m) => m.toUpperCase()).filter((m) => sheddable.has(m)));
    this.#signals = signals;
  }

  /** Starts the event-loop sampling (nothing runs when disabled or the delay signal is off). Idempotent. */
  start(): void {
    this.#stopped = false;
    if (!this.#enabled || this.#maxDelay <= 0 || this.#timer !== undefined) return;
    if (this.#signals.eventLoopDelayMs === undefined) {
      this.#nextTick = performance.now() + TICK_MS;
      this.#ticker = setInterval(() => {
        // setInterval schedules the next run one period after this one started.
        const now = performance.now();
        const lag = now - this.#nextTick;
        if (lag > 0) this.#lagSum += lag;
        this.#ticks++;
        this.#nextTick = now + TICK_MS;
      }, TICK_MS);
      this.#ticker.unref();
    }
    this.#timer = setInterval(() => this.sample(), this.#interval);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#timer = undefined;
    this.#ticker = undefined;
    this.#stopEpisodeTimer();
  }

  /** Why new requests are being shed now, or undefined. */
  get reason(): OverloadReason | undefined {
    return this.#reason;
  }

  /** Reads the event-loop delay of the window that just ended (called by the sampling timer; public for tests). */
  sample(): void {
    let delay: number | undefined;
    if (this.#signals.eventLoopDelayMs !== undefined) {
      delay = this.#signals.eventLoopDelayMs();
    } else if (this.#ticker !== undefined) {
      // No tick at all in a window only happens when this sampler itself ran late; the next window has the lag.
      delay = this.#ticks === 0 ? this.counters.eventLoopDelayMs : this.#lagSum / this.#ticks;
      this.#lagSum = 0;
      this.#ticks = 0;
    }
    if (delay !== undefined && this.#maxDelay > 0) {
      this.counters.eventLoopDelayMs = delay;
      if (!this.#loopBehind && delay > this.#maxDelay) this.#loopBehind = true;
      else if (this.#loopBehind && delay < this.#maxDelay / 2) this.#loopBehind = false;
    }
    // Also re-reads calls in setup, so an episode caused by them ends (and is logged) without waiting for an INVITE.
    if (this.#maxSetup > 0) this.#setupFull = this.#signals.callsInSetup() >= this.#maxSetup;
    this.#update();
  }

  /**
   * Whether this new request (not a retransmission: the transaction layer absorbed those) must be answered 503.
   * Counts it when so. Called once its server transaction exists, so a new INVITE is among `callsInSetup`: it
   * is shed when `maxCallsInSetup` others are in setup already.
   */
  shouldShed(request: SipRequest): boolean {
    if (!this.#enabled || !this.#methods.has(request.method)) return false;
    if (this.#maxSetup > 0) {
      const others = this.#signals.callsInSetup() - (request.method === 'INVITE' ? 1 : 0);
      const full = others >= this.#maxSetup;
      if (full !== this.#setupFull) {
        this.#setupFull = full;
        this.#update();
      }
    }
    if (this.#reason === undefined) return false;
    if (inDialog(request)) return false;
    this.counters.shed++;
    this.#shedThisEpisode++;
    return true;
  }

  #stopEpisodeTimer(): void {
    if (this.#episodeTimer !== undefined) clearInterval(this.#episodeTimer);
    this.#episodeTimer = undefined;
  }

  /** Recomputes the state from both signals; logs only transitions. */
  #update(): void {
    const reason: OverloadReason | undefined = this.#loopBehind ? 'event-loop-delay' : this.#setupFull ? 'calls-in-setup' : undefined;
    if (reason === this.#reason) return;
    const before = this.#reason;
    this.#reason = reason;
    const detail = {
      eventLoopDelayMs: Math.round(this.counters.eventLoopDelayMs * 10) / 10,
      maxEventLoopDelayMs: this.#maxDelay,
      callsInSetup: this.#signals.callsInSetup(),
      maxCallsInSetup: this.#maxSetup,
    };
    if (before === undefined) {
      this.counters.episodes++;
      this.#shedThisEpisode = 0;
      log.warn({ ...detail, reason }, 'overloaded: answering new requests 503 with Retry-After');
      if (this.#timer === undefined && !this.#stopped) {
        this.#episodeTimer = setInterval(() => this.sample(), this.#interval);
        this.#episodeTimer.unref();
      }
    } else if (reason === undefined) {
      this.#stopEpisodeTimer();
      log.warn({ ...detail, shed: this.#shedThisEpisode }, 'overload over: accepting new requests again');
    } else {
      log.info({ ...detail, reason, was: before }, 'overload continues for another reason');
    }
  }
}

function inDialog(request: SipRequest): boolean {
  try {
    return toTag(request) !== undefined;
  } catch {
    return false;
  }
}
