import { describe, expect, it } from 'vitest';
import { NoCommonCodecError, SdpError } from '../../../src/rtp-bridge/sdp/index.ts';
import type { TranslatedAnswer, TranslatedOffer } from '../../../src/rtp-bridge/sdp/index.ts';
import {
  CHROMIUM_CODECS,
  loadSdp,
  plainSession,
  sdp,
  SESSION_A,
  SESSION_B,
  translateBrowserOffer,
  translateTrunkAnswer,
  webrtcSession,
  webrtcTransport,
} from './fixtures.ts';

function offerFromChromium(): TranslatedOffer {
  return translateBrowserOffer(loadSdp('chromium-offer.sdp'));
}

/** The trunk's answer to Chromium's offer, translated for Chromium. */
function answerToChromium(answer: string): TranslatedAnswer {
  return translateTrunkAnswer(answer, offerFromChromium().pending);
}

describe('browser calls trunk: WebRTC offer → plain RTP/AVP offer', () => {
  it("turns Chromium's offer into a plain offer with the relayable codecs, the gateway's address and RTCP on port + 1", () => {
    const { sdp: out } = offerFromChromium();
    // red/48000 (RFC 2198) and CN are not in the default relay set; ICE, DTLS, BUNDLE, extmap, msid, ssrc,
    // rtcp-fb, rtcp-mux, rtcp-rsize and rtcp-xr stay on the WebRTC side.
    expect(out).toBe(
      sdp(
        ...plainSession(SESSION_B),
        'm=audio 30000 RTP/AVP 111 9 0 8 110 126',
        ...CHROMIUM_CODECS,
        'a=sendrecv',
        'a=rtcp:30001',
      ),
    );
  });

  it("reports Chromium's transport parameters for the WebRTC leg", () => {
    const { remote } = offerFromChromium();
    expect(remote.kind).toBe('webrtc');
    if (remote.kind !== 'webrtc') return;
    expect(remote).toMatchObject({ index: 0, mid: '0', setup: 'actpass', bundled: true, direction: 'sendrecv', rtcpMux: true });
    expect(remote.ice).toMatchObject({ ufrag: 'TH3M', pwd: 'NAwsmNkfkrB3SH9C1hOf4ZJX', options: ['trickle'], lite: false });
    expect(remote.ice.candidates.filter((c) => c.transport === 'udp').map((c) => `${c.address}:${c.port}`)).toEqual([
      '192.0.2.2:37580',
      'fd00::2:35245',
    ]);
    expect(remote.fingerprints).toEqual([
      { algorithm: 'sha-256', value: '44:1D:82:67:E8:03:A7:27:70:18:BD:C1:6B:BE:F1:D6:E6:F5:7E:47:6B:FA:DC:7A:AF:7C:87:8A:FB:49:54:84' },
    ]);
  });

  it("answers Chromium from SIPp's default answer: PCMU only, BUNDLE kept, mid echoed, setup passive to actpass", () => {
    const answer = answerToChromium(loadSdp('sipp-uas-answer.sdp'));
    expect(answer.sdp).toBe(
      sdp(
        ...webrtcSession(SESSION_A),
        'm=audio 40000 UDP/TLS/RTP/SAVPF 0',
        ...webrtcTransport('A', 'passive'),
        'a=rtpmap:0 PCMU/8000',
        'a=sendrecv',
      ),
    );
    expect(answer.remote).toMatchObject({ kind: 'plain', address: '203.0.113.5', port: 6000, direction: 'sendrecv', rtcpMux: false });
    expect(answer.payloadTypes.offererToAnswerer).toEqual([{ in: 0, out: 0, clockRate: 8000, encoding: 'PCMU' }]);
    expect(answer.offerer).toEqual({ direction: 'sendrecv', rtcpMux: true, dtlsRole: 'server' });
    expect(answer.answerer).toEqual({ direction: 'sendrecv', rtcpMux: false });
  });

  it('answers Chromium from an Asterisk answer: joint codecs in the offerer order, telephone-event with its fmtp, ptime', () => {
    const answer = answerToChromium(loadSdp('asterisk-answer.sdp'));
    expect(answer.sdp).toBe(
      sdp(
        ...webrtcSession(SESSION_A),
        'm=audio 40000 UDP/TLS/RTP/SAVPF 0 8 126',
        ...webrtcTransport('A', 'passive'),
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:8 PCMA/8000',
        'a=rtpmap:126 telephone-event/8000',
        'a=fmtp:126 0-16',
        'a=ptime:20',
        'a=maxptime:150',
        'a=sendrecv',
      ),
    );
    expect(answer.remote).toMatchObject({ kind: 'plain', address: '203.0.113.20', port: 17362 });
  });

  it('answers Chromium from a FreeSWITCH answer that renumbers telephone-event, and maps 110 ⇄ 101 in the relay', () => {
    const answer = answerToChromium(loadSdp('freeswitch-answer.sdp'));
    expect(answer.sdp).toBe(
      sdp(
        ...webrtcSession(SESSION_A),
        'm=audio 40000 UDP/TLS/RTP/SAVPF 111 110',
        ...webrtcTransport('A', 'passive'),
        'a=rtpmap:111 opus/48000/2',
        'a=fmtp:111 useinbandfec=1',
        'a=rtpmap:110 telephone-event/48000',
        'a=fmtp:110 0-15',
        'a=ptime:20',
        'a=sendrecv',
      ),
    );
    // Chromium sends DTMF as 110, FreeSWITCH expects its 101; FreeSWITCH may send 110 (our offer's number, RFC
    // 3264) or 101 (its own): both reach Chromium as 110.
    expect(answer.payloadTypes).toEqual({
      offererToAnswerer: [
        { in: 111, out: 111, clockRate: 48000, encoding: 'opus' },
        { in: 110, out: 101, clockRate: 48000, encoding: 'telephone-event' },
      ],
      answererToOfferer: [
        { in: 111, out: 111, clockRate: 48000, encoding: 'opus' },
        { in: 110, out: 110, clockRate: 48000, encoding: 'telephone-event' },
        { in: 101, out: 110, clockRate: 48000, encoding: 'telephone-event' },
      ],
    });
    // RFC 3605: RTCP where FreeSWITCH's a=rtcp says.
    expect(answer.remote).toMatchObject({ kind: 'plain', port: 19072, rtcpPort: 19073, rtcpAddress: '203.0.113.30' });
  });

  it("rejects Firefox's video m-line with port 0 in the answer, keeping m-line count, order and mids", () => {
    const offer = translateBrowserOffer(loadSdp('firefox-offer.sdp'));
    // Firefox's fingerprint is session-level, its c= is the JSEP placeholder 0.0.0.0 (not hold on a WebRTC leg).
    expect(offer.sdp).toBe(
      sdp(
        ...plainSession(SESSION_B),
        'm=audio 30000 RTP/AVP 109 9 0 8 101',
        'a=rtpmap:109 opus/48000/2',
        'a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1',
        'a=rtpmap:9 G722/8000',
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:8 PCMA/8000',
        'a=rtpmap:101 telephone-event/8000',
        'a=fmtp:101 0-15',
        'a=sendrecv',
        'a=rtcp:30001',
      ),
    );
    const answer = translateTrunkAnswer(loadSdp('sipp-uas-answer.sdp'), offer.pending);
    expect(answer.sdp).toBe(
      sdp(
        ...webrtcSession(SESSION_A),
        'm=audio 40000 UDP/TLS/RTP/SAVPF 0',
        ...webrtcTransport('A', 'passive'),
        'a=rtpmap:0 PCMU/8000',
        'a=sendrecv',
        'm=video 0 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 97 98',
        'a=mid:1',
      ),
    );
  });

  it("rejects Chromium's video and data channel m-lines with port 0", () => {
    const offer = translateBrowserOffer(loadSdp('chromium-offer-av.sdp'));
    expect(offer.sdp.match(/^m=/gm)).toHaveLength(1);
    const answer = translateTrunkAnswer(loadSdp('sipp-uas-answer.sdp'), offer.pending);
    expect(answer.sdp.split('\r\n').filter((l) => l.startsWith('m=') || l.startsWith('a=mid') || l.startsWith('a=group'))).toEqual([
      'a=group:BUNDLE 0',
      'm=audio 40000 UDP/TLS/RTP/SAVPF 0',
      'a=mid:0',
      'm=video 0 UDP/TLS/RTP/SAVPF 96 97 102 103 104 107 108 109 114 115 116 117 39 40 45 46 98 99 100 101 118 119 120',
      'a=mid:1',
      'm=application 0 UDP/DTLS/SCTP webrtc-datachannel',
      'a=mid:2',
    ]);
    expect(answer.state.slots.map((s) => [s.type, s.mid, s.bridged])).toEqual([
      ['audio', '0', true],
      ['video', '1', false],
      ['application', '2', false],
    ]);
  });

  it('offers only what a restricted trunk allows, and fails with 488 when nothing is left', () => {
    const pcmaOnly = translateBrowserOffer(loadSdp('chromium-offer.sdp'), { codecs: { to: ['PCMA', 'telephone-event/8000'] } });
    expect(pcmaOnly.sdp).toContain('m=audio 30000 RTP/AVP 8 126\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n');

    const attempt = (): unknown => translateBrowserOffer(loadSdp('chromium-offer.sdp'), { codecs: { to: ['G729'] } });
    expect(attempt).toThrow(NoCommonCodecError);
    try {
      attempt();
    } catch (err) {
      expect(err).toBeInstanceOf(SdpError);
      expect(err).toMatchObject({ code: 'NO_COMMON_CODEC', status: 488 });
    }
  });

  it('fails with NoCommonCodecError when the trunk answers with a codec that was not offered', () => {
    const offer = offerFromChromium();
    const g729 = sdp('v=0', 'o=- 1 1 IN IP4 203.0.113.9', 's=-', 'c=IN IP4 203.0.113.9', 't=0 0', 'm=audio 7000 RTP/AVP 18', 'a=rtpmap:18 G729/8000');
    expect(() => translateTrunkAnswer(g729, offer.pending)).toThrow(
      expect.objectContaining({ code: 'NO_COMMON_CODEC', status: 488 }),
    );
  });

  it('refuses an answer whose m-line count differs from the offer (RFC 3264 §6)', () => {
    const offer = offerFromChromium();
    const two = loadSdp('sipp-uas-answer.sdp').trimEnd() + '\r\nm=video 0 RTP/AVP 31\r\n';
    expect(() => translateTrunkAnswer(two, offer.pending)).toThrow(
      expect.objectContaining({ code: 'SDP_INVALID', status: 488 }),
    );
  });

  it('refuses an SDES-SRTP answer to a plain offer', () => {
    const offer = offerFromChromium();
    expect(() =>
      translateTrunkAnswer(loadSdp('asterisk-sdes.sdp'), offer.pending),
    ).toThrow(expect.objectContaining({ code: 'SDP_UNSUPPORTED', status: 488 }));
  });
});
