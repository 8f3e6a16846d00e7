import { describe, expect, it } from 'vitest';
import { createLegState, isIceRestart, translateAnswer, translateOffer } from '../../../src/rtp-bridge/sdp/index.ts';
import type { WebrtcRemoteMedia } from '../../../src/rtp-bridge/sdp/index.ts';
import {
  CHROMIUM_CODECS,
  loadSdp,
  PLAIN_A,
  PLAIN_B,
  plainSession,
  sdp,
  SESSION_A,
  SESSION_B,
  WEBRTC_A,
  WEBRTC_B,
  webrtcSession,
  webrtcTransport,
} from './fixtures.ts';

describe('browser calls browser (WebRTC ⇄ WebRTC), both ways', () => {
  it("relays Chromium's offer as a gateway WebRTC offer and Chromium's answer back, each leg with its own ICE/DTLS", () => {
    let legA = createLegState(SESSION_A);
    let legB = createLegState(SESSION_B);
    const offer = translateOffer({ sdp: loadSdp('chromium-offer.sdp'), from: 'webrtc', local: WEBRTC_B, state: legB });
    legB = offer.state;
    expect(offer.sdp).toBe(
      sdp(
        ...webrtcSession(SESSION_B),
        'm=audio 40002 UDP/TLS/RTP/SAVPF 111 9 0 8 110 126',
        ...webrtcTransport('B', 'actpass'),
        ...CHROMIUM_CODECS,
        'a=sendrecv',
      ),
    );

    const answer = translateAnswer({ sdp: loadSdp('chromium-answer-opus.sdp'), pending: offer.pending, local: WEBRTC_A, state: legA });
    legA = answer.state;
    expect(answer.sdp).toBe(
      sdp(
        ...webrtcSession(SESSION_A),
        'm=audio 40000 UDP/TLS/RTP/SAVPF 111 9 0 8 110 126',
        ...webrtcTransport('A', 'passive'),
        ...CHROMIUM_CODECS,
        'a=sendrecv',
      ),
    );
    // Caller's leg: the gateway answered passive → DTLS server. Called leg: Chromium answered active → server too.
    expect(answer.offerer.dtlsRole).toBe('server');
    expect(answer.answerer.dtlsRole).toBe('server');
    expect(answer.remote).toMatchObject({ kind: 'webrtc', setup: 'active', ice: { ufrag: 'DwnG', lite: false } });

    // Now the called browser puts the call on hold: its re-offer comes from B, the gateway offers to A.
    const reoffer = translateOffer({ sdp: loadSdp('chromium-reoffer-answerer.sdp'), from: 'webrtc', local: WEBRTC_A, state: legA });
    expect(isIceRestart(answer.remote as WebrtcRemoteMedia, reoffer.remote as WebrtcRemoteMedia)).toBe(false);
    expect(reoffer.sdp).toBe(
      sdp(
        ...webrtcSession(SESSION_A, 2),
        'm=audio 40000 UDP/TLS/RTP/SAVPF 111 9 0 8 110 126',
        ...webrtcTransport('A', 'actpass'),
        ...CHROMIUM_CODECS,
        'a=sendonly',
      ),
    );

    // A (Chromium) answers the hold recvonly, keeping its DTLS role (active).
    const answerFromA = loadSdp('chromium-answer-opus.sdp').replace('a=sendrecv', 'a=recvonly');
    // B's re-offer says actpass; the gateway keeps the role it has on B's leg (server = passive), RFC 8842 §5.5.
    const back = translateAnswer({ sdp: answerFromA, pending: reoffer.pending, local: { ...WEBRTC_B, setup: 'passive' }, state: legB });
    expect(back.sdp).toBe(
      sdp(
        ...webrtcSession(SESSION_B, 2),
        'm=audio 40002 UDP/TLS/RTP/SAVPF 111 9 0 8 110 126',
        ...webrtcTransport('B', 'passive'),
        ...CHROMIUM_CODECS,
        'a=recvonly',
      ),
    );
    expect(back.offerer).toEqual({ direction: 'recvonly', rtcpMux: true, dtlsRole: 'server' });
    expect(back.answerer).toEqual({ direction: 'sendonly', rtcpMux: true, dtlsRole: 'server' });
  });
});

describe('trunk to trunk (plain ⇄ plain)', () => {
  it('relays a SIPp offer and an Asterisk-style answer, anchoring both legs on the gateway', () => {
    const offer = translateOffer({ sdp: loadSdp('sipp-uac-offer.sdp'), from: 'plain', local: PLAIN_B, state: createLegState(SESSION_B) });
    expect(offer.sdp).toBe(
      sdp(
        ...plainSession(SESSION_B),
        'm=audio 30000 RTP/AVP 0',
        'a=rtpmap:0 PCMU/8000',
        'a=sendrecv',
        'a=rtcp:30001',
      ),
    );
    const answerFromB = sdp(
      'v=0',
      'o=- 1914457062 1914457064 IN IP4 203.0.113.20',
      's=Asterisk',
      'c=IN IP4 203.0.113.20',
      't=0 0',
      'm=audio 17362 RTP/AVP 0',
      'a=rtpmap:0 PCMU/8000',
      'a=ptime:20',
      'a=maxptime:150',
      'a=sendrecv',
    );
    const answer = translateAnswer({ sdp: answerFromB, pending: offer.pending, local: PLAIN_A, state: createLegState(SESSION_A) });
    expect(answer.sdp).toBe(
      sdp(
        ...plainSession(SESSION_A),
        'm=audio 30002 RTP/AVP 0',
        'a=rtpmap:0 PCMU/8000',
        'a=ptime:20',
        'a=maxptime:150',
        'a=sendrecv',
        'a=rtcp:30003',
      ),
    );
    expect(answer.offerer).toEqual({ direction: 'sendrecv', rtcpMux: false });
  });

  it('accepts rtcp-mux on a plain leg only when the operator allows it, echoing the offer proto (RTP/AVPF)', () => {
    const avpfMux = sdp(
      'v=0',
      'o=FreeSWITCH 1749742007 1749742008 IN IP4 10.164.0.12',
      's=FreeSWITCH',
      'c=IN IP4 10.164.0.12',
      't=0 0',
      'm=audio 23402 RTP/AVPF 0 101',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=silenceSupp:off - - - -',
      'a=sendrecv',
      'a=rtcp:23402',
      'a=rtcp-mux',
      'a=ptime:20',
    );
    const offer = translateOffer({ sdp: avpfMux, from: 'plain', local: { ...PLAIN_B, rtcpMux: true }, state: createLegState(SESSION_B) });
    expect(offer.sdp).toContain('a=sendrecv\r\na=rtcp:30001\r\na=rtcp-mux\r\n');
    const sippAnswer = loadSdp('sipp-uas-answer.sdp');
    const muxed = translateAnswer({ sdp: sippAnswer, pending: offer.pending, local: { ...PLAIN_A, rtcpMux: true }, state: createLegState(SESSION_A) });
    expect(muxed.sdp).toContain('m=audio 30002 RTP/AVPF 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\na=rtcp-mux\r\n');
    expect(muxed.offerer.rtcpMux).toBe(true);
    // SIPp did not accept mux on its leg.
    expect(muxed.answerer.rtcpMux).toBe(false);

    const plain = translateAnswer({ sdp: sippAnswer, pending: offer.pending, local: PLAIN_A, state: createLegState(SESSION_A) });
    expect(plain.sdp).toContain('m=audio 30002 RTP/AVPF 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\na=rtcp:30003\r\n');
    expect(plain.sdp).not.toContain('rtcp-mux');
  });

  it('advertises IPv6 when the gateway endpoint is IPv6', () => {
    const offer = translateOffer({
      sdp: loadSdp('sipp-uac-offer.sdp'),
      from: 'plain',
      local: { kind: 'plain', address: '2001:db8::10', port: 30000 },
      state: createLegState(SESSION_B),
    });
    expect(offer.sdp.split('\r\n').slice(0, 4)).toEqual(['v=0', 'o=- 4147052340 1 IN IP6 2001:db8::10', 's=-', 'c=IN IP6 2001:db8::10']);
  });
});
