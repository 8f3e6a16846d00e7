/**
 * The SDP the gateway emits, given to a real Chromium: setRemoteDescription must succeed, and Chromium's own
 * answers must translate back. End-to-end suite (needs /usr/bin/chromium or CHROMIUM_PATH): skipped when
 * Chromium is missing, except under CI=true where a missing browser fails the suite.
 *
 * The gateway endpoints in this SDP are UDP sockets this test binds on 127.0.0.1, so the connectivity checks
 * Chromium starts land on our own sockets and nowhere else.
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLegState, translateAnswer, translateOffer } from '../../../src/rtp-bridge/sdp/index.ts';
import type { LegSdpState, WebrtcEndpoint } from '../../../src/rtp-bridge/sdp/index.ts';
import { CHROMIUM_PATH, chromiumInstalled, openLab } from './browser.ts';
import type { Lab } from './browser.ts';
import { loadSdp, PLAIN_A, PLAIN_B, SESSION_A, SESSION_B, WEBRTC_A, WEBRTC_B } from './fixtures.ts';

const available = chromiumInstalled();
const mustRun = process.env.CI === 'true';

async function bindLoopback(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  return socket;
}

const direction = (text: string): string | undefined => text.split('\r\n').find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l));

describe.skipIf(!available && !mustRun)('Chromium accepts the SDP the gateway emits', () => {
  let lab: Lab;
  const sockets: Socket[] = [];
  let endpointA: WebrtcEndpoint;
  let endpointB: WebrtcEndpoint;

  beforeAll(async () => {
    if (!available) throw new Error(`Chromium not found at ${CHROMIUM_PATH}; with CI=true this suite must run`);
    for (let i = 0; i < 2; i++) sockets.push(await bindLoopback());
    endpointA = { ...WEBRTC_A, port: sockets[0]!.address().port };
    endpointB = { ...WEBRTC_B, port: sockets[1]!.address().port };
    lab = await openLab();
  });

  afterAll(async () => {
    await lab?.close();
    for (const s of sockets) s.close();
  });

  it("browser calls trunk: Chromium takes the gateway's answer made from SIPp's", async () => {
    const pc = await lab.create({ audio: true });
    const offer = translateOffer({ sdp: await lab.offer(pc), from: 'webrtc', local: PLAIN_B, state: createLegState(SESSION_B) });
    const answer = translateAnswer({ sdp: loadSdp('sipp-uas-answer.sdp'), pending: offer.pending, local: endpointA, state: createLegState(SESSION_A) });
    expect(await lab.remote(pc, 'answer', answer.sdp)).toBe('ok');
    expect(await lab.state(pc)).toEqual({ signaling: 'stable', transceivers: [{ mid: '0', kind: 'audio', current: 'sendrecv' }] });
  });

  it('browser with video and a data channel: Chromium takes an answer rejecting both, then a trunk re-offer keeping them', async () => {
    const pc = await lab.create({ audio: true, video: true, data: true });
    const offer = translateOffer({ sdp: await lab.offer(pc), from: 'webrtc', local: PLAIN_B, state: createLegState(SESSION_B) });
    const answer = translateAnswer({ sdp: loadSdp('sipp-uas-answer.sdp'), pending: offer.pending, local: endpointA, state: createLegState(SESSION_A) });
    expect(await lab.remote(pc, 'answer', answer.sdp)).toBe('ok');
    // Port 0 stops the video transceiver, and Chromium drops stopped transceivers from the list.
    expect(await lab.state(pc)).toEqual({ signaling: 'stable', transceivers: [{ mid: '0', kind: 'audio', current: 'sendrecv' }] });

    // The trunk puts the call on hold: the gateway's offer to Chromium repeats all three m-lines.
    const hold = loadSdp('sipp-uas-answer.sdp').trimEnd() + '\r\na=sendonly\r\n';
    const reoffer = translateOffer({ sdp: hold, from: 'plain', local: endpointA, state: answer.state });
    expect(reoffer.sdp.match(/^m=/gm)).toHaveLength(3);
    const chromiumAnswer = await lab.answer(pc, reoffer.sdp);
    expect(direction(chromiumAnswer)).toBe('a=recvonly');
    const back = translateAnswer({ sdp: chromiumAnswer, pending: reoffer.pending, local: PLAIN_A, state: createLegState(SESSION_B) });
    expect(direction(back.sdp)).toBe('a=recvonly');
  });

  it('trunk calls browser: Chromium takes the WebRTC offer (no msid: a default stream), answers, and takes hold and resume', async () => {
    const pc = await lab.create();
    let legA: LegSdpState = createLegState(SESSION_A);
    const asterisk = loadSdp('asterisk-offer.sdp');
    const offer = translateOffer({ sdp: asterisk, from: 'plain', local: endpointA, state: legA });
    legA = offer.state;
    const chromiumAnswer = await lab.answer(pc, offer.sdp, { audio: true });
    expect(chromiumAnswer).toContain('a=setup:active');
    const tracks = (await lab.tracks()).filter((t) => t.id === pc);
    expect(tracks).toEqual([{ id: pc, kind: 'audio', streams: 1 }]);
    const answer = translateAnswer({ sdp: chromiumAnswer, pending: offer.pending, local: PLAIN_B, state: createLegState(SESSION_B) });
    expect(answer.sdp).toContain('m=audio 30000 RTP/AVP 0 8 101\r\n');
    expect(answer.answerer.dtlsRole).toBe('server');

    const holdOffer = asterisk.replace('a=sendrecv', 'a=sendonly');
    const hold = translateOffer({ sdp: holdOffer, from: 'plain', local: endpointA, state: legA });
    legA = hold.state;
    expect(hold.sdp).toContain('o=- 1893453912 2 IN IP4 127.0.0.1');
    const holdAnswer = await lab.answer(pc, hold.sdp);
    expect(direction(holdAnswer)).toBe('a=recvonly');
    // Chromium kept its DTLS role: the association survives the re-offer.
    expect(holdAnswer).toContain('a=setup:active');

    const resume = translateOffer({ sdp: asterisk, from: 'plain', local: endpointA, state: legA });
    expect(resume.sdp).toContain('o=- 1893453912 3 IN IP4 127.0.0.1');
    expect(direction(await lab.answer(pc, resume.sdp))).toBe('a=sendrecv');
  });

  it('browser calls browser: each Chromium takes what the gateway relays from the other', async () => {
    const caller = await lab.create({ audio: true });
    const callee = await lab.create();
    const offer = translateOffer({ sdp: await lab.offer(caller), from: 'webrtc', local: endpointB, state: createLegState(SESSION_B) });
    const calleeAnswer = await lab.answer(callee, offer.sdp, { audio: true });
    const answer = translateAnswer({ sdp: calleeAnswer, pending: offer.pending, local: endpointA, state: createLegState(SESSION_A) });
    expect(await lab.remote(caller, 'answer', answer.sdp)).toBe('ok');
    expect((await lab.state(caller)).transceivers).toEqual([{ mid: '0', kind: 'audio', current: 'sendrecv' }]);
    expect((await lab.state(callee)).transceivers).toEqual([{ mid: '0', kind: 'audio', current: 'sendrecv' }]);
  });
});
