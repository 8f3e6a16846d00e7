import { describe, expect, it } from 'vitest';
import type { MediaService } from '../../../src/rtp-bridge/media-service.ts';
import {
  browserAnswer,
  browserCallsTrunk,
  browserConnected,
  browserOffer,
  browserSend,
  countedPayload,
  parseRtp,
  perTest,
  rtpPacket,
  sdpPort,
  sequenceRegressions,
  sleep,
  type Trunk,
  trunkSdp,
  waitFor,
  type Browser,
} from './helpers.ts';

const { service, browser, trunk, defer } = perTest();

/** A trunk that plays its own 20 ms stream while `on`, with a given SSRC and sequence. */
class TrunkSender {
  on = true;
  ssrc = 0x11110000;
  seq = 1000;
  ts = 50_000;
  sent = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(trunk: Trunk, port: () => number) {
    this.#timer = setInterval(() => {
      if (!this.on) return;
      trunk.send(rtpPacket({ seq: this.seq, ts: this.ts, ssrc: this.ssrc, payload: countedPayload(this.sent++, 7) }), port());
      this.seq = (this.seq + 1) & 0xffff;
      this.ts = (this.ts + 160) >>> 0;
    }, 20);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** A browser calls a trunk; once connected, the trunk starts playing its stream to the gateway. */
async function setup(
  portMin: number,
): Promise<{ media: MediaService; b: Browser; t: Trunk; gatewayTrunkPort: number; trunkAudio: TrunkSender }> {
  const media = await service(portMin);
  const b = await browser();
  const t = await trunk();
  const toTrunk = await browserCallsTrunk(media, b, () => trunkSdp({ port: t.port }));
  await browserConnected(b);
  const gatewayTrunkPort = sdpPort(toTrunk);
  const trunkAudio = new TrunkSender(t, () => gatewayTrunkPort);
  defer(() => trunkAudio.stop());
  return { media, b, t, gatewayTrunkPort, trunkAudio };
}

const direction = (sdp: string): string | undefined => /^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m.exec(sdp)?.[1];

describe('re-offers keep every receiver’s stream continuous', () => {
  it('browser hold (sendonly) and resume (sendrecv): audio flows after resume, no sequence regression at the browser', async () => {
    const { media, b, t, gatewayTrunkPort, trunkAudio } = await setup(22100);
    let browserSeq = 0;
    const browserAudio = setInterval(() => browserSend(b, browserSeq, countedPayload(browserSeq++)), 20);
    defer(() => clearInterval(browserAudio));
    await waitFor(() => b.received.length >= 20 && t.received.length >= 20, 5000);

    // Hold: the browser re-offers sendonly; the trunk answers recvonly and stops sending (as told).
    b.transceiver.setDirection('sendonly');
    const holdOffer = await media.offer('call-1', 'browser', await browserOffer(b), { to: 'plain' });
    expect(direction(holdOffer)).toBe('sendonly');
    expect(sdpPort(holdOffer)).toBe(gatewayTrunkPort);
    trunkAudio.on = false;
    const holdAnswer = await media.answer('call-1', 'browser', 'trunk', trunkSdp({ port: t.port, direction: 'recvonly', version: 2 }));
    expect(direction(holdAnswer)).toBe('recvonly');
    await b.pc.setRemoteDescription({ type: 'answer', sdp: holdAnswer });
    const legs = (await media.query('call-1'))!.legs;
    expect(legs.map((l) => l.direction)).toEqual(['recvonly', 'sendonly']);
    const atTrunkBeforeHold = t.received.length;
    await sleep(500);
    expect(t.received.length).toBeGreaterThan(atTrunkBeforeHold + 10); // the held browser's music still reaches the trunk
    // Held: a trunk that sends anyway is not relayed to the browser (the gateway is sendonly towards it).
    const heldAt = b.received.length;
    const droppedBefore = legs[1]!.dropped;
    trunkAudio.on = true;
    await sleep(100);
    trunkAudio.on = false;
    await sleep(50);
    expect(b.received.length).toBe(heldAt);
    expect((await media.query('call-1'))!.legs[1]!.dropped).toBeGreaterThan(droppedBefore);

    // Resume; the trunk goes on with its stream, the sequence jumped by what it did not send meanwhile.
    b.transceiver.setDirection('sendrecv');
    const resumeOffer = await media.offer('call-1', 'browser', await browserOffer(b), { to: 'plain' });
    expect(direction(resumeOffer)).toBe('sendrecv');
    const resumeAnswer = await media.answer('call-1', 'browser', 'trunk', trunkSdp({ port: t.port, version: 3 }));
    await b.pc.setRemoteDescription({ type: 'answer', sdp: resumeAnswer });
    trunkAudio.seq = (trunkAudio.seq + 40) & 0xffff;
    trunkAudio.on = true;
    await waitFor(() => b.received.length >= heldAt + 25, 5000);

    const seqs = b.received.map((p) => p.header.sequenceNumber);
    expect(sequenceRegressions(seqs)).toBe(0);
    expect(new Set(b.received.map((p) => p.header.ssrc)).size).toBe(1);
    // What the trunk sends after resume is what the browser hears.
    expect(b.received.slice(heldAt).every((p) => p.payload[4] === 7)).toBe(true);
    const atTrunk = t.received.map((r) => parseRtp(r.buf));
    expect(sequenceRegressions(atTrunk.map((p) => p.seq))).toBe(0);
    expect(new Set(atTrunk.map((p) => p.ssrc)).size).toBe(1);
  }, 20_000);

  it('trunk re-INVITE with a new SSRC and a lower sequence: the browser still gets one continuous stream', async () => {
    const { media, b, t, gatewayTrunkPort, trunkAudio } = await setup(22120);
    await waitFor(() => b.received.length >= 20, 5000);

    // The trunk re-offers (e.g. after a transfer inside the PBX); the browser answers the gateway's re-offer.
    const reoffer = await media.offer('call-1', 'trunk', trunkSdp({ port: t.port, version: 2 }), { to: 'webrtc' });
    expect(reoffer).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF /m);
    expect(reoffer).toContain('a=setup:actpass');
    const toTrunk = await media.answer('call-1', 'trunk', 'browser', await browserAnswer(b, reoffer));
    expect(sdpPort(toTrunk)).toBe(gatewayTrunkPort);
    const before = b.received.length;
    trunkAudio.ssrc = 0x22220000;
    trunkAudio.seq = 17; // far behind the old stream: a naive relay would make the browser drop everything
    trunkAudio.ts = 3;
    await waitFor(() => b.received.length >= before + 25, 5000);
    await sleep(100);

    const seqs = b.received.map((p) => p.header.sequenceNumber);
    expect(sequenceRegressions(seqs)).toBe(0);
    const steps = seqs.slice(1).map((s, i) => (s - seqs[i]!) & 0xffff);
    expect(steps.every((d) => d === 1)).toBe(true);
    expect(new Set(b.received.map((p) => p.header.ssrc)).size).toBe(1);
    const stamps = b.received.map((p) => p.header.timestamp);
    expect(stamps.slice(1).every((ts, i) => ((ts - stamps[i]!) >>> 0) > 0 && ((ts - stamps[i]!) >>> 0) < 8000)).toBe(true);
    expect((await media.query('call-1'))!.legs.map((l) => l.state)).toEqual(['connected', 'latched']);
  }, 20_000);

  it('browser ICE restart: the gateway answers with new credentials and the audio carries on', async () => {
    const { media, b, t, gatewayTrunkPort } = await setup(22140); // the trunk plays throughout
    await waitFor(() => b.received.length >= 10, 5000);
    const ufrag = (sdp: string): string => /a=ice-ufrag:(\S+)/.exec(sdp)![1]!;
    const firstAnswerUfrag = ufrag(b.pc.remoteDescription!.sdp);

    await b.pc.setLocalDescription(await b.pc.createOffer({ iceRestart: true }));
    await waitFor(() => b.pc.iceGatheringState === 'complete', 5000);
    const restartOffer = b.pc.localDescription!.sdp;
    const toTrunk = await media.offer('call-1', 'browser', restartOffer, { to: 'plain' });
    expect(sdpPort(toTrunk)).toBe(gatewayTrunkPort);
    const answer = await media.answer('call-1', 'browser', 'trunk', trunkSdp({ port: t.port, version: 2 }));
    expect(ufrag(answer)).not.toBe(firstAnswerUfrag);
    await b.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    const before = b.received.length;
    await waitFor(() => b.received.length >= before + 50, 5000);
    expect(sequenceRegressions(b.received.map((p) => p.header.sequenceNumber))).toBe(0);
    expect((await media.query('call-1'))!.legs[0]!.state).toBe('connected');
  }, 20_000);
});
