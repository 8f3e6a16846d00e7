/**
 * A small typed event emitter in mediasoup's style: an event map of argument tuples, and listener errors caught
 * and logged so that one bad listener cannot kill a call or the media plane. Shared by the media plane
 * (rtp-bridge) and the SIP sessions (sip-bridge); `listenerCount` lets an object answer a request itself when
 * nobody listens for it (a session's default answers to in-dialog requests).
 */
import { logger } from './log.ts';

export type EventMap = Record<string, unknown[]>;

export interface TypedEventSource<E extends EventMap> {
  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
}

export class TypedEmitter<E extends EventMap> implements TypedEventSource<E> {
  readonly #listeners = new Map<string, Set<unknown>>();

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return this;
  }

  /** A listener called for the next emission only. */
  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    const wrapper = (...args: E[K]): void => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#listeners.get(event)?.delete(listener);
    return this;
  }

  listenerCount<K extends keyof E & string>(event: K): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  emit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: E[K]) => void)(...args);
      } catch (err) {
        logger.error({ event, err }, 'event listener threw');
      }
    }
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }
}
