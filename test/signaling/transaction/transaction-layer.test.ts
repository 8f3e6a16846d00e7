import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import {
  TransactionLayer,
  type ServerTransaction,
  type TransactionUser,
} from '../../../src/signaling/transaction/transaction-layer.ts';
import { InviteServerTransaction } from '../../../src/signaling/transaction/invite-server-transaction.ts';
import { InviteClientTransaction } from '../../../src/signaling/transaction/invite-client-transaction.ts';
import { NonInviteServerTransaction } from '../../../src/signaling/transaction/non-invite-server-transaction.ts';
import { TransactionError } from '../../../src/signaling/transaction/errors.ts';
import { newBranch } from '../../../src/signaling/transaction/branch.ts';
import { buildNon2xxAck } from '../../../src/signaling/transaction/ack.ts';
import { buildCancel } from '../../../src/signaling/transaction/cancel.ts';
import { tagOf } from '../../../src/signaling/transaction/matching.ts';
import { createRequest, createResponseTo, type SipRequest, type SipResponse } from '../../../src/signaling/message.ts';
import type { ClientTransactionUser } from '../../../src/signaling/transaction/transaction.ts';
import { RecordingChannel, buildRequest, respondTo } from './test-channel.ts';

const layers: TransactionLayer[] = [];

interface Harness {
  layer: TransactionLayer;
  events: string[];
  requests: { request: SipRequest; tx: ServerTransaction }[];
  acks: SipRequest[];
  cancels: { cancel: SipRequest; cancelTx: NonInviteServerTransaction; target: InviteServerTransaction | undefined }[];
  stray: SipResponse[];
}

function harness(hooks: Partial<Pick<TransactionUser, 'onRequest' | 'onCancel'>> = {}): Harness {
  const h: Harness = { layer: undefined!, events: [], requests: [], acks: [], cancels: [], stray: [] };
  h.layer = new TransactionLayer({
    onRequest: (request, tx) => {
      h.requests.push({ request, tx });
      h.events.push(`request ${request.method}`);
      hooks.onRequest?.(request, tx);
    },
    onAck: (ack) => {
      h.acks.push(ack);
      h.events.push('ack');
    },
    onCancel: (cancel, cancelTx, target) => {
      h.cancels.push({ cancel, cancelTx, target });
      h.events.push(`cancel ${target === undefined ? 'unmatched' : 'matched'}`);
      hooks.onCancel?.(cancel, cancelTx, target);
    },
    onStrayResponse: (response) => {
      h.stray.push(response);
      h.events.push(`stray ${response.status}`);
    },
    onServerTimeout: () => h.events.push('server-timeout'),
    onServerTransportError: (_tx, error) => h.events.push(`server-transport-error ${error.code}`),
  });
  layers.push(h.layer);
  return h;
}

function recorder(events: string[], prefix: string): ClientTransactionUser {
  return {
    onResponse: (r) => events.push(`${prefix} ${r.status}`),
    onTimeout: () => events.push(`${prefix} timeout`),
    onTransportError: () => events.push(`${prefix} transport-error`),
    onTerminated: () => events.push(`${prefix} terminated`),
  };
}

/** An INVITE as it arrives from a UAC at 127.0.0.1:5070. */
function arriving(method: string, branch = newBranch(), options: { toTag?: string; cseq?: number; callId?: string } = {}): SipRequest {
  return buildRequest(method, { via: `SIP/2.0/UDP 127.0.0.1:5070;branch=${branch};rport=5070`, ...options });
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  // After every scenario the layers are empty and nothing is armed.
  for (const layer of layers.splice(0)) {
    expect(layer.counts).toEqual({ inviteClient: 0, nonInviteClient: 0, inviteServer: 0, nonInviteServer: 0, retransmitters: 0, pendingCancels: 0, timers: 0 });
  }
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

describe('transaction layer, client side (§17.1.3)', () => {
  it('adds a top Via from channel.via() with a fresh z9hG4bK branch of 96 random bits', () => {
    const { layer } = harness();
    const channel = new RecordingChannel(true);
    const events: string[] = [];
    const a = layer.sendRequest(buildRequest('OPTIONS'), channel, recorder(events, 'a'));
    const b = layer.sendRequest(buildRequest('OPTIONS'), channel, recorder(events, 'b'));
    const viaA = a.request.headers.get('via')!;
    expect(viaA).toMatch(/^SIP\/2\.0\/TCP 127\.0\.0\.1:5060;branch=z9hG4bK[0-9a-f]{24};rport$/);
    expect(viaA).not.toBe(b.request.headers.get('via'));
    expect(channel.sent).toEqual([a.request, b.request]);
    expect(layer.counts.nonInviteClient).toBe(2);
    layer.receiveResponse(respondTo(a.request, 200, 'x'));
    layer.receiveResponse(respondTo(b.request, 404, 'y'));
    expect(events).toEqual(['a 200', 'a terminated', 'b 404', 'b terminated']);
  });

  it('matches by branch and CSeq method: a CANCEL shares the INVITE branch but is its own transaction', () => {
    const { layer } = harness();
    const channel = new RecordingChannel(false);
    const events: string[] = [];
    const invite = layer.sendRequest(buildRequest('INVITE'), channel, recorder(events, 'invite')) as InviteClientTransaction;
    layer.receiveResponse(respondTo(invite.request, 180, 'b1'));
    expect(layer.cancel(invite, recorder(events, 'cancel'))).toBe('sent');
    const cancel = channel.requests('CANCEL')[0]!;
    layer.receiveResponse(respondTo(cancel, 200, 'b1'));
    layer.receiveResponse(respondTo(invite.request, 487, 'b1'));
    expect(events).toEqual(['invite 180', 'cancel 200', 'invite 487']);
    expect(channel.requests('ACK')).toHaveLength(1);
    vi.advanceTimersByTime(32_000);
    expect(events.slice(3).sort()).toEqual(['cancel terminated', 'invite terminated']);
  });

  it('a response whose top Via sent-by differs from ours is discarded (§18.1.2)', () => {
    const { layer, stray } = harness();
    const events: string[] = [];
    const tx = layer.sendRequest(buildRequest('OPTIONS'), new RecordingChannel(true), recorder(events, 'o'));
    const forged = respondTo(tx.request, 200, 'x');
    forged.headers.set('Via', tx.request.headers.get('via')!.replace('127.0.0.1:5060', '127.0.0.1:5999'));
    layer.receiveResponse(forged);
    expect(events).toEqual([]);
    expect(stray).toEqual([]);
    expect(layer.stats.discardedResponses).toBe(1);
    tx.terminate();
  });

  it('responses matching nothing are stray: counted and offered to onStrayResponse, never thrown', () => {
    const { layer, stray } = harness();
    const orphan = createResponseTo(arriving('INVITE'), 200, 'OK', 'x');
    layer.receiveResponse(orphan);
    expect(stray).toEqual([orphan]);
    expect(layer.stats.strayResponses).toBe(1);
    for (const broken of [
      createResponseTo(buildRequest('INVITE'), 200), // no Via at all
      createResponseTo(arriving('INVITE'), 200),
      createResponseTo(arriving('INVITE'), 200),
    ]) {
      broken.headers.set('CSeq', 'garbage');
      expect(() => layer.receiveResponse(broken)).not.toThrow();
    }
    const badVia = createResponseTo(arriving('INVITE'), 200);
    badVia.headers.set('Via', 'not a via');
    layer.receiveResponse(badVia);
    expect(layer.stats.discardedResponses).toBe(4);
  });

  it('a 2xx retransmission after Timer M ended the INVITE transaction is a stray response', () => {
    const { layer, stray } = harness();
    const events: string[] = [];
    const tx = layer.sendRequest(buildRequest('INVITE'), new RecordingChannel(false), recorder(events, 'i'));
    const ok = respondTo(tx.request, 200, 'b1');
    layer.receiveResponse(ok);
    layer.receiveResponse(ok);
    vi.advanceTimersByTime(32_000);
    layer.receiveResponse(ok);
    expect(events).toEqual(['i 200', 'i 200', 'i terminated']);
    expect(stray).toEqual([ok]);
  });

  it('refuses ACK, a CSeq method that differs, a Via without an RFC 3261 branch, and a closed layer', () => {
    const { layer } = harness();
    const channel = new RecordingChannel(false);
    const user = recorder([], 'x');
    expect(() => layer.sendRequest(buildRequest('ACK'), channel, user)).toThrow(TransactionError);
    const mismatched = buildRequest('OPTIONS');
    mismatched.headers.set('CSeq', '1 INFO');
    expect(() => layer.sendRequest(mismatched, channel, user)).toThrow(/CSeq/);
    expect(() => layer.sendRequest(buildRequest('OPTIONS', { via: 'SIP/2.0/UDP 127.0.0.1:5060;branch=1234' }), channel, user)).toThrow(/z9hG4bK/);
    const fixed = buildRequest('OPTIONS', { via: channel.via(newBranch()) });
    const tx = layer.sendRequest(fixed, channel, user);
    expect(() => layer.sendRequest(fixed, channel, user)).toThrow(expect.objectContaining({ code: 'SIP_TRANSACTION_EXISTS' }));
    tx.terminate();
    layer.close();
    expect(() => layer.sendRequest(buildRequest('OPTIONS'), channel, user)).toThrow(expect.objectContaining({ code: 'SIP_TRANSACTION_CLOSED' }));
  });

  it('sendAck sends an ACK outside any transaction, with a fresh branch', () => {
    const { layer } = harness();
    const channel = new RecordingChannel(false);
    const ack = buildRequest('ACK', { toTag: 'b1' });
    layer.sendAck(ack, channel);
    expect(channel.sent).toEqual([ack]);
    expect(ack.headers.get('via')).toMatch(/branch=z9hG4bK[0-9a-f]{24}/);
    expect(layer.counts.nonInviteClient).toBe(0);
    expect(() => layer.sendAck(buildRequest('BYE'), channel)).toThrow(TransactionError);
  });
});

describe('transaction layer, CANCEL on the client side (§9.1)', () => {
  it('a CANCEL before any provisional is queued, then sent with the first 1xx; it copies what §9.1 says', () => {
    const { layer } = harness();
    const channel = new RecordingChannel(false);
    const events: string[] = [];
    const invite = layer.sendRequest(buildRequest('INVITE'), channel, recorder(events, 'invite')) as InviteClientTransaction;
    expect(layer.cancel(invite, recorder(events, 'cancel'))).toBe('queued');
    expect(layer.counts.pendingCancels).toBe(1);
    expect(channel.requests('CANCEL')).toHaveLength(0);
    layer.receiveResponse(respondTo(invite.request, 100));
    const [cancel] = channel.requests('CANCEL');
    expect(cancel).toBeDefined();
    expect(cancel!.uri).toBe(invite.request.uri);
    expect(cancel!.headers.getAll('via')).toEqual([invite.request.headers.getAll('via')[0]]);
    expect(cancel!.headers.get('cseq')).toBe('1 CANCEL');
    for (const h of ['to', 'from', 'call-id', 'max-forwards']) expect(cancel!.headers.get(h)).toBe(invite.request.headers.get(h));
    expect(cancel!.headers.getAll('route')).toEqual(invite.request.headers.getAll('route'));
    expect(layer.cancel(invite, recorder(events, 'again'))).toBe('not-sent');
    layer.receiveResponse(respondTo(cancel!, 200, 'b1'));
    layer.receiveResponse(respondTo(invite.request, 487, 'b1'));
    vi.advanceTimersByTime(32_000);
    expect(events).toEqual(['invite 100', 'cancel 200', 'invite 487', 'cancel terminated', 'invite terminated']);
  });

  it('a queued CANCEL is dropped when a final response comes first; after a final response nothing is sent', () => {
    const { layer } = harness();
    const channel = new RecordingChannel(true);
    const events: string[] = [];
    const invite = layer.sendRequest(buildRequest('INVITE'), channel, recorder(events, 'invite')) as InviteClientTransaction;
    layer.cancel(invite, recorder(events, 'cancel'));
    layer.receiveResponse(respondTo(invite.request, 200, 'b1'));
    expect(events).toEqual(['invite 200', 'cancel terminated']);
    expect(layer.cancel(invite, recorder(events, 'late'))).toBe('not-sent');
    expect(channel.requests('CANCEL')).toHaveLength(0);
    vi.advanceTimersByTime(32_000);
  });

  it('the INVITE is given up 64*T1 after the CANCEL if no final response comes (§9.1)', () => {
    const { layer } = harness();
    const channel = new RecordingChannel(true);
    const events: string[] = [];
    const invite = layer.sendRequest(buildRequest('INVITE'), channel, recorder(events, 'invite')) as InviteClientTransaction;
    layer.receiveResponse(respondTo(invite.request, 180, 'b1'));
    layer.cancel(invite, recorder(events, 'cancel'));
    layer.receiveResponse(respondTo(channel.requests('CANCEL')[0]!, 200, 'b1'));
    vi.advanceTimersByTime(32_000);
    expect(events).toEqual(['invite 180', 'cancel 200', 'cancel terminated', 'invite timeout', 'invite terminated']);
  });
});

describe('transaction layer, server side (§17.2.3)', () => {
  it('a new INVITE creates a server transaction, goes to the TU, and 100 Trying follows at once; retransmissions are absorbed', () => {
    const h = harness();
    const channel = new RecordingChannel(false);
    const invite = arriving('INVITE');
    h.layer.receiveRequest(invite, channel);
    expect(h.events).toEqual(['request INVITE']);
    expect(h.requests[0]!.tx).toBeInstanceOf(InviteServerTransaction);
    expect(channel.responses().map((r) => r.status)).toEqual([100]);
    h.layer.receiveRequest(invite, channel);
    expect(h.events).toEqual(['request INVITE']);
    expect(channel.responses().map((r) => r.status)).toEqual([100, 100]);
    h.requests[0]!.tx.respond(respondTo(invite, 480, 'uas1'));
    vi.advanceTimersByTime(32_000); // Timer H
    expect(h.events).toEqual(['request INVITE', 'server-timeout']);
  });

  it('a TU that answers inside onRequest gets no 100 Trying before its response', () => {
    const channel = new RecordingChannel(true);
    const h = harness({ onRequest: (req, tx) => tx.respond(respondTo(req, 180, 'uas1')) });
    h.layer.receiveRequest(arriving('INVITE'), channel);
    expect(channel.responses().map((r) => r.status)).toEqual([180]);
    h.requests[0]!.tx.terminate();
  });

  it('a TU that throws on a new request gets the request answered with 500', () => {
    const channel = new RecordingChannel(true);
    const h = harness({ onRequest: () => { throw new Error('bug'); } });
    h.layer.receiveRequest(arriving('OPTIONS'), channel);
    const [res] = channel.responses();
    expect(res!.status).toBe(500);
    expect(tagOf(res!.headers.get('to'))).toMatch(/^[0-9a-f]{16}$/);
    expect(h.layer.counts.nonInviteServer).toBe(0); // Timer J = 0 on a reliable channel
  });

  it('the ACK for a 3xx–6xx (INVITE branch) belongs to the INVITE transaction: Confirmed, not passed to the TU', () => {
    const h = harness();
    const channel = new RecordingChannel(false);
    const invite = arriving('INVITE');
    h.layer.receiveRequest(invite, channel);
    const busy = respondTo(invite, 486, 'uas1');
    const tx = h.requests[0]!.tx as InviteServerTransaction;
    tx.respond(busy);
    h.layer.receiveRequest(buildNon2xxAck(invite, busy), channel);
    expect(tx.state).toBe('Confirmed');
    expect(h.acks).toEqual([]);
    vi.advanceTimersByTime(5_000); // Timer I
    expect(tx.state).toBe('Terminated');
  });

  it('the ACK for a 2xx (new branch) matches no transaction: onAck, and it stops the 2xx retransmissions', () => {
    const h = harness();
    const channel = new RecordingChannel(false);
    const invite = arriving('INVITE');
    h.layer.receiveRequest(invite, channel);
    const tx = h.requests[0]!.tx as InviteServerTransaction;
    const ok = respondTo(invite, 200, 'uas1');
    tx.respond(ok);
    const r = h.layer.retransmit2xx(tx, ok, { onTimeout: () => h.events.push('2xx timeout') });
    expect(h.layer.counts.retransmitters).toBe(1);
    vi.advanceTimersByTime(1_600);
    expect(channel.responses(200)).toHaveLength(3);
    const ack = arriving('ACK', newBranch(), { toTag: 'uas1', callId: invite.headers.get('call-id')! });
    h.layer.receiveRequest(ack, channel);
    expect(h.acks).toEqual([ack]);
    expect(r.active).toBe(false);
    expect(h.layer.counts.retransmitters).toBe(0);
    // In Accepted a retransmitted INVITE is absorbed, nothing resent, nothing passed up.
    h.layer.receiveRequest(invite, channel);
    expect(channel.responses(200)).toHaveLength(3);
    expect(h.events).toEqual(['request INVITE', 'ack']);
    vi.advanceTimersByTime(32_000); // Timer L
  });

  it('in Accepted, an ACK that reuses the INVITE branch is passed to the TU by the transaction (RFC 6026)', () => {
    const h = harness();
    const channel = new RecordingChannel(true);
    const branch = newBranch();
    const invite = arriving('INVITE', branch);
    h.layer.receiveRequest(invite, channel);
    h.requests[0]!.tx.respond(respondTo(invite, 200, 'uas1'));
    const ack = arriving('ACK', branch, { toTag: 'uas1', callId: invite.headers.get('call-id')! });
    h.layer.receiveRequest(ack, channel);
    expect(h.acks).toEqual([ack]);
    expect(h.layer.counts.inviteServer).toBe(1);
    vi.advanceTimersByTime(32_000);
  });

  it('a CANCEL gets its own server transaction and is matched to the INVITE it targets (§9.2)', () => {
    const channel = new RecordingChannel(false);
    const h = harness({
      onCancel: (cancel, cancelTx, target) => {
        cancelTx.respond(respondTo(cancel, target ? 200 : 481, 'uas1'));
        if (target && target.finalResponse === undefined) target.respond(respondTo(target.request, 487, 'uas1'));
      },
    });
    const branch = newBranch();
    const invite = arriving('INVITE', branch);
    h.layer.receiveRequest(invite, channel);
    const cancel = buildCancel(invite);
    h.layer.receiveRequest(cancel, channel);
    expect(h.cancels[0]!.target).toBe(h.requests[0]!.tx);
    expect(h.cancels[0]!.cancelTx).toBeInstanceOf(NonInviteServerTransaction);
    expect(h.layer.counts).toMatchObject({ inviteServer: 1, nonInviteServer: 1 });
    expect(channel.responses().map((r) => `${r.status} ${r.headers.get('cseq')}`)).toEqual(['100 1 INVITE', '200 1 CANCEL', '487 1 INVITE']);
    // A retransmitted CANCEL is absorbed by its transaction: 200 resent, the TU not asked again.
    h.layer.receiveRequest(cancel, channel);
    expect(h.cancels).toHaveLength(1);
    expect(channel.responses(200)).toHaveLength(2);
    h.layer.receiveRequest(buildNon2xxAck(invite, channel.responses(487)[0]!), channel);
    expect(h.requests[0]!.tx.state).toBe('Confirmed');
    // A CANCEL for an unknown transaction, or from another sent-by, matches nothing.
    h.layer.receiveRequest(buildCancel(arriving('INVITE')), channel);
    const elsewhere = buildCancel(invite);
    elsewhere.headers.set('Via', `SIP/2.0/UDP 127.0.0.9:5070;branch=${branch}`);
    h.layer.receiveRequest(elsewhere, channel);
    expect(h.cancels.map((c) => c.target)).toEqual([h.requests[0]!.tx, undefined, undefined]);
    expect(channel.responses(481)).toHaveLength(2);
    vi.advanceTimersByTime(32_000);
    expect(h.events).toEqual(['request INVITE', 'cancel matched', 'cancel unmatched', 'cancel unmatched']);
  });

  it('RFC 2543 requests (no magic cookie) are matched on Request-URI, tags, Call-ID, CSeq and top Via', () => {
    const channel = new RecordingChannel(false);
    const h = harness({ onCancel: (c, ctx) => ctx.respond(respondTo(c, 200, 'uas1')) });
    const old = buildRequest('INVITE', { via: 'SIP/2.0/UDP 127.0.0.1:5070' });
    h.layer.receiveRequest(old, channel);
    h.layer.receiveRequest(buildRequest('INVITE', { via: 'SIP/2.0/UDP 127.0.0.1:5070', callId: old.headers.get('call-id')! }), channel);
    expect(h.events).toEqual(['request INVITE']); // the second is a retransmission
    h.layer.receiveRequest(buildCancel(old), channel);
    expect(h.cancels[0]!.target).toBe(h.requests[0]!.tx);
    const tx = h.requests[0]!.tx as InviteServerTransaction;
    const busy = respondTo(old, 486, 'uas1');
    tx.respond(busy);
    // An ACK whose To tag is not the one we sent belongs to no transaction.
    const wrongTag = buildNon2xxAck(old, respondTo(old, 486, 'other'));
    h.layer.receiveRequest(wrongTag, channel);
    expect(h.acks).toEqual([wrongTag]);
    expect(tx.state).toBe('Completed');
    h.layer.receiveRequest(buildNon2xxAck(old, busy), channel);
    expect(tx.state).toBe('Confirmed');
    // Another branch-less request with another CSeq is a new transaction.
    h.layer.receiveRequest(buildRequest('OPTIONS', { via: 'SIP/2.0/UDP 127.0.0.1:5070;branch=1', cseq: 2 }), channel);
    expect(h.events.at(-1)).toBe('request OPTIONS');
    h.requests[1]!.tx.respond(respondTo(h.requests[1]!.request, 200, 'x'));
    vi.advanceTimersByTime(32_000);
  });

  it('odd requests never throw: no Via, bad Via, no CSeq, CSeq method ≠ method, no Call-ID → dropped and counted', () => {
    const h = harness();
    const channel = new RecordingChannel(false);
    const broken: SipRequest[] = [];
    broken.push(createRequest('OPTIONS', 'sip:x@example.com', [['CSeq', '1 OPTIONS'], ['Call-ID', 'c']]));
    broken.push(createRequest('OPTIONS', 'sip:x@example.com', [['Via', 'garbage'], ['CSeq', '1 OPTIONS'], ['Call-ID', 'c']]));
    broken.push(createRequest('OPTIONS', 'sip:x@example.com', [['Via', 'SIP/2.0/UDP h;branch=z9hG4bKx1'], ['Call-ID', 'c']]));
    broken.push(createRequest('OPTIONS', 'sip:x@example.com', [['Via', 'SIP/2.0/UDP h;branch=z9hG4bKx1'], ['CSeq', '1 INFO'], ['Call-ID', 'c']]));
    broken.push(createRequest('ACK', 'sip:x@example.com', [['Via', 'SIP/2.0/UDP h;branch=z9hG4bKx1'], ['CSeq', '1 ACK']]));
    broken.push(createRequest('OPTIONS', 'sip:x@example.com', [['Via', 'SIP/2.0/UDP h;branch'], ['CSeq', '1 OPTIONS'], ['Call-ID', 'c']]));
    for (const request of broken) expect(() => h.layer.receiveRequest(request, channel)).not.toThrow();
    expect(h.layer.stats.discardedRequests).toBe(broken.length);
    expect(h.events).toEqual([]);
    expect(channel.sent).toEqual([]);
  });

  it('a server transport error reaches onServerTransportError; the transaction stays (RFC 6026 §8.8)', () => {
    const h = harness();
    const channel = new RecordingChannel(false);
    channel.failWith('sync');
    h.layer.receiveRequest(arriving('INVITE'), channel); // the 100 Trying fails
    expect(h.events).toEqual(['request INVITE', 'server-transport-error SIP_TRANSPORT_RESET']);
    expect(h.layer.counts.inviteServer).toBe(1);
    h.requests[0]!.tx.terminate();
  });
});

describe('transaction layer, close()', () => {
  it('terminates every transaction, stops retransmitters, drops queued CANCELs; idempotent; later input is ignored', () => {
    const h = harness();
    const channel = new RecordingChannel(false);
    const events: string[] = [];
    const invite = h.layer.sendRequest(buildRequest('INVITE'), channel, recorder(events, 'uac')) as InviteClientTransaction;
    h.layer.cancel(invite, recorder(events, 'cancel'));
    h.layer.sendRequest(buildRequest('REGISTER'), channel, recorder(events, 'reg'));
    const incoming = arriving('INVITE');
    h.layer.receiveRequest(incoming, channel);
    const tx = h.requests[0]!.tx as InviteServerTransaction;
    const ok = respondTo(incoming, 200, 'uas1');
    tx.respond(ok);
    h.layer.retransmit2xx(tx, ok, { onTimeout: () => events.push('2xx timeout') });
    h.layer.receiveRequest(arriving('OPTIONS'), channel);
    expect(h.layer.counts).toMatchObject({ inviteClient: 1, nonInviteClient: 1, inviteServer: 1, nonInviteServer: 1, retransmitters: 1, pendingCancels: 1 });
    expect(h.layer.counts.timers).toBeGreaterThan(0);
    h.layer.close();
    h.layer.close();
    expect(events.sort()).toEqual(['cancel terminated', 'reg terminated', 'uac terminated']);
    h.layer.receiveRequest(arriving('OPTIONS'), channel);
    h.layer.receiveResponse(respondTo(invite.request, 180));
    expect(h.events).toEqual(['request INVITE', 'request OPTIONS']);
  });
});
