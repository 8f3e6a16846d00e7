/**
 * Per-key token buckets (the key is a source address): `burst` tokens per key, refilled at `rate` per second.
 * What Kamailio's pike module does for SIP, as a pure object with an injected clock.
 *
 * Memory is bounded by `maxKeys` (an LRU map): when a spoofed-source flood fills it, the least recently seen
 * sources are forgotten, which only ever resets them to a full bucket — the limiter fails open for the keys it
 * drops and never grows. A key whose bucket has refilled carries no information, so `sweep()` removes those too.
 * O(1) per check; the only allocation is the first bucket of a new key.
 */
import { LruMap } from './lru-map.ts';

export interface RateLimit {
  /** Tokens added per second (the sustained rate). */
  rate: number;
  /** Bucket size (the burst a key may spend at once). */
  burst: number;
}

export interface RateLimiterOptions extends RateLimit {
  /** Most keys tracked at once. Default 65,536. */
  maxKeys?: number;
  /** Milliseconds; default performance.now. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  last: number;
}

export const DEFAULT_MAX_KEYS = 65_536;

export class RateLimiter {
  readonly rate: number;
  readonly burst: number;
  readonly #perMs: number;
  readonly #now: () => number;
  readonly #buckets: LruMap<string, Bucket>;

  constructor(options: RateLimiterOptions) {
    if (!(options.rate > 0) || !Number.isFinite(options.rate)) throw new RangeError(`rate must be a positive number, got ${options.rate}`);
    if (!(options.burst >= 1) || !Number.isFinite(options.burst)) throw new RangeError(`burst must be at least 1, got ${options.burst}`);
    this.rate = options.rate;
    this.burst = options.burst;
    this.#perMs = options.rate / 1000;
    this.#now = options.now ?? (() => performance.now());
    this.#buckets = new LruMap(options.maxKeys ?? DEFAULT_MAX_KEYS);
  }

  /** Spends `cost` tokens of `key` if it has them; false (and nothing spent) when it does not. */
  take(key: string, cost = 1): boolean {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, last: now };
      this.#buckets.set(key, bucket);
    } else {
      const elapsed = now - bucket.last;
      // A clock that goes backwards (an injected one in tests) refills nothing rather than draining.
      if (elapsed > 0) bucket.tokens = Math.min(this.burst, bucket.tokens + elapsed * this.#perMs);
      bucket.last = now;
    }
    if (bucket.tokens < cost) return false;
    bucket.tokens -= cost;
    return true;
  }

  /** Tokens `key` has now (burst for an unknown key). */
  available(key: string): number {
    const bucket = this.#buckets.peek(key);
    if (bucket === undefined) return this.burst;
    const elapsed = Math.max(0, this.#now() - bucket.last);
    return Math.min(this.burst, bucket.tokens + elapsed * this.#perMs);
  }

  /** Number of keys tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Keys forgotten because `maxKeys` was reached. */
  get evictions(): number {
    return this.#buckets.evictions;
  }

  delete(key: string): void {
    this.#buckets.delete(key);
  }

  /** Forgets every key whose bucket is full again (it would behave the same as an unknown key). */
  sweep(): void {
    const now = this.#now();
    for (const [key, bucket] of this.#buckets.entries()) {
      if (bucket.tokens + Math.max(0, now - bucket.last) * this.#perMs >= this.burst) this.#buckets.delete(key);
    }
  }
}
