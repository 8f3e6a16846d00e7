/**
 * A Map with a ceiling: at `maxSize` entries, adding one evicts the least recently used. Every piece of
 * per-source state the defences keep (token buckets, failure windows, bans) lives in one of these, because the
 * keys come from the network: a flood with spoofed UDP sources must cost a bounded amount of memory, whatever it
 * costs in accuracy.
 *
 * O(1) per operation: a JavaScript Map iterates in insertion order, so "touch" is delete + set and the oldest
 * entry is the first key.
 */
export class LruMap<K, V> {
  readonly maxSize: number;
  readonly #map = new Map<K, V>();
  readonly #onEvict: ((key: K, value: V) => void) | undefined;
  /** Entries pushed out by the ceiling (not deletions): how often the bound was hit. */
  evictions = 0;

  constructor(maxSize: number, onEvict?: (key: K, value: V) => void) {
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new RangeError(`LruMap maxSize must be a positive integer, got ${maxSize}`);
    this.maxSize = maxSize;
    this.#onEvict = onEvict;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The value, marking the key as recently used. */
  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  /** The value, without changing its place in the eviction order. */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Sets and marks as most recently used; evicts the least recently used entry when full. */
  set(key: K, value: V): void {
    if (this.#map.has(key)) this.#map.delete(key);
    else if (this.#map.size >= this.maxSize) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) {
        const evicted = this.#map.get(oldest.value)!;
        this.#map.delete(oldest.value);
        this.evictions++;
        this.#onEvict?.(oldest.value, evicted);
      }
    }
    this.#map.set(key, value);
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  /** Oldest first. Deleting the current entry while iterating is safe (Map semantics). */
  entries(): IterableIterator<[K, V]> {
    return this.#map.entries();
  }

  values(): IterableIterator<V> {
    return this.#map.values();
  }
}
