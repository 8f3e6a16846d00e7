/**
 * The test phone against itself: two phones on a tiny WebSocket SIP relay (test/support/ws-relay-for-tests.ts)
 * that challenges REGISTER (401) and INVITE (407) with the project's DigestServer and sends every 2xx to INVITE
 * twice. Real SIP frames on real WebSockets, real werift ICE/DTLS-SRTP over loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { cseq, topVia } from '../../src/signaling/header-accessors.ts';
import type { SipMessage, SipRequest } from '../../src/signaling/message.ts';
import { TestPhone, TestPhoneError, type IncomingCall, type OutgoingCall } from '../support/test-phone.ts';
import { withTimeout } from '../support/phone-errors.ts';
import { SipStack, type SipTransactionUser } from '../../src/signaling/sip-stack.ts';
import { Registrar } from '../../src/signaling/registrar/registrar.ts';
import { LocationService } from '../../src/signaling/registrar/location-service.ts';
import { DigestServer } from '../../src/signaling/auth/digest-server.ts';
import { computeHa1 } from '../../src/signaling/auth/digest.ts';
import { WsSipRelay } from '../support/ws-relay-for-tests.ts';
import { assertLoopbackSdp, candidateAddresses, stunSinkQueries, withDefaultDestination } from '../support/media-endpoint.ts';
import { decodeMarker, encodeMarker } from '../support/rtp-marker.ts';
import { isHoldOffer, mangleOffer } from '../support/sdp-hold.ts';
import { parseDtmfRelay } from '../support/jssip-wire.ts';

const USERS = { alice: 'demo', bob: 'secret', carol: 'c4rol' };
let relay: WsSipRelay;
let alice: TestPhone;
let bob: TestPhone;

function sent(phone: TestPhone, method: string): SipRequest[] {
  return phone.trace.flatMap((e) => (e.dir === 'out' && e.msg.type === 'request' && e.msg.method === method ? [e.msg] : []));
}

function received(phone: TestPhone, predicate: (msg: SipMessage) => boolean): SipMessage[] {
  return phone.trace.flatMap((e) => (e.dir === 'in' && predicate(e.msg) ? [e.msg] : []));
}

function sdpsOf(phone: TestPhone): string[] {
  return phone.trace.flatMap((e) => (e.msg.body.length > 0 && e.msg.body.toString().startsWith('v=0') ? [e.msg.body.toString()] : []));
}

/** alice calls bob through the relay; bob answers; both wait for ICE/DTLS. */
async function establish(): Promise<{ a: OutgoingCall; b: IncomingCall }> {
  const incoming = bob.waitForIncoming();
  const a = alice.invite('bob');
  const b = await incoming;
  await b.ring();
  await Promise.all([b.answer(), a.answered]);
  await Promise.all([a.media.waitConnected(), b.media.waitConnected()]);
  return { a, b };
}

beforeAll(async () => {
  relay = await WsSipRelay.start({ users: USERS, challengeInvites: true, duplicate2xx: true });
  [alice, bob] = await Promise.all([
    TestPhone.connect({ url: relay.url, user: 'alice', password: USERS.alice, domain: '127.0.0.1' }),
    TestPhone.connect({ url: relay.url, user: 'bob', password: USERS.bob, domain: '127.0.0.1' }),
  ]);
  await Promise.all([alice.register(), bob.register()]);
});

afterAll(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
  await relay?.close();
});

describe('registration', () => {
  it('answers the 401 with digest credentials, CSeq + 1, and writes REGISTER as JsSIP does', () => {
    const registers = sent(alice, 'REGISTER');
    expect(registers).toHaveLength(2);
    const [first, second] = registers as [SipRequest, SipRequest];
    expect(first.headers.has('authorization')).toBe(false);
    expect(second.headers.get('authorization')).toMatch(/^Digest username="alice", realm="relay.test", .*algorithm=MD5/);
    expect(cseq(second).seq).toBe(cseq(first).seq + 1);
    expect(second.headers.get('call-id')).toBe(first.headers.get('call-id'));
    expect(topVia(second).params.get('branch')).not.toBe(topVia(first).params.get('branch'));
    expect(second.uri).toBe('sip:127.0.0.1');
    expect(second.headers.get('via')).toMatch(/^SIP\/2\.0\/WS [0-9a-v]{12}\.invalid;branch=z9hG4bK\d+$/);
    expect(second.headers.get('contact')).toMatch(
      /^<sip:[0-9a-v]{8}@[0-9a-v]{12}\.invalid;transport=ws>;\+sip\.ice;reg-id=1;\+sip\.instance="<urn:uuid:[0-9a-f-]{36}>";expires=600$/,
    );
    expect(second.headers.get('supported')).toBe('path,gruu,outbound');
    expect(second.headers.get('allow')).toBe('INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY');
    expect(second.headers.get('user-agent')).toBe('TestPhone');
    expect(second.headers.get('max-forwards')).toBe('69');
    expect(second.headers.get('expires')).toBe('600');
  });

  it('rejects with the final status when the password is wrong', async () => {
    const mallory = await TestPhone.connect({ url: relay.url, user: 'carol', password: 'wrong', domain: '127.0.0.1' });
    try {
      await expect(mallory.register()).rejects.toMatchObject({ code: 'PHONE_REJECTED', status: 401 });
    } finally {
      await mallory.close();
    }
  });

  it('answers only the first, MD5 challenge like JsSIP unless told to pick the strongest', async () => {
    const carol = await TestPhone.connect({ url: relay.url, user: 'carol', password: USERS.carol, domain: '127.0.0.1', digest: 'best' });
    try {
      await carol.register();
      expect(sent(carol, 'REGISTER').at(-1)!.headers.get('authorization')).toMatch(/algorithm=SHA-256/);
      await carol.unregister();
      expect(sent(carol, 'REGISTER').at(-1)!.headers.get('contact')).toMatch(/;expires=0$/);
    } finally {
      await carol.close();
    }
  });

  it('refuses a server that does not select the sip subprotocol (RFC 7118 §4)', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => false });
    await new Promise((r) => server.once('listening', r));
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
    await expect(TestPhone.connect({ url, user: 'x', domain: '127.0.0.1' })).rejects.toBeInstanceOf(TestPhoneError);
    await new Promise((r) => server.close(r));
  });
});

describe('against the project\'s own SIP stack', () => {
  it('registers through the SipStack WebSocket listener and the Registrar (401, then 200 with our binding)', async () => {
    const location = new LocationService();
    const registrar = new Registrar({
      location, digest: new DigestServer({ realm: '127.0.0.1' }),
      lookup: (user, realm, algorithm) => (user === 'alice' ? computeHa1(algorithm, user, realm, 'demo') : undefined),
    });
    const stack = new SipStack({ listeners: [], http: { host: '127.0.0.1', port: 0, wsPath: '/sip' }, userAgent: 'gw-test' });
    const tu: SipTransactionUser = {
      methods: ['REGISTER'],
      onRequest: (request, transaction, channel) => transaction.respond(registrar.handle(request, { flowId: channel.flowId, source: channel.remote.address })),
    };
    stack.setTransactionUser(tu);
    await stack.start();
    const phone = await TestPhone.connect({ url: `ws://127.0.0.1:${stack.port('WS')}/sip`, user: 'alice', password: 'demo', domain: '127.0.0.1' });
    try {
      const registration = await phone.register();
      expect(registration.expires).toBe(600);
      expect(received(phone, (m) => m.type === 'response').map((m) => (m.type === 'response' ? m.status : 0))).toEqual([401, 200]);
      expect(phone.violations).toEqual([]);
    } finally {
      await phone.close();
      await stack.close();
    }
  });
});

describe('a call from alice to bob', () => {
  let a: OutgoingCall;
  let b: IncomingCall;

  beforeAll(async () => {
    ({ a, b } = await establish());
  });

  it('answers the 407 (ACKing it), re-sends the INVITE with credentials, and re-ACKs a repeated 2xx', () => {
    const invites = sent(alice, 'INVITE').filter((r) => r.headers.get('call-id') === a.callId);
    expect(invites).toHaveLength(2);
    const [first, second] = invites as [SipRequest, SipRequest];
    expect(second.headers.get('proxy-authorization')).toMatch(/^Digest username="alice"/);
    expect(cseq(second).seq).toBe(cseq(first).seq + 1);
    const acks = sent(alice, 'ACK').filter((r) => r.headers.get('call-id') === a.callId);
    const ack407 = acks.find((r) => cseq(r).seq === cseq(first).seq)!;
    expect(topVia(ack407).params.get('branch')).toBe(topVia(first).params.get('branch'));
    expect(acks.filter((r) => cseq(r).seq === cseq(second).seq).length).toBeGreaterThanOrEqual(2);
    expect(a.counters.okRetransmissionsReceived).toBeGreaterThanOrEqual(1);
    expect(second.headers.get('supported')).toBe('timer,ice,replaces,outbound');
    expect(second.headers.get('session-expires')).toBe('90');
    expect(second.headers.get('contact')).toMatch(/^<sip:[0-9a-v]{8}@[0-9a-v]{12}\.invalid;transport=ws;ob>$/);
    expect(second.headers.get('content-type')).toBe('application/sdp');
    const ringing = received(alice, (m) => m.type === 'response' && m.status === 180);
    expect(ringing[0]?.headers.get('contact')).toMatch(/^<sip:[0-9a-v]{8}@[0-9a-v]{12}\.invalid;transport=ws>$/);
    expect(b.state).toBe('confirmed');
    expect(a.state).toBe('confirmed');
  });

  it('carries audio both ways over DTLS-SRTP, markers intact, on loopback only', async () => {
    const fromAlice = a.startSending({ pt: 0 });
    const fromBob = b.startSending({ pt: 0 });
    await Promise.all([
      b.waitForAudio((s) => s.markers.filter((m) => m.stream === fromAlice.stream).length >= 10),
      a.waitForAudio((s) => s.markers.filter((m) => m.stream === fromBob.stream).length >= 10),
    ]);
    const frames = b.audio.markers.filter((m) => m.stream === fromAlice.stream).map((m) => m.frame);
    expect(frames).toEqual([...frames].sort((x, y) => x - y));
    expect(b.audio.payloadTypes).toEqual([0]);
    expect(b.audio.ssrcs).toEqual([a.media.transceiver.sender.ssrc]);
    expect(b.audio.payloads.at(-1)).toHaveLength(160);
    for (const sdp of [...sdpsOf(alice), ...sdpsOf(bob)]) {
      expect(candidateAddresses(sdp).length).toBeGreaterThan(0);
      expect(candidateAddresses(sdp).every((ip) => ip === '127.0.0.1')).toBe(true);
      expect(sdp).toMatch(/^c=IN IP4 127\.0\.0\.1\r$/m);
    }
    expect([...a.media.refusedPairs, ...b.media.refusedPairs, ...a.media.meter.violations]).toEqual([]);
    expect(stunSinkQueries()).toBeGreaterThan(0); // werift's STUN query went to our loopback sink
    expect([...alice.violations, ...bob.violations]).toEqual([]);
  });

  it('holds with a=sendonly: bob sees remote hold, answers recvonly and stops sending; resume restores audio', async () => {
    const held = b.next('hold');
    const skippedBeforeHold = b.audio.sendSkipped;
    const response = await a.hold();
    expect(response.status).toBe(200);
    expect(await held).toEqual(['remote']);
    const invites = sent(alice, 'INVITE').filter((r) => r.headers.get('call-id') === a.callId).map((r) => r.body.toString());
    expect(invites.at(-1)).toMatch(/^a=sendonly\r$/m);
    // RFC 3264 §8: same o= session id, version + 1 (werift would draw a new id; the phone keeps Chrome's habit).
    const origin = (sdp: string) => /^o=- (\d+) (\d+) /m.exec(sdp)!.slice(1).map(Number);
    expect(origin(invites.at(-1)!)).toEqual([origin(invites[0]!)[0], origin(invites[0]!)[1]! + 1]);
    expect(response.body.toString()).toMatch(/^a=recvonly\r$/m);
    await a.waitForSilence(150, 2000);
    const skippedDuringHold = b.audio.sendSkipped;
    expect(skippedDuringHold).toBeGreaterThan(skippedBeforeHold);
    await a.resume();
    expect(b.remoteHold).toBe(false);
    await a.waitForAudio(a.audio.packetsReceived + 10);
    expect(b.audio.sendSkipped - skippedDuringHold).toBeLessThanOrEqual(1);
  });

  it('sends DTMF as INFO application/dtmf-relay', async () => {
    const dtmf = b.next('dtmf');
    await a.sendInfoDtmf('5');
    expect(await dtmf).toEqual([{ tone: '5', duration: 160 }]);
    expect(b.infoReceived.at(-1)).toEqual({ contentType: 'application/dtmf-relay', body: 'Signal=5\r\nDuration=160' });
  });

  it('refreshes the session with an UPDATE without SDP', async () => {
    const update = b.next('update');
    const response = await a.refresh('UPDATE');
    expect(response.status).toBe(200);
    const [request] = await update;
    expect(request.body).toHaveLength(0);
    expect(request.headers.get('session-expires')).toMatch(/^90;refresher=(uac|uas)$/);
    expect(request.headers.get('supported')).toBe('timer,ice,outbound');
    const sentUpdate = sent(alice, 'UPDATE').at(-1)!;
    expect(sentUpdate.headers.getAll('route')).toEqual([`<sip:127.0.0.1:${relay.port};transport=ws;lr>`]);
    expect(sentUpdate.uri).toMatch(/^sip:[0-9a-v]{8}@[0-9a-v]{12}\.invalid;transport=ws$/);
  });

  it('answers a re-INVITE from the called side (bob holds and resumes alice)', async () => {
    const reinvite = a.next('reinvite');
    await b.hold();
    await reinvite;
    expect(a.remoteHold).toBe(true);
    await b.resume();
    expect(a.remoteHold).toBe(false);
  });

  it('ends both sides on a BYE from the called side', async () => {
    const response = await b.hangup();
    expect(response?.status).toBe(200);
    expect(await a.ended).toEqual({ by: 'remote', reason: 'BYE' });
    expect(await b.ended).toEqual({ by: 'local', reason: 'BYE' });
    expect(alice.calls.size + bob.calls.size).toBe(0);
  });
});

describe('call set-up and tear-down', () => {
  it('ends both sides on a BYE from the caller', async () => {
    const { a, b } = await establish();
    const response = await a.hangup();
    expect(response?.status).toBe(200);
    expect(await b.ended).toEqual({ by: 'remote', reason: 'BYE' });
    expect(await a.ended).toEqual({ by: 'local', reason: 'BYE' });
  });

  it('cancels before the answer: 487 for the caller, the callee ends remotely', async () => {
    const incoming = bob.waitForIncoming();
    const a = alice.invite('bob');
    const b = await incoming;
    await b.ring();
    await a.next('progress');
    const final = await a.hangup();
    expect(final?.status).toBe(487);
    await expect(a.answered).rejects.toMatchObject({ status: 487 });
    expect(await b.ended).toEqual({ by: 'remote', reason: 'CANCEL' });
    const cancel = sent(alice, 'CANCEL').at(-1)!;
    const invite = a.invite!;
    expect(topVia(cancel).params.get('branch')).toBe(topVia(invite).params.get('branch'));
    expect(cseq(cancel).seq).toBe(cseq(invite).seq);
  });

  it('rejects phone.call() with the callee\'s final status', async () => {
    bob.once('incoming', (call) => call.reject(486));
    await expect(alice.call('bob')).rejects.toMatchObject({ code: 'PHONE_REJECTED', status: 486, reason: 'Busy Here' });
  });

  it('plays early media from a 183 and keeps the same answer in the 200', async () => {
    const incoming = bob.waitForIncoming();
    const callPromise = alice.call('bob', { early: true });
    const b = await incoming;
    await b.ring({ status: 183, sdp: true });
    const a = await callPromise;
    expect(a.state).toBe('early');
    await b.media.waitConnected();
    const fromBob = b.startSending();
    await a.waitForAudio((s) => s.markers.some((m) => m.stream === fromBob.stream));
    await Promise.all([b.answer(), a.answered]);
    const responses = a.responses.filter((r) => r.body.length > 0);
    expect(responses.map((r) => r.status)).toContain(183);
    expect(new Set(responses.map((r) => r.body.toString())).size).toBe(1);
    const before = a.audio.packetsReceived;
    await a.waitForAudio(before + 5);
    await a.hangup();
    await b.ended;
  });

  it('gives up after answerTimeoutMs and cancels the ringing call', async () => {
    const incoming = bob.waitForIncoming();
    const a = alice.invite('bob', { answerTimeoutMs: 400 });
    const b = await incoming;
    await b.ring();
    await expect(a.answered).rejects.toMatchObject({ code: 'PHONE_TIMEOUT' });
    expect(await b.ended).toEqual({ by: 'remote', reason: 'CANCEL' });
  });

  it('rejects a pending call when its phone closes', async () => {
    const carol = await TestPhone.connect({ url: relay.url, user: 'alice', password: USERS.alice, domain: '127.0.0.1' });
    const incoming = bob.waitForIncoming();
    const a = carol.invite('bob');
    const b = await incoming;
    await b.ring();
    await a.next('progress');
    await carol.close();
    await expect(a.answered).rejects.toMatchObject({ code: 'PHONE_CLOSED' });
    expect(await a.ended).toEqual({ by: 'system', reason: 'phone closed' });
    b.reject(480);
    await carol.close(); // idempotent
  });

  it('ends the calls of a phone whose WebSocket drops', async () => {
    const { a, b } = await establish();
    bob.kill();
    expect(await b.ended).toMatchObject({ by: 'system' });
    await a.hangup(); // the BYE goes to a relay that no longer knows bob: 404
    expect(await a.ended).toMatchObject({ by: 'local' });
  });
});

describe('requests the phone answers by itself', () => {
  /** A raw WebSocket SIP client on the relay, sending one request to alice and reading the response. */
  async function ask(method: string, extra = '', toTag = ''): Promise<SipMessage> {
    const ws = new WebSocket(relay.url, 'sip');
    await new Promise((r) => ws.once('open', r));
    const branch = `z9hG4bK${Math.random().toString(36).slice(2)}`;
    const reply = new Promise<SipMessage>((resolve) => ws.once('message', (data) => resolve(parseSipMessage(Buffer.from(data as Buffer)))));
    ws.send([
      `${method} sip:alice@127.0.0.1 SIP/2.0`, `Via: SIP/2.0/WS raw.invalid;branch=${branch}`, 'Max-Forwards: 70',
      `To: <sip:alice@127.0.0.1>${toTag}`, 'From: <sip:raw@127.0.0.1>;tag=raw1', `Call-ID: ${branch}`, `CSeq: 1 ${method}`,
      ...(extra ? [extra] : []), 'Content-Length: 0', '', '',
    ].join('\r\n'));
    const response = await withTimeout(reply, 2000, method);
    ws.terminate();
    return response;
  }

  it('answers OPTIONS 200 with Allow and Accept, as JsSIP does', async () => {
    const response = await ask('OPTIONS');
    expect(response).toMatchObject({ type: 'response', status: 200 });
    expect(response.headers.get('allow')).toBe('INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY');
    expect(response.headers.get('accept')).toBe('application/sdp, application/dtmf-relay');
  });

  it('answers 481 to a BYE, CANCEL or in-dialog request for nothing, 405 to unknown methods', async () => {
    expect(await ask('BYE')).toMatchObject({ status: 481 });
    expect(await ask('CANCEL')).toMatchObject({ status: 481 });
    expect(await ask('INFO', 'Content-Type: application/dtmf-relay', ';tag=nope')).toMatchObject({ status: 481 });
    expect(await ask('SUBSCRIBE', 'Event: presence')).toMatchObject({ status: 405 });
    expect(await ask('MESSAGE', 'Content-Type: text/plain')).toMatchObject({ status: 405 });
  });
});

describe('pure helpers', () => {
  it('rejects an SDP with a candidate off loopback and fills in the default destination', () => {
    const sdp = 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n';
    expect(() => assertLoopbackSdp(sdp)).not.toThrow();
    expect(() => assertLoopbackSdp(sdp.replace('127.0.0.1 40000', '192.0.2.2 40000'))).toThrow(/off loopback/);
    expect(withDefaultDestination(sdp)).toContain('m=audio 40000 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 127.0.0.1\r\n');
  });

  it('mangles offers for hold as JsSIP and recognises a hold offer', () => {
    const offer = 'v=0\r\nm=audio 1 RTP/AVP 0\r\na=sendrecv\r\n';
    expect(mangleOffer(offer, true, false)).toBe('v=0\r\nm=audio 1 RTP/AVP 0\r\na=sendonly\r\n');
    expect(mangleOffer(offer, true, true)).toContain('a=inactive');
    expect(mangleOffer(offer, false, true)).toContain('a=recvonly');
    expect(isHoldOffer(mangleOffer(offer, true, false))).toBe(true);
    expect(isHoldOffer(offer)).toBe(false);
  });

  it('round-trips payload markers and DTMF relay bodies', () => {
    const payload = encodeMarker({ stream: 7, frame: 42, sentAt: 1234.5 }, 160, 0xff);
    expect(payload).toHaveLength(160);
    expect(decodeMarker(payload)).toEqual({ stream: 7, frame: 42, sentAt: 1234.5 });
    expect(decodeMarker(Buffer.alloc(160, 0xff))).toBeUndefined();
    expect(parseDtmfRelay('Signal=#\r\nDuration=250')).toEqual({ tone: '#', duration: 250 });
  });
});
