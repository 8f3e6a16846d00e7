/**
 * The dialog table in front of a real stack: 481 for in-dialog requests nobody knows (§12.2.2), CANCEL matching
 * (§9.2), early dialogs of a UAS session and of the forks a UAC session sees, and 2xx retransmissions that outlive
 * the INVITE client transaction (stray responses) reaching their session to be ACKed again.
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import { createResponseTo, type SipRequest, type SipResponse } from '../../src/signaling/message.ts';
import { DialogTable } from '../../src/sip-bridge/dialog-table.ts';
import { InviteServerSession } from '../../src/sip-bridge/invite-server-session.ts';
import { InviteClientSession } from '../../src/sip-bridge/invite-client-session.ts';
import { UdpPeer } from '../signaling/helpers/sip-clients.ts';
import { clientOptions, NO_TRANSACTIONS, SDP_A, SDP_B, serverOptions, startUa, until, type Ua } from './session-helpers.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function udpPeer(): Promise<UdpPeer> {
  const peer = await UdpPeer.open();
  cleanup.push(() => peer.close());
  return peer;
}

function request(peer: UdpPeer, method: string, opts: { callId: string; toTag?: string; cseq?: number; branch?: string; body?: string }): string {
  const body = opts.body ?? '';
  return [
    `${method} sip:bob@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=${opts.branch ?? `z9hG4bK-${method}-${opts.callId}`};rport`,
    'Max-Forwards: 70',
    'From: <sip:carol@127.0.0.1>;tag=carol1',
    `To: <sip:bob@127.0.0.1>${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
    `Call-ID: ${opts.callId}`,
    `CSeq: ${opts.cseq ?? 1} ${method}`,
    `Contact: <sip:carol@127.0.0.1:${peer.port}>`,
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

const responses = (peer: UdpPeer, status: number) => peer.inbox.messages.filter((m): m is SipResponse => m.type === 'response' && m.status === status);

describe('DialogTable', () => {
  it('answers 481 to an in-dialog request for no dialog, and leaves requests without To tag to the owner', async () => {
    const b = await startUa(cleanup);
    const peer = await udpPeer();
    peer.send(request(peer, 'BYE', { callId: 'ghost-1', toTag: 'nobody' }), b.port('UDP'));
    await until(() => responses(peer, 481).length === 1, '481');
    expect(responses(peer, 481)[0]!.headers.get('server')).toBe('session-test');
    expect(b.table.answered[481]).toBe(1);
    // No To tag: not the table's (the test UA answers 403 to anything but INVITE).
    peer.send(request(peer, 'INFO', { callId: 'ghost-2' }), b.port('UDP'));
    await until(() => responses(peer, 403).length === 1, '403 from the owner');
  });

  it('CANCEL: 481 without an INVITE; 200 and 487 (same To tag) for an INVITE the owner has not made a session for', async () => {
    const b = await startUa(cleanup);
    const peer = await udpPeer();
    const pending: SipRequest[] = [];
    b.onInvite = (invite) => pending.push(invite); // the owner is still deciding (routing, auth …)
    peer.send(request(peer, 'CANCEL', { callId: 'no-invite', branch: 'z9hG4bK-none' }), b.port('UDP'));
    await until(() => responses(peer, 481).length === 1, '481 to CANCEL');
    peer.send(request(peer, 'INVITE', { callId: 'deciding', branch: 'z9hG4bK-dec', body: SDP_A }), b.port('UDP'));
    await until(() => pending.length === 1, 'INVITE');
    peer.send(request(peer, 'CANCEL', { callId: 'deciding', branch: 'z9hG4bK-dec' }), b.port('UDP'));
    await until(() => responses(peer, 487).length === 1, '487');
    const ok = responses(peer, 200).find((r) => r.headers.get('cseq') === '1 CANCEL')!;
    expect(ok).toBeDefined();
    expect(ok.headers.get('to')).toBe(responses(peer, 487)[0]!.headers.get('to'));
  });

  it('a UAS session is found by its dialog from construction on, and by its INVITE transaction until the final response', async () => {
    const b = await startUa(cleanup);
    const peer = await udpPeer();
    let session: InviteServerSession | undefined;
    b.onInvite = (invite, transaction, channel) => {
      session = new InviteServerSession(b.stack, invite, transaction, channel, serverOptions(b, 'UDP'));
      session.provisional(180);
    };
    peer.send(request(peer, 'INVITE', { callId: 'early-1', body: SDP_A }), b.port('UDP'));
    await until(() => responses(peer, 180).length === 1, '180');
    const s = session!;
    expect(b.table.find('early-1', s.localTag, 'carol1')).toBe(s);
    expect(b.table.find('early-1', s.localTag.toUpperCase(), 'CAROL1')).toBe(s);
    expect(b.table.findInvite(s.transaction)).toBe(s);
    expect(b.table.counts).toEqual({ dialogs: 1, invites: 1, uac: 0 });
    expect(b.table.sessionsOnFlow(s.flowId!)).toEqual([s]);
    // A request in the early dialog reaches the session (OPTIONS nobody listens for: the session's own 200).
    let infos = 0;
    s.on('info', (_r, tx) => {
      infos++;
      s.respond(tx, 200);
    });
    peer.send(request(peer, 'INFO', { callId: 'early-1', toTag: s.localTag, cseq: 2 }), b.port('UDP'));
    await until(() => infos === 1, 'INFO in the early dialog');
    s.accept({ sdp: SDP_B });
    expect(b.table.counts).toEqual({ dialogs: 1, invites: 0, uac: 0 });
    s.close();
    expect(b.table.size).toBe(0);
  });

  it('a 2xx retransmitted after the INVITE transaction is gone (Timer M) is ACKed again through the table', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const a = await startUa(cleanup);
    const peer = await udpPeer();
    const client = new InviteClientSession(a.stack, clientOptions(a, { port: () => peer.port } as unknown as Ua, 'UDP'));
    client.start();
    await until(() => peer.inbox.messages.some((m) => m.type === 'request' && m.method === 'INVITE'), 'INVITE');
    const invite = peer.inbox.messages.find((m): m is SipRequest => m.type === 'request' && m.method === 'INVITE')!;
    const ok = createResponseTo(invite, 200, undefined, 'uas7');
    ok.headers.append('Contact', `<sip:uas@127.0.0.1:${peer.port}>`);
    const raw = (): string => {
      const lines = [`SIP/2.0 200 OK`, ...[...ok.headers].map((f) => `${f.name}: ${f.value}`), 'Content-Type: application/sdp', `Content-Length: ${SDP_B.length}`, '', SDP_B];
      return lines.join('\r\n');
    };
    peer.send(raw(), a.port('UDP'));
    const acks = () => peer.inbox.messages.filter((m) => m.type === 'request' && m.method === 'ACK');
    await until(() => acks().length === 1, 'ACK');
    expect(a.table.counts).toEqual({ dialogs: 1, invites: 0, uac: 1 });
    await vi.advanceTimersByTimeAsync(33_000); // Timer M (64*T1) ended the INVITE client transaction
    expect(a.stack.transactions.counts.inviteClient).toBe(0);
    peer.send(raw(), a.port('UDP'));
    await until(() => acks().length === 2, 'the re-ACK');
    expect(a.stack.transactions.stats.strayResponses).toBe(1);
    expect(acks()[1]!.headers.get('via')).toBe(acks()[0]!.headers.get('via'));
    client.close();
    expect(a.table.size).toBe(0);
    await vi.advanceTimersByTimeAsync(40_000);
    expect(a.stack.transactions.counts).toEqual(NO_TRANSACTIONS);
  });

  it('a table on its own: registration, lookups by request, and deletion only by the owner of an entry', () => {
    const table = new DialogTable();
    const member = { localTag: 'L', flowId: 'ws-1', receiveRequest: () => {}, receiveAck: () => {}, receiveCancel: () => false, receiveStrayResponse: () => {} };
    const other = { ...member, flowId: undefined };
    table.addDialog('cid', 'L', 'R', member);
    table.addUac('cid', 'L', member);
    table.deleteDialog('cid', 'L', 'R', other); // not its entry
    expect(table.find('cid', 'l', 'r')).toBe(member);
    expect(table.sessionsOnFlow('ws-1')).toEqual([member]);
    expect(table.size).toBe(2);
    table.deleteDialog('cid', 'L', 'R', member);
    table.deleteUac('cid', 'L', member);
    expect(table.size).toBe(0);
  });
});
