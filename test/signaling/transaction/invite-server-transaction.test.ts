import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import { InviteServerTransaction } from '../../../src/signaling/transaction/invite-server-transaction.ts';
import { TransactionError } from '../../../src/signaling/transaction/errors.ts';
import { newBranch } from '../../../src/signaling/transaction/branch.ts';
import { buildNon2xxAck } from '../../../src/signaling/transaction/ack.ts';
import { resolveTimerConfig } from '../../../src/signaling/transaction/timers.ts';
import { createResponse, type SipRequest } from '../../../src/signaling/message.ts';
import { RecordingChannel, buildRequest, respondTo } from './test-channel.ts';

/** The INVITE as it arrives from a UAC (its Via, the UAC's branch). */
function arrivingInvite(): SipRequest {
  return buildRequest('INVITE', { via: `SIP/2.0/UDP 127.0.0.1:5070;branch=${newBranch()};rport=5070;received=127.0.0.1` });
}

function setup(reliable: boolean) {
  const channel = new RecordingChannel(reliable);
  const request = arrivingInvite();
  const events: string[] = [];
  const tx = new InviteServerTransaction('key', request, channel, resolveTimerConfig(), {
    onTimeout: () => events.push('timeout'),
    onTransportError: (e) => events.push(`transport-error ${e.code}`),
    onTerminated: () => events.push('terminated'),
    onAck: (ack) => events.push(`ack ${ack.headers.get('cseq')}`),
  });
  const t0 = Date.now();
  return { channel, request, tx, events, t0 };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

for (const reliable of [false, true]) {
  describe(`INVITE server transaction, ${reliable ? 'reliable' : 'unreliable'} transport`, () => {
    it('100 Trying; a retransmitted INVITE is absorbed and the last provisional resent', () => {
      const { channel, request, tx } = setup(reliable);
      expect(tx.state).toBe('Proceeding');
      tx.trying();
      const trying = channel.responses(100)[0]!;
      expect(trying.headers.get('to')).toBe(request.headers.get('to'));
      expect(trying.headers.getAll('via')).toEqual(request.headers.getAll('via'));
      tx.receiveRequest(request);
      expect(channel.sent).toEqual([trying, trying]);
      const ringing = respondTo(request, 180, 'uas1');
      tx.respond(ringing);
      tx.receiveRequest(request);
      expect(channel.sent).toEqual([trying, trying, ringing, ringing]);
      tx.trying(); // the TU has responded: no second 100
      expect(channel.responses(100)).toHaveLength(2);
      tx.terminate();
    });

    it('2xx → Accepted (RFC 6026): INVITE retransmissions absorbed without resending, ACKs to the TU, TU 2xx retransmissions sent, Timer L', () => {
      const { channel, request, tx, events } = setup(reliable);
      const ok = respondTo(request, 200, 'uas1');
      tx.respond(ok);
      expect(tx.state).toBe('Accepted');
      tx.receiveRequest(request);
      tx.receiveRequest(request);
      expect(channel.sent).toEqual([ok]);
      const ack = buildRequest('ACK', { via: request.headers.get('via'), toTag: 'uas1' });
      tx.receiveAck(ack);
      expect(events).toEqual(['ack 1 ACK']);
      tx.respond(ok); // the TU's §13.3.1.4 retransmission
      tx.respond(respondTo(request, 180, 'uas1')); // no longer carried
      tx.respond(respondTo(request, 486, 'uas1'));
      expect(channel.sent).toEqual([ok, ok]);
      vi.advanceTimersByTime(31_999);
      expect(tx.state).toBe('Accepted');
      vi.advanceTimersByTime(1);
      expect(tx.state).toBe('Terminated');
      expect(events).toEqual(['ack 1 ACK', 'terminated']);
    });

    it('a 486 with no ACK: Timer H at 64*T1 → timeout, Terminated', () => {
      const { channel, request, tx, events, t0 } = setup(reliable);
      const busy = respondTo(request, 486, 'uas1');
      tx.respond(busy);
      expect(tx.state).toBe('Completed');
      vi.advanceTimersByTime(31_999);
      expect(tx.state).toBe('Completed');
      vi.advanceTimersByTime(1);
      expect(events).toEqual(['timeout', 'terminated']);
      const times = channel.timesOf((m) => m === busy, t0);
      // Timer G over UDP: T1, doubling up to T2; nothing over a reliable transport.
      expect(times).toEqual(reliable ? [0] : [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    });

    it('a retransmitted INVITE in Completed resends the final response; the ACK → Confirmed, Timer I, then Terminated', () => {
      const { channel, request, tx, events } = setup(reliable);
      const busy = respondTo(request, 486, 'uas1');
      tx.respond(busy);
      tx.receiveRequest(request);
      expect(channel.sent).toEqual([busy, busy]);
      vi.advanceTimersByTime(600);
      const sentBeforeAck = channel.sent.length;
      const ack = buildNon2xxAck(request, busy);
      tx.receiveAck(ack);
      if (reliable) {
        // Timer I = 0: Confirmed is left at once.
        expect(tx.state).toBe('Terminated');
      } else {
        expect(tx.state).toBe('Confirmed');
        expect(tx.liveTimers).toBe(1); // Timer I only: G and H went with Completed
        tx.receiveAck(ack); // absorbed
        tx.receiveRequest(request); // absorbed
        vi.advanceTimersByTime(4_999);
        expect(tx.state).toBe('Confirmed');
        vi.advanceTimersByTime(1);
        expect(tx.state).toBe('Terminated');
      }
      // Timer G stopped with the ACK; nothing more was sent; the ACK was not passed to the TU.
      expect(channel.sent.length).toBe(sentBeforeAck);
      expect(events).toEqual(['terminated']);
    });

    it('a transport error is reported and the transaction stays in its state (RFC 6026 §8.8); Timer H still ends it', () => {
      const { channel, request, tx, events } = setup(reliable);
      channel.failWith('sync');
      tx.respond(respondTo(request, 603, 'uas1'));
      expect(events).toEqual(['transport-error SIP_TRANSPORT_RESET']);
      expect(tx.state).toBe('Completed');
      channel.failure = undefined;
      vi.advanceTimersByTime(32_000);
      expect(tx.state).toBe('Terminated');
      expect(events.slice(-2)).toEqual(['timeout', 'terminated']);
    });
  });
}

describe('INVITE server transaction, TU input checks', () => {
  it('an ACK in Proceeding acknowledges nothing and is dropped', () => {
    const { request, tx, events } = setup(false);
    tx.receiveAck(buildRequest('ACK', { via: request.headers.get('via') }));
    expect(tx.state).toBe('Proceeding');
    expect(events).toEqual([]);
    tx.terminate();
  });

  it('a response status outside 100–699 is a TransactionError', () => {
    const { tx } = setup(false);
    expect(() => tx.respond(createResponse(99, 'Nope'))).toThrow(TransactionError);
    expect(() => tx.respond(createResponse(700, 'Nope'))).toThrow(TransactionError);
    tx.terminate();
  });

  it('only INVITE makes an INVITE server transaction', () => {
    expect(() => new InviteServerTransaction('k', buildRequest('BYE'), new RecordingChannel(false), resolveTimerConfig(), {})).toThrow(TransactionError);
  });
});
