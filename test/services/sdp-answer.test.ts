/**
 * The services peer's offer/answer on real offers (test/fixtures/sdp: Asterisk, FreeSWITCH, SIPp) and on the
 * edge cases of RFC 3264: codec choice per service, telephone-event, direction, other m-lines, o= versions.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import { parseSdp } from '../../src/rtp-bridge/sdp/index.ts';
import {
  acceptAnswer,
  createSdpVersion,
  negotiateOffer,
  renderAnswer,
  renderOffer,
  renderVersioned,
  type LocalAudio,
} from '../../src/services/sdp-answer.ts';

function fixture(name: string): string {
  const text = fs.readFileSync(new URL(`../fixtures/sdp/${name}`, import.meta.url), 'utf8');
  return text
    .split(/\r?\n/)
    .filter((l) => !l.startsWith('#') && l.length > 0)
    .join('\r\n') + '\r\n';
}

const local: LocalAudio = { address: '127.0.0.1', port: 40010, rtcpPort: 40011 };
const origin = { sessionId: '1234567890', version: 1 };

function plain(mline: string, attributes: string[], connection = '192.0.2.9'): string {
  return ['v=0', 'o=- 1 1 IN IP4 192.0.2.9', 's=-', `c=IN IP4 ${connection}`, 't=0 0', mline, ...attributes].join('\r\n') + '\r\n';
}

describe('negotiateOffer', () => {
  it("takes the first G.711 codec of Asterisk's offer and its telephone-event number", () => {
    const { audio } = negotiateOffer(parseSdp(fixture('asterisk-offer.sdp')), 'tone');
    expect(audio.codec).toMatchObject({ pt: 0, name: 'PCMU', clockRate: 8000 });
    expect(audio.telephoneEvent?.pt).toBe(101);
    expect(audio.direction).toBe('sendrecv');
    expect(audio.remote).toMatchObject({ address: '203.0.113.20', port: 17362 });
  });

  it('lets echo take G.722 (it does not decode) while tone skips it for PCMU', () => {
    const offer = parseSdp(fixture('freeswitch-offer.sdp'));
    expect(negotiateOffer(offer, 'echo').audio.codec.name).toBe('G722');
    expect(negotiateOffer(offer, 'tone').audio.codec.name).toBe('PCMU');
    expect(negotiateOffer(offer, 'tone').audio.remote).toMatchObject({ rtcpPort: 23403 });
  });

  it('keeps the codec in use when a re-offer still has it', () => {
    const offer = parseSdp(fixture('asterisk-offer.sdp'));
    const pcma = negotiateOffer(parseSdp(plain('m=audio 4000 RTP/AVP 8', [])), 'tone').audio.codec;
    expect(negotiateOffer(offer, 'tone', pcma).audio.codec).toMatchObject({ pt: 8, name: 'PCMA' });
  });

  it('answers SIPp without telephone-event when none is offered', () => {
    const { audio, section } = negotiateOffer(parseSdp(fixture('sipp-uac-offer.sdp')), 'echo');
    expect(audio.telephoneEvent).toBeUndefined();
    const sdp = renderAnswer(parseSdp(fixture('sipp-uac-offer.sdp')), section, audio, local, origin).sdp;
    expect(sdp).toBe(
      [
        'v=0',
        'o=- 1234567890 1 IN IP4 127.0.0.1',
        's=-',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        'm=audio 40010 RTP/AVP 0',
        'a=rtpmap:0 PCMU/8000',
        'a=ptime:20',
        'a=sendrecv',
        'a=rtcp:40011',
      ].join('\r\n') + '\r\n',
    );
  });

  it.each([
    ['sendonly', 'recvonly'],
    ['recvonly', 'sendonly'],
    ['inactive', 'inactive'],
    ['sendrecv', 'sendrecv'],
  ])('answers %s with %s (RFC 3264 §6.1)', (offered, answered) => {
    const { audio } = negotiateOffer(parseSdp(plain('m=audio 4000 RTP/AVP 0', [`a=${offered}`])), 'echo');
    expect(audio.direction).toBe(answered);
  });

  it('treats c=0.0.0.0 (RFC 2543 hold) as a caller that receives nothing', () => {
    const { audio } = negotiateOffer(parseSdp(plain('m=audio 4000 RTP/AVP 0', [], '0.0.0.0')), 'tone');
    expect(audio.direction).toBe('recvonly');
  });

  it('refuses what it cannot use, with the status a SIP answer needs', () => {
    const opusOnly = plain('m=audio 4000 RTP/AVP 111', ['a=rtpmap:111 opus/48000/2']);
    expect(() => negotiateOffer(parseSdp(opusOnly), 'echo')).toThrow(expect.objectContaining({ code: 'NO_COMMON_CODEC', status: 488 }));
    const g722 = plain('m=audio 4000 RTP/AVP 9', []);
    expect(() => negotiateOffer(parseSdp(g722), 'tone')).toThrow(expect.objectContaining({ code: 'NO_COMMON_CODEC' }));
    const sdes = plain('m=audio 4000 RTP/SAVP 0', ['a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz']);
    expect(() => negotiateOffer(parseSdp(sdes), 'echo')).toThrow(expect.objectContaining({ code: 'SDP_UNSUPPORTED', status: 488 }));
    const noAudio = plain('m=video 4000 RTP/AVP 96', ['a=rtpmap:96 VP8/90000']);
    expect(() => negotiateOffer(parseSdp(noAudio), 'echo')).toThrow(expect.objectContaining({ status: 488 }));
  });
});

describe('renderAnswer', () => {
  it('keeps every m-line of the offer: the audio it uses, the others refused with port 0 (RFC 3264 §6)', () => {
    const offer = parseSdp(
      plain('m=video 4002 RTP/AVP 96', ['a=rtpmap:96 VP8/90000', 'a=mid:v', 'm=audio 4000 RTP/AVPF 8 101', 'a=rtpmap:101 telephone-event/8000']),
    );
    const { section, audio } = negotiateOffer(offer, 'echo');
    const sdp = renderAnswer(offer, section, audio, local, origin).sdp;
    const mlines = sdp.split('\r\n').filter((l) => l.startsWith('m='));
    expect(mlines).toEqual(['m=video 0 RTP/AVP 96', 'm=audio 40010 RTP/AVPF 8 101']);
    expect(sdp).toContain('a=mid:v');
    expect(sdp).toContain('a=fmtp:101 0-15');
    // What we write parses back as what we meant.
    const parsed = parseSdp(sdp);
    expect(parsed.media[1]!.codecs.map((c) => c.name)).toEqual(['PCMA', 'telephone-event']);
    expect(parsed.media[1]!.rtcp?.port).toBe(40011);
  });

  it('moves the o= version only when the SDP changes (RFC 3264 §8)', () => {
    const offer = parseSdp(fixture('asterisk-offer.sdp'));
    const { section, audio } = negotiateOffer(offer, 'tone');
    let state = createSdpVersion();
    const render = (a: typeof audio) => {
      const out = renderVersioned(state, (o) => renderAnswer(offer, section, a, local, o));
      state = out.state;
      return / (\d+) IN IP4/.exec(out.sdp)![1];
    };
    expect(render(audio)).toBe('1');
    expect(render(audio)).toBe('1');
    expect(render({ ...audio, direction: 'recvonly' })).toBe('2');
    expect(render({ ...audio, direction: 'recvonly' })).toBe('2');
    expect(render(audio)).toBe('3');
  });
});

describe('an offer of ours in a 2xx, answered in the ACK', () => {
  it('offers the session as it stands, sendrecv, and takes an answer that keeps the codec', () => {
    const offer = parseSdp(fixture('asterisk-offer.sdp'));
    const { section, audio } = negotiateOffer(offer, 'echo');
    const ours = renderOffer(offer, section, { ...audio, direction: 'recvonly' }, local, origin).sdp;
    expect(ours).toContain('a=sendrecv');
    expect(ours).toContain('m=audio 40010 RTP/AVP 0 101');
    const answer = parseSdp(plain('m=audio 5000 RTP/AVP 0 101', ['a=rtpmap:101 telephone-event/8000', 'a=sendonly']));
    const accepted = acceptAnswer(answer, offer, audio);
    expect(accepted.direction).toBe('recvonly');
    expect(accepted.remote.port).toBe(5000);
    expect(accepted.telephoneEvent?.pt).toBe(101);
  });

  it('refuses an answer that drops our codec or changes the m-line count', () => {
    const offer = parseSdp(fixture('asterisk-offer.sdp'));
    const { audio } = negotiateOffer(offer, 'echo');
    expect(() => acceptAnswer(parseSdp(plain('m=audio 5000 RTP/AVP 8', [])), offer, audio)).toThrow(expect.objectContaining({ code: 'NO_COMMON_CODEC' }));
    const two = parseSdp(plain('m=audio 5000 RTP/AVP 0', ['m=video 0 RTP/AVP 96']));
    expect(() => acceptAnswer(two, offer, audio)).toThrow(expect.objectContaining({ code: 'SDP_INVALID' }));
  });
});
