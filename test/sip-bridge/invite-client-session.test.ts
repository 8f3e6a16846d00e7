/**
 * InviteClientSession against a real answering stack (digest challenges by DigestServer, 422, glare, a challenged
 * BYE) and against a raw UDP peer that plays a forking proxy, a silent UAS, or a UAS slow to send a provisional.
 * Protocol timers are faked; loopback I/O is real.
 */
import { describe, it, expect, vi } from 'vitest';
import net from 'node:net';
import { createResponseTo, type SipRequest, type SipResponse } from '../../src/signaling/message.ts';
import { DigestServer } from '../../src/signaling/auth/digest-server.ts';
import { computeHa1 } from '../../src/signaling/auth/digest.ts';
import { InviteClientSession } from '../../src/sip-bridge/invite-client-session.ts';
import { InviteServerSession, rejectInvite } from '../../src/sip-bridge/invite-server-session.ts';
import { glareDelayMs } from '../../src/sip-bridge/session-request.ts';
import { SessionError } from '../../src/sip-bridge/session-error.ts';
import { UdpPeer } from '../signaling/helpers/sip-clients.ts';
import {
  cleanupAfterEach,
  clientOptions,
  expectSettled,
  fakeProtocolTimers,
  freeUdpPort,
  hold,
  record,
  SDP_A,
  SDP_B,
  serverOptions,
  startUa,
  until,
  type Ua,
} from './session-helpers.ts';
import { SippProcess, sippReport } from '../support/sipp.ts';
import { describeWith } from '../support/tools.ts';

const cleanup = cleanupAfterEach();

const USERS: Record<string, string> = { alice: 'wonderland' };

describe('digest challenges (RFC 3261 §22.2) answered with the lead DigestServer', () => {
  function challenging(b: Ua, server: DigestServer, onSession: (s: InviteServerSession) => void): SipRequest[] {
    const invites: SipRequest[] = [];
    b.onInvite = (request, transaction, channel) => {
      invites.push(request);
      const verdict = server.verify('INVITE', request.headers.getAll('authorization'), (user, realm, algorithm) =>
        USERS[user] === undefined ? undefined : computeHa1(algorithm, user, realm, USERS[user]!),
      );
      if (!verdict.ok) {
        const challenge = createResponseTo(request, 401, undefined, 'chal1');
        for (const value of server.challenges(verdict.reason === 'stale')) challenge.headers.append('WWW-Authenticate', value);
        transaction.respond(challenge);
        return;
      }
      const session = new InviteServerSession(b.stack, request, transaction, channel, serverOptions(b, 'UDP'));
      onSession(session);
    };
    return invites;
  }

  it('401 → the INVITE again with Authorization: same Call-ID and From tag, CSeq + 1, a new branch; then 200', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    const invites = challenging(b, new DigestServer({ realm: 'gw.test' }), (s) => s.accept({ sdp: SDP_B }));
    const client = new InviteClientSession(a.stack, clientOptions(a, b, 'UDP', { credentials: { username: 'alice', password: 'wonderland' } }));
    const events: string[] = [];
    record(client, events, ['provisional', 'accepted', 'rejected', 'failed']);
    client.start();
    await until(() => client.state === 'confirmed', 'the authenticated call');
    expect(events).toEqual(['accepted:200']);
    expect(invites).toHaveLength(2);
    const [first, second] = invites as [SipRequest, SipRequest];
    expect(second.headers.get('call-id')).toBe(first.headers.get('call-id'));
    expect(second.headers.get('from')).toBe(first.headers.get('from'));
    expect(first.headers.get('cseq')).toBe('1 INVITE');
    expect(second.headers.get('cseq')).toBe('2 INVITE');
    expect(second.headers.get('via')).not.toBe(first.headers.get('via'));
    expect(second.headers.get('authorization')).toMatch(/^Digest username="alice", realm="gw.test"/);
    expect(second.body.toString()).toBe(SDP_A);
    // The dialog continues from the INVITE that succeeded.
    expect(client.dialog?.localSeq).toBe(2);
    await client.bye();
    await expectSettled([a, b]);
  });

  it('wrong credentials: the second 401 is final — rejected after exactly two INVITEs', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    const invites = challenging(b, new DigestServer({ realm: 'gw.test' }), () => expect.fail('no session for a bad password'));
    const client = new InviteClientSession(a.stack, clientOptions(a, b, 'UDP', { credentials: { username: 'alice', password: 'guess' } }));
    const events: string[] = [];
    record(client, events, ['accepted', 'rejected', 'terminated']);
    client.start();
    await until(() => client.terminated, 'rejection');
    expect(events).toEqual(['rejected:401', 'terminated:rejected']);
    expect(invites).toHaveLength(2);
    await expectSettled([a, b]);
  });

  it('without credentials a 401 is simply a rejection', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    challenging(b, new DigestServer({ realm: 'gw.test' }), () => {});
    const client = new InviteClientSession(a.stack, clientOptions(a, b, 'UDP'));
    const rejected = new Promise<SipResponse>((resolve) => client.on('rejected', resolve));
    client.start();
    expect((await rejected).status).toBe(401);
  });

  it('a trunk that challenges our BYE with 407 gets it again with Proxy-Authorization', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    const digest = new DigestServer({ realm: 'trunk.test' });
    const byes: SipRequest[] = [];
    b.intercept = (request, transaction) => {
      if (request.method !== 'BYE') return false;
      byes.push(request);
      const verdict = digest.verify('BYE', request.headers.getAll('proxy-authorization'), (user, realm, algorithm) => computeHa1(algorithm, user, realm, USERS[user] ?? ''));
      if (verdict.ok) return false; // on to the dialog table
      const challenge = createResponseTo(request, 407);
      for (const value of digest.challenges()) challenge.headers.append('Proxy-Authenticate', value);
      transaction.respond(challenge);
      return true;
    };
    let server: InviteServerSession | undefined;
    b.onInvite = (request, transaction, channel) => {
      server = new InviteServerSession(b.stack, request, transaction, channel, serverOptions(b, 'UDP'));
      server.accept({ sdp: SDP_B });
    };
    const client = new InviteClientSession(a.stack, clientOptions(a, b, 'UDP', { credentials: { username: 'alice', password: 'wonderland' } }));
    client.start();
    await until(() => server?.state === 'confirmed');
    const response = await client.bye();
    expect(response?.status).toBe(200);
    expect(byes.map((bye) => bye.headers.get('cseq'))).toEqual(['2 BYE', '3 BYE']);
    expect(byes[1]!.headers.get('proxy-authorization')).toContain('username="alice"');
    expect(server!.terminated).toBe(true);
    await expectSettled([a, b]);
  });
});

describe('RFC 4028 422', () => {
  it('a 422 with Min-SE is answered with the INVITE again asking for that interval', async () => {
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    const invites: SipRequest[] = [];
    let server: InviteServerSession | undefined;
    b.onInvite = (request, transaction, channel) => {
      invites.push(request);
      try {
        server = new InviteServerSession(b.stack, request, transaction, channel, serverOptions(b, 'UDP', { sessionTimer: { minSE: 600, interval: 1800 } }));
        server.accept({ sdp: SDP_B });
      } catch (error) {
        rejectInvite(transaction, error);
      }
    };
    const client = new InviteClientSession(a.stack, clientOptions(a, b, 'UDP', { sessionTimer: { interval: 90 } }));
    client.start();
    await until(() => client.state === 'confirmed');
    expect(invites.map((i) => [i.headers.get('cseq'), i.headers.get('session-expires'), i.headers.get('min-se')])).toEqual([
      ['1 INVITE', '90;refresher=uac', '90'],
      ['2 INVITE', '600;refresher=uac', '600'],
    ]);
    expect(client.sessionTimer).toEqual({ interval: 600, refresher: 'local' });
    expect(server!.sessionTimer).toEqual({ interval: 600, refresher: 'remote' });
    await client.bye();
    await expectSettled([a, b]);
  });
});

describe('glare (§14)', () => {
  it('re-INVITEs crossing: both get 491, the Call-ID owner retries after 2.1–4 s, the other after 0–2 s, both succeed', async () => {
    expect(glareDelayMs(true, () => 0)).toBe(2100);
    expect(glareDelayMs(true, () => 0.9999)).toBe(4000);
    expect(glareDelayMs(false, () => 0)).toBe(0);
    expect(glareDelayMs(false, () => 0.9999)).toBe(2000);
    fakeProtocolTimers();
    const a = await startUa(cleanup);
    const b = await startUa(cleanup);
    let server: InviteServerSession | undefined;
    b.onInvite = (request, transaction, channel) => {
      server = new InviteServerSession(b.stack, request, transaction, channel, serverOptions(b, 'UDP'));
      server.accept({ sdp: SDP_B });
    };
    const client = new InviteClientSession(a.stack, clientOptions(a, b, 'UDP'));
    client.start();
    await until(() => server?.state === 'confirmed' && client.state === 'confirmed');
    const s = server!;
    s.on('reinvite', (_r, tx, sdp) => s.respond(tx, 200, { sdp: hold(SDP_B, sdp?.includes('sendonly') ? 'recvonly' : 'sendrecv') }));
    client.on('reinvite', (_r, tx, sdp) => client.respond(tx, 200, { sdp: hold(SDP_A, sdp?.includes('sendonly') ? 'recvonly' : 'sendrecv') }));
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const baseline = [client.liveTimers, s.liveTimers]; // the session timers
    const fromCaller = client.request('INVITE', { body: hold(SDP_A, 'sendonly') });
    const fromCallee = s.request('INVITE', { body: hold(SDP_B, 'sendonly') });
    // Each side answered the other's re-INVITE 491 and got 491: both wait for their retry timer.
    await until(() => client.liveTimers === baseline[0]! + 1 && s.liveTimers === baseline[1]! + 1, 'the 491s');
    // The callee (not the Call-ID owner) retries at once (0–2 s, here 0) and wins.
    await vi.advanceTimersByTimeAsync(0);
    const calleeResult = await fromCallee;
    expect(calleeResult.status).toBe(200);
    expect(client.remoteSdp).toContain('a=sendonly');
    // The caller waits 2.1 s (2.1–4 s) before its retry.
    await vi.advanceTimersByTimeAsync(2_099);
    expect(client.liveTimers).toBe(baseline[0]! + 1);
    await vi.advanceTimersByTimeAsync(1);
    const callerResult = await fromCaller;
    expect(callerResult.status).toBe(200);
    expect(s.state).toBe('confirmed');
    // A re-INVITE while one is in flight is refused locally (§14.1).
    const first = client.request('INVITE', { body: hold(SDP_A, 'inactive') });
    await expect(client.request('INVITE', { body: SDP_A })).rejects.toMatchObject({ code: 'SIP_SESSION_PENDING', status: 491 });
    expect((await first).status).toBe(200);
    await client.bye();
    await expectSettled([a, b]);
  });
});

describe('against a raw UDP peer', () => {
  async function peerAndClient(extra: Parameters<typeof clientOptions>[3] = {}) {
    const a = await startUa(cleanup);
    const peer = await UdpPeer.open();
    cleanup.push(() => peer.close());
    const fakeB = { port: () => peer.port } as unknown as Ua;
    const client = new InviteClientSession(a.stack, clientOptions(a, fakeB, 'UDP', extra));
    const events: string[] = [];
    record(client, events, ['provisional', 'accepted', 'rejected', 'failed', 'terminated']);
    return { a, peer, client, events };
  }

  const requests = (peer: UdpPeer, method: string) => peer.inbox.messages.filter((m): m is SipRequest => m.type === 'request' && m.method === method);

  function reply(peer: UdpPeer, aPort: number, request: SipRequest, status: number, tag: string, body = '', extra: string[] = []): void {
    const to = request.headers.get('to')!;
    const lines = [
      `SIP/2.0 ${status} ${status === 200 ? 'OK' : status === 180 ? 'Ringing' : status === 487 ? 'Request Terminated' : 'Whatever'}`,
      ...request.headers.getAll('via').map((v) => `Via: ${v}`),
      `From: ${request.headers.get('from')}`,
      `To: ${/;tag=/.test(to) ? to : `${to};tag=${tag}`}`,
      `Call-ID: ${request.headers.get('call-id')}`,
      `CSeq: ${request.headers.get('cseq')}`,
      ...(status < 300 ? [`Contact: <sip:${tag}@127.0.0.1:${peer.port}>`] : []),
      ...(body ? ['Content-Type: application/sdp'] : []),
      ...extra,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ];
    peer.send(lines.join('\r\n'), aPort);
  }

  it('forking: two early dialogs, the first 2xx confirms, the second fork is ACKed and BYEd; retransmissions are re-ACKed', async () => {
    fakeProtocolTimers();
    const { a, peer, client, events } = await peerAndClient();
    client.start();
    await until(() => requests(peer, 'INVITE').length === 1, 'INVITE');
    const invite = requests(peer, 'INVITE')[0]!;
    const port = a.port('UDP');
    reply(peer, port, invite, 180, 'fork1');
    reply(peer, port, invite, 183, 'fork2', SDP_B);
    await until(() => client.earlyDialogs.length === 2, 'two early dialogs');
    expect(a.table.counts.dialogs).toBe(2);
    reply(peer, port, invite, 200, 'fork1', SDP_B);
    reply(peer, port, invite, 200, 'fork2', SDP_B);
    await until(() => requests(peer, 'ACK').length === 2 && requests(peer, 'BYE').length === 1, 'ACKs and the BYE');
    expect(events).toEqual(['provisional:180', 'provisional:183', 'accepted:200']);
    expect(client.dialog?.remoteTag).toBe('fork1');
    const [ack1, ack2] = requests(peer, 'ACK');
    expect(ack1!.headers.get('to')).toContain('tag=fork1');
    expect(ack1!.uri).toBe(`sip:fork1@127.0.0.1:${peer.port}`);
    expect(ack2!.headers.get('to')).toContain('tag=fork2');
    const bye = requests(peer, 'BYE')[0]!;
    expect(bye.headers.get('to')).toContain('tag=fork2');
    expect(bye.uri).toBe(`sip:fork2@127.0.0.1:${peer.port}`);
    expect(a.table.counts.dialogs).toBe(1);
    // Both forks retransmit their 200: each gets the same ACK again, and no second BYE.
    reply(peer, port, invite, 200, 'fork1', SDP_B);
    reply(peer, port, invite, 200, 'fork2', SDP_B);
    await until(() => requests(peer, 'ACK').length === 4, 're-ACKs');
    const acks = requests(peer, 'ACK');
    expect(acks[2]!.headers.get('via')).toBe(ack1!.headers.get('via'));
    expect(acks[3]!.headers.get('via')).toBe(ack2!.headers.get('via'));
    expect(requests(peer, 'BYE')).toHaveLength(1);
    client.close();
    expect(events.at(-1)).toBe('terminated:closed');
    await expectSettled([a]);
  });

  it('CANCEL waits for a provisional (§9.1), carries the Reason, and the 487 ends the session cancelled', async () => {
    fakeProtocolTimers();
    const { a, peer, client, events } = await peerAndClient();
    client.start();
    await until(() => requests(peer, 'INVITE').length === 1, 'INVITE');
    client.cancel({ cause: 200, text: 'Call completed elsewhere' });
    await vi.advanceTimersByTimeAsync(1_600); // Timer A retransmits the INVITE; still no CANCEL
    await until(() => requests(peer, 'INVITE').length >= 2, 'retransmission');
    expect(requests(peer, 'CANCEL')).toHaveLength(0);
    const invite = requests(peer, 'INVITE')[0]!;
    reply(peer, a.port('UDP'), invite, 180, 'slow');
    await until(() => requests(peer, 'CANCEL').length === 1, 'CANCEL');
    const cancel = requests(peer, 'CANCEL')[0]!;
    expect(cancel.headers.get('reason')).toBe('SIP;cause=200;text="Call completed elsewhere"');
    expect(cancel.headers.get('via')).toBe(invite.headers.get('via'));
    expect(cancel.headers.get('cseq')).toBe('1 CANCEL');
    expect(client.terminated).toBe(false);
    reply(peer, a.port('UDP'), cancel, 200, 'slow');
    reply(peer, a.port('UDP'), invite, 487, 'slow');
    await until(() => client.terminated && requests(peer, 'ACK').length === 1, 'the 487 and its ACK');
    expect(events).toEqual(['terminated:cancelled']); // no provisional event after cancel()
    await expectSettled([a]);
  });

  it('no answer at all: Timer B → failed(timeout), the owner can answer its side 408', async () => {
    fakeProtocolTimers();
    const { a, peer, client, events } = await peerAndClient();
    const failures: SessionError[] = [];
    client.on('failed', (_reason, error) => failures.push(error));
    client.start();
    await until(() => requests(peer, 'INVITE').length === 1, 'INVITE');
    await vi.advanceTimersByTimeAsync(31_999);
    expect(events).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(events).toEqual(['failed:timeout', 'terminated:timeout']);
    expect(failures[0]).toBeInstanceOf(SessionError);
    expect(failures[0]!.status).toBe(408);
    expect(requests(peer, 'INVITE').length).toBe(7); // 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s
    await expectSettled([a]);
  });

  it('a TCP target refusing connections: failed(transport) with 503', async () => {
    const a = await startUa(cleanup);
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new InviteClientSession(a.stack, clientOptions(a, { port: () => port } as unknown as Ua, 'TCP'));
    const failed = new Promise<[string, SessionError]>((resolve) => client.on('failed', (reason, error) => resolve([reason, error])));
    client.start();
    const [reason, error] = await failed;
    expect(reason).toBe('transport');
    expect(error.status).toBe(503);
    expect(client.terminated).toBe(true);
    expect(a.table.size).toBe(0);
  });

  it('an in-dialog request answered 481 ends the dialog (§12.2.1.2)', async () => {
    fakeProtocolTimers();
    const { a, peer, client, events } = await peerAndClient();
    client.start();
    await until(() => requests(peer, 'INVITE').length === 1, 'INVITE');
    const invite = requests(peer, 'INVITE')[0]!;
    reply(peer, a.port('UDP'), invite, 200, 'gone', SDP_B, ['Allow: INVITE, ACK, BYE, CANCEL, OPTIONS']);
    await until(() => client.state === 'confirmed');
    const options = client.request('OPTIONS');
    await until(() => requests(peer, 'OPTIONS').length === 1, 'OPTIONS');
    reply(peer, a.port('UDP'), requests(peer, 'OPTIONS')[0]!, 481, 'gone');
    expect((await options).status).toBe(481);
    expect(events.at(-1)).toBe('terminated:dialog-failed');
    await expect(client.request('INFO')).rejects.toMatchObject({ code: 'SIP_SESSION_STATE' });
    await expectSettled([a]);
  });
});

describe('options checks', () => {
  it('exactly one of channel or target; an offerless INVITE needs ackSdp', async () => {
    const a = await startUa(cleanup);
    const base = clientOptions(a, a, 'UDP');
    expect(() => new InviteClientSession(a.stack, { ...base, target: undefined })).toThrow(SessionError);
    expect(() => new InviteClientSession(a.stack, { ...base, sdp: undefined })).toThrow(/ackSdp/);
    expect(() => new InviteClientSession(a.stack, { ...base, sessionTimer: { minSE: 10 } })).toThrow(/minSE/);
    const client = new InviteClientSession(a.stack, base);
    await expect(client.request('INFO')).rejects.toMatchObject({ code: 'SIP_SESSION_STATE' });
    await expect(client.request('ACK')).rejects.toMatchObject({ code: 'SIP_SESSION_REQUEST' });
    client.close();
    client.close();
    expect(client.state).toBe('terminated');
    expect(a.table.size).toBe(0);
  });
});

describeWith(['sipp'], 'SIPp as a challenging trunk (test/sipp/session-uas-auth.xml)', () => {
  it('401 first, then our INVITE with credentials is verified by SIPp and answered 200; our BYE ends it', async () => {
    const a = await startUa(cleanup);
    const port = await freeUdpPort();
    const sipp = new SippProcess({ scenario: 'session-uas-auth.xml', localPort: port, calls: 1, bindLocal: true, timeoutSeconds: 20 });
    cleanup.push(() => sipp.stop('SIGKILL'));
    const client = new InviteClientSession(a.stack, clientOptions(a, { port: () => port } as unknown as Ua, 'UDP', { credentials: { username: 'alice', password: 'wonderland' } }));
    const events: string[] = [];
    record(client, events, ['provisional', 'accepted', 'rejected', 'failed', 'terminated']);
    client.start(); // Timer A covers SIPp binding its port a moment later
    try {
      await until(() => client.state === 'confirmed' || client.terminated, 'the call', 10_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}; events ${events.join(',')}\n${sippReport(await sipp.stop('SIGKILL'))}`);
    }
    expect(events).toEqual(['provisional:180', 'accepted:200']);
    expect(client.invite?.headers.get('cseq')).toBe('2 INVITE');
    expect(client.remoteSdp).toContain('m=audio');
    const bye = await client.bye();
    expect(bye?.status).toBe(200);
    const run = await sipp.done;
    expect(run.code, sippReport(run)).toBe(0);
    expect(a.table.size).toBe(0);
  });
});
