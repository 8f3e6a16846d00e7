/**
 * Two transaction layers talking through a simulated network (10 ms each way, optional loss): the UAC's INVITE
 * and non-INVITE machines against the UAS's, with retransmissions doing their job when messages are lost.
 */
import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import { TransactionLayer, type TransactionUser } from '../../../src/signaling/transaction/transaction-layer.ts';
import { InviteClientTransaction } from '../../../src/signaling/transaction/invite-client-transaction.ts';
import { InviteServerTransaction } from '../../../src/signaling/transaction/invite-server-transaction.ts';
import { createRequest, type SipMessage, type SipRequest, type SipResponse } from '../../../src/signaling/message.ts';
import { buildRequest, link, respondTo } from './test-channel.ts';

const EMPTY = { inviteClient: 0, nonInviteClient: 0, inviteServer: 0, nonInviteServer: 0, retransmitters: 0, pendingCancels: 0, timers: 0 };

function tu(overrides: Partial<TransactionUser>): TransactionUser {
  return {
    onRequest: () => {},
    onAck: () => {},
    onCancel: () => {},
    ...overrides,
  };
}

/** The ACK a UAC core builds for a 2xx (§13.2.2.4), minimal: no dialog state beyond the 2xx itself. */
function ackFor2xx(invite: SipRequest, ok: SipResponse): SipRequest {
  return createRequest('ACK', invite.uri, [
    ['Max-Forwards', '70'],
    ['From', invite.headers.get('from')!],
    ['To', ok.headers.get('to')!],
    ['Call-ID', invite.headers.get('call-id')!],
    ['CSeq', '1 ACK'],
  ]);
}

function dropFirst(predicate: (m: SipMessage) => boolean): (m: SipMessage) => boolean {
  let dropped = false;
  return (m) => {
    if (dropped || !predicate(m)) return false;
    dropped = true;
    return true;
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

describe('UAC and UAS transaction layers end to end', () => {
  it('UDP with loss: a lost INVITE is retransmitted (Timer A), a lost 486 is retransmitted (Timer G), the ACK confirms', () => {
    const uasEvents: string[] = [];
    const uas = new TransactionLayer(tu({
      onRequest: (req, tx) => {
        uasEvents.push(`request ${req.method}`);
        tx.respond(respondTo(req, 486, 'uas1'));
      },
      onAck: () => uasEvents.push('ack to TU'),
    }));
    const uacEvents: string[] = [];
    const uac = new TransactionLayer(tu({}));
    const { aToB, bToA } = link(uac, uas, false);
    aToB.drop = dropFirst((m) => m.type === 'request' && m.method === 'INVITE');
    bToA.drop = dropFirst((m) => m.type === 'response' && m.status === 486);

    const tx = uac.sendRequest(buildRequest('INVITE'), aToB, {
      onResponse: (r) => uacEvents.push(`${r.status}`),
      onTimeout: () => uacEvents.push('timeout'),
      onTransportError: () => uacEvents.push('transport-error'),
      onTerminated: () => uacEvents.push('terminated'),
    });
    vi.advanceTimersByTime(1_100);
    expect(uacEvents).toEqual(['486']);
    expect(tx.state).toBe('Completed');
    expect(bToA.responses(486)).toHaveLength(2); // the lost one and the Timer G retransmission
    expect(aToB.requests('INVITE')).toHaveLength(2);
    expect(aToB.requests('ACK')).toHaveLength(1);
    expect(uasEvents).toEqual(['request INVITE']);
    expect(uas.counts.inviteServer).toBe(1);
    vi.advanceTimersByTime(40_000);
    expect(uacEvents).toEqual(['486', 'terminated']);
    expect(uac.counts).toEqual(EMPTY);
    expect(uas.counts).toEqual(EMPTY);
  });

  for (const reliable of [false, true]) {
    it(`${reliable ? 'TCP' : 'UDP'}: a lost 200 OK is resent by the UAS core until the UAC's ACK arrives`, () => {
      const uasEvents: string[] = [];
      const uas = new TransactionLayer(tu({
        onRequest: (req, tx) => {
          tx.respond(respondTo(req, 180, 'uas1'));
          const ok = respondTo(req, 200, 'uas1');
          tx.respond(ok);
          uas.retransmit2xx(tx as InviteServerTransaction, ok, { onTimeout: () => uasEvents.push('no ACK') });
        },
        onAck: (ack) => uasEvents.push(`ACK ${ack.headers.get('cseq')}`),
      }));
      const uac = new TransactionLayer(tu({}));
      const { aToB, bToA } = link(uac, uas, reliable);
      // A UDP hop behind a proxy can lose a 2xx even when our own hop is TCP (§13.3.1.4).
      bToA.drop = dropFirst((m) => m.type === 'response' && m.status === 200);
      const uacEvents: string[] = [];
      const invite = buildRequest('INVITE');
      uac.sendRequest(invite, aToB, {
        onResponse: (r) => {
          uacEvents.push(`${r.status}`);
          // The UAC core ACKs every 2xx the transaction passes up (§13.2.2.4).
          if (r.status === 200) uac.sendAck(ackFor2xx(invite, r), aToB);
        },
        onTimeout: () => uacEvents.push('timeout'),
        onTransportError: () => uacEvents.push('transport-error'),
      });
      vi.advanceTimersByTime(600);
      expect(uacEvents).toEqual(['180', '200']);
      expect(bToA.responses(200)).toHaveLength(2);
      expect(uasEvents).toEqual(['ACK 1 ACK']);
      expect(uas.counts.retransmitters).toBe(0);
      vi.advanceTimersByTime(40_000);
      expect(bToA.responses(200)).toHaveLength(2);
      expect(uac.counts).toEqual(EMPTY);
      expect(uas.counts).toEqual(EMPTY);
    });

    it(`${reliable ? 'TCP' : 'UDP'}: CANCEL after 180 → 200 to the CANCEL, 487 to the INVITE, ACK for the 487`, () => {
      const uasEvents: string[] = [];
      let serverInvite: InviteServerTransaction | undefined;
      const uas = new TransactionLayer(tu({
        onRequest: (req, tx) => {
          serverInvite = tx as InviteServerTransaction;
          tx.respond(respondTo(req, 180, 'uas1'));
        },
        onCancel: (cancel, cancelTx, target) => {
          uasEvents.push(`CANCEL ${target === serverInvite ? 'matched' : 'unmatched'}`);
          cancelTx.respond(respondTo(cancel, 200, 'uas1'));
          target?.respond(respondTo(target.request, 487, 'uas1'));
        },
        onAck: () => uasEvents.push('ack to TU'),
      }));
      const uac = new TransactionLayer(tu({}));
      const { aToB } = link(uac, uas, reliable);
      const uacEvents: string[] = [];
      const invite = uac.sendRequest(buildRequest('INVITE'), aToB, {
        onResponse: (r) => {
          uacEvents.push(`INVITE ${r.status}`);
          if (r.status === 180) {
            uac.cancel(invite as InviteClientTransaction, {
              onResponse: (cr) => uacEvents.push(`CANCEL ${cr.status}`),
              onTimeout: () => uacEvents.push('CANCEL timeout'),
              onTransportError: () => uacEvents.push('CANCEL transport-error'),
            });
          }
        },
        onTimeout: () => uacEvents.push('INVITE timeout'),
        onTransportError: () => uacEvents.push('INVITE transport-error'),
      });
      vi.advanceTimersByTime(100);
      expect(uasEvents).toEqual(['CANCEL matched']);
      expect(uacEvents).toEqual(['INVITE 180', 'CANCEL 200', 'INVITE 487']);
      expect(aToB.requests('ACK')).toHaveLength(1);
      expect(serverInvite!.state).toBe(reliable ? 'Terminated' : 'Confirmed');
      vi.advanceTimersByTime(40_000);
      expect(uac.counts).toEqual(EMPTY);
      expect(uas.counts).toEqual(EMPTY);
    });
  }

  it('UDP with loss: a non-INVITE request and its final response survive a lost request and a lost response', () => {
    const uas = new TransactionLayer(tu({ onRequest: (req, tx) => tx.respond(respondTo(req, 200, 'uas1')) }));
    const uac = new TransactionLayer(tu({}));
    const { aToB, bToA } = link(uac, uas, false);
    aToB.drop = dropFirst((m) => m.type === 'request');
    bToA.drop = dropFirst((m) => m.type === 'response');
    const events: string[] = [];
    uac.sendRequest(buildRequest('OPTIONS'), aToB, {
      onResponse: (r) => events.push(`${r.status}`),
      onTimeout: () => events.push('timeout'),
      onTransportError: () => events.push('transport-error'),
    });
    vi.advanceTimersByTime(2_000);
    // Request lost at 0, resent at 500 (answered, answer lost), resent at 1500 → the server transaction resends its 200.
    expect(events).toEqual(['200']);
    expect(aToB.requests('OPTIONS')).toHaveLength(3);
    expect(bToA.responses(200)).toHaveLength(2);
    vi.advanceTimersByTime(40_000);
    expect(uac.counts).toEqual(EMPTY);
    expect(uas.counts).toEqual(EMPTY);
  });
});

