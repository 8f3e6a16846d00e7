import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import { NonInviteClientTransaction } from '../../../src/signaling/transaction/non-invite-client-transaction.ts';
import { TransactionError } from '../../../src/signaling/transaction/errors.ts';
import { newBranch } from '../../../src/signaling/transaction/branch.ts';
import { clientKey } from '../../../src/signaling/transaction/matching.ts';
import { resolveTimerConfig } from '../../../src/signaling/transaction/timers.ts';
import { RecordingChannel, buildRequest, respondTo } from './test-channel.ts';

function setup(reliable: boolean, method = 'OPTIONS') {
  const channel = new RecordingChannel(reliable);
  const request = buildRequest(method);
  const branch = newBranch();
  request.headers.prepend('Via', channel.via(branch));
  const events: string[] = [];
  const tx = new NonInviteClientTransaction(clientKey(branch, method), request, channel, resolveTimerConfig(), {
    onResponse: (r) => events.push(`response ${r.status}`),
    onTimeout: () => events.push('timeout'),
    onTransportError: (e) => events.push(`transport-error ${e.code}`),
    onTerminated: () => events.push('terminated'),
  });
  const t0 = Date.now();
  tx.start();
  return { channel, request, tx, events, t0 };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

describe('non-INVITE client transaction, unreliable transport', () => {
  it('Timer E doubles from T1 to T2 and stays at T2; Timer F fires at 64*T1 → timeout, Terminated', () => {
    const { channel, request, tx, events, t0 } = setup(false);
    vi.advanceTimersByTime(31_999);
    expect(tx.state).toBe('Trying');
    vi.advanceTimersByTime(1);
    expect(channel.timesOf((m) => m === request, t0)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(events).toEqual(['timeout', 'terminated']);
  });

  it('after a 1xx (Proceeding) the pending Timer E fires and then retransmits every T2; F still applies', () => {
    const { channel, request, tx, events, t0 } = setup(false);
    vi.advanceTimersByTime(700);
    tx.receiveResponse(respondTo(request, 100));
    expect(tx.state).toBe('Proceeding');
    vi.advanceTimersByTime(32_000 - 700);
    expect(channel.timesOf((m) => m === request, t0)).toEqual([0, 500, 1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]);
    expect(events).toEqual(['response 100', 'timeout', 'terminated']);
  });

  it('a final response is passed up, later retransmissions are absorbed, Timer K (T4) then Terminated', () => {
    const { channel, request, tx, events } = setup(false);
    tx.receiveResponse(respondTo(request, 180));
    tx.receiveResponse(respondTo(request, 200, 'x'));
    expect(tx.state).toBe('Completed');
    tx.receiveResponse(respondTo(request, 200, 'x'));
    tx.receiveResponse(respondTo(request, 180));
    expect(events).toEqual(['response 180', 'response 200']);
    vi.advanceTimersByTime(4_999);
    expect(tx.state).toBe('Completed');
    expect(channel.requests()).toHaveLength(1); // Timer E went with Completed
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['response 180', 'response 200', 'terminated']);
  });

  it('a final response straight from Trying completes the transaction', () => {
    const { request, tx, events } = setup(false, 'REGISTER');
    tx.receiveResponse(respondTo(request, 401, 'x'));
    expect(tx.state).toBe('Completed');
    vi.advanceTimersByTime(5_000);
    expect(events).toEqual(['response 401', 'terminated']);
  });

  it('a transport error → onTransportError, Terminated', async () => {
    const { channel, tx, events } = setup(false);
    channel.failWith('async');
    vi.advanceTimersByTime(500);
    await Promise.resolve();
    expect(events).toEqual(['transport-error SIP_TRANSPORT_RESET', 'terminated']);
    expect(tx.state).toBe('Terminated');
  });

  it('refuses INVITE and ACK', () => {
    const channel = new RecordingChannel(false);
    for (const method of ['INVITE', 'ACK']) {
      expect(() => new NonInviteClientTransaction('k', buildRequest(method), channel, resolveTimerConfig(), {
        onResponse: () => {}, onTimeout: () => {}, onTransportError: () => {},
      })).toThrow(TransactionError);
    }
  });
});

describe('non-INVITE client transaction, reliable transport', () => {
  it('never retransmits (no Timer E) and Timer F still fires at 64*T1', () => {
    const { channel, tx, events } = setup(true);
    vi.advanceTimersByTime(32_000);
    expect(channel.requests()).toHaveLength(1);
    expect(events).toEqual(['timeout', 'terminated']);
    expect(tx.state).toBe('Terminated');
  });

  it('a final response → passed up, then Terminated at once (Timer K = 0)', () => {
    const { request, tx, events } = setup(true, 'BYE');
    tx.receiveResponse(respondTo(request, 200, 'x'));
    expect(events).toEqual(['response 200', 'terminated']);
    expect(tx.state).toBe('Terminated');
  });

  it('a synchronous transport error on the request → onTransportError, Terminated', () => {
    const channel = new RecordingChannel(true);
    channel.failWith('sync');
    const request = buildRequest('MESSAGE');
    const branch = newBranch();
    request.headers.prepend('Via', channel.via(branch));
    const events: string[] = [];
    const tx = new NonInviteClientTransaction(clientKey(branch, 'MESSAGE'), request, channel, resolveTimerConfig(), {
      onResponse: () => events.push('response'),
      onTimeout: () => events.push('timeout'),
      onTransportError: () => events.push('transport-error'),
      onTerminated: () => events.push('terminated'),
    });
    tx.start();
    expect(events).toEqual(['transport-error', 'terminated']);
  });
});
