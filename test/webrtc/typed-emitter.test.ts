import { describe, expect, it } from 'vitest';
import { TypedEmitter } from '../../src/webrtc/typed-emitter.ts';

type Events = { tick: [n: number]; done: [] };
class Ticker extends TypedEmitter<Events> {
  fire(n: number): boolean {
    return this.emit('tick', n);
  }
  finish(): boolean {
    return this.emit('done');
  }
}

describe('TypedEmitter', () => {
  it('a throwing listener does not stop the others (mediasoup habit)', () => {
    const ticker = new Ticker();
    const seen: number[] = [];
    ticker.on('tick', () => {
      throw new Error('bad listener');
    });
    ticker.on('tick', (n) => seen.push(n));
    expect(() => ticker.fire(1)).not.toThrow();
    expect(seen).toEqual([1]);
  });

  it('once() fires a single time, off() removes, and emit reports whether anyone listened', () => {
    const ticker = new Ticker();
    let done = 0;
    ticker.once('done', () => done++);
    expect(ticker.finish()).toBe(true);
    expect(ticker.finish()).toBe(false);
    expect(done).toBe(1);
    const listener = (): void => {};
    ticker.on('tick', listener).off('tick', listener);
    expect(ticker.listenerCount('tick')).toBe(0);
  });
});
