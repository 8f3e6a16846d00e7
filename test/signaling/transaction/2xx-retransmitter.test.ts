import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import { TwoXxRetransmitter } from '../../../src/signaling/transaction/2xx-retransmitter.ts';
import { InviteServerTransaction } from '../../../src/signaling/transaction/invite-server-transaction.ts';
import { TransactionError } from '../../../src/signaling/transaction/errors.ts';
import { newBranch } from '../../../src/signaling/transaction/branch.ts';
import { resolveTimerConfig } from '../../../src/signaling/transaction/timers.ts';
import { RecordingChannel, buildRequest, respondTo } from './test-channel.ts';

function setup(reliable: boolean) {
  const channel = new RecordingChannel(reliable);
  const invite = buildRequest('INVITE', { via: `SIP/2.0/UDP 127.0.0.1:5070;branch=${newBranch()}` });
  const tx = new InviteServerTransaction('key', invite, channel, resolveTimerConfig(), {});
  const ok = respondTo(invite, 200, 'uas1');
  const t0 = Date.now();
  tx.respond(ok);
  const events: string[] = [];
  const retransmitter = new TwoXxRetransmitter(tx, ok, {
    onTimeout: () => events.push('timeout'),
    onStopped: () => events.push('stopped'),
  });
  retransmitter.start();
  return { channel, tx, ok, retransmitter, events, t0 };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

for (const reliable of [false, true]) {
  describe(`2xx retransmission by the UAS core (§13.3.1.4), ${reliable ? 'reliable' : 'unreliable'} transport`, () => {
    it('resends the 2xx at T1 doubling up to T2 until the ACK arrives', () => {
      const { channel, ok, retransmitter, events, tx, t0 } = setup(reliable);
      vi.advanceTimersByTime(8_000);
      expect(channel.timesOf((m) => m === ok, t0)).toEqual([0, 500, 1500, 3500, 7500]);
      retransmitter.acknowledged();
      expect(retransmitter.active).toBe(false);
      expect(retransmitter.liveTimers).toBe(0);
      vi.advanceTimersByTime(10_000);
      expect(channel.sent).toHaveLength(5);
      expect(events).toEqual(['stopped']);
      vi.advanceTimersByTime(22_000); // Timer L
      expect(tx.state).toBe('Terminated');
    });

    it('gives up after 64*T1 without an ACK: onTimeout (the TU then sends BYE)', () => {
      const { channel, ok, events, tx, t0 } = setup(reliable);
      vi.advanceTimersByTime(32_000);
      expect(channel.timesOf((m) => m === ok, t0)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
      expect(events).toEqual(['stopped', 'timeout']);
      expect(tx.state).toBe('Terminated');
    });
  });
}

describe('2xx retransmitter edge cases', () => {
  it('keeps retransmitting straight on the channel if the transaction was terminated by its owner', () => {
    const { channel, ok, tx, retransmitter } = setup(false);
    tx.terminate();
    vi.advanceTimersByTime(1_500);
    expect(channel.sent).toEqual([ok, ok, ok]);
    retransmitter.stop();
    retransmitter.stop();
  });

  it('reports transport errors of direct retransmissions', () => {
    const { channel, tx, ok } = setup(false);
    tx.terminate();
    const errors: string[] = [];
    const r = new TwoXxRetransmitter(tx, ok, { onTimeout: () => {}, onTransportError: (e) => errors.push(e.code) });
    channel.failWith('sync');
    r.start();
    vi.advanceTimersByTime(500);
    expect(errors).toEqual(['SIP_TRANSPORT_RESET']);
    r.stop();
    vi.advanceTimersByTime(64_000);
  });

  it('only a 2xx is retransmitted by the UAS core', () => {
    const { tx } = setup(false);
    expect(() => new TwoXxRetransmitter(tx, respondTo(tx.request, 486, 'x'), { onTimeout: () => {} })).toThrow(TransactionError);
    vi.advanceTimersByTime(64_000);
  });
});
