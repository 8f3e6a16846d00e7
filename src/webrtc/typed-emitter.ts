import { logger } from '../log.ts';

/**
 * A small typed event emitter in the mediasoup style: the event map is a record of argument tuples, and a
 * listener that throws is logged and skipped so one bad listener cannot kill a call or starve the others.
 * Not used on the per-packet path (packets go through plain callback properties).
 */
export type EventMap = Record<string, unknown[]>;
type Listener<A extends unknown[]> = (...args: A) => void;
type StoredListener = (...args: unknown[]) => void;

export class TypedEmitter<E extends EventMap> {
  readonly #listeners = new Map<keyof E, StoredListener[]>();

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const list = this.#listeners.get(event);
    if (list === undefined) this.#listeners.set(event, [listener as unknown as StoredListener]);
    else list.push(listener as unknown as StoredListener);
    return this;
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const wrapper = (...args: E[K]): void => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const list = this.#listeners.get(event);
    if (list === undefined) return this;
    const index = list.indexOf(listener as unknown as StoredListener);
    if (index !== -1) list.splice(index, 1);
    return this;
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }

  listenerCount<K extends keyof E>(event: K): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Calls every listener in registration order; errors are caught and logged. Returns whether anyone listened. */
  protected emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const list = this.#listeners.get(event);
    if (list === undefined || list.length === 0) return false;
    for (const listener of [...list]) {
      try {
        listener(...args);
      } catch (error) {
        logger.error({ err: error, event: String(event) }, 'event listener threw');
      }
    }
    return true;
  }
}
