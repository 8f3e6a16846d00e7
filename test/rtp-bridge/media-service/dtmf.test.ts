import { describe, expect, it } from 'vitest';
import type { MediaService } from '../../../src/rtp-bridge/media-service.ts';
import {
  browserCallsTrunk,
  browserConnected,
  browserSend,
  countedPayload,
  parseRtp,
  PCMU,
  perTest,
  rtpPacket,
  sdpPort,
  sleep,
  type Trunk,
  trunkSdp,
  waitFor,
  type Browser,
  type RtpView,
} from './helpers.ts';

const BROWSER_EVENT_PT = 101;
const TRUNK_EVENT_PT = 96;

const { service, browser, trunk, defer } = perTest();

/** A browser (PCMU + telephone-event/8000 as 101) calls a trunk that numbers telephone-event 96. */
async function setup(portMin: number): Promise<{ media: MediaService; b: Browser; t: Trunk; gatewayTrunkPort: number; toTrunk: string }> {
  const media = await service(portMin);
  const b = await browser([PCMU, { mimeType: 'audio/telephone-event', clockRate: 8000, payloadType: BROWSER_EVENT_PT }]);
  const t = await trunk();
  const codecs = [{ pt: 0, rtpmap: 'PCMU/8000' }, { pt: TRUNK_EVENT_PT, rtpmap: 'telephone-event/8000' }];
  const toTrunk = await browserCallsTrunk(media, b, () => trunkSdp({ port: t.port, codecs }));
  await browserConnected(b);
  return { media, b, t, gatewayTrunkPort: sdpPort(toTrunk), toTrunk };
}

/** RFC 4733 §2.3 payload. */
function eventPayload(event: number, end: boolean, duration: number): Buffer {
  return Buffer.from([event, (end ? 0x80 : 0) | 10, duration >>> 8, duration & 0xff]);
}

describe('RFC 4733 telephone events through the media service', () => {
  it('relays a trunk event to the browser with the browser’s payload type, and reports the digit once', async () => {
    const { media, b, t, gatewayTrunkPort, toTrunk } = await setup(22200);
    expect(toTrunk).toContain(`a=rtpmap:${BROWSER_EVENT_PT} telephone-event/8000`);
    const digits: Array<[string, string, string]> = [];
    media.on('dtmf', (...args) => digits.push(args));

    const ssrc = 0x3456;
    let seq = 200;
    for (let n = 0; n < 5; n++) t.send(rtpPacket({ seq: seq++, ts: n * 160, ssrc, payload: countedPayload(n) }), gatewayTrunkPort);
    const eventTs = 5 * 160;
    const durations = [400, 800, 1200, 1600, 1600, 1600];
    for (const [i, duration] of durations.entries()) {
      const end = i >= 3;
      t.send(rtpPacket({ seq: seq++, ts: eventTs, ssrc, pt: TRUNK_EVENT_PT, marker: i === 0, payload: eventPayload(7, end, duration) }), gatewayTrunkPort);
      await sleep(10);
    }
    await waitFor(() => b.received.length >= 11, 5000);
    await sleep(100);

    const events = b.received.filter((p) => p.header.payloadType !== 0);
    expect(events.map((p) => p.header.payloadType)).toEqual(Array(6).fill(BROWSER_EVENT_PT));
    expect(events.map((p) => p.header.marker)).toEqual([true, false, false, false, false, false]);
    expect(new Set(events.map((p) => p.header.timestamp)).size).toBe(1);
    expect(events.map((p) => p.payload.readUInt16BE(2))).toEqual(durations);
    expect(events.map((p) => p.payload[0])).toEqual(Array(6).fill(7));
    // The event keeps its place on the stream's timeline: 5 packets of 160 after the first audio packet.
    expect((events[0]!.header.timestamp - b.received[0]!.header.timestamp) >>> 0).toBe(eventTs);
    expect(digits).toEqual([['call-1', 'trunk', '7']]);
  });

  it('plays a digit towards the trunk as a well-formed event inside the browser→trunk stream', async () => {
    const { media, b, t } = await setup(22220);
    let n = 0;
    const audio = setInterval(() => browserSend(b, n, countedPayload(n++)), 20);
    defer(() => clearInterval(audio));
    await waitFor(() => t.received.length >= 10, 5000);

    await media.playDtmf('call-1', 'trunk', '5', 100);
    await waitFor(() => t.received.map((r) => parseRtp(r.buf)).filter((p) => p.pt === TRUNK_EVENT_PT).length === 5, 3000);
    await sleep(200);
    clearInterval(audio);
    await sleep(60);

    const packets: RtpView[] = t.received.map((r) => parseRtp(r.buf));
    const events = packets.filter((p) => p.pt === TRUNK_EVENT_PT);
    // RFC 4733 §2.5.1: updates every 50 ms (100 ms → 2), then the final packet three times; one timestamp.
    expect(events.map((p) => [...p.payload])).toEqual([
      [5, 10, 0x01, 0x90],
      [5, 10, 0x03, 0x20],
      [5, 0x80 | 10, 0x03, 0x20],
      [5, 0x80 | 10, 0x03, 0x20],
      [5, 0x80 | 10, 0x03, 0x20],
    ]);
    expect(events.map((p) => p.marker)).toEqual([true, false, false, false, false]);
    expect(new Set(events.map((p) => p.ts)).size).toBe(1);

    // One stream for the trunk: same SSRC, every sequence number exactly once, in order, around the event.
    expect(new Set(packets.map((p) => p.ssrc)).size).toBe(1);
    const steps = packets.slice(1).map((p, i) => (p.seq - packets[i]!.seq) & 0xffff);
    expect(steps.every((d) => d === 1)).toBe(true);
    const first = packets.indexOf(events[0]!);
    const last = packets.indexOf(events[4]!);
    expect(packets.slice(first, last + 1).every((p) => p.pt === TRUNK_EVENT_PT)).toBe(true); // audio held back meanwhile
    expect(first).toBeGreaterThan(5);
    const eventTs = events[0]!.ts;
    const before = packets[first - 1]!;
    const after = packets[last + 1]!;
    expect(before.pt).toBe(0);
    expect(after.pt).toBe(0);
    expect(((eventTs - before.ts) >>> 0) > 0).toBe(true);
    // The audio after the event continues past its end (timestamp + duration).
    expect((after.ts - eventTs) >>> 0).toBeGreaterThanOrEqual(800);
    expect((after.ts - eventTs) >>> 0).toBeLessThan(8000);
  });

  it('refuses what it cannot play', async () => {
    const { media } = await setup(22240);
    await expect(media.playDtmf('call-1', 'trunk', 'x', 100)).rejects.toMatchObject({ code: 'BAD_DTMF_DIGIT' });
    await expect(media.playDtmf('call-1', 'nobody', '1', 100)).rejects.toMatchObject({ code: 'UNKNOWN_TAG' });
    await expect(media.playDtmf('no-such-call', 'trunk', '1', 100)).rejects.toMatchObject({ code: 'UNKNOWN_CALL' });
  });
});
