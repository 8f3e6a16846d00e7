import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import { InviteClientTransaction } from '../../../src/signaling/transaction/invite-client-transaction.ts';
import { newBranch } from '../../../src/signaling/transaction/branch.ts';
import { clientKey, tagOf } from '../../../src/signaling/transaction/matching.ts';
import { resolveTimerConfig } from '../../../src/signaling/transaction/timers.ts';
import type { SipResponse } from '../../../src/signaling/message.ts';
import { RecordingChannel, buildRequest, respondTo } from './test-channel.ts';

function setup(reliable: boolean) {
  const channel = new RecordingChannel(reliable);
  const request = buildRequest('INVITE');
  const branch = newBranch();
  request.headers.prepend('Via', channel.via(branch));
  const events: string[] = [];
  const responses: SipResponse[] = [];
  const tx = new InviteClientTransaction(clientKey(branch, 'INVITE'), request, channel, resolveTimerConfig(), {
    onResponse: (r) => {
      events.push(`response ${r.status}`);
      responses.push(r);
    },
    onTimeout: () => events.push('timeout'),
    onTransportError: (e) => events.push(`transport-error ${e.code}`),
    onTerminated: () => events.push('terminated'),
  });
  const t0 = Date.now();
  tx.start();
  return { channel, request, branch, tx, events, responses, t0 };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  // Every scenario ends Terminated with nothing left armed.
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

describe('INVITE client transaction, unreliable transport', () => {
  it('Timer A retransmits the same INVITE at 500, 1500, 3500 … ms and Timer B fires at 64*T1 → timeout, Terminated', () => {
    const { channel, request, tx, events, t0 } = setup(false);
    vi.advanceTimersByTime(31_999);
    expect(tx.state).toBe('Calling');
    vi.advanceTimersByTime(1);
    expect(channel.timesOf((m) => m === request, t0)).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(events).toEqual(['timeout', 'terminated']);
    expect(tx.state).toBe('Terminated');
    expect(channel.requests('ACK')).toHaveLength(0);
  });

  it('a provisional moves Calling → Proceeding, is passed up, and stops retransmissions and Timer B', () => {
    const { channel, request, tx, events } = setup(false);
    vi.advanceTimersByTime(600);
    tx.receiveResponse(respondTo(request, 100));
    tx.receiveResponse(respondTo(request, 180, 'b1'));
    expect(tx.state).toBe('Proceeding');
    expect(events).toEqual(['response 100', 'response 180']);
    vi.advanceTimersByTime(120_000);
    expect(channel.requests('INVITE')).toHaveLength(2);
    expect(tx.liveTimers).toBe(0);
    expect(events).toEqual(['response 100', 'response 180']);
    tx.terminate();
  });

  it('in Proceeding, a 2xx MUST move to Accepted (RFC 6026) and be passed up; retransmitted and forked 2xx are passed up; no ACK; Timer M', () => {
    const { channel, request, tx, events, responses, t0 } = setup(false);
    tx.receiveResponse(respondTo(request, 180, 'b1'));
    const ok = respondTo(request, 200, 'b1');
    tx.receiveResponse(ok);
    expect(tx.state).toBe('Accepted');
    tx.receiveResponse(ok);
    tx.receiveResponse(respondTo(request, 200, 'fork2'));
    tx.receiveResponse(respondTo(request, 180, 'b1'));
    tx.receiveResponse(respondTo(request, 486, 'fork3'));
    expect(events).toEqual(['response 180', 'response 200', 'response 200', 'response 200']);
    expect(responses.slice(1).map((r) => tagOf(r.headers.get('to')))).toEqual(['b1', 'b1', 'fork2']);
    expect(channel.requests('ACK')).toHaveLength(0);
    vi.advanceTimersByTime(32_000 - 1 - (Date.now() - t0));
    expect(tx.state).toBe('Accepted');
    vi.advanceTimersByTime(1);
    expect(tx.state).toBe('Terminated');
    expect(events.at(-1)).toBe('terminated');
  });

  it('a 2xx straight from Calling also goes to Accepted and stops Timer A', () => {
    const { channel, request, tx } = setup(false);
    tx.receiveResponse(respondTo(request, 200, 'b1'));
    expect(tx.state).toBe('Accepted');
    vi.advanceTimersByTime(10_000);
    expect(channel.requests('INVITE')).toHaveLength(1);
    vi.advanceTimersByTime(22_000);
    expect(tx.state).toBe('Terminated');
  });

  it('a 486 → ACK with the response To tag and the INVITE branch; a retransmitted 486 → the same ACK again; Timer D then Terminated', () => {
    const { channel, request, branch, tx, events, t0 } = setup(false);
    tx.receiveResponse(respondTo(request, 180, 'b1'));
    const busy = respondTo(request, 486, 'b1');
    tx.receiveResponse(busy);
    expect(tx.state).toBe('Completed');
    const acks = channel.requests('ACK');
    expect(acks).toHaveLength(1);
    const ack = acks[0]!;
    // §17.1.1.3
    expect(ack.uri).toBe(request.uri);
    expect(ack.headers.getAll('via')).toEqual([request.headers.getAll('via')[0]]);
    expect(ack.headers.get('via')).toContain(`branch=${branch}`);
    expect(ack.headers.get('to')).toBe(busy.headers.get('to'));
    expect(tagOf(ack.headers.get('to'))).toBe('b1');
    expect(ack.headers.get('from')).toBe(request.headers.get('from'));
    expect(ack.headers.get('call-id')).toBe(request.headers.get('call-id'));
    expect(ack.headers.get('cseq')).toBe('1 ACK');
    expect(ack.headers.getAll('route')).toEqual(request.headers.getAll('route'));
    expect(ack.headers.get('max-forwards')).toBe('70');
    expect(ack.body.length).toBe(0);

    vi.advanceTimersByTime(1000);
    tx.receiveResponse(busy);
    tx.receiveResponse(busy);
    expect(channel.requests('ACK')).toEqual([ack, ack, ack]);
    expect(events).toEqual(['response 180', 'response 486']);
    // Timer A stopped: no INVITE retransmission after the 1xx.
    expect(channel.requests('INVITE')).toHaveLength(1);

    vi.advanceTimersByTime(32_000 - 1 - (Date.now() - t0));
    expect(tx.state).toBe('Completed');
    vi.advanceTimersByTime(1);
    expect(tx.state).toBe('Terminated');
    expect(events).toEqual(['response 180', 'response 486', 'terminated']);
  });

  it('a final response from another fork in Completed is ACKed with its own To tag and not passed up', () => {
    const { channel, request, tx, events } = setup(false);
    tx.receiveResponse(respondTo(request, 486, 'b1'));
    tx.receiveResponse(respondTo(request, 404, 'other'));
    const acks = channel.requests('ACK');
    expect(acks.map((a) => tagOf(a.headers.get('to')))).toEqual(['b1', 'other']);
    expect(events).toEqual(['response 486']);
    tx.terminate();
  });

  it('a 2xx from another fork after a 486 is passed up so the TU can ACK and BYE it', () => {
    const { request, tx, events } = setup(false);
    tx.receiveResponse(respondTo(request, 486, 'b1'));
    tx.receiveResponse(respondTo(request, 200, 'b2'));
    expect(events).toEqual(['response 486', 'response 200']);
    tx.terminate();
  });

  it('a synchronous transport error on the INVITE → onTransportError, Terminated, no timers', () => {
    const channel = new RecordingChannel(false);
    channel.failWith('sync');
    const request = buildRequest('INVITE');
    const branch = newBranch();
    request.headers.prepend('Via', channel.via(branch));
    const events: string[] = [];
    const tx = new InviteClientTransaction(clientKey(branch, 'INVITE'), request, channel, resolveTimerConfig(), {
      onResponse: () => events.push('response'),
      onTimeout: () => events.push('timeout'),
      onTransportError: (e) => events.push(`transport-error ${e.code}`),
      onTerminated: () => events.push('terminated'),
    });
    tx.start();
    expect(events).toEqual(['transport-error SIP_TRANSPORT_RESET', 'terminated']);
    expect(tx.state).toBe('Terminated');
  });

  it('an asynchronous transport error → onTransportError, Terminated', async () => {
    const { channel, request, tx, events } = setup(false);
    channel.failWith('async');
    vi.advanceTimersByTime(500); // Timer A retransmission fails
    await Promise.resolve();
    expect(events).toEqual(['transport-error SIP_TRANSPORT_RESET', 'terminated']);
    expect(tx.state).toBe('Terminated');
    tx.receiveResponse(respondTo(request, 180));
    expect(events).toHaveLength(2);
  });

  it('a transport error sending the ACK in Completed → onTransportError, Terminated (§17.1.1.2)', () => {
    const { channel, request, tx, events } = setup(false);
    channel.failWith('sync');
    tx.receiveResponse(respondTo(request, 503, 'b1'));
    expect(events).toEqual(['response 503', 'transport-error SIP_TRANSPORT_RESET', 'terminated']);
    expect(tx.state).toBe('Terminated');
  });

  it('after a CANCEL, no final response within 64*T1 → timeout and Terminated (§9.1)', () => {
    const { request, tx, events } = setup(false);
    tx.receiveResponse(respondTo(request, 180, 'b1'));
    tx.cancelSent();
    vi.advanceTimersByTime(31_999);
    expect(tx.state).toBe('Proceeding');
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['response 180', 'timeout', 'terminated']);
  });

  it('a TU that throws in onResponse does not stop the state machine', () => {
    const channel = new RecordingChannel(false);
    const request = buildRequest('INVITE');
    const branch = newBranch();
    request.headers.prepend('Via', channel.via(branch));
    const tx = new InviteClientTransaction(clientKey(branch, 'INVITE'), request, channel, resolveTimerConfig(), {
      onResponse: () => {
        throw new Error('bad listener');
      },
      onTimeout: () => {},
      onTransportError: () => {},
    });
    tx.start();
    tx.receiveResponse(respondTo(request, 486, 'b1'));
    expect(tx.state).toBe('Completed');
    expect(channel.requests('ACK')).toHaveLength(1);
    tx.terminate();
  });
});

describe('INVITE client transaction, reliable transport', () => {
  it('never retransmits; Timer B still fires at 64*T1', () => {
    const { channel, tx, events } = setup(true);
    vi.advanceTimersByTime(31_999);
    expect(channel.requests('INVITE')).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['timeout', 'terminated']);
    expect(tx.state).toBe('Terminated');
  });

  it('a 486 → ACK, response passed up, then Terminated at once (Timer D = 0)', () => {
    const { channel, request, tx, events } = setup(true);
    tx.receiveResponse(respondTo(request, 486, 'b1'));
    expect(channel.requests('ACK')).toHaveLength(1);
    expect(events).toEqual(['response 486', 'terminated']);
    expect(tx.state).toBe('Terminated');
  });

  it('a 2xx → Accepted; Timer M (64*T1) applies on reliable transports too', () => {
    const { request, tx, events } = setup(true);
    tx.receiveResponse(respondTo(request, 200, 'b1'));
    tx.receiveResponse(respondTo(request, 200, 'b1'));
    expect(events).toEqual(['response 200', 'response 200']);
    vi.advanceTimersByTime(31_999);
    expect(tx.state).toBe('Accepted');
    vi.advanceTimersByTime(1);
    expect(tx.state).toBe('Terminated');
  });

  it('a transport error → onTransportError and Terminated', () => {
    const { channel, request, tx, events } = setup(true);
    channel.failWith('sync');
    tx.receiveResponse(respondTo(request, 480, 'b1'));
    expect(events).toEqual(['response 480', 'terminated', 'transport-error SIP_TRANSPORT_RESET']);
    expect(tx.state).toBe('Terminated');
  });
});
