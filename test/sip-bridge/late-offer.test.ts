import { describe, expect, it } from 'vitest';
import { DEFAULT_TRUNK_CODECS, placeholderOffer } from '../../src/sip-bridge/late-offer.ts';
import { findBridgedSection, parseSdp, remoteMedia } from '../../src/rtp-bridge/sdp/index.ts';

describe('the placeholder offer that stands for an offerless trunk', () => {
  it('is plain RTP/AVP, sendrecv (not RFC 2543 hold), at the trunk’s address and the discard port', () => {
    const sdp = placeholderOffer('192.0.2.10', DEFAULT_TRUNK_CODECS);
    const session = parseSdp(sdp);
    const audio = findBridgedSection(session, 'plain');
    const remote = remoteMedia(session, audio, 'plain', 'offer');
    expect(remote).toMatchObject({ kind: 'plain', address: '192.0.2.10', port: 9, direction: 'sendrecv' });
    expect(audio.proto).toBe('RTP/AVP');
    expect(audio.codecs.map((c) => `${c.pt} ${c.name}/${c.clockRate}`)).toEqual(['0 PCMU/8000', '8 PCMA/8000', '9 G722/8000', '101 telephone-event/8000']);
  });

  it('offers the trunk’s configured codecs only, opus with a dynamic number; IPv6 addresses as IP6', () => {
    const sdp = placeholderOffer('2001:db8::5', ['opus', 'PCMA']);
    expect(sdp).toMatch(/^c=IN IP6 2001:db8::5\r$/m);
    expect(sdp).toMatch(/^m=audio 9 RTP\/AVP 96 8\r$/m);
    expect(sdp).toMatch(/^a=rtpmap:96 opus\/48000\/2\r$/m);
    expect(sdp).not.toMatch(/telephone-event/);
  });
});
