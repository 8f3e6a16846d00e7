import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import { NonInviteServerTransaction } from '../../../src/signaling/transaction/non-invite-server-transaction.ts';
import { TransactionError } from '../../../src/signaling/transaction/errors.ts';
import { newBranch } from '../../../src/signaling/transaction/branch.ts';
import { resolveTimerConfig } from '../../../src/signaling/transaction/timers.ts';
import { RecordingChannel, buildRequest, respondTo } from './test-channel.ts';

function setup(reliable: boolean, method = 'OPTIONS') {
  const channel = new RecordingChannel(reliable);
  const request = buildRequest(method, { via: `SIP/2.0/UDP 127.0.0.1:5070;branch=${newBranch()}` });
  const events: string[] = [];
  const tx = new NonInviteServerTransaction('key', request, channel, resolveTimerConfig(), {
    onTimeout: () => events.push('timeout'),
    onTransportError: (e) => events.push(`transport-error ${e.code}`),
    onTerminated: () => events.push('terminated'),
  });
  return { channel, request, tx, events };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

for (const reliable of [false, true]) {
  describe(`non-INVITE server transaction, ${reliable ? 'reliable' : 'unreliable'} transport`, () => {
    it('retransmissions: discarded in Trying, last provisional in Proceeding, final in Completed', () => {
      const { channel, request, tx } = setup(reliable);
      expect(tx.state).toBe('Trying');
      tx.receiveRequest(request);
      expect(channel.sent).toEqual([]);
      const trying = respondTo(request, 100);
      tx.respond(trying);
      expect(tx.state).toBe('Proceeding');
      tx.receiveRequest(request);
      expect(channel.sent).toEqual([trying, trying]);
      const ok = respondTo(request, 200, 'uas1');
      tx.respond(ok);
      if (reliable) {
        // Timer J = 0.
        expect(tx.state).toBe('Terminated');
        expect(channel.sent).toEqual([trying, trying, ok]);
        return;
      }
      expect(tx.state).toBe('Completed');
      tx.receiveRequest(request);
      tx.respond(respondTo(request, 500, 'uas1')); // "MUST be discarded" in Completed
      tx.respond(respondTo(request, 180, 'uas1'));
      expect(channel.sent).toEqual([trying, trying, ok, ok]);
      vi.advanceTimersByTime(32_000);
      expect(tx.state).toBe('Terminated');
    });

    it(`Timer J is ${reliable ? '0' : '64*T1'}: Completed then Terminated`, () => {
      const { request, tx, events } = setup(reliable, 'REGISTER');
      tx.respond(respondTo(request, 200, 'uas1'));
      if (!reliable) {
        vi.advanceTimersByTime(31_999);
        expect(tx.state).toBe('Completed');
        vi.advanceTimersByTime(1);
      }
      expect(tx.state).toBe('Terminated');
      expect(events).toEqual(['terminated']);
    });

    it('a transport error is reported; the transaction remains in its state (RFC 6026 §8.8)', async () => {
      const { channel, request, tx, events } = setup(reliable);
      channel.failWith('async');
      tx.respond(respondTo(request, 180, 'uas1'));
      await Promise.resolve();
      expect(events).toEqual(['transport-error SIP_TRANSPORT_RESET']);
      expect(tx.state).toBe('Proceeding');
      channel.failure = undefined;
      tx.respond(respondTo(request, 200, 'uas1'));
      vi.advanceTimersByTime(32_000);
      expect(tx.state).toBe('Terminated');
    });
  });
}

describe('non-INVITE server transaction, input checks', () => {
  it('refuses INVITE and ACK', () => {
    for (const method of ['INVITE', 'ACK']) {
      expect(() => new NonInviteServerTransaction('k', buildRequest(method), new RecordingChannel(false), resolveTimerConfig(), {})).toThrow(TransactionError);
    }
  });

  it('terminate() from Trying ends it with nothing armed', () => {
    const { tx, events } = setup(false);
    tx.terminate();
    tx.terminate();
    expect(events).toEqual(['terminated']);
  });
});
