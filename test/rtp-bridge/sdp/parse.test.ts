import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors.ts';
import { createLegState, MAX_SDP_LENGTH, parseSdp, SdpError, translateAnswer } from '../../../src/rtp-bridge/sdp/index.ts';
import { loadSdp, PLAIN_A, sdp, SESSION_B, translateBrowserOffer, translateTrunkAnswer, translateTrunkOffer } from './fixtures.ts';

describe('parseSdp on real SDP', () => {
  it("reads Chromium's offer: codecs with fmtp and rtcp-fb, ICE, DTLS, BUNDLE, mid, rtcp-mux, ssrc", () => {
    const s = parseSdp(loadSdp('chromium-offer.sdp'));
    expect(s.origin).toEqual({ username: '-', sessionId: '4125407326497679394', version: '2', family: 'IP4', address: '127.0.0.1' });
    expect(s.bundleGroups).toEqual([['0']]);
    expect(s.iceLite).toBe(false);
    expect(s.media).toHaveLength(1);
    const m = s.media[0]!;
    expect(m).toMatchObject({ type: 'audio', port: 37580, proto: 'UDP/TLS/RTP/SAVPF', mid: '0', direction: 'sendrecv', rtcpMux: true });
    expect(m.connection).toEqual({ family: 'IP4', address: '192.0.2.2' });
    expect(m.rtcp).toEqual({ port: 9, address: '0.0.0.0' });
    expect(m.codecs.map((c) => `${c.pt} ${c.name}/${c.clockRate}/${c.channels}`)).toEqual([
      '111 opus/48000/2',
      '63 red/48000/2',
      '9 G722/8000/1',
      '0 PCMU/8000/1',
      '8 PCMA/8000/1',
      '13 CN/8000/1',
      '110 telephone-event/48000/1',
      '126 telephone-event/8000/1',
    ]);
    expect(m.codecs[0]).toEqual({ pt: 111, name: 'opus', clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1', rtcpFb: ['transport-cc'] });
    expect(m.ice?.candidates).toHaveLength(4);
    expect(m.ice?.candidates[2]).toEqual({
      foundation: '4175177332',
      component: 1,
      transport: 'tcp',
      priority: 1518214911,
      address: '192.0.2.2',
      port: 9,
      type: 'host',
      tcpType: 'active',
    });
    expect(m.setup).toBe('actpass');
    expect(m.ssrcs).toEqual([3391426799]);
    expect(m.crypto).toEqual([]);
  });

  it("reads Firefox's offer: session-level fingerprint and ice-options inherited, /1 channels, LF line endings", () => {
    const s = parseSdp(loadSdp('firefox-offer.sdp'));
    expect(s.bundleGroups).toEqual([['0', '1']]);
    expect(s.media.map((m) => [m.type, m.mid, m.fingerprints.length, m.ice?.options])).toEqual([
      ['audio', '0', 1, ['trickle']],
      ['video', '1', 1, ['trickle']],
    ]);
    expect(s.media[0]!.codecs.find((c) => c.pt === 9)).toMatchObject({ name: 'G722', clockRate: 8000, channels: 1 });
    expect(s.media[0]!.connection).toEqual({ family: 'IP4', address: '0.0.0.0' });
  });

  it("reads SIPp's answer with its trailing blank line, and the static payload type without needing a=rtpmap", () => {
    expect(parseSdp(loadSdp('sipp-uas-answer.sdp')).media[0]!.codecs).toEqual([{ pt: 0, name: 'PCMU', clockRate: 8000, channels: 1, rtcpFb: [] }]);
    const bare = parseSdp(sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.9', 's=-', 'c=IN IP4 192.0.2.9', 't=0 0', 'm=audio 5004 RTP/AVP 0 8 18 97'));
    // RFC 3551 static numbers name their codec; 97 without rtpmap names nothing.
    expect(bare.media[0]!.codecs.map((c) => c.name)).toEqual(['PCMU', 'PCMA', 'G729']);
    expect(bare.media[0]!.formats).toEqual(['0', '8', '18', '97']);
  });

  it('reads a=crypto (SDES) so it can be refused, and a=rtcp with an address', () => {
    const m = parseSdp(loadSdp('asterisk-sdes.sdp')).media[0]!;
    expect(m.crypto).toEqual([{ tag: 5, suite: 'AES_CM_128_HMAC_SHA1_80' }]);
    expect(parseSdp(loadSdp('freeswitch-offer.sdp')).media[0]!.rtcp).toEqual({ port: 23403, address: '203.0.113.30' });
  });

  it('keeps several fingerprints, media level over session level (RFC 8122 §5), and every ice-option', () => {
    const text = sdp(
      'v=0',
      'o=- 1 1 IN IP6 ::1',
      's=-',
      'c=IN IP6 2001:db8::1',
      't=0 0',
      'a=fingerprint:SHA-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33',
      'a=ice-options:trickle renomination',
      'a=sendonly',
      'm=audio 5000 UDP/TLS/RTP/SAVPF 111',
      'a=rtpmap:111 opus/48000/2',
      'a=fingerprint:sha-256 44:1D:82:67:E8:03:A7:27:70:18:BD:C1:6B:BE:F1:D6:E6:F5:7E:47:6B:FA:DC:7A:AF:7C:87:8A:FB:49:54:84',
      'a=fingerprint:SHA-512 0A:0B',
      'a=ice-ufrag:abcd',
      'a=ice-pwd:0123456789abcdefghijklmn',
      'm=audio 5002 UDP/TLS/RTP/SAVPF 0',
      'a=inactive',
    );
    const [first, second] = parseSdp(text).media;
    expect(first!.fingerprints.map((f) => f.algorithm)).toEqual(['sha-256', 'sha-512']);
    expect(second!.fingerprints).toEqual([{ algorithm: 'sha-1', value: '00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33' }]);
    expect(first!.ice?.options).toEqual(['trickle', 'renomination']);
    expect(first!.connection).toEqual({ family: 'IP6', address: '2001:db8::1' });
    // Session-level direction is the default; a media-level one wins.
    expect([first!.direction, second!.direction]).toEqual(['sendonly', 'inactive']);
  });
});

const GARBAGE: readonly [string, string][] = [
  ['empty', ''],
  ['prose', 'hello, this is not SDP'],
  ['binary', '\u0000\u00ff\u0010\u0080v=0'],
  ['wrong version', sdp('v=1', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=0 0')],
  ['no o=', sdp('v=0', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP 0')],
  ['short o=', sdp('v=0', 'o=- 1 IN IP4 192.0.2.1', 's=-', 't=0 0', 'm=audio 5000 RTP/AVP 0')],
  ['bad o= family', sdp('v=0', 'o=- 1 1 IN IPX 192.0.2.1', 's=-', 't=0 0', 'm=audio 5000 RTP/AVP 0')],
  ['line without =', sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c IN IP4 192.0.2.1', 'm=audio 5000 RTP/AVP 0')],
  ['port out of range', sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 70000 RTP/AVP 0')],
  ['m= without formats', sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP')],
  ['port without c=', sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=0 0', 'm=audio 5000 RTP/AVP 0')],
  ['malformed c=', sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4', 't=0 0', 'm=audio 5000 RTP/AVP 0')],
  ['non-numeric RTP format', sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP pcmu')],
  ['payload type > 127', sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP 200')],
  ['rtpmap without rate', sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP 96', 'a=rtpmap:96 opus')],
  ['unknown setup', sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP 0', 'a=setup:sideways')],
  ['two v= lines', sdp('v=0', 'v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=0 0')],
  ['oversized', sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5000 RTP/AVP 0', 'a=x'.repeat(MAX_SDP_LENGTH))],
];

describe('parseSdp on garbage', () => {
  it.each(GARBAGE)('%s → SdpError SDP_INVALID (488)', (_name, text) => {
    let caught: unknown;
    try {
      parseSdp(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SdpError);
    expect(caught).toBeInstanceOf(GatewayError);
    expect(caught).toMatchObject({ code: 'SDP_INVALID', status: 488 });
  });

  it('rejects a value that is not a string', () => {
    expect(() => parseSdp(undefined as unknown as string)).toThrow(SdpError);
    expect(() => parseSdp(Buffer.from('v=0') as unknown as string)).toThrow(SdpError);
  });
});

/** xorshift32: deterministic, so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

const PIECES = [' ', '', '0', '-1', '99999', 'IN IP4', 'IP6 ::', 'RTP/AVP', 'a=', 'm=audio 0 x', ':', '/', 'rtpmap:', 'fmtp:96 ', '\t', 'é', '\u0000'];

function mutate(text: string, random: () => number): string {
  const lines = text.split(/\r?\n/);
  const pick = (): number => Math.floor(random() * lines.length);
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) {
    const i = pick();
    const line = lines[i] ?? '';
    const at = Math.floor(random() * (line.length + 1));
    const piece = PIECES[Math.floor(random() * PIECES.length)]!;
    switch (Math.floor(random() * 6)) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, line);
        break;
      case 2:
        lines[i] = line.slice(0, at);
        break;
      case 3:
        lines[i] = line.slice(0, at) + piece + line.slice(at);
        break;
      case 4:
        lines[i] = line.slice(0, at) + piece + line.slice(at + 1 + Math.floor(random() * 5));
        break;
      default:
        lines.splice(i, 0, lines[pick()] ?? '');
    }
  }
  return lines.join('\r\n');
}

describe('never a raw exception', () => {
  it('mutated real SDPs only ever throw SdpError, through parse, offer and answer', () => {
    const fixtures = ['chromium-offer.sdp', 'chromium-offer-av.sdp', 'firefox-offer.sdp', 'asterisk-offer.sdp', 'freeswitch-offer.sdp', 'sipp-uas-answer.sdp', 'chromium-answer.sdp', 'freeswitch-answer.sdp'].map(loadSdp);
    const pending = {
      toPlain: translateBrowserOffer(loadSdp('chromium-offer.sdp')).pending,
      toWebrtc: translateTrunkOffer(loadSdp('asterisk-offer.sdp')).pending,
    };
    const random = rng(0x5d9);
    const outcomes = { ok: 0, sdpError: 0 };
    for (let n = 0; n < 1500; n++) {
      const text = mutate(fixtures[n % fixtures.length]!, random);
      const attempts = [
        () => parseSdp(text),
        () => translateBrowserOffer(text),
        () => translateTrunkOffer(text),
        () => translateTrunkAnswer(text, pending.toPlain),
        () => translateAnswer({ sdp: text, pending: pending.toWebrtc, local: PLAIN_A, state: createLegState(SESSION_B) }),
      ];
      for (const attempt of attempts) {
        try {
          attempt();
          outcomes.ok++;
        } catch (err) {
          if (!(err instanceof SdpError)) throw new Error(`raw ${String(err)} for:\n${text}`, { cause: err });
          outcomes.sdpError++;
        }
      }
    }
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    expect(outcomes.ok).toBeGreaterThan(500);
    expect(outcomes.sdpError).toBeGreaterThan(500);
  });
});
