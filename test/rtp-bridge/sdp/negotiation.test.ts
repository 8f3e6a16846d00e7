import { describe, expect, it } from 'vitest';
import {
  answerDirection,
  createLegState,
  DEFAULT_CODECS,
  intersectDirections,
  NoCommonCodecError,
  reverseDirection,
  sameCodec,
  selectOfferCodecs,
  translateAnswer,
  translateOffer,
  withoutReceive,
} from '../../../src/rtp-bridge/sdp/index.ts';
import type { Codec, Direction } from '../../../src/rtp-bridge/sdp/index.ts';
import { assignPayloadTypes, buildPayloadTypeMap } from '../../../src/rtp-bridge/sdp/payload-types.ts';
import { loadSdp, sdp, SESSION_A, translateBrowserAnswer, translateBrowserOffer, translateTrunkOffer, WEBRTC_A } from './fixtures.ts';

const codec = (pt: number, name: string, clockRate: number, channels = 1, fmtp?: string): Codec => ({
  pt,
  name,
  clockRate,
  channels,
  ...(fmtp === undefined ? {} : { fmtp }),
  rtcpFb: [],
});

describe('direction (RFC 3264 §6.1)', () => {
  it.each<[Direction, Direction]>([
    ['sendrecv', 'sendrecv'],
    ['sendonly', 'recvonly'],
    ['recvonly', 'sendonly'],
    ['inactive', 'inactive'],
  ])('an answerer willing to do anything answers %s with %s', (offered, answered) => {
    expect(answerDirection(offered, 'sendrecv')).toBe(answered);
  });

  it('an answer can only narrow: sendonly is never answered sendrecv, a holding answerer narrows further', () => {
    expect(answerDirection('sendonly', 'sendrecv')).toBe('recvonly');
    expect(answerDirection('sendonly', 'sendonly')).toBe('inactive');
    expect(answerDirection('sendrecv', 'sendonly')).toBe('sendonly');
    expect(intersectDirections('sendonly', 'recvonly')).toBe('inactive');
    expect(reverseDirection('sendonly')).toBe('recvonly');
    expect(withoutReceive('sendrecv')).toBe('sendonly');
    expect(withoutReceive('recvonly')).toBe('inactive');
  });
});

describe('codec selection for an offer', () => {
  const chromium = [
    codec(111, 'opus', 48000, 2, 'minptime=10;useinbandfec=1'),
    codec(63, 'red', 48000, 2, '111/111'),
    codec(9, 'G722', 8000),
    codec(0, 'PCMU', 8000),
    codec(8, 'PCMA', 8000),
    codec(13, 'CN', 8000),
    codec(110, 'telephone-event', 48000),
    codec(126, 'telephone-event', 8000),
  ];

  it('keeps the relay set in the offerer order, telephone-event at each rate a kept codec has', () => {
    expect(selectOfferCodecs(chromium, [DEFAULT_CODECS]).map((c) => c.pt)).toEqual([111, 9, 0, 8, 110, 126]);
    // Without Opus there is no 48 kHz audio, so no 48 kHz events either.
    expect(selectOfferCodecs(chromium, [DEFAULT_CODECS, ['PCMU', 'PCMA', 'telephone-event']]).map((c) => c.pt)).toEqual([0, 8, 126]);
  });

  it('matches allow-list entries by name, name/rate or name/rate/channels, case-insensitively', () => {
    expect(selectOfferCodecs(chromium, [['OPUS/48000/2', 'pcma']]).map((c) => c.pt)).toEqual([111, 8]);
    expect(selectOfferCodecs(chromium, [['opus/48000/1', 'g722/16000', 'PCMU/8000']]).map((c) => c.pt)).toEqual([0]);
    // The operator may relay more than the default, e.g. comfort noise.
    expect(selectOfferCodecs(chromium, [[...DEFAULT_CODECS, 'CN']]).map((c) => c.pt)).toEqual([111, 9, 0, 8, 13, 110, 126]);
  });

  it('never offers payload types 64–95, which collide with RTCP under rtcp-mux (RFC 5761 §4)', () => {
    expect(selectOfferCodecs([codec(72, 'PCMU', 8000), codec(8, 'PCMA', 8000)], [DEFAULT_CODECS]).map((c) => c.pt)).toEqual([8]);
  });

  it('throws NoCommonCodecError (488) when only telephone-event or nothing relayable is left', () => {
    expect(() => selectOfferCodecs([codec(18, 'G729', 8000), codec(101, 'telephone-event', 8000)], [DEFAULT_CODECS])).toThrow(NoCommonCodecError);
    expect(() => selectOfferCodecs([], [DEFAULT_CODECS])).toThrow(expect.objectContaining({ code: 'NO_COMMON_CODEC', status: 488 }));
  });

  it('treats AMR with different octet-align as different codecs (RFC 4867 §8.3.1)', () => {
    expect(sameCodec(codec(96, 'AMR', 8000, 1, 'octet-align=1'), codec(97, 'amr', 8000, 1, 'mode-set=7; octet-align=1'))).toBe(true);
    expect(sameCodec(codec(96, 'AMR', 8000, 1, 'octet-align=1'), codec(96, 'AMR', 8000))).toBe(false);
    expect(sameCodec(codec(0, 'PCMU', 8000), codec(0, 'PCMA', 8000))).toBe(false);
  });
});

describe('payload type numbers', () => {
  it('keeps the source numbers on a fresh leg', () => {
    const out = assignPayloadTypes([codec(0, 'PCMU', 8000), codec(101, 'telephone-event', 8000)], []);
    expect(out.map((o) => [o.sourcePt, o.codec.pt])).toEqual([
      [0, 0],
      [101, 101],
    ]);
  });

  it('reuses a codec’s number on the leg, and moves a codec off a number bound to another one', () => {
    const bindings = [
      { pt: 101, codec: 'telephone-event/8000/1' },
      { pt: 96, codec: 'opus/48000/2' },
    ];
    const out = assignPayloadTypes([codec(96, 'telephone-event', 8000), codec(111, 'opus', 48000, 2), codec(101, 'G722', 8000)], bindings);
    expect(out.map((o) => [o.sourcePt, o.codec.name, o.codec.pt])).toEqual([
      [96, 'telephone-event', 101],
      [111, 'opus', 96],
      // 101 is taken by telephone-event on this leg: the first free dynamic number.
      [101, 'G722', 97],
    ]);
  });

  it('builds the relay tables, accepting both numbers the answerer might send with', () => {
    const map = buildPayloadTypeMap([
      { offerer: codec(0, 'PCMU', 8000), sent: codec(0, 'PCMU', 8000), answerer: codec(0, 'PCMU', 8000) },
      { offerer: codec(126, 'telephone-event', 8000), sent: codec(126, 'telephone-event', 8000), answerer: codec(101, 'telephone-event', 8000) },
    ]);
    expect(map.offererToAnswerer.map((r) => [r.in, r.out])).toEqual([
      [0, 0],
      [126, 101],
    ]);
    expect(map.answererToOfferer.map((r) => [r.in, r.out])).toEqual([
      [0, 0],
      [126, 126],
      [101, 126],
    ]);
  });

  it("prefers the offer's number when the answerer's number for one codec is the offer's for another", () => {
    const map = buildPayloadTypeMap([
      { offerer: codec(96, 'opus', 48000, 2), sent: codec(96, 'opus', 48000, 2), answerer: codec(97, 'opus', 48000, 2) },
      { offerer: codec(97, 'telephone-event', 48000), sent: codec(97, 'telephone-event', 48000), answerer: codec(96, 'telephone-event', 48000) },
    ]);
    expect(map.answererToOfferer.map((r) => [r.in, r.out, r.encoding])).toEqual([
      [96, 96, 'opus'],
      [97, 97, 'telephone-event'],
    ]);
  });
});

describe('DTLS roles (RFC 5763 §5, RFC 8842 §5.3)', () => {
  const chromiumOffer = loadSdp('chromium-offer.sdp');
  const answerFor = (setup: string | undefined, local = WEBRTC_A): string => {
    const offer = setup === undefined ? chromiumOffer.replace('a=setup:actpass\r\n', '') : chromiumOffer.replace('a=setup:actpass', `a=setup:${setup}`);
    const o = translateBrowserOffer(offer);
    const a = translateAnswer({ sdp: loadSdp('sipp-uas-answer.sdp'), pending: o.pending, local, state: createLegState(SESSION_A) });
    return `${a.sdp.match(/a=setup:\w+/)![0]} ${a.offerer.dtlsRole}`;
  };

  it('answers actpass with the role asked for (passive by default), active with passive, passive with active', () => {
    expect(answerFor('actpass')).toBe('a=setup:passive server');
    expect(answerFor('actpass', { ...WEBRTC_A, setup: 'active' })).toBe('a=setup:active client');
    expect(answerFor('active', { ...WEBRTC_A, setup: 'active' })).toBe('a=setup:passive server');
    expect(answerFor('passive')).toBe('a=setup:active client');
    // RFC 4145 §4: no a=setup means active.
    expect(answerFor(undefined)).toBe('a=setup:passive server');
  });

  it('refuses holdconn in an offer, and actpass in an answer', () => {
    expect(() => answerFor('holdconn')).toThrow(expect.objectContaining({ code: 'SDP_UNSUPPORTED' }));
    const o = translateTrunkOffer(loadSdp('asterisk-offer.sdp'));
    const actpass = loadSdp('chromium-answer.sdp').replace('a=setup:active', 'a=setup:actpass');
    expect(() => translateBrowserAnswer(actpass, o.pending)).toThrow(
      expect.objectContaining({ code: 'SDP_INVALID', status: 488 }),
    );
  });

  it('gives the gateway the client role on a called browser leg that answers passive', () => {
    const o = translateTrunkOffer(loadSdp('asterisk-offer.sdp'));
    const passive = loadSdp('chromium-answer.sdp').replace('a=setup:active', 'a=setup:passive');
    const a = translateBrowserAnswer(passive, o.pending);
    expect(a.answerer.dtlsRole).toBe('client');
  });

  it('refuses a WebRTC offer without ICE credentials, fingerprint or rtcp-mux', () => {
    const offer = loadSdp('chromium-offer.sdp');
    for (const broken of [
      offer.replace(/a=ice-pwd:.*\r\n/, ''),
      offer.replace(/a=fingerprint:.*\r\n/, ''),
      offer.replace('a=rtcp-mux\r\n', ''),
    ]) {
      expect(() => translateBrowserOffer(broken)).toThrow(
        expect.objectContaining({ code: 'SDP_UNSUPPORTED', status: 488 }),
      );
    }
  });
});

describe("the gateway's own endpoint", () => {
  it('refuses a bad local endpoint with SDP_LOCAL_INVALID (500): our configuration, not the peer', () => {
    const offer = loadSdp('sipp-uac-offer.sdp');
    const bad = [
      { kind: 'plain', address: 'gateway.example.com', port: 30000 },
      { kind: 'plain', address: '198.51.100.10', port: 65535 },
      { ...WEBRTC_A, ice: { ufrag: 'ab', pwd: WEBRTC_A.ice.pwd } },
      { ...WEBRTC_A, fingerprints: [] },
    ] as const;
    for (const local of bad) {
      expect(() => translateOffer({ sdp: offer, from: 'plain', local, state: createLegState(SESSION_A) })).toThrow(
        expect.objectContaining({ code: 'SDP_LOCAL_INVALID', status: 500 }),
      );
    }
  });

  it('lists the configured host candidates with RFC 8445 priorities', () => {
    const offer = translateOffer({
      sdp: loadSdp('sipp-uac-offer.sdp'),
      from: 'plain',
      local: { ...WEBRTC_A, candidates: [{ address: '127.0.0.1', port: 40000 }, { address: '::1', port: 40000 }] },
      state: createLegState(SESSION_A),
    });
    expect(offer.sdp).toContain(
      sdp('a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host', 'a=candidate:2 1 udp 2130706175 ::1 40000 typ host', 'a=end-of-candidates'),
    );
  });
});
