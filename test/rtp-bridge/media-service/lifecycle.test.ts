import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { MediaService } from '../../../src/rtp-bridge/media-service.ts';
import { browserOffer, countedPayload, perTest, rtpPacket, sdpPort, sleep, trunkSdp, waitFor, type Trunk } from './helpers.ts';

const { service, browser, trunk } = perTest();

/** Trunk a calls trunk b through the gateway; returns the gateway ports each trunk sends to. */
async function plainCall(media: MediaService, a: Trunk, b: Trunk, direction = 'sendrecv'): Promise<{ forA: number; forB: number }> {
  const toB = await media.offer('call-1', 'a', trunkSdp({ port: a.port, direction }), { to: 'plain' });
  const answerDirection = direction === 'sendonly' ? 'recvonly' : 'sendrecv';
  const toA = await media.answer('call-1', 'a', 'b', trunkSdp({ port: b.port, direction: answerDirection }));
  return { forA: sdpPort(toA), forB: sdpPort(toB) };
}

describe('media timeout', () => {
  it('reports a call whose RTP stopped for the configured time, once', async () => {
    const media = await service(22400, { mediaTimeoutMs: 1000 });
    const a = await trunk();
    const b = await trunk();
    const timeouts: Array<[string, string]> = [];
    media.on('timeout', (...args) => timeouts.push(args));
    const { forA, forB } = await plainCall(media, a, b);
    let lastPacketAt = 0;
    for (let n = 0; n < 30; n++) {
      a.send(rtpPacket({ seq: n, ts: n * 160, ssrc: 1, payload: countedPayload(n) }), forA);
      b.send(rtpPacket({ seq: n, ts: n * 160, ssrc: 2, payload: countedPayload(n) }), forB);
      lastPacketAt = performance.now();
      await sleep(50); // 1.5 s of media: longer than the timeout, so only the silence after it can fire it
    }
    expect(timeouts).toEqual([]);
    await waitFor(() => timeouts.length > 0, 3000);
    expect(performance.now() - lastPacketAt).toBeGreaterThanOrEqual(950);
    expect(timeouts[0]![0]).toBe('call-1');
    expect(['a', 'b']).toContain(timeouts[0]![1]);
    await sleep(1200);
    expect(timeouts).toHaveLength(1);
  });

  it('never times out a call on hold', async () => {
    const media = await service(22420, { mediaTimeoutMs: 500 });
    const a = await trunk();
    const b = await trunk();
    const timeouts: unknown[] = [];
    media.on('timeout', (...args) => timeouts.push(args));
    await plainCall(media, a, b, 'sendonly');
    expect((await media.query('call-1'))!.legs.map((l) => l.direction)).toEqual(['recvonly', 'sendonly']);
    await sleep(1600);
    expect(timeouts).toEqual([]);
  });
});

describe('session lifecycle', () => {
  it('delete releases every port and forgets the call; deleting an unknown call is fine', async () => {
    const media = await service(22440);
    const b = await browser();
    const t = await trunk();
    await media.offer('call-1', 'browser', await browserOffer(b), { to: 'plain' });
    await media.answer('call-1', 'browser', 'trunk', trunkSdp({ port: t.port }));
    await media.offer('call-2', 'a', trunkSdp({ port: t.port }), { to: 'plain' });
    expect(media.portsInUse).toBe(1 + 2 + 2 + 2);
    expect((await media.list()).sort()).toEqual(['call-1', 'call-2']);
    expect(await media.statistics()).toMatchObject({ sessions: 2, legs: 4, portsInUse: 7 });

    await media.delete('call-1');
    expect(await media.list()).toEqual(['call-2']);
    expect(await media.query('call-1')).toBeUndefined();
    await media.delete('call-1');
    await media.delete('never-existed');
    await media.delete('call-2');
    expect(media.portsInUse).toBe(0);
    expect(await media.list()).toEqual([]);
    await expect(media.answer('call-1', 'browser', 'trunk', trunkSdp({ port: t.port }))).rejects.toMatchObject({ code: 'UNKNOWN_CALL' });
  });

  it('a failed first offer leaves nothing behind; a failed re-offer leaves the call as it was', async () => {
    const media = await service(22460);
    const a = await trunk();
    const b = await trunk();
    const g729Only = trunkSdp({ port: a.port, codecs: [{ pt: 18, rtpmap: 'G729/8000' }] });
    await expect(media.offer('call-1', 'a', g729Only, { to: 'plain' })).rejects.toMatchObject({ code: 'NO_COMMON_CODEC', status: 488 });
    await expect(media.offer('call-1', 'a', 'v=0\r\nnonsense', { to: 'plain' })).rejects.toMatchObject({ code: 'SDP_INVALID' });
    expect(media.portsInUse).toBe(0);
    expect(await media.list()).toEqual([]);

    const { forA, forB } = await plainCall(media, a, b);
    const before = await media.query('call-1');
    await expect(media.offer('call-1', 'a', g729Only, { to: 'plain' })).rejects.toMatchObject({ code: 'NO_COMMON_CODEC' });
    await expect(media.offer('call-1', 'stranger', trunkSdp({ port: a.port }), { to: 'plain' })).rejects.toMatchObject({ code: 'UNKNOWN_TAG' });
    expect(await media.query('call-1')).toMatchObject({ legs: before!.legs.map((l) => ({ tag: l.tag, local: l.local, direction: l.direction })) });

    // Media still flows, and the next good re-offer continues the o= version where the call left it.
    a.send(rtpPacket({ seq: 1, ts: 0, ssrc: 1, payload: countedPayload(1) }), forA);
    b.send(rtpPacket({ seq: 1, ts: 0, ssrc: 2, payload: countedPayload(1) }), forB);
    await waitFor(() => a.received.length === 1 && b.received.length === 1, 3000);
    const reoffer = await media.offer('call-1', 'a', trunkSdp({ port: a.port, direction: 'sendonly', version: 2 }), { to: 'plain' });
    expect(reoffer).toMatch(/^o=- \d+ 2 IN IP4 127\.0\.0\.1\r$/m);
    expect(sdpPort(reoffer)).toBe(forB);
  });

  it('answers only a pending offer, from one of its tags', async () => {
    const media = await service(22480);
    const a = await trunk();
    await media.offer('call-1', 'a', trunkSdp({ port: a.port }), { to: 'plain' });
    await expect(media.answer('call-1', 'x', 'y', trunkSdp({ port: a.port }))).rejects.toMatchObject({ code: 'UNKNOWN_TAG' });
    // rtpengine clients sometimes swap the tags in an answer; the pending offer still identifies the sides.
    const toA = await media.answer('call-1', 'b', 'a', trunkSdp({ port: a.port + 10 }));
    expect(sdpPort(toA)).toBeGreaterThan(0);
    expect((await media.query('call-1'))!.legs.map((l) => l.tag)).toEqual(['a', 'b']);
  });

  it('block media stops relaying what a side sends, and unblock resumes it', async () => {
    const media = await service(22500);
    const a = await trunk();
    const b = await trunk();
    const { forA } = await plainCall(media, a, b);
    await media.blockMedia('call-1', 'a', true);
    for (let n = 0; n < 3; n++) a.send(rtpPacket({ seq: n, ts: n * 160, ssrc: 1, payload: countedPayload(n) }), forA);
    await sleep(150);
    expect(b.received).toHaveLength(0);
    expect((await media.query('call-1'))!.legs[0]!.dropped).toBe(3);
    await media.blockMedia('call-1', undefined, false);
    a.send(rtpPacket({ seq: 3, ts: 480, ssrc: 1, payload: countedPayload(3) }), forA);
    await waitFor(() => b.received.length === 1, 3000);
  });

  it('close() ends every call and releases the pool', async () => {
    const media = await MediaService.create({ bindAddress: '127.0.0.1', portMin: 22520, portMax: 22539 });
    const a = await trunk();
    await media.offer('call-1', 'a', trunkSdp({ port: a.port }), { to: 'plain' });
    await media.close();
    expect(media.portsInUse).toBe(0);
    expect(await media.list()).toEqual([]);
    await expect(media.offer('call-2', 'a', trunkSdp({ port: a.port }), { to: 'plain' })).rejects.toMatchObject({ code: 'MEDIA_CLOSED', status: 503 });
  });

  it('applies codec-strip and the allow-list of an offer', async () => {
    const media = await service(22540);
    const a = await trunk();
    const codecs = [{ pt: 0, rtpmap: 'PCMU/8000' }, { pt: 8, rtpmap: 'PCMA/8000' }, { pt: 9, rtpmap: 'G722/8000' }];
    const stripped = await media.offer('call-1', 'a', trunkSdp({ port: a.port, codecs }), { to: 'plain', codecs: { strip: ['PCMU'] } });
    expect(/^m=audio \d+ RTP\/AVP (.*)\r$/m.exec(stripped)![1]).toBe('8 9');
    const allowed = await media.offer('call-2', 'a', trunkSdp({ port: a.port, codecs }), { to: 'plain', codecs: { allow: ['G722', 'PCMU'] } });
    expect(/^m=audio \d+ RTP\/AVP (.*)\r$/m.exec(allowed)![1]).toBe('0 9');
    await expect(media.offer('call-3', 'a', trunkSdp({ port: a.port, codecs }), { to: 'plain', codecs: { strip: ['all'] } })).rejects.toMatchObject({
      code: 'NO_COMMON_CODEC',
    });
    expect(await media.list()).toEqual(['call-1', 'call-2']);
  });
});

describe('delete during offer', () => {
  it('a delete() issued while the offer is still making its legs releases what the offer made', async () => {
    const offer = readFileSync(new URL('../../fixtures/sdp/sipp-uac-offer.sdp', import.meta.url), 'utf8').replace(/^#.*\n/gm, '');
    const media = await MediaService.create({ bindAddress: '127.0.0.1', portMin: 22600, portMax: 22699 });
    try {
      const pending = media.offer('race-1', 'a', offer, { to: 'plain' });
      const deleted = media.delete('race-1');
      await pending.catch(() => undefined);
      await deleted;
      expect(await media.list()).toEqual([]);
      expect(media.portsInUse).toBe(0);
    } finally {
      await media.close();
    }
  });
});
