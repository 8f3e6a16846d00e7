import { describe, expect, it } from 'vitest';
import { createLegState, translateOffer } from '../../../src/rtp-bridge/sdp/index.ts';
import {
  loadSdp,
  PLAIN_B,
  plainSession,
  sdp,
  SESSION_A,
  SESSION_B,
  translateBrowserAnswer,
  translateBrowserOffer,
  translateTrunkOffer,
  webrtcSession,
  webrtcTransport,
} from './fixtures.ts';

// Trunk calls browser: the trunk is the offerer (its leg is "A" of this exchange), the browser answers.
describe('trunk calls browser: plain offer → WebRTC offer, browser answer → plain answer', () => {
  it('turns an Asterisk offer into a WebRTC offer: ICE-lite, actpass, BUNDLE, mid 0, G.729 left out', () => {
    const offer = translateTrunkOffer(loadSdp('asterisk-offer.sdp'));
    expect(offer.sdp).toBe(
      sdp(
        ...webrtcSession(SESSION_A),
        'm=audio 40000 UDP/TLS/RTP/SAVPF 0 8 101',
        ...webrtcTransport('A', 'actpass'),
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:8 PCMA/8000',
        'a=rtpmap:101 telephone-event/8000',
        'a=fmtp:101 0-16',
        'a=ptime:20',
        'a=maxptime:150',
        'a=sendrecv',
      ),
    );
    expect(offer.remote).toEqual({
      kind: 'plain',
      index: 0,
      address: '203.0.113.20',
      family: 'IP4',
      port: 17362,
      codecs: [
        { pt: 0, name: 'PCMU', clockRate: 8000, channels: 1, rtcpFb: [] },
        { pt: 8, name: 'PCMA', clockRate: 8000, channels: 1, rtcpFb: [] },
        { pt: 18, name: 'G729', clockRate: 8000, channels: 1, rtcpFb: [] },
        { pt: 101, name: 'telephone-event', clockRate: 8000, channels: 1, fmtp: '0-16', rtcpFb: [] },
      ],
      ptime: 20,
      maxptime: 150,
      direction: 'sendrecv',
      rtcpMux: false,
    });
    expect(offer.state.slots).toEqual([{ type: 'audio', proto: 'UDP/TLS/RTP/SAVPF', formats: ['0', '8', '101'], mid: '0', bridged: true }]);
  });

  it("answers Asterisk from Chromium's real answer: plain RTP/AVP, RTCP on port + 1, no WebRTC attribute", () => {
    const offer = translateTrunkOffer(loadSdp('asterisk-offer.sdp'));
    const answer = translateBrowserAnswer(loadSdp('chromium-answer.sdp'), offer.pending);
    // Chromium answered without a=fmtp for telephone-event (RFC 4733 §2.4.1: events 0–15) and without ptime.
    expect(answer.sdp).toBe(
      sdp(
        ...plainSession(SESSION_B),
        'm=audio 30000 RTP/AVP 0 8 101',
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:8 PCMA/8000',
        'a=rtpmap:101 telephone-event/8000',
        'a=sendrecv',
        'a=rtcp:30001',
      ),
    );
    expect(answer.remote).toMatchObject({ kind: 'webrtc', setup: 'active', mid: '0', bundled: true });
    // Chromium answered setup:active, so it is the DTLS client and the gateway the server (RFC 5763 §5).
    expect(answer.answerer).toEqual({ direction: 'sendrecv', rtcpMux: true, dtlsRole: 'server' });
    expect(answer.offerer).toEqual({ direction: 'sendrecv', rtcpMux: false });
    expect(answer.payloadTypes.offererToAnswerer.map((r) => [r.in, r.out])).toEqual([
      [0, 0],
      [8, 8],
      [101, 101],
    ]);
  });

  it('refuses a browser answer that changes the transport (RFC 3264 §6)', () => {
    const offer = translateTrunkOffer(loadSdp('asterisk-offer.sdp'));
    const switched = loadSdp('chromium-answer.sdp').replace('UDP/TLS/RTP/SAVPF', 'RTP/AVP');
    expect(() => translateBrowserAnswer(switched, offer.pending)).toThrow(
      expect.objectContaining({ code: 'SDP_UNSUPPORTED', status: 488 }),
    );
  });

  it('turns a FreeSWITCH offer into a WebRTC offer: Opus kept on its number, CN and silenceSupp dropped', () => {
    const offer = translateTrunkOffer(loadSdp('freeswitch-offer.sdp'));
    expect(offer.sdp).toBe(
      sdp(
        ...webrtcSession(SESSION_A),
        'm=audio 40000 UDP/TLS/RTP/SAVPF 102 9 0 8 101',
        ...webrtcTransport('A', 'actpass'),
        'a=rtpmap:102 opus/48000/2',
        'a=fmtp:102 useinbandfec=1; minptime=10; maxptime=40',
        'a=rtpmap:9 G722/8000',
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:8 PCMA/8000',
        'a=rtpmap:101 telephone-event/8000',
        'a=fmtp:101 0-16',
        'a=ptime:20',
        'a=sendrecv',
      ),
    );
    expect(offer.remote).toMatchObject({ kind: 'plain', port: 23402, rtcpPort: 23403, rtcpAddress: '203.0.113.30' });
  });

  it("offers SIPp's single-codec INVITE to a browser", () => {
    const offer = translateTrunkOffer(loadSdp('sipp-uac-offer.sdp'));
    expect(offer.sdp).toContain('m=audio 40000 UDP/TLS/RTP/SAVPF 0\r\n');
    expect(offer.sdp).toContain('a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n');
  });

  it('refuses an SDES-SRTP offer (RTP/SAVP + a=crypto) with 488 and says why', () => {
    const attempt = (): unknown =>
      translateTrunkOffer(loadSdp('asterisk-sdes.sdp'));
    expect(attempt).toThrow(/SDES-SRTP/);
    expect(attempt).toThrow(expect.objectContaining({ code: 'SDP_UNSUPPORTED', status: 488 }));
  });

  it('relays an offer that has SDES crypto lines on RTP/AVP (best-effort SRTP) as plain RTP, crypto dropped', () => {
    const bestEffort = loadSdp('asterisk-sdes.sdp').replace('RTP/SAVP', 'RTP/AVP');
    const offer = translateTrunkOffer(bestEffort);
    expect(offer.sdp).not.toContain('crypto');
    expect(offer.sdp).toContain('m=audio 40000 UDP/TLS/RTP/SAVPF 0 101\r\n');
  });

  it('refuses a T.38-only re-offer: there is no audio to bridge', () => {
    const t38 = sdp('v=0', 'o=- 5 6 IN IP4 203.0.113.20', 's=-', 'c=IN IP4 203.0.113.20', 't=0 0', 'm=image 4000 udptl t38', 'a=T38FaxVersion:0');
    expect(() => translateTrunkOffer(t38)).toThrow(
      expect.objectContaining({ code: 'SDP_UNSUPPORTED', status: 488 }),
    );
  });

  it('refuses a WebRTC offer on a plain leg and a plain offer on a WebRTC leg', () => {
    expect(() => translateOffer({ sdp: loadSdp('chromium-offer.sdp'), from: 'plain', local: PLAIN_B, state: createLegState(SESSION_B) })).toThrow(
      expect.objectContaining({ code: 'SDP_UNSUPPORTED' }),
    );
    expect(() => translateBrowserOffer(loadSdp('asterisk-offer.sdp'))).toThrow(
      expect.objectContaining({ code: 'SDP_UNSUPPORTED' }),
    );
  });
});
