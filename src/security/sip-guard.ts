/**
 * The transport layer's guard (TransportGuard in src/signaling/transports/config.ts): the ban list plus two
 * per-source request budgets, consulted before parsing (Kamailio pike + secfilter + fail2ban, in-process).
 *
 * - Every datagram and stream message: a banned source is dropped; then the source spends a token of its message
 *   budget (default 50/s, burst 100). Over budget: dropped.
 * - Every parsed request that opens something (REGISTER, INVITE, OPTIONS, SUBSCRIBE, MESSAGE, PUBLISH, REFER
 *   outside a dialog) without credentials spends a token of a smaller budget (default 10/s, burst 40): that is
 *   what scanners and password sprayers send, and what a real client sends once per registration or call.
 * - A source over either budget is reported to the ban list as a 'flood' failure at most once a second, so a
 *   sustained flood (≥ maxFailures seconds within the window) gets it banned, while a burst only gets dropped.
 * - Exempt sources (trunks, configured CIDRs, loopback by default) bypass all of it.
 *
 * UDP sources can be spoofed: a forged flood "from" a user's address can get that address banned. Trunks are
 * exempt for that reason; TCP/TLS/WS sources cannot be spoofed past the handshake.
 */
import type { SipRequest } from '../signaling/message.ts';
import type { TransportGuard } from '../signaling/transports/config.ts';
import { sourceKey } from './addresses.ts';
import { BanList, type Ban, type BanListOptions, type FailureOutcome, type FailureReason } from './ban-list.ts';
import { RateLimiter, type RateLimit } from './rate-limiter.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'security' });

export const DEFAULT_MESSAGE_LIMIT: Readonly<RateLimit> = Object.freeze({ rate: 50, burst: 100 });
export const DEFAULT_UNAUTHENTICATED_LIMIT: Readonly<RateLimit> = Object.freeze({ rate: 10, burst: 40 });

/** Requests that start something new; in-dialog requests (To tag present) and ACK/CANCEL/BYE do not count. */
const OPENING_METHODS: ReadonlySet<string> = new Set(['REGISTER', 'INVITE', 'OPTIONS', 'SUBSCRIBE', 'MESSAGE', 'PUBLISH', 'REFER']);

export interface SipGuardOptions {
  /** The ban list to use, or options to make one. */
  bans?: BanList | BanListOptions;
  /** Per source, every SIP datagram / stream message. */
  messages?: RateLimit;
  /** Per source, opening requests without Authorization/Proxy-Authorization. */
  unauthenticated?: RateLimit;
  /** Sources tracked by each budget (LRU beyond). Default 65,536. */
  maxSources?: number;
  /** Monotonic clock for the budgets, ms. Default performance.now. (The ban list has its own wall clock.) */
  now?: () => number;
}

export interface SipGuardCounters {
  /** Datagrams/messages dropped because their source is banned. */
  droppedBanned: number;
  /** Datagrams/messages dropped over the message budget. */
  droppedRate: number;
  /** Requests dropped over the unauthenticated budget. */
  droppedUnauthenticated: number;
  /** Connections refused because their source is banned. */
  refusedConnections: number;
  /** Malformed messages reported by the transport layer. */
  badMessages: number;
}

export class SipGuard implements TransportGuard {
  readonly bans: BanList;
  readonly counters: SipGuardCounters = { droppedBanned: 0, droppedRate: 0, droppedUnauthenticated: 0, refusedConnections: 0, badMessages: 0 };
  readonly #messages: RateLimiter;
  readonly #unauthenticated: RateLimiter;
  /** One 'flood' report per source per second. */
  readonly #floodReports: RateLimiter;

  constructor(options: SipGuardOptions = {}) {
    this.bans = options.bans instanceof BanList ? options.bans : new BanList(options.bans);
    const common = { maxKeys: options.maxSources, now: options.now };
    this.#messages = new RateLimiter({ ...(options.messages ?? DEFAULT_MESSAGE_LIMIT), ...common });
    this.#unauthenticated = new RateLimiter({ ...(options.unauthenticated ?? DEFAULT_UNAUTHENTICATED_LIMIT), ...common });
    this.#floodReports = new RateLimiter({ rate: 1, burst: 1, ...common });
    // One line per ban (rare, and what an operator wants to see); never one per dropped packet.
    this.bans.onBan((ban) => log.warn({ source: ban.source, reason: ban.reason, until: new Date(ban.until).toISOString() }, 'source banned'));
  }

  allowPacket(source: string): boolean {
    if (this.bans.isBanned(source)) {
      this.counters.droppedBanned++;
      return false;
    }
    if (this.#messages.take(sourceKey(source))) return true;
    if (this.bans.isExempt(source)) return true;
    this.counters.droppedRate++;
    this.#reportFlood(source);
    return false;
  }

  allowConnection(source: string): boolean {
    if (!this.bans.isBanned(source)) return true;
    this.counters.refusedConnections++;
    return false;
  }

  onBadMessage(source: string): void {
    this.counters.badMessages++;
    this.bans.recordFailure(source, 'malformed');
  }

  allowRequest(source: string, request: SipRequest): boolean {
    if (!OPENING_METHODS.has(request.method)) return true;
    const h = request.headers;
    if (h.has('authorization') || h.has('proxy-authorization')) return true;
    if (/;\s*tag\s*=/i.test(h.get('to') ?? '')) return true;
    if (this.#unauthenticated.take(sourceKey(source))) return true;
    if (this.bans.isExempt(source)) return true;
    this.counters.droppedUnauthenticated++;
    this.#reportFlood(source);
    return false;
  }

  watchBlocked(listener: () => void): () => void {
    return this.bans.onBan(() => listener());
  }

  /** What the B2BUA, registrar and token endpoint call on a failed authentication, a refused trunk request … */
  recordFailure(source: string, reason: FailureReason): FailureOutcome {
    return this.bans.recordFailure(source, reason);
  }

  isBanned(source: string): boolean {
    return this.bans.isBanned(source);
  }

  /** Subscribes to new bans (for logs and metrics). */
  onBan(listener: (ban: Ban) => void): () => void {
    return this.bans.onBan(listener);
  }

  /** Periodic housekeeping (every minute or so): expired bans, stale windows, refilled buckets. */
  sweep(): void {
    this.bans.sweep();
    this.#messages.sweep();
    this.#unauthenticated.sweep();
    this.#floodReports.sweep();
  }

  #reportFlood(source: string): void {
    if (this.#floodReports.take(sourceKey(source))) this.bans.recordFailure(source, 'flood');
  }
}
