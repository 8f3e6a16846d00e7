import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MediaTimeoutWatcher, type TimedLeg } from '../../src/rtp-bridge/media-timeout.ts';
import { PlainRtpLeg } from '../../src/rtp-bridge/plain-leg.ts';
import { PortPool } from '../../src/rtp-bridge/port-pool.ts';
import { Counter, Peer, rtp } from './packets.ts';

/** A leg as the watcher sees it: the leg stamps lastRtpAt with performance.now() per packet. */
class Leg implements TimedLeg {
  lastRtpAt = 0;
  onHold = false;
  packet(): void {
    this.lastRtpAt = performance.now();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MediaTimeoutWatcher', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance'] });
  });

  it('fires once, 60 s (default) after the last RTP packet, not before', () => {
    const watcher = new MediaTimeoutWatcher<Leg>();
    const leg = new Leg();
    const fired: number[] = [];
    watcher.watch(leg, (_l, silent) => fired.push(silent));
    for (let s = 0; s < 10; s++) {
      vi.advanceTimersByTime(1000);
      leg.packet();
    }
    vi.advanceTimersByTime(59_000);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual([60_000]);
    vi.advanceTimersByTime(600_000);
    expect(fired).toHaveLength(1);
    expect(watcher.size).toBe(0);
  });

  it('times out a leg that never received anything, counting from when it was watched', () => {
    const watcher = new MediaTimeoutWatcher<Leg>({ timeoutMs: 5000 });
    vi.advanceTimersByTime(100_000);
    const onTimeout = vi.fn();
    watcher.watch(new Leg(), onTimeout);
    vi.advanceTimersByTime(4000);
    expect(onTimeout).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(onTimeout).toHaveBeenCalledTimes(1);
  });

  it('never times out a leg on hold, and gives it a full timeout after it resumes', () => {
    const watcher = new MediaTimeoutWatcher<Leg>({ timeoutMs: 60_000 });
    const leg = new Leg();
    const onTimeout = vi.fn();
    watcher.watch(leg, onTimeout);
    leg.packet();
    leg.onHold = true;
    vi.advanceTimersByTime(10 * 60_000);
    expect(onTimeout).not.toHaveBeenCalled();
    leg.onHold = false;
    vi.advanceTimersByTime(59_000);
    expect(onTimeout).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2000);
    expect(onTimeout).toHaveBeenCalledTimes(1);
  });

  it('sweeps all legs with one interval timer instead of a timer per leg or per packet', () => {
    const watcher = new MediaTimeoutWatcher<Leg>({ timeoutMs: 3000, sweepMs: 500 });
    const legs = Array.from({ length: 50 }, () => new Leg());
    const timedOut: Leg[] = [];
    for (const leg of legs) watcher.watch(leg, (l) => timedOut.push(l));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(2000);
    for (const leg of legs.slice(0, 25)) leg.packet();
    vi.advanceTimersByTime(1000);
    expect(timedOut).toEqual(legs.slice(25));
    vi.advanceTimersByTime(2000);
    expect(timedOut).toHaveLength(50);
    expect(vi.getTimerCount()).toBe(0); // nothing left to watch: the sweep stopped
  });

  it('honours a per-leg timeout, unwatch, and survives a throwing callback', () => {
    const watcher = new MediaTimeoutWatcher<Leg>({ timeoutMs: 60_000 });
    const short = new Leg();
    const removed = new Leg();
    const other = new Leg();
    const calls: string[] = [];
    watcher.watch(short, () => {
      calls.push('short');
      throw new Error('listener bug');
    }, 2000);
    watcher.watch(removed, () => calls.push('removed'), 2000);
    watcher.watch(other, () => calls.push('other'), 2000);
    watcher.unwatch(removed);
    vi.advanceTimersByTime(3000);
    expect(calls).toEqual(['short', 'other']);
    watcher.close();
    expect(vi.getTimerCount()).toBe(0);
  });

});

describe('MediaTimeoutWatcher with a real PlainRtpLeg', () => {
  it('times out a silent sendrecv leg, not one put on hold by setDirection', async () => {
    // Fake only the sweep interval and the clock; socket I/O and its waits stay real.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    const pool = new PortPool({ min: 21200, max: 21209, bindAddress: '127.0.0.1' });
    const peer = await Peer.bind();
    try {
      const talking = await PlainRtpLeg.create(pool);
      const held = await PlainRtpLeg.create(pool);
      const got = new Counter();
      talking.onRtp(got.inc);
      const watcher = new MediaTimeoutWatcher<PlainRtpLeg>({ timeoutMs: 10_000 });
      const timedOut: PlainRtpLeg[] = [];
      watcher.watch(talking, (l) => timedOut.push(l));
      watcher.watch(held, (l) => timedOut.push(l));
      held.setDirection('sendonly'); // we hold the peer: no media expected from it
      vi.advanceTimersByTime(8000);
      await peer.send(rtp({ seq: 1, ts: 0, ssrc: 7 }), talking.port);
      await got.waitFor(1);
      expect(talking.lastRtpAt).toBe(performance.now());
      vi.advanceTimersByTime(9000);
      expect(timedOut).toEqual([]);
      vi.advanceTimersByTime(1000);
      expect(timedOut).toEqual([talking]);
      vi.advanceTimersByTime(60_000);
      expect(timedOut).toEqual([talking]);
      watcher.close();
    } finally {
      peer.close();
      pool.close();
    }
  });
});
