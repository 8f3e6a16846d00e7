import { describe, expect, it } from 'vitest';
import { createLegState, translateAnswer, translateOffer } from '../../../src/rtp-bridge/sdp/index.ts';
import { loadSdp, PLAIN_B, sdp, SESSION_A, SESSION_B, WEBRTC_A } from './fixtures.ts';

const GATEWAY_WEBRTC_A = [
  'a=ice-ufrag:gWx4',
  'a=ice-pwd:Vx9uQ3bLk7Tn2sR8mW5yZp1a',
  'a=fingerprint:sha-256 5B:0F:8E:41:C2:7A:93:D4:16:E8:2B:AF:60:3C:D9:71:88:4E:F2:05:B7:1A:C6:39:90:DE:24:6F:83:5D:EA:17',
  'a=setup:actpass',
  'a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host',
  'a=end-of-candidates',
  'a=rtcp-mux',
];

// Trunk calls browser: the trunk is the offerer (its leg is "A" of this exchange), the browser answers.
describe('trunk calls browser: plain offer → WebRTC offer, browser answer → plain answer', () => {
  it('turns an Asterisk offer into a WebRTC offer: ICE-lite, actpass, BUNDLE, mid 0, G.729 left out', () => {
    const offer = translateOffer({ sdp: loadSdp('asterisk-offer.sdp'), from: 'plain', local: WEBRTC_A, state: createLegState(SESSION_A) });
    expect(offer.sdp).toBe(
      sdp(
        'v=0',
        'o=- 1893453912 1 IN IP4 127.0.0.1',
        's=-',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        'a=ice-lite',
        'a=group:BUNDLE 0',
        'm=audio 40000 UDP/TLS/RTP/SAVPF 0 8 101',
        'a=mid:0',
        ...GATEWAY_WEBRTC_A,
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
    const offer = translateOffer({ sdp: loadSdp('asterisk-offer.sdp'), from: 'plain', local: WEBRTC_A, state: createLegState(SESSION_A) });
    const answer = translateAnswer({ sdp: loadSdp('chromium-answer.sdp'), pending: offer.pending, local: PLAIN_B, state: createLegState(SESSION_B) });
    // Chromium answered without a=fmtp for telephone-event (RFC 4733 §2.4.1: events 0–15) and without ptime.
    expect(answer.sdp).toBe(
      sdp(
        'v=0',
        'o=- 4147052340 1 IN IP4 198.51.100.10',
        's=-',
        'c=IN IP4 198.51.100.10',
        't=0 0',
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
    const offer = translateOffer({ sdp: loadSdp('asterisk-offer.sdp'), from: 'plain', local: WEBRTC_A, state: createLegState(SESSION_A) });
    const switched = loadSdp('chromium-answer.sdp').replace('UDP/TLS/RTP/SAVPF', 'RTP/AVP');
    expect(() => translateAnswer({ sdp: switched, pending: offer.pending, local: PLAIN_B, state: createLegState(SESSION_B) })).toThrow(
      expect.objectContaining({ code: 'SDP_UNSUPPORTED', status: 488 }),
    );
  });

  it('turns a FreeSWITCH offer into a WebRTC offer: Opus kept on its number, CN and silenceSupp dropped', () => {
    const offer = translateOffer({ sdp: loadSdp('freeswitch-offer.sdp'), from: 'plain', local: WEBRTC_A, state: createLegState(SESSION_A) });
    expect(offer.sdp).toBe(
      sdp(
        'v=0',
        'o=- 1893453912 1 IN IP4 127.0.0.1',
        's=-',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        'a=ice-lite',
        'a=group:BUNDLE 0',
        'm=audio 40000 UDP/TLS/RTP/SAVPF 102 9 0 8 101',
        'a=mid:0',
        ...GATEWAY_WEBRTC_A,
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
    const offer = translateOffer({ sdp: loadSdp('sipp-uac-offer.sdp'), from: 'plain', local: WEBRTC_A, state: createLegState(SESSION_A) });
    expect(offer.sdp).toContain('m=audio 40000 UDP/TLS/RTP/SAVPF 0\r\n');
    expect(offer.sdp).toContain('a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n');
  });

  it('refuses an SDES-SRTP offer (RTP/SAVP + a=crypto) with 488 and says why', () => {
    const attempt = (): unknown =>
      translateOffer({ sdp: loadSdp('asterisk-sdes.sdp'), from: 'plain', local: WEBRTC_A, state: createLegState(SESSION_A) });
    expect(attempt).toThrow(/SDES-SRTP/);
    expect(attempt).toThrow(expect.objectContaining({ code: 'SDP_UNSUPPORTED', status: 488 }));
  });

  it('relays an offer that has SDES crypto lines on RTP/AVP (best-effort SRTP) as plain RTP, crypto dropped', () => {
    const bestEffort = loadSdp('asterisk-sdes.sdp').replace('RTP/SAVP', 'RTP/AVP');
    const offer = translateOffer({ sdp: bestEffort, from: 'plain', local: WEBRTC_A, state: createLegState(SESSION_A) });
    expect(offer.sdp).not.toContain('crypto');
    expect(offer.sdp).toContain('m=audio 40000 UDP/TLS/RTP/SAVPF 0 101\r\n');
  });

  it('refuses a T.38-only re-offer: there is no audio to bridge', () => {
    const t38 = sdp('v=0', 'o=- 5 6 IN IP4 203.0.113.20', 's=-', 'c=IN IP4 203.0.113.20', 't=0 0', 'm=image 4000 udptl t38', 'a=T38FaxVersion:0');
    expect(() => translateOffer({ sdp: t38, from: 'plain', local: WEBRTC_A, state: createLegState(SESSION_A) })).toThrow(
      expect.objectContaining({ code: 'SDP_UNSUPPORTED', status: 488 }),
    );
  });

  it('refuses a WebRTC offer on a plain leg and a plain offer on a WebRTC leg', () => {
    expect(() => translateOffer({ sdp: loadSdp('chromium-offer.sdp'), from: 'plain', local: PLAIN_B, state: createLegState(SESSION_B) })).toThrow(
      expect.objectContaining({ code: 'SDP_UNSUPPORTED' }),
    );
    expect(() => translateOffer({ sdp: loadSdp('asterisk-offer.sdp'), from: 'webrtc', local: PLAIN_B, state: createLegState(SESSION_B) })).toThrow(
      expect.objectContaining({ code: 'SDP_UNSUPPORTED' }),
    );
  });
});
