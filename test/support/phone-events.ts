/**
 * A typed event emitter for the test phone (an event map of argument tuples, as in mediasoup). Unlike the
 * gateway's emitter, which logs and swallows a listener's error, this one re-throws it on a microtask after
 * the other listeners ran: a failed `expect` inside a test's listener must fail the test run, not vanish,
 * and must not break the phone's own state machine half-way.
 */
export type EventMap = Record<string, unknown[]>;

type Listener = (...args: unknown[]) => void;

export class PhoneEvents<E extends EventMap> {
  readonly #listeners = new Map<keyof E, Listener[]>();

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener as unknown as Listener);
    this.#listeners.set(event, list);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    const wrapper = (...args: E[K]): void => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.#listeners.get(event);
    const at = list?.indexOf(listener as unknown as Listener) ?? -1;
    if (list && at !== -1) list.splice(at, 1);
    return this;
  }

  listenerCount(event: keyof E & string): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** The next emission of `event`, as a promise (use with withTimeout). */
  next<K extends keyof E & string>(event: K): Promise<E[K]> {
    return new Promise((resolve) => this.once(event, (...args) => resolve(args)));
  }

  protected emit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    for (const listener of [...list]) {
      try {
        (listener as unknown as (...a: E[K]) => void)(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
