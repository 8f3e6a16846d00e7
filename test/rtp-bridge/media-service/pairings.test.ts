import { describe, expect, it } from 'vitest';
import {
  browserAnswer,
  browserConnected,
  browserOffer,
  browserSend,
  countedPayload,
  isLoopback,
  parseRtp,
  perTest,
  rtpPacket,
  sdpPort,
  sleep,
  trunkSdp,
  waitFor,
} from './helpers.ts';

const { service, browser, trunk } = perTest();

describe('leg pairings other than browser ↔ trunk', () => {
  it('webrtc ↔ webrtc: two browsers hear each other, each through its own DTLS-SRTP leg', async () => {
    const media = await service(22300);
    const alice = await browser();
    const bob = await browser();
    const toBob = await media.offer('call-1', 'alice', await browserOffer(alice), { to: 'webrtc' });
    expect(toBob).toContain('a=ice-lite');
    const toAlice = await media.answer('call-1', 'alice', 'bob', await browserAnswer(bob, toBob));
    await alice.pc.setRemoteDescription({ type: 'answer', sdp: toAlice });
    await Promise.all([browserConnected(alice), browserConnected(bob)]);
    expect([...alice.pairs, ...bob.pairs].every((p) => isLoopback(p.local) && isLoopback(p.remote))).toBe(true);

    for (let n = 0; n < 25; n++) {
      browserSend(alice, n, countedPayload(n, 0xa));
      browserSend(bob, n, countedPayload(n, 0xb));
      await sleep(20);
    }
    await waitFor(() => alice.received.length === 25 && bob.received.length === 25, 5000);
    expect(bob.received.map((p) => p.payload.equals(countedPayload(bob.received.indexOf(p), 0xa)))).toEqual(Array(25).fill(true));
    expect(alice.received.map((p) => p.payload.equals(countedPayload(alice.received.indexOf(p), 0xb)))).toEqual(Array(25).fill(true));
    const legs = (await media.query('call-1'))!.legs;
    expect(legs.map((l) => [l.tag, l.kind, l.state, l.packetsIn, l.packetsOut])).toEqual([
      ['alice', 'webrtc', 'connected', 25, 25],
      ['bob', 'webrtc', 'connected', 25, 25],
    ]);
    expect(media.portsInUse).toBe(2);
  });

  it('plain ↔ plain: two trunks hear each other through the anchored ports', async () => {
    const media = await service(22320);
    const a = await trunk();
    const b = await trunk();
    const toB = await media.offer('call-1', 'a', trunkSdp({ port: a.port }), { to: 'plain' });
    const toA = await media.answer('call-1', 'a', 'b', trunkSdp({ port: b.port }));
    const gatewayForA = sdpPort(toA);
    const gatewayForB = sdpPort(toB);
    expect(gatewayForA).not.toBe(gatewayForB);
    expect(media.portsInUse).toBe(4);

    for (let n = 0; n < 10; n++) {
      a.send(rtpPacket({ seq: 1000 + n, ts: n * 160, ssrc: 0xaaaa, payload: countedPayload(n, 0xa) }), gatewayForA);
      b.send(rtpPacket({ seq: 50 + n, ts: n * 160, ssrc: 0xbbbb, payload: countedPayload(n, 0xb) }), gatewayForB);
      await sleep(20);
    }
    await waitFor(() => a.received.length === 10 && b.received.length === 10, 3000);
    const atB = b.received.map((r) => parseRtp(r.buf));
    const atA = a.received.map((r) => parseRtp(r.buf));
    expect(atB.map((p) => p.payload[4])).toEqual(Array(10).fill(0xa));
    expect(atA.map((p) => p.payload[4])).toEqual(Array(10).fill(0xb));
    // Each receiver sees the gateway's SSRC for its leg, not the far trunk's.
    expect(atB.every((p) => p.ssrc !== 0xaaaa)).toBe(true);
    expect(atA.every((p) => p.ssrc !== 0xbbbb)).toBe(true);
    // Sent from the gateway's port for that leg (symmetric RTP, RFC 4961).
    expect(new Set(b.received.map((r) => r.port))).toEqual(new Set([gatewayForB]));
    expect(new Set(a.received.map((r) => r.port))).toEqual(new Set([gatewayForA]));
  });
});
