/**
 * fail2ban / Kamailio-pike style banning: failures are counted per source in a sliding window, and a source
 * with `maxFailures` failures within `findTimeMs` is banned for `banTimeMs`. The transport layer drops a banned
 * source's datagrams before parsing and closes its streams (see SipGuard); the B2BUA, registrar and token
 * endpoint report the failures.
 *
 * The window is exact: each source keeps the times of its last `maxFailures` failures in a ring, and is banned
 * when the oldest of them is within the window. Memory is bounded twice (failure windows and bans, each an LRU
 * with a ceiling), so spoofed-source floods cannot grow it. Some sources are never banned: configured CIDRs
 * (trunks, the operator's monitoring), a dynamic predicate (the trunk ACL), and — by default — loopback, which
 * cannot be spoofed from outside (RFC 1122 §3.2.1.3: 127/8 must not appear on a network) and is where the
 * built-in services and the operator's own tools talk from.
 */
import { AddressSet, canonicalAddress, isLoopback, sourceKey } from './addresses.ts';
import { LruMap } from './lru-map.ts';

/**
 * Why a failure was counted:
 * - auth: digest credentials that did not verify (same for an unknown user as for a wrong password);
 * - token: a token with a bad signature or malformed (an expired token is not counted: a stale page is not an attack);
 * - not-trunk: a request only a trunk may send, from an address that is no trunk's;
 * - forbidden: an authenticated caller dialling what it may not (toll-fraud probing);
 * - malformed: a message that did not parse, or a stream that could not be framed;
 * - flood: a source over its request budget (reported at most once a second per source);
 * - admin-auth: a wrong admin secret on the token endpoint.
 */
export type FailureReason = 'auth' | 'token' | 'not-trunk' | 'forbidden' | 'malformed' | 'flood' | 'admin-auth';

export const FAILURE_REASONS: readonly FailureReason[] = ['auth', 'token', 'not-trunk', 'forbidden', 'malformed', 'flood', 'admin-auth'];

export interface BanPolicy {
  /** Failures within the window that get a source banned. Default 10. */
  maxFailures: number;
  /** The sliding window, ms. Default 60 000. */
  findTimeMs: number;
  /** How long a ban lasts, ms. Default 900 000 (15 min). */
  banTimeMs: number;
}

export const DEFAULT_BAN_POLICY: Readonly<BanPolicy> = Object.freeze({ maxFailures: 10, findTimeMs: 60_000, banTimeMs: 900_000 });

export interface BanListOptions extends Partial<BanPolicy> {
  /** Addresses and CIDR blocks never banned (trunk sources, monitoring). */
  exempt?: readonly string[];
  /** A dynamic exemption, e.g. `(a) => trunkAcl.trunkFor(a) !== undefined`. */
  isExempt?: (address: string) => boolean;
  /** Never ban 127/8 and ::1. Default true; tests that exercise banning on loopback pass false. */
  exemptLoopback?: boolean;
  /** Most sources with a failure window at once. Default 65,536. */
  maxTracked?: number;
  /** Most bans held at once (the oldest is lifted first when full). Default 65,536. */
  maxBans?: number;
  /** Wall clock, ms. Default Date.now. */
  now?: () => number;
}

export interface Ban {
  /** The source key: the address, or the IPv6 /64. */
  source: string;
  reason: FailureReason | 'manual';
  /** When the ban ends (ms since the epoch, by the injected clock). */
  until: number;
}

export type FailureOutcome =
  /** Counted; the source is not (yet) banned. */
  | 'counted'
  /** This failure got the source banned. */
  | 'banned'
  /** Already banned; not counted again. */
  | 'already-banned'
  /** The source is exempt; nothing counted. */
  | 'exempt';

export interface BanCounters {
  failures: Record<FailureReason, number>;
  /** Failures reported for exempt sources (and ignored). */
  exemptFailures: number;
  bans: number;
}

interface Window {
  /** Times of the last `maxFailures` failures (a ring). */
  readonly times: number[];
  next: number;
  filled: number;
}

export class BanList {
  readonly policy: Readonly<BanPolicy>;
  readonly counters: BanCounters;
  readonly #exempt: AddressSet;
  readonly #isExempt: ((address: string) => boolean) | undefined;
  readonly #exemptLoopback: boolean;
  readonly #now: () => number;
  readonly #windows: LruMap<string, Window>;
  readonly #bans: LruMap<string, Ban>;
  readonly #listeners = new Set<(ban: Ban) => void>();

  constructor(options: BanListOptions = {}) {
    const policy = {
      maxFailures: options.maxFailures ?? DEFAULT_BAN_POLICY.maxFailures,
      findTimeMs: options.findTimeMs ?? DEFAULT_BAN_POLICY.findTimeMs,
      banTimeMs: options.banTimeMs ?? DEFAULT_BAN_POLICY.banTimeMs,
    };
    if (!Number.isInteger(policy.maxFailures) || policy.maxFailures < 1) throw new RangeError(`maxFailures must be a positive integer, got ${policy.maxFailures}`);
    if (!(policy.findTimeMs > 0) || !(policy.banTimeMs > 0)) throw new RangeError('findTimeMs and banTimeMs must be positive');
    this.policy = Object.freeze(policy);
    this.#exempt = new AddressSet(options.exempt ?? []);
    this.#isExempt = options.isExempt;
    this.#exemptLoopback = options.exemptLoopback ?? true;
    this.#now = options.now ?? Date.now;
    this.#windows = new LruMap(options.maxTracked ?? 65_536);
    this.#bans = new LruMap(options.maxBans ?? 65_536);
    const failures = Object.fromEntries(FAILURE_REASONS.map((r) => [r, 0])) as Record<FailureReason, number>;
    this.counters = { failures, exemptFailures: 0, bans: 0 };
  }

  /** Whether `address` is never banned. */
  isExempt(address: string): boolean {
    const a = canonicalAddress(address);
    return (this.#exemptLoopback && isLoopback(a)) || this.#exempt.has(a) || (this.#isExempt?.(a) ?? false);
  }

  /** Counts one failure of `address`; bans it when that makes `maxFailures` within the window. */
  recordFailure(address: string, reason: FailureReason): FailureOutcome {
    if (this.isExempt(address)) {
      this.counters.exemptFailures++;
      return 'exempt';
    }
    const key = sourceKey(address);
    if (this.#activeBan(key) !== undefined) return 'already-banned';
    this.counters.failures[reason]++;
    const now = this.#now();
    const max = this.policy.maxFailures;
    let window = this.#windows.get(key);
    if (window === undefined) {
      window = { times: new Array<number>(max).fill(0), next: 0, filled: 0 };
      this.#windows.set(key, window);
    }
    window.times[window.next] = now;
    window.next = (window.next + 1) % max;
    if (window.filled < max) window.filled++;
    // With the ring full, the slot about to be overwritten holds the oldest of the last `max` failures.
    if (window.filled === max && now - window.times[window.next]! <= this.policy.findTimeMs) {
      this.#ban(key, reason, this.policy.banTimeMs);
      return 'banned';
    }
    return 'counted';
  }

  /** Whether `address` (or its IPv6 /64) is banned now. Exempt addresses never are. Cheap: one map lookup. */
  isBanned(address: string): boolean {
    if (this.#bans.size === 0) return false;
    return this.#activeBan(sourceKey(address)) !== undefined && !this.isExempt(address);
  }

  /** The active ban on `address`, if any. */
  banOf(address: string): Ban | undefined {
    const ban = this.#activeBan(sourceKey(address));
    return ban === undefined || this.isExempt(address) ? undefined : { ...ban };
  }

  /** Bans by hand (an operator, or a policy outside this list). Exempt addresses are refused. */
  ban(address: string, durationMs: number = this.policy.banTimeMs): boolean {
    if (this.isExempt(address)) return false;
    this.#ban(sourceKey(address), 'manual', durationMs);
    return true;
  }

  /** Lifts a ban and forgets the failures. */
  unban(address: string): boolean {
    const key = sourceKey(address);
    this.#windows.delete(key);
    return this.#bans.delete(key);
  }

  /** The bans in force, oldest first. */
  bans(): Ban[] {
    const now = this.#now();
    const out: Ban[] = [];
    for (const ban of this.#bans.values()) if (ban.until > now) out.push({ ...ban });
    return out;
  }

  /** Called for every new ban (the transport layer closes the source's streams). Returns the unsubscribe. */
  onBan(listener: (ban: Ban) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Drops expired bans and failure windows whose newest failure left the window. */
  sweep(): void {
    const now = this.#now();
    for (const [key, ban] of this.#bans.entries()) if (ban.until <= now) this.#bans.delete(key);
    const max = this.policy.maxFailures;
    for (const [key, w] of this.#windows.entries()) {
      const newest = w.times[(w.next + max - 1) % max]!;
      if (now - newest > this.policy.findTimeMs) this.#windows.delete(key);
    }
  }

  /** Sources tracked (failure windows) and bans held: for metrics and the memory-bound tests. */
  get size(): { tracked: number; banned: number } {
    return { tracked: this.#windows.size, banned: this.#bans.size };
  }

  #activeBan(key: string): Ban | undefined {
    const ban = this.#bans.peek(key);
    if (ban === undefined) return undefined;
    if (ban.until > this.#now()) return ban;
    this.#bans.delete(key);
    return undefined;
  }

  #ban(key: string, reason: Ban['reason'], durationMs: number): void {
    const ban: Ban = { source: key, reason, until: this.#now() + durationMs };
    this.#windows.delete(key);
    this.#bans.set(key, ban);
    this.counters.bans++;
    for (const listener of this.#listeners) {
      try {
        listener({ ...ban });
      } catch {
        // A listener's failure must not undo the ban or stop the others (mediasoup habit).
      }
    }
  }
}
