/**
 * Concurrent connections per source address (WebSocket and SIP TCP/TLS together): one browser needs one, an
 * office behind NAT a few dozen; a single address holding thousands is exhausting file descriptors. Counted per
 * source key (IPv4 address, IPv6 /64). Memory is bounded by the number of open connections: a key is removed
 * when its count returns to zero.
 */
import { sourceKey } from './addresses.ts';

export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 32;

export class ConnectionLimiter {
  readonly maxPerAddress: number;
  readonly #open = new Map<string, number>();
  /** Connections refused because their address was at the limit. */
  refused = 0;

  constructor(maxPerAddress: number = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS) {
    if (!Number.isInteger(maxPerAddress) || maxPerAddress < 1) throw new RangeError(`maxPerAddress must be a positive integer, got ${maxPerAddress}`);
    this.maxPerAddress = maxPerAddress;
  }

  /**
   * Takes a slot for a new connection from `address`. Returns the release function (call it exactly once, when
   * the connection closes; extra calls are ignored), or undefined when the address is at its limit.
   */
  acquire(address: string): (() => void) | undefined {
    const key = sourceKey(address);
    const count = this.#open.get(key) ?? 0;
    if (count >= this.maxPerAddress) {
      this.refused++;
      return undefined;
    }
    this.#open.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(key) ?? 1) - 1;
      if (left <= 0) this.#open.delete(key);
      else this.#open.set(key, left);
    };
  }

  /** Open connections counted for `address`. */
  count(address: string): number {
    return this.#open.get(sourceKey(address)) ?? 0;
  }

  /** Addresses with at least one open connection. */
  get addresses(): number {
    return this.#open.size;
  }
}
