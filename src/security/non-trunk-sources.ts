/**
 * What happens to SIP from a source that is no configured trunk on the trunk-facing listeners (UDP/TCP/TLS):
 * `reject` answers 403 (a carrier whose new signalling address is missing from `allowedSources` sees why its
 * calls fail), `ignore` drops the request before any transaction exists (no 100 Trying, no 403, no timer: a
 * scanner sweeping for SIP servers gets silence). Either way each request is counted, and the log gets one line
 * per new source (bounded) plus a periodic summary — never one line per packet.
 * WebSocket clients are not concerned: they authenticate as users.
 */
import { LruMap } from './lru-map.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'security' });

export const NON_TRUNK_ACTIONS = ['reject', 'ignore'] as const;
export type NonTrunkAction = (typeof NON_TRUNK_ACTIONS)[number];

export interface NonTrunkCounters {
  /** Out-of-dialog requests from non-trunk sources answered 403. */
  rejected: number;
  /** Requests from non-trunk sources dropped unanswered. */
  ignored: number;
  /** Distinct sources seen (each logged once while remembered). */
  sources: number;
}

export interface NonTrunkSourcesOptions {
  action: NonTrunkAction;
  /** Sources remembered for "first request from here" log lines (LRU beyond). Default 4096. */
  maxLoggedSources?: number;
  /** Summary line interval, ms, when anything was counted since the last one. Default 300,000; 0: none. */
  summaryIntervalMs?: number;
}

export class NonTrunkSources {
  readonly action: NonTrunkAction;
  readonly counters: NonTrunkCounters = { rejected: 0, ignored: 0, sources: 0 };
  readonly #seen: LruMap<string, true>;
  #timer: NodeJS.Timeout | undefined;
  #reported = 0;

  constructor(options: NonTrunkSourcesOptions) {
    this.action = options.action;
    this.#seen = new LruMap(options.maxLoggedSources ?? 4096);
    const every = options.summaryIntervalMs ?? 300_000;
    if (every > 0) {
      this.#timer = setInterval(() => this.#summary(), every);
      this.#timer.unref();
    }
  }

  /** Counts one request from a non-trunk source, as `action` handled it. */
  record(source: string, protocol: string, method: string, action: NonTrunkAction): void {
    if (action === 'reject') this.counters.rejected++;
    else this.counters.ignored++;
    if (this.#seen.get(source) !== undefined) return;
    this.#seen.set(source, true);
    this.counters.sources++;
    log.warn(
      { source, protocol, method, action },
      action === 'ignore'
        ? 'SIP from a source that is no trunk: ignored (further requests from it are only counted; add it to the trunk’s allowedSources if it is one)'
        : 'SIP from a source that is no trunk: answered 403 (further requests from it are only counted; add it to the trunk’s allowedSources if it is one)',
    );
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #summary(): void {
    const total = this.counters.rejected + this.counters.ignored;
    if (total === this.#reported) return;
    this.#reported = total;
    log.info({ ...this.counters, action: this.action }, 'requests from non-trunk sources so far');
  }
}
