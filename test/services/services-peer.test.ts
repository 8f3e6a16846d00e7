/**
 * The services peer end to end on loopback: a SIP caller over real UDP and RTP sockets, nothing mocked.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { RtpHeader, RtpPacket } from 'werift-rtp';
import { ServicesPeer, type ServicesPeerOptions } from '../../src/services/services-peer.ts';
import { decodeG711 } from '../../src/services/g711.ts';
import { SipCaller, RtpSocket, offerSdp, answerMedia, type Dialog } from './sip-caller.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

let nextRange = 40000;
async function startPeer(options: ServicesPeerOptions = {}): Promise<ServicesPeer> {
  // Each peer gets its own slice of the services range, so tests never meet each other's late packets.
  const min = nextRange;
  nextRange += 20;
  const peer = new ServicesPeer({ port: 0, portPool: { min, max: min + 19 }, timers: { T1: 100, T2: 400, T4: 500 }, ...options });
  await peer.start();
  cleanup.push(() => peer.close());
  return peer;
}

async function caller(peer: ServicesPeer): Promise<SipCaller> {
  const c = await SipCaller.open(peer.port);
  cleanup.push(() => c.close());
  return c;
}

async function rtpSocket(): Promise<RtpSocket> {
  const s = await RtpSocket.open();
  cleanup.push(() => s.close());
  return s;
}

function rtp(seq: number, ts: number, pt: number, payload: Buffer, marker = false, ssrc = 0x11223344): Buffer {
  return new RtpPacket(new RtpHeader({ payloadType: pt, sequenceNumber: seq, timestamp: ts, ssrc, marker }), payload).serialize();
}

/** INVITE → 200 → ACK; returns the dialog and the peer's media port. */
async function establish(c: SipCaller, user: string, sdp: string): Promise<{ dialog: Dialog; port: number; answer: string }> {
  const dialog = c.invite(user, sdp);
  const ok = await c.final(dialog);
  expect(ok.status).toBe(200);
  c.ack(dialog);
  const answer = ok.body.toString();
  return { dialog, port: answerMedia(answer).port, answer };
}

async function hangUp(c: SipCaller, dialog: Dialog): Promise<void> {
  c.inDialog(dialog, 'BYE');
  expect((await c.response(dialog, 'BYE')).status).toBe(200);
}

/** Goertzel power of `f` in `samples` at 8 kHz. */
function goertzel(samples: Int16Array, f: number): number {
  const k = 2 * Math.cos((2 * Math.PI * f) / 8000);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - k * s1 * s2;
}

describe('echo', () => {
  it('answers an RTP/AVP offer with PCMU, telephone-event at the offered PT, ptime 20 and its own o=/c=', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const dialog = c.invite('echo', offerSdp({ port: 50000, codecs: '0 8 101' }));
    const ok = await c.final(dialog);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('contact')).toMatch(new RegExp(`^<sip:echo@127\\.0\\.0\\.1:${peer.port}>$`));
    expect(ok.headers.get('content-type')).toBe('application/sdp');
    const sdp = ok.body.toString();
    expect(sdp).toMatch(/^o=- \d+ 1 IN IP4 127\.0\.0\.1$/m);
    expect(sdp).toMatch(/^c=IN IP4 127\.0\.0\.1$/m);
    expect(answerMedia(sdp).formats).toEqual(['0', '101']);
    expect(sdp).toContain('a=rtpmap:0 PCMU/8000');
    expect(sdp).toContain('a=rtpmap:101 telephone-event/8000');
    expect(sdp).toContain('a=ptime:20');
    expect(answerMedia(sdp).direction).toBe('sendrecv');
    expect(dialog.toTag).toBeTruthy();
    c.ack(dialog);
    await hangUp(c, dialog);
  });

  it('returns 50 packets with the same payloads and PT, in order, to the source it latched on, then BYE releases the ports', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const media = await rtpSocket();
    const started: string[] = [];
    peer.on('call-started', (info) => started.push(info.callId));
    // The SDP names a port nobody listens on: the echo must go where the packets come from (symmetric RTP).
    const { dialog, port } = await establish(c, 'echo', offerSdp({ port: 50002, codecs: '8 0 101' }));
    expect(started).toEqual([dialog.callId]);
    expect(peer.calls).toBe(1);
    expect(peer.mediaPortsInUse).toBe(2);
    expect(peer.call(dialog.callId)?.codec).toBe('PCMA');

    const sent: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const payload = Buffer.alloc(160, i);
      payload.writeUInt32BE((0xdeadbeef ^ i) >>> 0, 0);
      sent.push(payload);
      await media.send(rtp(1000 + i, 5000 + i * 160, 8, payload, i === 0), port);
    }
    await media.waitFor(50);
    const back = media.packets.map((p) => RtpPacket.deSerialize(p.data));
    expect(back.map((p) => p.payload)).toEqual(sent);
    expect(back.every((p) => p.header.payloadType === 8)).toBe(true);
    expect(back[0]!.header.marker).toBe(true);
    // Its own SSRC, and its own sequence/timestamp spaces advancing exactly as the caller's did.
    const ssrcs = new Set(back.map((p) => p.header.ssrc));
    expect(ssrcs.size).toBe(1);
    expect([...ssrcs][0]).not.toBe(0x11223344);
    for (let i = 1; i < 50; i++) {
      expect((back[i]!.header.sequenceNumber - back[i - 1]!.header.sequenceNumber) & 0xffff).toBe(1);
      expect((back[i]!.header.timestamp - back[i - 1]!.header.timestamp) >>> 0).toBe(160);
    }
    expect(media.packets.every((p) => p.port === port)).toBe(true);

    const ended: string[] = [];
    peer.on('call-ended', (id, reason) => ended.push(`${id}:${reason}`));
    await hangUp(c, dialog);
    expect(ended).toEqual([`${dialog.callId}:bye`]);
    expect(peer.calls).toBe(0);
    expect(peer.mediaPortsInUse).toBe(0);
  });

  it('echoes RFC 4733 events too and reports the digit once', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const media = await rtpSocket();
    const digits: string[] = [];
    peer.on('dtmf', (id, digit) => digits.push(`${id}:${digit}`));
    const { dialog, port } = await establish(c, 'echo', offerSdp({ port: 50004 }));
    const event = (end: boolean, duration: number) => Buffer.from([9, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff]);
    const packets = [event(false, 160), event(false, 320), event(false, 480), event(true, 640), event(true, 640), event(true, 640)];
    for (const [i, payload] of packets.entries()) await media.send(rtp(10 + i, 8000, 101, payload, i === 0), port);
    await media.waitFor(6);
    expect(media.packets.map((p) => RtpPacket.deSerialize(p.data).header.payloadType)).toEqual(Array(6).fill(101));
    expect(media.packets.map((p) => RtpPacket.deSerialize(p.data).payload)).toEqual(packets);
    expect(digits).toEqual([`${dialog.callId}:9`]);
    await hangUp(c, dialog);
  });
});

describe('tone', () => {
  it('sends ≥ 40 packets a second: +1 seq, +160 timestamps, marker first, a 440 Hz μ-law tone', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const media = await rtpSocket();
    const { dialog } = await establish(c, 'tone', offerSdp({ port: media.port, codecs: '0 101' }));
    await new Promise((r) => setTimeout(r, 1000));
    const packets = media.packets.map((p) => ({ ...p, rtp: RtpPacket.deSerialize(p.data) }));
    expect(packets.length).toBeGreaterThanOrEqual(40);
    expect(packets[0]!.rtp.header.marker).toBe(true);
    expect(packets.slice(1).some((p) => p.rtp.header.marker)).toBe(false);
    for (let i = 1; i < packets.length; i++) {
      const [a, b] = [packets[i - 1]!.rtp.header, packets[i]!.rtp.header];
      expect((b.sequenceNumber - a.sequenceNumber) & 0xffff).toBe(1);
      expect((b.timestamp - a.timestamp) >>> 0).toBe(160);
      expect(b.payloadType).toBe(0);
      expect(packets[i]!.rtp.payload.length).toBe(160);
    }
    // Jitter: lateness of each arrival against the 20 ms grid anchored at the earliest one (a drifting sender
    // would show a lateness growing with i).
    const offset = Math.min(...packets.map((p, i) => p.at - i * 20));
    const lateness = packets.map((p, i) => p.at - i * 20 - offset);
    const maxLateness = Math.max(...lateness);
    const mean = lateness.reduce((a, b) => a + b, 0) / lateness.length;
    console.log(`tone: ${packets.length} packets in 1 s, lateness against the 20 ms grid: max ${maxLateness.toFixed(2)} ms, mean ${mean.toFixed(2)} ms`);
    expect(maxLateness).toBeLessThan(40);

    const audio = decodeG711('PCMU', Buffer.concat(packets.slice(0, 40).map((p) => p.rtp.payload)));
    const power = (f: number) => goertzel(audio, f);
    const tone = power(440);
    for (const other of [350, 400, 480, 550, 1000]) expect(tone).toBeGreaterThan(100 * power(other));
    await hangUp(c, dialog);
    expect(peer.mediaPortsInUse).toBe(0);
  });

  it('encodes A-law when PCMA comes first in the offer', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const media = await rtpSocket();
    const { dialog, answer } = await establish(c, 'tone', offerSdp({ port: media.port, codecs: '8 0' }));
    expect(answerMedia(answer).formats).toEqual(['8']);
    await media.waitFor(10);
    const payloads = media.packets.slice(0, 10).map((p) => RtpPacket.deSerialize(p.data));
    expect(payloads.every((p) => p.header.payloadType === 8)).toBe(true);
    const audio = decodeG711('PCMA', Buffer.concat(payloads.map((p) => p.payload)));
    expect(goertzel(audio, 440)).toBeGreaterThan(100 * goertzel(audio, 600));
    await hangUp(c, dialog);
  });

  it('reports an RFC 4733 digit 5 (start, continuation, 3× end) exactly once', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const media = await rtpSocket();
    const digits: string[] = [];
    peer.on('dtmf', (_id, digit) => digits.push(digit));
    const { dialog, port } = await establish(c, 'tone', offerSdp({ port: media.port }));
    const ev = (end: boolean, duration: number) => Buffer.from([5, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff]);
    const sequence = [ev(false, 0), ev(false, 160), ev(false, 320), ev(true, 480), ev(true, 480), ev(true, 480)];
    for (const [i, payload] of sequence.entries()) await media.send(rtp(200 + i, 16000, 101, payload, i === 0), port);
    await new Promise((r) => setTimeout(r, 200));
    expect(digits).toEqual(['5']);
    expect(peer.counters.dtmf).toBe(1);
    await hangUp(c, dialog);
  });

  it('stops sending on hold (re-INVITE sendonly → recvonly) and resumes with a marker, same port and SSRC', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const media = await rtpSocket();
    const { dialog, port, answer } = await establish(c, 'tone', offerSdp({ port: media.port, codecs: '0' }));
    await media.waitFor(5);
    const ssrc = RtpPacket.deSerialize(media.packets[0]!.data).header.ssrc;

    c.inDialog(dialog, 'INVITE', offerSdp({ port: media.port, codecs: '0', direction: 'sendonly' }));
    const held = await c.response(dialog, 'INVITE', 200);
    c.ack(dialog);
    const heldSdp = held.body.toString();
    expect(answerMedia(heldSdp).direction).toBe('recvonly');
    expect(answerMedia(heldSdp).port).toBe(port);
    // Same session id, version + 1 (the SDP changed).
    const origin = (s: string) => /^o=- (\d+) (\d+) /m.exec(s)!.slice(1).map(Number);
    expect(origin(heldSdp)[0]).toBe(origin(answer)[0]);
    expect(origin(heldSdp)[1]).toBe(origin(answer)[1]! + 1);
    await new Promise((r) => setTimeout(r, 60));
    const countOnHold = media.packets.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(media.packets.length).toBe(countOnHold);
    expect(peer.call(dialog.callId)?.direction).toBe('recvonly');

    c.inDialog(dialog, 'INVITE', offerSdp({ port: media.port, codecs: '0' }));
    const resumed = await c.response(dialog, 'INVITE', 200);
    c.ack(dialog);
    expect(answerMedia(resumed.body.toString()).direction).toBe('sendrecv');
    await media.waitFor(countOnHold + 3);
    const first = RtpPacket.deSerialize(media.packets[countOnHold]!.data).header;
    const last = RtpPacket.deSerialize(media.packets[countOnHold - 1]!.data).header;
    expect(first.ssrc).toBe(ssrc);
    expect(first.marker).toBe(true);
    expect((first.sequenceNumber - last.sequenceNumber) & 0xffff).toBe(1);
    // The timestamps kept running with the clock during the hold (≥ 200 ms = 1600 units).
    expect((first.timestamp - last.timestamp) >>> 0).toBeGreaterThan(1600);
    await hangUp(c, dialog);
  });
});

describe('SIP behaviour', () => {
  it('refuses an unknown user with 404, no SDP or no usable codec with 488, a non-SDP body with 415', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const unknown = c.invite('nobody', offerSdp({ port: 50010 }));
    const notFound = await c.final(unknown);
    expect(notFound.status).toBe(404);
    c.ackFailure(unknown, notFound);

    const noSdp = c.invite('echo', undefined);
    const r1 = await c.final(noSdp);
    expect(r1.status).toBe(488);
    expect(r1.headers.get('warning')).toMatch(/^399 /);

    const opus = c.invite('tone', offerSdp({ port: 50012, codecs: '111' }).replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:111 opus/48000/2'));
    const r2 = await c.final(opus);
    expect(r2.status).toBe(488);
    expect(r2.headers.get('warning')).toMatch(/^305 .*opus/);

    const bad = c.invite('echo', 'v=0\r\nthis is not sdp\r\n');
    expect((await c.final(bad)).status).toBe(488);

    const video = c.invite('echo', 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 50014 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n');
    expect((await c.final(video)).status).toBe(488);

    const text = c.invite('echo', 'hello', [['Content-Type', 'text/plain']]);
    const r3 = await c.final(text);
    expect(r3.status).toBe(415);
    expect(r3.headers.get('accept')).toBe('application/sdp');

    expect(peer.calls).toBe(0);
    expect(peer.mediaPortsInUse).toBe(0);
    expect(peer.counters.rejected).toMatchObject({ 404: 1, 488: 4, 415: 1 });
  });

  it('retransmits the 200 until the ACK arrives', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const dialog = c.invite('echo', offerSdp({ port: 50020 }));
    await c.final(dialog);
    // T1 = 100 ms here: retransmissions at 100, 300, 700 ms …
    const again = await c.response(dialog, 'INVITE', 200, 1000);
    expect(again.body.toString()).toContain('m=audio');
    c.ack(dialog);
    await new Promise((r) => setTimeout(r, 50));
    c.inbox.items.length = 0;
    await new Promise((r) => setTimeout(r, 600));
    expect(c.inbox.items.filter((m) => m.type === 'response' && m.status === 200)).toHaveLength(0);
    expect(peer.call(dialog.callId)?.state).toBe('confirmed');
    await hangUp(c, dialog);
  });

  it('rings for ringMs, and a CANCEL meanwhile gets 200 and the INVITE 487', async () => {
    const peer = await startPeer({ ringMs: 500 });
    const c = await caller(peer);
    const dialog = c.invite('tone', offerSdp({ port: 50030 }));
    const ringing = await c.response(dialog, 'INVITE', 180);
    expect(ringing.headers.get('contact')).toContain('sip:tone@');
    expect(peer.calls).toBe(1);
    c.cancel(dialog);
    expect((await c.response(dialog, 'CANCEL')).status).toBe(200);
    const final = await c.final(dialog);
    expect(final.status).toBe(487);
    expect(final.headers.get('to')).toBe(ringing.headers.get('to'));
    expect(peer.calls).toBe(0);
    expect(peer.mediaPortsInUse).toBe(0);
  });

  it('rings then answers when nobody cancels', async () => {
    const peer = await startPeer({ ringMs: 200 });
    const c = await caller(peer);
    const dialog = c.invite('echo', offerSdp({ port: 50032 }));
    const started = performance.now();
    await c.response(dialog, 'INVITE', 180);
    const ok = await c.final(dialog);
    expect(ok.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(180);
    c.ack(dialog);
    await hangUp(c, dialog);
  });

  it('answers OPTIONS in and out of a dialog, 481 for an unknown dialog, 500 for an out-of-order CSeq', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const { dialog } = await establish(c, 'echo', offerSdp({ port: 50040 }));
    c.inDialog(dialog, 'OPTIONS');
    const inDialog = await c.response(dialog, 'OPTIONS');
    expect(inDialog.status).toBe(200);
    expect(inDialog.headers.get('allow')).toContain('INVITE');

    const stale = { ...dialog, toTag: 'no-such-tag' };
    c.inDialog(stale, 'BYE');
    expect((await c.response(stale, 'BYE')).status).toBe(481);

    const old = { ...dialog, cseq: 0 };
    c.inDialog(old, 'OPTIONS'); // CSeq 1 < the 2 already seen
    expect((await c.response(old, 'OPTIONS')).status).toBe(500);

    const probe = c.options('anyone');
    const outside = await c.response(probe, 'OPTIONS');
    expect(outside.status).toBe(200);
    expect(outside.headers.get('accept')).toBe('application/sdp');
    await hangUp(c, dialog);
  });

  it('answers a re-INVITE without SDP with an offer and takes the answer from the ACK', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const media = await rtpSocket();
    const { dialog, port } = await establish(c, 'echo', offerSdp({ port: 50050 }));
    c.inDialog(dialog, 'INVITE');
    const ok = await c.response(dialog, 'INVITE', 200);
    const offer = ok.body.toString();
    expect(answerMedia(offer).direction).toBe('sendrecv');
    expect(answerMedia(offer).port).toBe(port);
    c.ack(dialog, dialog.cseq, offerSdp({ port: media.port, codecs: '0 101' }));
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.call(dialog.callId)?.state).toBe('confirmed');
    await hangUp(c, dialog);
  });

  it('refuses calls over maxCalls with 486', async () => {
    const peer = await startPeer({ maxCalls: 1 });
    const c = await caller(peer);
    const { dialog } = await establish(c, 'echo', offerSdp({ port: 50060 }));
    const second = c.invite('echo', offerSdp({ port: 50062 }));
    expect((await c.final(second)).status).toBe(486);
    await hangUp(c, dialog);
  });

  it('ends a silent call with BYE after the media timeout', async () => {
    const peer = await startPeer({ mediaTimeoutMs: 600 });
    const c = await caller(peer);
    const ended: string[] = [];
    peer.on('call-ended', (_id, reason) => ended.push(reason));
    const { dialog } = await establish(c, 'tone', offerSdp({ port: 50070 }));
    const bye = await c.request(dialog, 'BYE', 3000);
    expect(bye.uri).toBe(`sip:tester@127.0.0.1:${c.port}`);
    expect(bye.headers.get('to')).toContain(`tag=${dialog.fromTag}`);
    expect(bye.headers.get('from')).toContain(`tag=${dialog.toTag}`);
    c.ok(bye);
    expect(ended).toEqual(['media-timeout']);
    expect(peer.mediaPortsInUse).toBe(0);
    expect(peer.counters.mediaTimeouts).toBe(1);
  });

  it('ends a call whose 200 is never acknowledged with BYE after 64*T1 (§13.3.1.4)', async () => {
    const peer = await startPeer({ timers: { T1: 20, T2: 80, T4: 100 } });
    const c = await caller(peer);
    const ended: string[] = [];
    peer.on('call-ended', (_id, reason) => ended.push(reason));
    const dialog = c.invite('echo', offerSdp({ port: 50075 }));
    await c.final(dialog);
    const bye = await c.request(dialog, 'BYE', 3000);
    c.ok(bye);
    expect(ended).toEqual(['no-ack']);
    expect(c.inbox.items.filter((m) => m.type === 'response' && m.status === 200).length).toBeGreaterThanOrEqual(5);
    expect(peer.mediaPortsInUse).toBe(0);
  });

  it('close() answers a ringing INVITE 503 and frees its ports', async () => {
    const peer = await startPeer({ ringMs: 5000 });
    const c = await caller(peer);
    const dialog = c.invite('tone', offerSdp({ port: 50077 }));
    await c.response(dialog, 'INVITE', 180);
    const closed = peer.close();
    const final = await c.final(dialog);
    expect(final.status).toBe(503);
    c.ackFailure(dialog, final); // lets close() finish without waiting out closeTimeoutMs
    await closed;
    expect(peer.mediaPortsInUse).toBe(0);
  });

  it('close() ends established calls with BYE, releases every port, and is idempotent', async () => {
    const peer = await startPeer();
    const c = await caller(peer);
    const { dialog } = await establish(c, 'echo', offerSdp({ port: 50080 }));
    const byeSeen = c.request(dialog, 'BYE').then((bye) => c.ok(bye));
    await Promise.all([peer.close(), peer.close(), byeSeen]);
    expect(peer.calls).toBe(0);
    expect(peer.mediaPortsInUse).toBe(0);
    expect(peer.transactions.timers).toBe(0);
  });
});
