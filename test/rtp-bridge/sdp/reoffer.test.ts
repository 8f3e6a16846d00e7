import { describe, expect, it } from 'vitest';
import {
  createLegState,
  createOrigin,
  isIceRestart,
  nextOrigin,
  translateAnswer,
  translateOffer,
} from '../../../src/rtp-bridge/sdp/index.ts';
import type { LegSdpState, WebrtcRemoteMedia } from '../../../src/rtp-bridge/sdp/index.ts';
import {
  CHROMIUM_CODECS,
  loadSdp,
  PLAIN_B,
  plainSession,
  sdp,
  SESSION_A,
  SESSION_B,
  translateBrowserAnswer,
  translateBrowserOffer,
  translateTrunkAnswer,
  translateTrunkOffer,
  WEBRTC_A,
} from './fixtures.ts';

const origin = (text: string): string => text.split('\r\n')[1]!;
const direction = (text: string): string | undefined => text.split('\r\n').find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l));

/** One offer/answer round A → gateway → B → gateway → A, the leg states carried over. */
function round(
  legs: { a: LegSdpState; b: LegSdpState },
  offerFromA: string,
  answerFromB: string,
): { toB: string; toA: string; legs: { a: LegSdpState; b: LegSdpState } } {
  const o = translateBrowserOffer(offerFromA, { state: legs.b });
  const a = translateTrunkAnswer(answerFromB, o.pending, { state: legs.a });
  return { toB: o.sdp, toA: a.sdp, legs: { a: a.state, b: o.state } };
}

describe('re-offers: hold, resume, refresh, and the o= line', () => {
  it("passes Chromium's hold and resume to the trunk as direction, o= session id stable and version + 1 each time", () => {
    const sipp = loadSdp('sipp-uas-answer.sdp');
    let legs = { a: createLegState(SESSION_A), b: createLegState(SESSION_B) };
    const first = round(legs, loadSdp('chromium-offer.sdp'), sipp);
    legs = first.legs;
    expect([origin(first.toB), direction(first.toB)]).toEqual(['o=- 4147052340 1 IN IP4 198.51.100.10', 'a=sendrecv']);
    expect([origin(first.toA), direction(first.toA)]).toEqual(['o=- 1893453912 1 IN IP4 127.0.0.1', 'a=sendrecv']);

    // SIPp answers every offer with the same sendrecv SDP; RFC 3264 §6.1 makes the answer to sendonly recvonly.
    const hold = round(legs, loadSdp('chromium-reoffer-hold.sdp'), sipp);
    legs = hold.legs;
    expect(hold.toB).toBe(
      sdp(
        ...plainSession(SESSION_B, 2),
        'm=audio 30000 RTP/AVP 111 9 0 8 110 126',
        ...CHROMIUM_CODECS,
        'a=sendonly',
        'a=rtcp:30001',
      ),
    );
    expect([origin(hold.toA), direction(hold.toA)]).toEqual(['o=- 1893453912 2 IN IP4 127.0.0.1', 'a=recvonly']);

    const resume = round(legs, loadSdp('chromium-reoffer-resume.sdp'), sipp);
    expect([origin(resume.toB), direction(resume.toB)]).toEqual(['o=- 4147052340 3 IN IP4 198.51.100.10', 'a=sendrecv']);
    expect([origin(resume.toA), direction(resume.toA)]).toEqual(['o=- 1893453912 3 IN IP4 127.0.0.1', 'a=sendrecv']);
    // Apart from o= and the direction, nothing moved.
    expect(resume.toB.replace(/^o=.*$/m, '')).toBe(first.toB.replace(/^o=.*$/m, ''));
  });

  it('keeps the version for an identical SDP (session refresh) unless told to force a new one', () => {
    const offerFromA = loadSdp('chromium-offer.sdp');
    const first = translateBrowserOffer(offerFromA);
    const refresh = translateBrowserOffer(offerFromA, { state: first.state });
    expect(refresh.sdp).toBe(first.sdp);
    const forced = translateBrowserOffer(offerFromA, { state: first.state, forceNewVersion: true });
    expect(origin(forced.sdp)).toBe('o=- 4147052340 2 IN IP4 198.51.100.10');
    // A new address (the gateway moved the leg to another port) is a change.
    const moved = translateOffer({ sdp: offerFromA, from: 'webrtc', local: { ...PLAIN_B, port: 30010 }, state: first.state });
    expect(origin(moved.sdp)).toBe('o=- 4147052340 2 IN IP4 198.51.100.10');
    expect(moved.sdp).toContain('m=audio 30010 RTP/AVP');
    expect(moved.sdp).toContain('a=rtcp:30011');
  });

  it('origin values: a numeric session id, version + 1', () => {
    expect(nextOrigin(createOrigin('4147052340', 7))).toEqual({ sessionId: '4147052340', version: 8 });
    expect(() => createOrigin('abc')).toThrow(expect.objectContaining({ code: 'SDP_LOCAL_INVALID' }));
  });

  it('passes a trunk hold (a=sendonly) and an RFC 2543 hold (c=0.0.0.0) to the browser as sendonly', () => {
    const asterisk = loadSdp('asterisk-offer.sdp');
    let legA = createLegState(SESSION_A);
    const first = translateTrunkOffer(asterisk, { state: legA });
    legA = first.state;

    const sendonly = asterisk.replace('o=- 1914457062 1914457062', 'o=- 1914457062 1914457063').replace('a=sendrecv', 'a=sendonly');
    const hold = translateTrunkOffer(sendonly, { state: legA });
    expect([origin(hold.sdp), direction(hold.sdp)]).toEqual(['o=- 1893453912 2 IN IP4 127.0.0.1', 'a=sendonly']);
    expect(hold.sdp).toContain('a=setup:actpass\r\n');
    expect(hold.sdp).toContain('t=0 0\r\na=ice-lite\r\na=group:BUNDLE 0\r\nm=audio 40000 ');

    const rfc2543 = asterisk.replace('c=IN IP4 203.0.113.20', 'c=IN IP4 0.0.0.0');
    const old = translateTrunkOffer(rfc2543, { state: legA });
    expect(direction(old.sdp)).toBe('a=sendonly');
    expect(old.remote).toMatchObject({ address: '0.0.0.0', direction: 'sendonly' });
    // recvonly + 0.0.0.0: the holder neither wants media nor sends any.
    const inactive = translateTrunkOffer(rfc2543.replace('a=sendrecv', 'a=recvonly'), { state: legA });
    expect(direction(inactive.sdp)).toBe('a=inactive');
  });

  it("keeps the browser leg's m-lines (rejected video and data included) when the trunk re-offers", () => {
    // Browser calls trunk with audio, video and a data channel; the trunk later puts the call on hold.
    const o = translateBrowserOffer(loadSdp('chromium-offer-av.sdp'));
    const a = translateTrunkAnswer(loadSdp('sipp-uas-answer.sdp'), o.pending);
    const trunkHold = loadSdp('sipp-uas-answer.sdp').trimEnd() + '\r\na=sendonly\r\n';
    const reoffer = translateTrunkOffer(trunkHold, { state: a.state });
    expect(reoffer.sdp.split('\r\n').filter((l) => /^(o|m)=|^a=(mid|group|setup|sendonly)/.test(l))).toEqual([
      'o=- 1893453912 2 IN IP4 127.0.0.1',
      'a=group:BUNDLE 0',
      'm=audio 40000 UDP/TLS/RTP/SAVPF 0',
      'a=mid:0',
      'a=setup:actpass',
      'a=sendonly',
      'm=video 0 UDP/TLS/RTP/SAVPF 96 97 102 103 104 107 108 109 114 115 116 117 39 40 45 46 98 99 100 101 118 119 120',
      'a=mid:1',
      'm=application 0 UDP/DTLS/SCTP webrtc-datachannel',
      'a=mid:2',
    ]);
  });

  it('keeps payload type numbers bound on a leg when the other side renumbers in a re-offer (RFC 3264 §8.3.2)', () => {
    const first = translateTrunkOffer(loadSdp('asterisk-offer.sdp'));
    // The trunk re-offers with telephone-event on 96 instead of 101.
    const renumbered = loadSdp('asterisk-offer.sdp').replace('0 8 18 101', '0 8 18 96').replaceAll(':101 ', ':96 ');
    const again = translateTrunkOffer(renumbered, { state: first.state });
    expect(again.sdp).toContain('m=audio 40000 UDP/TLS/RTP/SAVPF 0 8 101\r\n');
    expect(again.pending.sent.map((s) => [s.sourcePt, s.codec.pt])).toEqual([
      [0, 0],
      [8, 8],
      [96, 101],
    ]);
    // Browser answers with its own 101; the relay maps the trunk's 96 ⇄ 101.
    const a = translateBrowserAnswer(loadSdp('chromium-answer.sdp'), again.pending);
    expect(a.payloadTypes.offererToAnswerer.map((r) => [r.in, r.out])).toEqual([
      [0, 0],
      [8, 8],
      [96, 101],
    ]);
    expect(a.payloadTypes.answererToOfferer.map((r) => [r.in, r.out])).toEqual([
      [0, 0],
      [8, 8],
      [101, 96],
    ]);
    expect(a.sdp).toContain('m=audio 30000 RTP/AVP 0 8 96\r\n');
  });

  it('notices an ICE restart (new ufrag/pwd) in a browser re-offer', () => {
    const first = translateBrowserOffer(loadSdp('chromium-offer.sdp'));
    const same = translateBrowserOffer(loadSdp('chromium-offer.sdp'), { state: first.state });
    const restarted = translateOffer({
      sdp: loadSdp('chromium-offer.sdp').replace('a=ice-ufrag:TH3M', 'a=ice-ufrag:Zq9P').replace('a=ice-pwd:NAwsmNkfkrB3SH9C1hOf4ZJX', 'a=ice-pwd:k2Lm9Qr4St7Uv0Wx3Yz6Ab1C'),
      from: 'webrtc',
      local: PLAIN_B,
      state: first.state,
    });
    expect(isIceRestart(first.remote as WebrtcRemoteMedia, same.remote as WebrtcRemoteMedia)).toBe(false);
    expect(isIceRestart(first.remote as WebrtcRemoteMedia, restarted.remote as WebrtcRemoteMedia)).toBe(true);
    // The trunk side does not see it: ICE is the browser leg's business.
    expect(restarted.sdp).toBe(first.sdp);
  });

  it("answers an ICE-restart re-offer with the gateway's new credentials, keeping its DTLS role", () => {
    const o = translateBrowserOffer(loadSdp('chromium-offer.sdp'));
    const a = translateTrunkAnswer(loadSdp('sipp-uas-answer.sdp'), o.pending);
    const o2 = translateBrowserOffer(loadSdp('chromium-reoffer-resume.sdp'), { state: o.state });
    const restartedLocal = { ...WEBRTC_A, ice: { ufrag: 'n3Wq', pwd: 'Rt5yU8iO1pA4sD7fG0hJ3kL6' }, setup: 'passive' as const };
    const a2 = translateAnswer({ sdp: loadSdp('sipp-uas-answer.sdp'), pending: o2.pending, local: restartedLocal, state: a.state });
    expect(a2.sdp).toContain('a=ice-ufrag:n3Wq\r\na=ice-pwd:Rt5yU8iO1pA4sD7fG0hJ3kL6\r\n');
    expect(a2.sdp).toContain('a=setup:passive\r\n');
    expect(origin(a2.sdp)).toBe('o=- 1893453912 2 IN IP4 127.0.0.1');
  });
});
