/**
 * The retransmission cache of the ng protocol. A proxy that gets no reply in time (Kamailio:
 * rtpengine_tout_ms, then rtpengine_retr tries) sends the same message again with the same cookie; executing
 * it twice would allocate a second set of ports for one offer. As rtpengine's cookie_cache.c does, a cookie
 * seen before gets the reply it got the first time, byte for byte, and a cookie whose command is still running
 * waits for that run instead of starting another. Entries live `ttlMs` (rtpengine: 30 s) and the cache is
 * bounded in entries and bytes; the oldest go first.
 *
 * Keys are per source address (not port: a proxy may retransmit from another socket, or reconnect over TCP),
 * so two proxies that happen to pick the same cookie do not get each other's replies.
 */

/** Distinct destinations answered for one running command (retransmissions come from one or two sockets). */
const MAX_WAITERS = 16;

export interface CookieCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
  maxBytes?: number;
  now?: () => number;
}

/** Where a reply goes: one per UDP source endpoint, TCP connection or WebSocket. */
export interface ReplyTarget {
  readonly id: string;
  send(reply: Buffer): void;
}

interface Pending {
  done: false;
  at: number;
  waiters: ReplyTarget[];
}
interface Done {
  done: true;
  at: number;
  reply: Buffer;
}
type Entry = Pending | Done;

export type CacheLookup =
  /** New cookie: run the command, then call `finish(reply)`, which answers every waiter. */
  | { status: 'run'; finish: (reply: Buffer) => void }
  /** Answered from the cache (already sent to `target`). */
  | { status: 'replayed' }
  /** Same command still running: `target` is answered when it finishes. */
  | { status: 'joined' };

export class CookieCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(options: CookieCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  lookup(source: string, cookie: Buffer, target: ReplyTarget): CacheLookup {
    const now = this.#now();
    this.#expire(now);
    const key = `${source}\u0000${cookie.toString('latin1')}`;
    const entry = this.#entries.get(key);
    if (entry?.done === true) {
      target.send(entry.reply);
      return { status: 'replayed' };
    }
    if (entry !== undefined) {
      // A retransmission to the same place needs no second copy of the reply; another socket gets its own.
      // Bounded: a flood of copies from ever-new ports must not grow one entry without limit.
      if (entry.waiters.length < MAX_WAITERS && !entry.waiters.some((w) => w.id === target.id)) entry.waiters.push(target);
      return { status: 'joined' };
    }
    const pending: Pending = { done: false, at: now, waiters: [target] };
    this.#entries.set(key, pending);
    this.#evict();
    return { status: 'run', finish: (reply) => this.#finish(key, pending, reply) };
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  #finish(key: string, pending: Pending, reply: Buffer): void {
    // Normally the entry is `pending` itself; after 30 s (expired and re-run) it may be a newer one.
    const current = this.#entries.get(key);
    if (current !== undefined) this.#remove(key, current);
    // Re-inserted at the back: the map stays ordered by age, so expiry only ever looks at the front.
    this.#entries.set(key, { done: true, at: this.#now(), reply });
    this.#bytes += reply.length;
    this.#evict();
    for (const waiter of pending.waiters) waiter.send(reply);
  }

  #expire(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (now - entry.at < this.#ttlMs) break;
      this.#remove(key, entry);
    }
  }

  #evict(): void {
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#remove(key, entry);
    }
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    if (entry.done) this.#bytes -= entry.reply.length;
  }
}
