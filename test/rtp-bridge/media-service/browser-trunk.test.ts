import { describe, expect, it } from 'vitest';
import type { MediaService } from '../../../src/rtp-bridge/media-service.ts';
import {
  browserCallsTrunk,
  browserConnected,
  browserOffer,
  browserSend,
  countedPayload,
  isLoopback,
  parseRtp,
  perTest,
  rtpPacket,
  sdpPort,
  sequenceRegressions,
  sleep,
  trunkSdp,
  waitFor,
  type Browser,
} from './helpers.ts';

const { service, browser, trunk } = perTest();

/** The browser calls the trunk, which answers with `answer(the gateway's port for it)`. */
async function call(media: MediaService, b: Browser, answer: (gatewayPort: number) => string): Promise<string> {
  return browserCallsTrunk(
    media,
    b,
    (toTrunk) => {
      expect(toTrunk).toMatch(/^m=audio \d+ RTP\/AVP /m);
      return answer(sdpPort(toTrunk));
    },
    { browser: 'browser-tag', trunk: 'trunk-tag', label: 'browser→trunk' },
  );
}

describe('browser (werift) ↔ media service ↔ plain trunk', () => {
  it('carries 10 s of 20 ms packets both ways through an echoing trunk: every payload back intact, no loss', async () => {
    const media = await service(22000);
    const b = await browser();
    const t = await trunk();
    t.echo = true;
    await call(media, b, () => trunkSdp({ port: t.port }));
    await browserConnected(b);
    expect(b.pairs.length).toBeGreaterThan(0);
    expect(b.pairs.every((p) => isLoopback(p.local) && isLoopback(p.remote))).toBe(true);

    const count = 500;
    const start = performance.now();
    for (let n = 0; n < count; n++) {
      const due = start + n * 20;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      browserSend(b, n, countedPayload(n));
    }
    await waitFor(() => b.received.length >= count, 3000).catch(() => {});

    // Browser → trunk: every packet, in order, payload unchanged, one SSRC and a continuous sequence.
    const atTrunk = t.received.map((r) => parseRtp(r.buf));
    expect(atTrunk).toHaveLength(count);
    expect(atTrunk.map((p) => p.payload.readUInt32BE(0))).toEqual([...Array(count).keys()]);
    atTrunk.forEach((p, n) => expect(p.payload.equals(countedPayload(n))).toBe(true));
    expect(new Set(atTrunk.map((p) => p.ssrc)).size).toBe(1);
    expect(sequenceRegressions(atTrunk.map((p) => p.seq))).toBe(0);
    expect(t.received.every((r) => r.address === '127.0.0.1')).toBe(true);

    // Trunk → browser: the echoes, all of them, unchanged, under the SSRC the gateway's answer signalled.
    expect(b.received).toHaveLength(count);
    expect(b.received.map((p) => p.payload.readUInt32BE(0))).toEqual([...Array(count).keys()]);
    b.received.forEach((p, n) => expect(p.payload.equals(countedPayload(n))).toBe(true));
    const signalled = Number(/a=ssrc:(\d+)/.exec(b.pc.remoteDescription!.sdp)![1]);
    expect(new Set(b.received.map((p) => p.header.ssrc))).toEqual(new Set([signalled]));

    const stats = await media.query('call-1');
    const [browserLeg, trunkLeg] = stats!.legs;
    expect(browserLeg).toMatchObject({ tag: 'browser-tag', kind: 'webrtc', state: 'connected', packetsIn: count, packetsOut: count, lost: 0, dropped: 0 });
    expect(trunkLeg).toMatchObject({ tag: 'trunk-tag', kind: 'plain', state: 'latched', packetsIn: count, packetsOut: count, lost: 0, dropped: 0 });
    expect(trunkLeg!.remote).toEqual({ address: '127.0.0.1', port: t.port });
    expect((await media.statistics()).packetsRelayed).toBe(2 * count);
  }, 30_000);

  it('fails the WebRTC leg on a DTLS fingerprint mismatch and delivers no media to the trunk', async () => {
    const media = await service(22020);
    const b = await browser();
    const t = await trunk();
    const failed: Array<[string, string, string]> = [];
    media.on('failed', (...args) => failed.push(args));
    const offer = (await browserOffer(b)).replace(/(a=fingerprint:sha-256 )([0-9A-F]{2})/, (_m, p: string, byte: string) => p + (byte === 'AA' ? 'BB' : 'AA'));
    const toTrunk = await media.offer('call-1', 'browser-tag', offer, { to: 'plain' });
    const toBrowser = await media.answer('call-1', 'browser-tag', 'trunk-tag', trunkSdp({ port: t.port }));
    expect(sdpPort(toTrunk)).toBeGreaterThan(0);
    await b.pc.setRemoteDescription({ type: 'answer', sdp: toBrowser });
    await waitFor(() => failed.length > 0, 10_000);
    expect(failed[0]![0]).toBe('call-1');
    expect(failed[0]![1]).toBe('browser-tag');
    expect(failed[0]![2]).toMatch(/^DTLS_FINGERPRINT_MISMATCH/);
    // Whatever the browser believes, nothing it sends can reach the trunk.
    for (let n = 0; n < 10; n++) {
      browserSend(b, n, countedPayload(n));
      await sleep(20);
    }
    await sleep(200);
    expect(t.received).toHaveLength(0);
    const stats = await media.query('call-1');
    expect(stats!.legs[0]).toMatchObject({ state: 'failed', packetsIn: 0 });
    expect(stats!.legs[1]).toMatchObject({ packetsOut: 0 });
  });

  it('latches on the trunk source its RTP really comes from and drops a second source after that', async () => {
    const media = await service(22040);
    const b = await browser();
    const t = await trunk();
    // The trunk's SDP names an address behind its NAT; nothing may ever be sent there.
    await call(media, b, () => trunkSdp({ address: '10.0.0.1', port: 4000 }));
    await browserConnected(b);
    await sleep(300);
    let [, trunkLeg] = (await media.query('call-1'))!.legs;
    expect(trunkLeg).toMatchObject({ state: 'learning', packetsOut: 0, remote: { address: '10.0.0.1', port: 4000 } });

    const gatewayPort = trunkLeg!.local.port;
    for (let n = 0; n < 5; n++) {
      t.send(rtpPacket({ seq: 100 + n, ts: n * 160, ssrc: 0x7777, payload: countedPayload(n, 1) }), gatewayPort);
      await sleep(20);
    }
    await waitFor(() => b.received.length === 5, 3000);
    [, trunkLeg] = (await media.query('call-1'))!.legs;
    expect(trunkLeg).toMatchObject({ state: 'latched', packetsOut: 0, remote: { address: '127.0.0.1', port: t.port } });

    for (let n = 0; n < 5; n++) {
      browserSend(b, n, countedPayload(n, 2));
      await sleep(20);
    }
    await waitFor(() => t.received.length === 5, 3000);
    expect(t.received.map((r) => parseRtp(r.buf).payload[4])).toEqual([2, 2, 2, 2, 2]);

    // A stranger who found the port: dropped, counted, never relayed.
    const stranger = await trunk();
    for (let n = 0; n < 7; n++) stranger.send(rtpPacket({ seq: 500 + n, ts: n * 160, ssrc: 0x6666, payload: countedPayload(n, 3) }), gatewayPort);
    await sleep(200);
    expect(b.received.map((p) => p.payload[4])).toEqual([1, 1, 1, 1, 1]);
    [, trunkLeg] = (await media.query('call-1'))!.legs;
    expect(trunkLeg).toMatchObject({ state: 'latched', packetsIn: 5, dropped: 7, remote: { address: '127.0.0.1', port: t.port } });
  });
});
