/**
 * Captures real Chromium SDP for test/fixtures/sdp/ (re-run after a Chromium upgrade, then update the tests that
 * read values out of the captures):
 *
 *   node scripts/capture-sdp.ts                    # all of them; CHROMIUM_PATH overrides /usr/bin/chromium
 *   node scripts/capture-sdp.ts chromium-answer.sdp  # only the named ones
 *
 * - chromium-offer.sdp             getUserMedia({audio:true}) + addTrack, default bundlePolicy, after ICE gathering
 * - chromium-reoffer-hold.sdp      the same connection, after the gateway's answer, transceiver.direction='sendonly'
 * - chromium-reoffer-resume.sdp    then back to 'sendrecv'
 * - chromium-offer-av.sdp          audio track + a video transceiver + a data channel
 * - chromium-answer.sdp            Chromium's answer (with a microphone track) to the gateway's WebRTC offer made
 *                                  from asterisk-offer.sdp (trunk calls browser)
 * - chromium-answer-opus.sdp       the same, to the gateway's WebRTC offer made from chromium-offer.sdp (browser
 *                                  calls browser)
 * - chromium-reoffer-answerer.sdp  then that answering Chromium re-offers with its transceiver set to sendonly
 *
 * Steps that build on another fixture read it from disk, so a single capture can be redone alone. The gateway SDP
 * given to Chromium names 127.0.0.1 only, so Chromium's connectivity checks stay on loopback; its own host
 * candidates (the machine's interfaces) appear in the captures, which is fine for fixtures.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLegState, translateAnswer, translateOffer } from '../src/rtp-bridge/sdp/index.ts';
import { openLab } from '../test/rtp-bridge/sdp/browser.ts';
import { loadSdp, PLAIN_B, SESSION_A, SESSION_B, WEBRTC_A, WEBRTC_B } from '../test/rtp-bridge/sdp/fixtures.ts';

const DIR = fileURLToPath(new URL('../test/fixtures/sdp/', import.meta.url));
const only = new Set(process.argv.slice(2));
const wanted = (...names: string[]): boolean => only.size === 0 || names.some((n) => only.has(n));

const lab = await openLab();
const captured = `# Captured by scripts/capture-sdp.ts from Chromium ${lab.version} (headless, fake devices) on ${new Date().toISOString().slice(0, 10)}.`;

function save(name: string, what: string, sdp: string): void {
  if (!wanted(name)) return;
  writeFileSync(DIR + name, `${captured}\n# ${what}\n${sdp}`);
  console.log(`wrote ${name} (${sdp.length} bytes)`);
}

function accepted(result: string, what: string): void {
  if (result !== 'ok') throw new Error(`Chromium refused ${what}: ${result}`);
}

try {
  if (wanted('chromium-offer.sdp', 'chromium-reoffer-hold.sdp', 'chromium-reoffer-resume.sdp')) {
    const pc = await lab.create({ audio: true });
    const offer = await lab.offer(pc);
    save('chromium-offer.sdp', 'Offer: getUserMedia({audio:true}), addTrack, createOffer, after ICE gathering completed.', offer);

    // The gateway relays it to a SIPp UAS and answers Chromium; then Chromium puts the call on hold and resumes.
    let legA = createLegState(SESSION_A);
    let legB = createLegState(SESSION_B);
    const sipp = loadSdp('sipp-uas-answer.sdp');
    let o = translateOffer({ sdp: offer, from: 'webrtc', local: PLAIN_B, state: legB });
    legB = o.state;
    let a = translateAnswer({ sdp: sipp, pending: o.pending, local: WEBRTC_A, state: legA });
    legA = a.state;
    accepted(await lab.remote(pc, 'answer', a.sdp), "the gateway's answer");

    await lab.direction(pc, 'sendonly');
    const hold = await lab.offer(pc);
    save('chromium-reoffer-hold.sdp', "Re-offer on the connection of chromium-offer.sdp, after the gateway's answer, with the audio transceiver set to sendonly (hold).", hold);
    o = translateOffer({ sdp: hold, from: 'webrtc', local: PLAIN_B, state: legB });
    a = translateAnswer({ sdp: sipp, pending: o.pending, local: WEBRTC_A, state: legA });
    accepted(await lab.remote(pc, 'answer', a.sdp), "the gateway's answer to hold");

    await lab.direction(pc, 'sendrecv');
    const resume = await lab.offer(pc);
    save('chromium-reoffer-resume.sdp', 'The next re-offer on the same connection, the audio transceiver back to sendrecv (resume).', resume);
  }

  if (wanted('chromium-offer-av.sdp')) {
    const pc = await lab.create({ audio: true, video: true, data: true });
    save('chromium-offer-av.sdp', 'Offer: microphone track, addTransceiver("video"), createDataChannel("chat"), after ICE gathering.', await lab.offer(pc));
  }

  if (wanted('chromium-answer.sdp')) {
    const pc = await lab.create();
    const gatewayOffer = translateOffer({ sdp: loadSdp('asterisk-offer.sdp'), from: 'plain', local: WEBRTC_A, state: createLegState(SESSION_A) });
    const answer = await lab.answer(pc, gatewayOffer.sdp, { audio: true });
    save('chromium-answer.sdp', "Answer (with a microphone track added) to the gateway's WebRTC offer made from asterisk-offer.sdp, after ICE gathering.", answer);
  }

  if (wanted('chromium-answer-opus.sdp', 'chromium-reoffer-answerer.sdp')) {
    const pc = await lab.create();
    const relayed = translateOffer({ sdp: loadSdp('chromium-offer.sdp'), from: 'webrtc', local: WEBRTC_B, state: createLegState(SESSION_B) });
    const answer = await lab.answer(pc, relayed.sdp, { audio: true });
    save('chromium-answer-opus.sdp', "Answer (with a microphone track added) to the gateway's WebRTC offer made from chromium-offer.sdp, after ICE gathering.", answer);
    await lab.direction(pc, 'sendonly');
    save('chromium-reoffer-answerer.sdp', 'Then the answering Chromium re-offers with its audio transceiver set to sendonly (hold from the called browser).', await lab.offer(pc));
  }
} finally {
  await lab.close();
}
