/**
 * InviteServerSession between real stacks on loopback: an InviteClientSession on one stack calls an
 * InviteServerSession on the other (UDP and TCP), a raw UDP peer checks 2xx reliability (§13.3.1.4), a raw
 * WebSocket client plays the browser (RFC 7118). Protocol timers are faked where a test waits on them; every
 * test ends by letting the transaction timers run out and checking that nothing leaked.
 */
import { describe, it, expect, vi } from 'vitest';
import { createResponseTo, type SipRequest, type SipResponse } from '../../src/signaling/message.ts';
import type { Channel } from '../../src/signaling/transport.ts';
import { InviteServerSession, rejectInvite } from '../../src/sip-bridge/invite-server-session.ts';
import { InviteClientSession } from '../../src/sip-bridge/invite-client-session.ts';
import type { InviteSession } from '../../src/sip-bridge/invite-session.ts';
import { UdpPeer } from '../signaling/helpers/sip-clients.ts';
import {
  cleanupAfterEach,
  clientOptions,
  expectSettled,
  fakeProtocolTimers,
  hold,
  isRequest,
  isResponse,
  record,
  SDP_A,
  SDP_B,
  serverOptions,
  startUa,
  until,
  WsBrowser,
  type Protocol,
  type Ua,
} from './session-helpers.ts';
import { SippProcess, sippReport } from '../support/sipp.ts';
import { describeWith } from '../support/tools.ts';

const cleanup = cleanupAfterEach();

/** Lets every transaction timer run out (Timer D's 32 s floor included), then nothing may be left. */
async function expectNoLeaks(uas: Ua[], sessions: Array<InviteSession | undefined>): Promise<void> {
  await expectSettled(uas);
  for (const session of sessions) {
    expect(session?.terminated).toBe(true);
    expect(session?.liveTimers).toBe(0);
  }
}

/** b answers every INVITE through an InviteServerSession handed to `answer`. */
function answering(b: Ua, protocol: Protocol, answer: (session: InviteServerSession) => void): { session: () => InviteServerSession | undefined; events: string[] } {
  let session: InviteServerSession | undefined;
  const events: string[] = [];
  b.onInvite = (request, transaction, channel) => {
    session = new InviteServerSession(b.stack, request, transaction, channel, serverOptions(b, protocol));
    record(session, events, ['ack', 'ackTimeout', 'cancelled', 'bye', 'reinvite', 'terminated']);
    answer(session);
  };
  return { session: () => session, events };
}

describe.each(['UDP', 'TCP'] as const)('a call between two stacks over %s', (protocol) => {
  it('INVITE / 180 / 200 / ACK / BYE: both sessions confirmed, the BYE ends both', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    const server = answering(b, protocol, (s) => {
      s.provisional(180);
      s.accept({ sdp: SDP_B });
    });
    const client = new InviteClientSession(a.stack, clientOptions(a, b, protocol));
    const events: string[] = [];
    record(client, events, ['provisional', 'accepted', 'rejected', 'failed', 'terminated']);
    client.start();
    await until(() => server.session()?.state === 'confirmed' && client.state === 'confirmed', 'the call');
    const s = server.session()!;
    expect(events).toEqual(['provisional:180', 'accepted:200']);
    expect(server.events).toEqual(['ack']);
    expect(s.offer).toBe(SDP_A);
    expect(client.remoteSdp).toBe(SDP_B);
    expect(client.dialog?.remoteTag).toBe(s.localTag);
    expect(s.dialog?.remoteTag).toBe(client.localTag);
    expect(client.dialog?.remoteTarget).toBe(`sip:bob@127.0.0.1:${b.port(protocol)}${protocol === 'TCP' ? ';transport=tcp' : ''}`);
    const response = await client.bye();
    expect(response?.status).toBe(200);
    await until(() => s.terminated, 'BYE at the callee');
    expect(server.events).toEqual(['ack', 'bye', 'terminated:remote-bye']);
    expect(events).toEqual(['provisional:180', 'accepted:200', 'terminated:local-bye']);
    await expectNoLeaks([a, b], [client, s]);
  });

  it('CANCEL before the answer: the INVITE gets 487, both sessions end cancelled', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    const server = answering(b, protocol, (s) => s.provisional(180));
    const client = new InviteClientSession(a.stack, clientOptions(a, b, protocol));
    const events: string[] = [];
    record(client, events, ['provisional', 'accepted', 'rejected', 'terminated']);
    client.on('provisional', () => client.cancel({ cause: 487, text: 'ORIGINATOR_CANCEL' }));
    client.start();
    await until(() => client.terminated && server.session()?.terminated === true, 'cancel');
    expect(server.events).toEqual(['cancelled', 'terminated:cancelled']);
    expect(events).toEqual(['provisional:180', 'terminated:cancelled']);
    expect(b.table.answered[200]).toBe(1); // the CANCEL's 200
    await expectNoLeaks([a, b], [client, server.session()]);
  });

  it('CANCEL crossing the 200: the 2xx is ACKed and BYEd, the caller ends cancelled, the callee sees ACK then BYE', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    // 180 and 200 leave together: the caller's CANCEL (sent on the 180) reaches an answered INVITE.
    const server = answering(b, protocol, (s) => {
      s.provisional(180);
      s.accept({ sdp: SDP_B });
    });
    const client = new InviteClientSession(a.stack, clientOptions(a, b, protocol));
    const events: string[] = [];
    record(client, events, ['provisional', 'accepted', 'rejected', 'terminated']);
    client.on('provisional', () => client.cancel());
    client.start();
    await until(() => client.terminated && server.session()?.terminated === true, 'race');
    expect(events).toEqual(['provisional:180', 'terminated:cancelled']);
    expect(server.events).toEqual(['ack', 'bye', 'terminated:remote-bye']);
    expect(b.table.answered[200]).toBe(1); // CANCEL answered 200, without effect on the answered INVITE (§9.2)
    await expectNoLeaks([a, b], [client, server.session()]);
  });

  it('offerless INVITE: we offer in the 200, the answer comes in the ACK', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    const server = answering(b, protocol, (s) => {
      expect(s.offer).toBeUndefined();
      s.accept({ sdp: SDP_B });
    });
    const offers: string[] = [];
    const client = new InviteClientSession(a.stack, clientOptions(a, b, protocol, {
      sdp: undefined,
      ackSdp: async (response) => {
        offers.push(response.body.toString());
        return SDP_A;
      },
    }));
    let acked: string | undefined;
    client.start();
    await until(() => server.session() !== undefined, 'INVITE');
    server.session()!.on('ack', (_ack, sdp) => (acked = sdp));
    await until(() => acked !== undefined, 'ACK with the answer');
    expect(offers).toEqual([SDP_B]);
    expect(acked).toBe(SDP_A);
    expect(server.session()!.remoteSdp).toBe(SDP_A);
    expect(server.session()!.pendingOffer).toBeUndefined();
    expect(client.localSdp).toBe(SDP_A);
    await client.bye();
    await until(() => server.session()!.terminated);
    await expectNoLeaks([a, b], [client, server.session()]);
  });

  it('re-INVITE hold in both directions: the owner answers, the ACK confirms, both SDPs move', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    const server = answering(b, protocol, (s) => s.accept({ sdp: SDP_B }));
    const client = new InviteClientSession(a.stack, clientOptions(a, b, protocol));
    client.start();
    await until(() => server.session()?.state === 'confirmed' && client.state === 'confirmed');
    const s = server.session()!;

    // The caller holds: sendonly offered, recvonly answered.
    s.on('reinvite', (_request, transaction, sdp) => {
      expect(sdp).toContain('a=sendonly');
      s.respond(transaction, 200, { sdp: hold(SDP_B, 'recvonly') });
    });
    const acks: Array<string | undefined> = [];
    s.on('ack', (_ack, sdp) => acks.push(sdp));
    const held = await client.request('INVITE', { body: hold(SDP_A, 'sendonly') });
    expect(held.status).toBe(200);
    expect(client.remoteSdp).toContain('a=recvonly');
    await until(() => acks.length === 1, 'ACK of the re-INVITE');
    expect(acks).toEqual([undefined]); // the answer was in the 200: a plain ACK

    // The callee holds back.
    client.on('reinvite', (_request, transaction, sdp) => {
      expect(sdp).toContain('a=sendonly');
      client.respond(transaction, 200, { sdp: hold(SDP_A, 'recvonly') });
    });
    const clientAcks: string[] = [];
    client.on('ack', (ack) => clientAcks.push(ack.headers.get('cseq')!));
    const back = await s.request('INVITE', { body: hold(SDP_B, 'sendonly') });
    expect(back.status).toBe(200);
    expect(s.remoteSdp).toContain('a=recvonly');
    await until(() => clientAcks.length === 1, 'ACK at the caller');
    expect(clientAcks).toEqual(['1 ACK']); // the callee's first request in the dialog has CSeq 1
    expect(s.localSdp).toContain('a=sendonly');
    await s.bye();
    await until(() => client.terminated);
    await expectNoLeaks([a, b], [client, s]);
  });
});

describe('offer/answer inside the dialog', () => {
  it('an offerless re-INVITE from us: the peer offers in its 200 (here the default refresh answer), our ACK answers', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    // No recorder here: a `reinvite` listener would take the answer over from the session's default.
    let callee: InviteServerSession | undefined;
    b.onInvite = (request, transaction, channel) => {
      callee = new InviteServerSession(b.stack, request, transaction, channel, serverOptions(b, 'UDP'));
      callee.accept({ sdp: SDP_B });
    };
    // nextHop 'dialog': in-dialog requests follow the remote target (the callee's Contact), not the INVITE's target.
    const client = new InviteClientSession(a.stack, clientOptions(a, b, 'UDP', { nextHop: 'dialog' }));
    client.start();
    await until(() => callee?.state === 'confirmed' && client.state === 'confirmed');
    const s = callee!;
    const acks: Array<string | undefined> = [];
    s.on('ack', (_ack, sdp) => acks.push(sdp));
    const offers: string[] = [];
    const response = await client.request('INVITE', {
      ackSdp: (ok) => {
        offers.push(ok.body.toString());
        return hold(SDP_A, 'sendrecv');
      },
    });
    expect(response.status).toBe(200);
    expect(offers).toEqual([SDP_B]); // nobody listens for reinvite at the callee: it offered its current SDP
    await until(() => acks.length === 1, 'ACK with the answer');
    expect(acks[0]).toBe(hold(SDP_A, 'sendrecv'));
    expect(s.remoteSdp).toBe(hold(SDP_A, 'sendrecv'));
    expect(client.localSdp).toBe(hold(SDP_A, 'sendrecv'));
    // An offerless re-INVITE without ackSdp cannot be answered: refused before anything is sent.
    await expect(client.request('INVITE')).rejects.toMatchObject({ code: 'SIP_SESSION_OPTIONS' });
    await client.bye();
    await until(() => s.terminated);
    await expectNoLeaks([a, b], [client, s]);
  });

  it('an UPDATE with an offer goes to the owner, whose answer comes back in the 200', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    const server = answering(b, 'TCP', (s) => s.accept({ sdp: SDP_B }));
    const client = new InviteClientSession(a.stack, clientOptions(a, b, 'TCP'));
    client.start();
    await until(() => server.session()?.state === 'confirmed' && client.state === 'confirmed');
    const s = server.session()!;
    s.on('update', (_r, tx, sdp) => {
      expect(sdp).toContain('a=inactive');
      expect(() => s.respond(tx, 200)).toThrow(/answer/);
      s.respond(tx, 200, { sdp: hold(SDP_B, 'inactive') });
    });
    const response = await client.request('UPDATE', { body: hold(SDP_A, 'inactive') });
    expect(response.status).toBe(200);
    expect(client.remoteSdp).toContain('a=inactive');
    expect(client.pendingOffer).toBeUndefined();
    expect(s.pendingOffer).toBeUndefined();
    await s.bye();
    await until(() => client.terminated);
    await expectNoLeaks([a, b], [client, s]);
  });
});

describe('2xx reliability over UDP (§13.3.1.4)', () => {
  function rawInvite(port: number, peer: UdpPeer, callId: string, body = SDP_A): string {
    return [
      `INVITE sip:bob@127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-${callId};rport`,
      'Max-Forwards: 70',
      'From: <sip:raw@127.0.0.1>;tag=raw1',
      'To: <sip:bob@127.0.0.1>',
      `Call-ID: ${callId}`,
      'CSeq: 10 INVITE',
      `Contact: <sip:raw@127.0.0.1:${peer.port}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
  }

  function ackFor(ok: SipResponse, port: number, peer: UdpPeer, callId: string): string {
    return [
      `ACK sip:bob@127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-ack-${callId};rport`,
      'Max-Forwards: 70',
      'From: <sip:raw@127.0.0.1>;tag=raw1',
      `To: ${ok.headers.get('to')}`,
      `Call-ID: ${callId}`,
      'CSeq: 10 ACK',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  }

  it('retransmits the 2xx at T1, 2T1, 4T1 … until the ACK, then stops', async () => {
    fakeProtocolTimers();
    const b = await startUa(cleanup, { timers: { T1: 100, T2: 400, T4: 500 } });
    const server = answering(b, 'UDP', (s) => s.accept({ sdp: SDP_B }));
    const peer = await UdpPeer.open();
    cleanup.push(() => peer.close());
    peer.send(rawInvite(b.port('UDP'), peer, 'retx-1'), b.port('UDP'));
    const oks = () => peer.inbox.messages.filter((m) => m.type === 'response' && m.status === 200) as SipResponse[];
    await until(() => oks().length === 1, 'the 200');
    // Retransmissions at 100, 300, 700 ms (T1, then doubling).
    await vi.advanceTimersByTimeAsync(100);
    await until(() => oks().length === 2, 'first retransmission');
    await vi.advanceTimersByTimeAsync(200);
    await until(() => oks().length === 3, 'second retransmission');
    await vi.advanceTimersByTimeAsync(400);
    await until(() => oks().length === 4, 'third retransmission');
    expect(server.events).toEqual([]);
    peer.send(ackFor(oks()[0]!, b.port('UDP'), peer, 'retx-1'), b.port('UDP'));
    await until(() => server.events.includes('ack'), 'ACK');
    expect(server.session()!.state).toBe('confirmed');
    await vi.advanceTimersByTimeAsync(5_000);
    await until(() => true);
    expect(oks()).toHaveLength(4);
    expect(b.stack.transactions.counts.retransmitters).toBe(0);
    server.session()!.close();
    await expectNoLeaks([b], [server.session()]);
  });

  it('no ACK within 64*T1: ackTimeout, and the owner BYEs', async () => {
    fakeProtocolTimers();
    const b = await startUa(cleanup, { timers: { T1: 100, T2: 400, T4: 500 } });
    const server = answering(b, 'UDP', (s) => {
      s.accept({ sdp: SDP_B });
      s.on('ackTimeout', () => void s.bye());
    });
    const peer = await UdpPeer.open();
    cleanup.push(() => peer.close());
    peer.send(rawInvite(b.port('UDP'), peer, 'noack-1'), b.port('UDP'));
    await until(() => server.session() !== undefined, 'INVITE');
    await vi.advanceTimersByTimeAsync(6_399);
    expect(server.events).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.events).toEqual(['ackTimeout', 'terminated:local-bye']);
    await until(() => peer.inbox.messages.some((m) => m.type === 'request' && m.method === 'BYE'), 'BYE');
    const bye = peer.inbox.messages.find((m) => m.type === 'request' && m.method === 'BYE') as SipRequest;
    expect(bye.uri).toBe(`sip:raw@127.0.0.1:${peer.port}`);
    expect(bye.headers.get('to')).toBe('<sip:raw@127.0.0.1>;tag=raw1');
    await expectNoLeaks([b], [server.session()]);
  });
});

describe('a browser over WebSocket (RFC 7118)', () => {
  const host = 'df7jal23ls0d.invalid';

  function browserInvite(callId: string, extra: string[] = []): string[] {
    return [
      'INVITE sip:bob@127.0.0.1 SIP/2.0',
      `Via: SIP/2.0/WS ${host};branch=z9hG4bK-${callId}-1`,
      'Max-Forwards: 69',
      'To: <sip:bob@127.0.0.1>',
      'From: "Alice" <sip:alice@127.0.0.1>;tag=brtag1',
      `Call-ID: ${callId}`,
      'CSeq: 4711 INVITE',
      `Contact: <sip:k3l2m1@${host};transport=ws;ob>`,
      'Content-Type: application/sdp',
      'Session-Expires: 90',
      'Supported: timer,ice,replaces,outbound',
      'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY',
      ...extra,
    ];
  }

  function inDialog(method: string, callId: string, toTag: string, cseq: number, extra: string[] = []): string[] {
    return [
      `${method} sip:bob@127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/WS ${host};branch=z9hG4bK-${callId}-${cseq}${method}`,
      'Max-Forwards: 69',
      `To: <sip:bob@127.0.0.1>;tag=${toTag}`,
      'From: "Alice" <sip:alice@127.0.0.1>;tag=brtag1',
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} ${method}`,
      ...extra,
    ];
  }

  it('a JsSIP-like call: 180, 200 with Contact and Session-Expires refresher=uac, ACK, UPDATE refresh, INFO, BYE', async () => {
    const b = await startUa(cleanup, { ws: true });
    let session: InviteServerSession | undefined;
    const infos: string[] = [];
    b.onInvite = (request, transaction, channel) => {
      expect(channel.protocol).toBe('WS');
      session = new InviteServerSession(b.stack, request, transaction, channel, serverOptions(b, 'WS'));
      session.on('info', (info, tx) => {
        infos.push(info.body.toString());
        session!.respond(tx, 200);
      });
      session.provisional(180);
      session.accept({ sdp: SDP_B });
    };
    const browser = await WsBrowser.connect(b.port('WS'), cleanup);
    browser.send(browserInvite('ws-call-1'), SDP_A);
    const ringing = (await browser.next(isResponse(180), '180')) as SipResponse;
    const ok = (await browser.next(isResponse(200, 'INVITE'), '200')) as SipResponse;
    const toTag = /tag=([^;]+)/.exec(ok.headers.get('to')!)![1]!;
    expect(/tag=([^;]+)/.exec(ringing.headers.get('to')!)![1]).toBe(toTag);
    expect(ringing.headers.get('contact')).toBe(`<sip:bob@127.0.0.1:${b.port('WS')};transport=ws>`);
    expect(ok.headers.get('session-expires')).toBe('90;refresher=uac');
    expect(ok.headers.get('require')).toBe('timer');
    expect(ok.headers.get('supported')).toContain('timer');
    expect(ok.headers.get('allow')).toContain('UPDATE');
    expect(ok.body.toString()).toBe(SDP_B);
    browser.send(inDialog('ACK', 'ws-call-1', toTag, 4711));
    await until(() => session?.state === 'confirmed', 'ACK');

    // JsSIP refreshes with a bodyless UPDATE every 45 s; the session answers it itself.
    browser.send(inDialog('UPDATE', 'ws-call-1', toTag, 4712, ['Session-Expires: 90;refresher=uac', `Contact: <sip:k3l2m1@${host};transport=ws;ob>`, 'Supported: timer']));
    const updated = (await browser.next(isResponse(200, 'UPDATE'), '200 to UPDATE')) as SipResponse;
    expect(updated.headers.get('session-expires')).toBe('90;refresher=uac');
    expect(updated.headers.get('contact')).toBeDefined();

    browser.send(inDialog('INFO', 'ws-call-1', toTag, 4713, ['Content-Type: application/dtmf-relay']), 'Signal=5\r\nDuration=160\r\n');
    await browser.next(isResponse(200, 'INFO'), '200 to INFO');
    expect(infos).toEqual(['Signal=5\r\nDuration=160\r\n']);

    // An out-of-order CSeq is refused (§12.2.2).
    browser.send(inDialog('INFO', 'ws-call-1', toTag, 4700));
    await browser.next(isResponse(500, 'INFO'), '500 to the old INFO');

    browser.send(inDialog('BYE', 'ws-call-1', toTag, 4714));
    await browser.next(isResponse(200, 'BYE'), '200 to BYE');
    await until(() => session!.terminated);
    expect(b.table.size).toBe(0);
    expect(b.table.sessionsOnFlow(session!.flowId!)).toEqual([]);
  });

  it('a BYE in the early dialog gets 200 and the INVITE 487 (§15.1.2)', async () => {
    const b = await startUa(cleanup, { ws: true });
    let session: InviteServerSession | undefined;
    b.onInvite = (request, transaction, channel) => {
      session = new InviteServerSession(b.stack, request, transaction, channel, serverOptions(b, 'WS'));
      session.provisional(183, { sdp: SDP_B });
    };
    const browser = await WsBrowser.connect(b.port('WS'), cleanup);
    browser.send(browserInvite('ws-early-bye'), SDP_A);
    const progress = (await browser.next(isResponse(183), '183')) as SipResponse;
    expect(progress.body.toString()).toBe(SDP_B);
    expect(b.table.sessionsOnFlow(session!.flowId!)).toEqual([session]);
    const toTag = /tag=([^;]+)/.exec(progress.headers.get('to')!)![1]!;
    browser.send(inDialog('BYE', 'ws-early-bye', toTag, 4712));
    await browser.next(isResponse(200, 'BYE'), '200 to BYE');
    const terminated = (await browser.next(isResponse(487, 'INVITE'), '487')) as SipResponse;
    expect(terminated.headers.get('to')).toContain(`tag=${toTag}`);
    expect(session!.terminated).toBe(true);
  });

  it('an INVITE asking for a too short session timer is refused 422 with Min-SE before any session exists', async () => {
    const b = await startUa(cleanup, { ws: true });
    const errors: unknown[] = [];
    b.onInvite = (request, transaction, channel) => {
      try {
        new InviteServerSession(b.stack, request, transaction, channel, serverOptions(b, 'WS'));
      } catch (error) {
        errors.push(error);
        rejectInvite(transaction, error);
      }
    };
    const browser = await WsBrowser.connect(b.port('WS'), cleanup);
    browser.send(browserInvite('ws-short', ['Min-SE: 30']).map((l) => (l === 'Session-Expires: 90' ? 'Session-Expires: 30' : l)), SDP_A);
    const refused = (await browser.next(isResponse(422), '422')) as SipResponse;
    expect(refused.headers.get('min-se')).toBe('90');
    expect(errors).toHaveLength(1);
    expect(b.table.size).toBe(0);
  });

  it('the gateway calls the browser over its flow: INVITE, 200, our ACK, our BYE', async () => {
    const b = await startUa(cleanup, { ws: true });
    const browser = await WsBrowser.connect(b.port('WS'), cleanup);
    // In real life the browser REGISTERs first and the registrar keeps its flow; a MESSAGE does it here.
    let flow: Channel | undefined;
    b.intercept = (request, transaction) => {
      flow = transaction.channel;
      transaction.respond(createResponseTo(request, 200, undefined, 'm1'));
      return true;
    };
    browser.send([
      'MESSAGE sip:bob@127.0.0.1 SIP/2.0',
      `Via: SIP/2.0/WS ${host};branch=z9hG4bK-msg1`,
      'Max-Forwards: 70',
      'To: <sip:bob@127.0.0.1>',
      'From: <sip:alice@127.0.0.1>;tag=o1',
      'Call-ID: ws-msg-1',
      'CSeq: 1 MESSAGE',
    ]);
    await browser.next(isResponse(200, 'MESSAGE'), '200 to MESSAGE');
    b.intercept = undefined;
    expect(flow?.protocol).toBe('WS');
    const client = new InviteClientSession(b.stack, {
      table: b.table,
      requestUri: `sip:k3l2m1@${host};transport=ws`,
      from: '"Gateway" <sip:gw@127.0.0.1>',
      to: '<sip:alice@127.0.0.1>',
      contact: `<sip:gw@127.0.0.1:${b.port('WS')};transport=ws>`,
      channel: flow!,
      sdp: SDP_B,
    });
    client.start();
    const invite = (await browser.next(isRequest('INVITE'), 'INVITE')) as SipRequest;
    expect(invite.headers.get('via')).toMatch(/^SIP\/2.0\/WS /);
    expect(invite.headers.get('session-expires')).toBe('1800;refresher=uac');
    const via = invite.headers.get('via')!;
    const answer = (status: number, extra: string[] = []) => [
      `SIP/2.0 ${status} ${status === 200 ? 'OK' : 'Ringing'}`,
      `Via: ${via}`,
      `From: ${invite.headers.get('from')}`,
      `To: ${invite.headers.get('to')};tag=browser9`,
      `Call-ID: ${invite.headers.get('call-id')}`,
      `CSeq: ${invite.headers.get('cseq')}`,
      `Contact: <sip:k3l2m1@${host};transport=ws;ob>`,
      ...extra,
    ];
    browser.send(answer(180));
    browser.send(answer(200, ['Content-Type: application/sdp', 'Session-Expires: 1800;refresher=uac', 'Allow: INVITE,ACK,CANCEL,BYE,UPDATE']), SDP_A);
    const ack = (await browser.next(isRequest('ACK'), 'ACK')) as SipRequest;
    expect(ack.uri).toBe(`sip:k3l2m1@${host};transport=ws;ob`);
    expect(ack.headers.get('cseq')).toBe('1 ACK');
    expect(client.state).toBe('confirmed');
    expect(client.sessionTimer).toEqual({ interval: 1800, refresher: 'local' });
    const byeDone = client.bye();
    const bye = (await browser.next(isRequest('BYE'), 'BYE')) as SipRequest;
    browser.send([
      'SIP/2.0 200 OK',
      ...['via', 'from', 'to', 'call-id', 'cseq'].map((h) => `${h}: ${bye.headers.get(h)}`),
    ]);
    expect((await byeDone)?.status).toBe(200);
    expect(b.table.size).toBe(0);
  });
});


describeWith(['sipp'], 'SIPp as the caller (test/sipp/session-uac-call.xml)', () => {
  it.each([
    ['UDP', 'u1'],
    ['TCP', 't1'],
  ] as const)('three calls over %s: 180, 200 with Contact and SDP, ACK, BYE from SIPp answered 200', async (protocol, mode) => {
    const b = await startUa(cleanup);
    const sessions: InviteServerSession[] = [];
    const ends: string[] = [];
    b.onInvite = (request, transaction, channel) => {
      const session = new InviteServerSession(b.stack, request, transaction, channel, serverOptions(b, protocol));
      sessions.push(session);
      session.on('terminated', (reason) => ends.push(reason));
      session.provisional(180);
      session.accept({ sdp: SDP_B });
    };
    const sipp = new SippProcess({
      scenario: 'session-uac-call.xml',
      remote: `127.0.0.1:${b.port(protocol)}`,
      service: 'bob',
      transport: mode,
      calls: 3,
      rate: 10,
      bindLocal: true,
      timeoutSeconds: 20,
    });
    cleanup.push(() => sipp.stop('SIGKILL'));
    const run = await sipp.done;
    expect(run.code, sippReport(run)).toBe(0);
    expect(sessions).toHaveLength(3);
    expect(ends).toEqual(['remote-bye', 'remote-bye', 'remote-bye']);
    expect(b.table.size).toBe(0);
  });
});

describe('in-dialog requests from the peer (a raw WebSocket browser)', () => {
  const host = 'q1w2e3r4t5y6.invalid';

  /** A confirmed call browser → gateway; `send` builds in-dialog requests with growing CSeq. */
  async function confirmedCall(callId: string, invite: { contentType?: string; body?: string } = {}) {
    const b = await startUa(cleanup, { ws: true, methods: ['INVITE', 'BYE', 'UPDATE', 'INFO', 'OPTIONS', 'MESSAGE'] });
    let session: InviteServerSession | undefined;
    b.onInvite = (request, transaction, channel) => {
      session = new InviteServerSession(b.stack, request, transaction, channel, serverOptions(b, 'WS'));
      session.accept({ sdp: SDP_B });
    };
    const browser = await WsBrowser.connect(b.port('WS'), cleanup);
    const body = invite.body ?? SDP_A;
    browser.send([
      'INVITE sip:bob@127.0.0.1 SIP/2.0',
      `Via: SIP/2.0/WS ${host};branch=z9hG4bK-${callId}-1`,
      'Max-Forwards: 69',
      'To: <sip:bob@127.0.0.1>',
      'From: <sip:alice@127.0.0.1>;tag=brw1',
      `Call-ID: ${callId}`,
      'CSeq: 100 INVITE',
      `Contact: <sip:al@${host};transport=ws>`,
      `Content-Type: ${invite.contentType ?? 'application/sdp'}`,
    ], body);
    const ok = (await browser.next(isResponse(200, 'INVITE'), '200')) as SipResponse;
    const toTag = /tag=([^;]+)/.exec(ok.headers.get('to')!)![1]!;
    let cseq = 100;
    const send = (method: string, extra: string[] = [], reqBody = '', seq = method === 'ACK' ? cseq : ++cseq): void =>
      browser.send([
        `${method} sip:bob@127.0.0.1 SIP/2.0`,
        `Via: SIP/2.0/WS ${host};branch=z9hG4bK-${callId}-${seq}-${method}`,
        'Max-Forwards: 69',
        `To: <sip:bob@127.0.0.1>;tag=${toTag}`,
        'From: <sip:alice@127.0.0.1>;tag=brw1',
        `Call-ID: ${callId}`,
        `CSeq: ${seq} ${method}`,
        ...(reqBody ? ['Content-Type: application/sdp'] : []),
        ...extra,
      ], reqBody);
    send('ACK');
    await until(() => session?.state === 'confirmed', 'ACK');
    return { b, browser, session: session!, send, toTag };
  }

  it('reads the SDP part of a multipart/mixed INVITE (SIP-I: SDP next to ISUP)', async () => {
    const boundary = 'unique-boundary-1';
    const body = [
      `--${boundary}`,
      'Content-Type: application/sdp',
      '',
      SDP_A.trimEnd(),
      `--${boundary}`,
      'Content-Type: application/ISUP;version=itu-t92+',
      'Content-Disposition: signal;handling=optional',
      '',
      '\x01\x00\x49\x00',
      `--${boundary}--`,
      '',
    ].join('\r\n');
    const { session, send, browser } = await confirmedCall('multipart-1', { contentType: `multipart/mixed;boundary=${boundary}`, body });
    expect(session.offer).toBe(SDP_A.trimEnd());
    send('BYE');
    await browser.next(isResponse(200, 'BYE'));
  });

  it('glare: an offer while ours is pending gets 491 (UPDATE and re-INVITE); a second re-INVITE while one is unanswered gets 500 with Retry-After', async () => {
    const { session, send, browser } = await confirmedCall('glare-1');
    // Our re-INVITE to the browser, not answered yet.
    const ours = session.request('INVITE', { body: hold(SDP_B, 'sendonly') });
    const reinvite = (await browser.next(isRequest('INVITE'), 'our re-INVITE')) as SipRequest;
    send('UPDATE', [`Contact: <sip:al@${host};transport=ws>`], hold(SDP_A, 'sendonly'));
    await browser.next(isResponse(491, 'UPDATE'), '491 to UPDATE');
    send('INVITE', [`Contact: <sip:al@${host};transport=ws>`], hold(SDP_A, 'sendonly'));
    await browser.next(isResponse(491, 'INVITE'), '491 to re-INVITE');
    // A bodyless UPDATE (a refresh) carries no offer: no glare.
    send('UPDATE', [`Contact: <sip:al@${host};transport=ws>`]);
    await browser.next(isResponse(200, 'UPDATE'), '200 to a bodyless UPDATE');
    browser.send([
      'SIP/2.0 200 OK',
      ...['via', 'from', 'call-id', 'cseq'].map((h) => `${h}: ${reinvite.headers.get(h)}`),
      `To: ${reinvite.headers.get('to')}`,
      `Contact: <sip:al@${host};transport=ws>`,
      'Content-Type: application/sdp',
    ], hold(SDP_A, 'recvonly'));
    expect((await ours).status).toBe(200);
    await browser.next(isRequest('ACK'), 'our ACK');

    // Now the browser's re-INVITE, held by the owner; a second one meanwhile gets 500 + Retry-After (§14.2).
    const pending: Array<() => void> = [];
    session.on('reinvite', (_r, tx) => pending.push(() => session.respond(tx, 200, { sdp: SDP_B })));
    send('INVITE', [`Contact: <sip:al@${host};transport=ws>`], SDP_A);
    await until(() => pending.length === 1, 'reinvite event');
    send('INVITE', [`Contact: <sip:al@${host};transport=ws>`], SDP_A);
    const busy = (await browser.next(isResponse(500, 'INVITE'), '500')) as SipResponse;
    expect(Number(busy.headers.get('retry-after'))).toBeGreaterThanOrEqual(0);
    expect(Number(busy.headers.get('retry-after'))).toBeLessThanOrEqual(10);
    send('UPDATE', [`Contact: <sip:al@${host};transport=ws>`], SDP_A);
    await browser.next(isResponse(500, 'UPDATE'), '500 to an UPDATE offer while an offer is unanswered');
    pending[0]!();
    await browser.next(isResponse(200, 'INVITE'), '200 to the re-INVITE');
    expect(() => pending[0]!()).toThrow(/not a pending request/);
    send('BYE');
    await browser.next(isResponse(200, 'BYE'));
  });

  it('answers by default what nobody listens for: OPTIONS 200 with Allow, MESSAGE 405, an unchanged re-offer 200', async () => {
    const { session, send, browser } = await confirmedCall('defaults-1');
    send('OPTIONS');
    const options = (await browser.next(isResponse(200, 'OPTIONS'), '200 to OPTIONS')) as SipResponse;
    expect(options.headers.get('allow')).toContain('INVITE');
    expect(options.headers.get('supported')).toContain('timer');
    send('MESSAGE', ['Content-Type: text/plain'], '');
    const message = (await browser.next(isResponse(405, 'MESSAGE'), '405 to MESSAGE')) as SipResponse;
    expect(message.headers.get('allow')).not.toContain('MESSAGE');
    // Re-offering the same session description (same o= line): a refresh the session answers itself.
    send('INVITE', [`Contact: <sip:al@${host};transport=ws>`], SDP_A);
    const refreshed = (await browser.next(isResponse(200, 'INVITE'), '200 to the unchanged re-offer')) as SipResponse;
    expect(refreshed.body.toString()).toBe(SDP_B);
    send('ACK');
    // A changed offer nobody handles is not acceptable here.
    send('INVITE', [`Contact: <sip:al@${host};transport=ws>`], hold(SDP_A, 'sendonly'));
    await browser.next(isResponse(488, 'INVITE'), '488 to a changed offer');
    expect(session.state).toBe('confirmed');
    send('BYE');
    await browser.next(isResponse(200, 'BYE'));
  });
});
