/**
 * Late offer at the media API (RFC 3261 §13.2.1 as the B2BUA drives it): the offerless trunk is stood for by a
 * placeholder offer, the browser answers, our answer to the placeholder is the offer in the trunk's 200, and the
 * trunk's answer (from its ACK) goes in with `subscribeAnswer`. That answer must move the trunk's leg only, and no
 * leg's o= state: the next SDP each peer gets carries the version after the one it last saw (RFC 3264 §8).
 */
import { describe, expect, it } from 'vitest';
import type { MediaService } from '../../../src/rtp-bridge/media-service.ts';
import { NgServer } from '../../../src/ng/ng-server.ts';
import { RemoteMediaNode } from '../../../src/rtp-bridge/remote-media.ts';
import { DEFAULT_TRUNK_CODECS, placeholderOffer } from '../../../src/sip-bridge/late-offer.ts';
import {
  browserAnswer,
  browserConnected,
  browserOffer,
  browserSend,
  countedPayload,
  parseRtp,
  perTest,
  PCMU,
  rtpPacket,
  sdpPort,
  sleep,
  trunkSdp,
  waitFor,
  type Browser,
  type BrowserCodec,
  type Trunk,
} from './helpers.ts';

const { service, browser, trunk, defer } = perTest();

const PCMA: BrowserCodec = { mimeType: 'audio/PCMA', clockRate: 8000, payloadType: 8 };

/** "<session id> <version>" of an SDP's o= line. */
function origin(sdp: string): { id: string; version: number } {
  const m = /^o=\S+ (\d+) (\d+) /m.exec(sdp);
  if (m === null) throw new Error('no o= line');
  return { id: m[1]!, version: Number(m[2]) };
}

const direction = (sdp: string): string | undefined => /^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m.exec(sdp)?.[1];

/** Up to the trunk's ACK: placeholder → browser offer; browser answer → our offer to the trunk (its 200). */
async function lateOfferCall(media: MediaService, b: Browser): Promise<{ toBrowser: string; toTrunk: string }> {
  const toBrowser = await media.offer('call-1', 'trunk', placeholderOffer('127.0.0.1', DEFAULT_TRUNK_CODECS), { to: 'webrtc' });
  const toTrunk = await media.answer('call-1', 'trunk', 'browser', await browserAnswer(b, toBrowser));
  await media.blockMedia('call-1', 'browser', true);
  return { toBrowser, toTrunk };
}

function trunkLeg(media: MediaService) {
  return media.query('call-1').then((s) => s!.legs.find((l) => l.kind === 'plain')!);
}

describe('late offer: the answer in the trunk’s ACK (subscribeAnswer)', () => {
  it('moves the trunk’s leg to the answer, relays both ways, and the next SDP to each peer is exactly one version on', async () => {
    const media = await service(22700);
    const b = await browser([PCMU, PCMA]);
    const t = await trunk();
    const { toBrowser, toTrunk } = await lateOfferCall(media, b);
    expect(toTrunk).toMatch(/^m=audio \d+ RTP\/AVP 0 8\r$/m);

    // The trunk keeps PCMU (a subset: the browser sends its first codec, PCMU, so the relay just works).
    await expect(media.subscribeAnswer('call-1', 'trunk', trunkSdp({ port: t.port, version: 1 }))).resolves.toBeUndefined();
    await media.blockMedia('call-1', 'browser', false);
    expect((await trunkLeg(media)).remote).toEqual({ address: '127.0.0.1', port: t.port });

    await browserConnected(b);
    let seq = 0;
    const sending = setInterval(() => browserSend(b, seq, countedPayload(seq++)), 20);
    try {
      await waitFor(() => t.received.length >= 10, 5000);
    } finally {
      clearInterval(sending);
    }
    expect(t.received.every((r) => parseRtp(r.buf).pt === 0)).toBe(true);
    for (let n = 0; n < 10; n++) t.send(rtpPacket({ seq: 100 + n, ts: n * 160, ssrc: 0x1234, payload: countedPayload(n, 9) }), sdpPort(toTrunk));
    await waitFor(() => b.received.some((p) => p.payload[4] === 9), 5000);

    // The trunk re-offers (hold): the browser's re-INVITE is the version after the offer it saw, and so is our 200.
    const toBrowser2 = await media.offer('call-1', 'trunk', trunkSdp({ port: t.port, direction: 'sendonly', version: 2 }), { to: 'webrtc' });
    expect(origin(toBrowser2)).toEqual({ id: origin(toBrowser).id, version: origin(toBrowser).version + 1 });
    const toTrunk2 = await media.answer('call-1', 'trunk', 'browser', await browserAnswer(b, toBrowser2));
    expect(origin(toTrunk2)).toEqual({ id: origin(toTrunk).id, version: origin(toTrunk).version + 1 });
    expect(direction(toTrunk2)).toBe('recvonly');

    // The browser re-offers: same rule on both legs.
    const toTrunk3 = await media.offer('call-1', 'browser', await browserOffer(b), { to: 'plain' });
    expect(origin(toTrunk3).version).toBe(origin(toTrunk2).version + 1);
    const toBrowser3 = await media.answer('call-1', 'browser', 'trunk', trunkSdp({ port: t.port, version: 3 }));
    expect(origin(toBrowser3).version).toBe(origin(toBrowser2).version + 1);
    await b.pc.setRemoteDescription({ type: 'answer', sdp: toBrowser3 });
  }, 20_000);

  it('an answer that drops the codec the browser sends, or keeps none of ours, is refused and changes nothing', async () => {
    const media = await service(22720);
    const b = await browser([PCMU, PCMA]);
    const t = await trunk();
    const { toBrowser } = await lateOfferCall(media, b);
    const { remote, direction: held } = await trunkLeg(media);
    expect(remote).toEqual({ address: '127.0.0.1', port: 9 }); // the placeholder's

    // The browser sends PCMU (the first codec of its answer); a trunk that only takes PCMA would never hear it.
    const pcmaOnly = trunkSdp({ port: t.port, codecs: [{ pt: 8, rtpmap: 'PCMA/8000' }] });
    await expect(media.subscribeAnswer('call-1', 'trunk', pcmaOnly)).rejects.toMatchObject({ code: 'NO_COMMON_CODEC', status: 488 });
    const g729 = trunkSdp({ port: t.port, codecs: [{ pt: 18, rtpmap: 'G729/8000' }] });
    await expect(media.subscribeAnswer('call-1', 'trunk', g729)).rejects.toMatchObject({ code: 'NO_COMMON_CODEC', status: 488 });
    expect(await trunkLeg(media)).toMatchObject({ remote, direction: held });

    // Nothing moved: a later offer to the browser is still the version after the first.
    const next = await media.offer('call-1', 'trunk', trunkSdp({ port: t.port, version: 2 }), { to: 'webrtc' });
    expect(origin(next).version).toBe(origin(toBrowser).version + 1);
  }, 20_000);

  it('plain ↔ plain: the relay renumbers to the numbers the answer expects (RFC 3264 §5.1) and sends to its address', async () => {
    const media = await service(22740);
    const a: Trunk = await trunk();
    const bTrunk: Trunk = await trunk();
    const toB = await media.offer('call-1', 'a', placeholderOffer('127.0.0.1', ['PCMA', 'telephone-event']), { to: 'plain' });
    const bAnswer = trunkSdp({ port: bTrunk.port, codecs: [{ pt: 8, rtpmap: 'PCMA/8000' }, { pt: 101, rtpmap: 'telephone-event/8000' }] });
    const toA = await media.answer('call-1', 'a', 'b', bAnswer);
    expect(toA).toMatch(/^m=audio \d+ RTP\/AVP 8 101\r$/m);
    // A's answer keeps both, but expects RFC 4733 events on 100.
    const aAnswer = trunkSdp({ port: a.port, codecs: [{ pt: 8, rtpmap: 'PCMA/8000' }, { pt: 100, rtpmap: 'telephone-event/8000' }] });
    await media.subscribeAnswer('call-1', 'a', aAnswer);

    bTrunk.send(rtpPacket({ seq: 1, ts: 0, ssrc: 0xb, pt: 8, payload: countedPayload(1) }), sdpPort(toB));
    bTrunk.send(rtpPacket({ seq: 2, ts: 160, ssrc: 0xb, pt: 101, payload: Buffer.from([1, 0x0a, 0, 160]) }), sdpPort(toB));
    await waitFor(() => a.received.length >= 2, 3000);
    expect(a.received.map((r) => parseRtp(r.buf).pt)).toEqual([8, 100]);
    a.send(rtpPacket({ seq: 1, ts: 0, ssrc: 0xa, pt: 8, payload: countedPayload(1) }), sdpPort(toA));
    a.send(rtpPacket({ seq: 2, ts: 160, ssrc: 0xa, pt: 0, payload: countedPayload(2) }), sdpPort(toA)); // not negotiated
    await waitFor(() => bTrunk.received.length >= 1, 3000);
    await sleep(100);
    expect(bTrunk.received.map((r) => parseRtp(r.buf).pt)).toEqual([8]);
  }, 20_000);

  it('over ng: the media node takes `subscribe answer` (to-tag, sdp) and replies without SDP', async () => {
    const media = await service(22760);
    const server = await NgServer.listen({ media, udp: [{ host: '127.0.0.1', port: 0 }] });
    defer(() => server.close());
    const remote = await RemoteMediaNode.connect({ ng: `udp:127.0.0.1:${server.addresses.udp[0]!.port}`, reconcileEveryMs: 0 });
    defer(() => remote.close());
    const a = await trunk();
    const bTrunk = await trunk();
    const toB = await remote.offer('call-1', 'a', placeholderOffer('127.0.0.1', ['PCMU']), { to: 'plain' });
    const toA = await remote.answer('call-1', 'a', 'b', trunkSdp({ port: bTrunk.port }));
    await expect(remote.subscribeAnswer('call-1', 'a', trunkSdp({ port: a.port }))).resolves.toBeUndefined();
    await expect(remote.subscribeAnswer('call-1', 'a', trunkSdp({ port: a.port, codecs: [{ pt: 18, rtpmap: 'G729/8000' }] }))).rejects.toMatchObject({ status: 488 });
    bTrunk.send(rtpPacket({ seq: 1, ts: 0, ssrc: 0xb, payload: countedPayload(1) }), sdpPort(toB));
    await waitFor(() => a.received.length >= 1, 3000);
    expect(sdpPort(toA)).toBeGreaterThan(0);
  }, 20_000);
});
