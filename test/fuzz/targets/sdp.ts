/**
 * SDP fuzz targets: parseSdp on mutated real offers and answers (test/fixtures/sdp/), and the offer/answer
 * translation between WebRTC and plain legs on mutated offers and answers — new legs and re-offers. Only SdpError
 * (SDP_INVALID, SDP_UNSUPPORTED, NO_COMMON_CODEC) may come out; SDP_LOCAL_INVALID from remote input would mean the
 * gateway blames itself (500) for a peer's SDP, and any SDP the gateway emits must parse again.
 */
import {
  createLegState,
  parseSdp,
  SdpError,
  translateAnswer,
  translateOffer,
  type LegSdpState,
  type PendingOffer,
} from '../../../src/rtp-bridge/sdp/index.ts';
import { loadSdp, PLAIN_A, PLAIN_B, WEBRTC_A, WEBRTC_B } from '../../rtp-bridge/sdp/fixtures.ts';
import { FuzzFailure, runFuzzLoop, type FuzzStats } from '../harness.ts';
import { LineMutator, type TextCase } from '../mutators.ts';

const WEBRTC_OFFERS = ['chromium-offer.sdp', 'chromium-offer-av.sdp', 'firefox-offer.sdp', 'chromium-reoffer-hold.sdp', 'chromium-reoffer-resume.sdp', 'chromium-reoffer-answerer.sdp'];
const PLAIN_OFFERS = ['asterisk-offer.sdp', 'freeswitch-offer.sdp', 'sipp-uac-offer.sdp', 'asterisk-sdes.sdp'];
const PLAIN_ANSWERS = ['asterisk-answer.sdp', 'freeswitch-answer.sdp', 'sipp-uas-answer.sdp'];
const WEBRTC_ANSWERS = ['chromium-answer.sdp', 'chromium-answer-opus.sdp'];

/** Lines the SDP grammar (RFC 4566, 8866) and its WebRTC attributes know, to insert or substitute. */
const SDP_LINES = [
  'v=0', 'v=1', 'o=- 0 0 IN IP4 0.0.0.0', 'o=- 1 1 IN IP6 ::1', 's=-', 't=0 0', 'c=IN IP4 203.0.113.1', 'c=IN IP6 2001:db8::1',
  'c=IN IP4 224.2.1.1/127/3', 'c=IN IP4 example.com', 'c=IN IP4', 'm=audio 0 RTP/AVP 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'm=audio 5004/2 RTP/AVP 0 8', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'm=audio 65536 RTP/AVP 0', 'm=audio 1 TCP/RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:111 opus/48000/2', 'a=rtpmap:101 telephone-event/8000',
  'a=rtpmap:96', 'a=rtpmap:x y', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=fmtp:101 0-16', 'a=ptime:20', 'a=maxptime:150',
  'a=sendrecv', 'a=sendonly', 'a=recvonly', 'a=inactive', 'a=rtcp-mux', 'a=rtcp:9 IN IP4 0.0.0.0', 'a=rtcp:0', 'a=rtcp:70000',
  'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789012345678901', 'a=ice-ufrag:', 'a=ice-lite', 'a=ice-options:trickle',
  'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
  'a=fingerprint:sha-1 00', 'a=fingerprint:', 'a=setup:actpass', 'a=setup:active', 'a=setup:passive', 'a=setup:holdconn', 'a=mid:0', 'a=mid:',
  'a=group:BUNDLE 0 1', 'a=group:BUNDLE', 'a=candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host',
  'a=candidate:1 1 tcp 1 192.0.2.1 9 typ host tcptype active', 'a=candidate:x', 'a=end-of-candidates',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz', 'a=ssrc:1 cname:x', 'a=msid:- t',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level', 'a=rtcp-fb:111 transport-cc', 'b=AS:64', 'k=clear:x', 'i=x', 'u=http://x', 'e=a@b',
];
const SDP_TOKENS = ['IN', 'IP4', 'IP6', 'RTP/AVP', 'UDP/TLS/RTP/SAVPF', 'RTP/SAVP', 'audio', 'video', 'typ host', 'raddr', 'PCMU/8000', '/', ' ', '='];

const ALLOWED = new Set(['SDP_INVALID', 'SDP_UNSUPPORTED', 'NO_COMMON_CODEC']);

function expectedSdpError(error: unknown): string | undefined {
  return error instanceof SdpError && ALLOWED.has(error.code) ? error.code : undefined;
}

function mutator(files: readonly string[], seed: number): LineMutator {
  // Fixtures keep their line endings (Firefox's is LF): mutate on LF and let the CR stay part of the line.
  return new LineMutator(files.map(loadSdp), seed, { lines: SDP_LINES, tokens: SDP_TOKENS, eol: '\n' });
}

/** Our own SDP must always be valid SDP. */
function reparse(sdp: string, what: string): void {
  try {
    parseSdp(sdp);
  } catch (error) {
    throw new FuzzFailure(`the gateway emitted SDP that does not parse (${what}): ${String(error)}\n${sdp}`);
  }
}

export function runSdpParseFuzz(options: { iterations: number; seed: number }): FuzzStats {
  const m = mutator([...WEBRTC_OFFERS, ...PLAIN_OFFERS, ...PLAIN_ANSWERS, ...WEBRTC_ANSWERS], options.seed);
  return runFuzzLoop<TextCase>({
    target: 'sdp',
    ...options,
    next: () => m.next(),
    check: (c) => {
      const session = parseSdp(c.input);
      return session.media.length === 0 ? 'ok:no-media' : 'ok';
    },
    expected: expectedSdpError,
  });
}

interface Prepared {
  pending: PendingOffer;
  /** The answerer's leg state after the offer, and the offerer's leg state. */
  offererLocal: typeof WEBRTC_A | typeof PLAIN_A;
}

/** Valid offers translated once, so that mutated answers meet a real pending offer. */
function prepareAnswers(): { toPlain: Prepared; toWebrtc: Prepared; webrtcLegAfterAnswer: LegSdpState } {
  const toPlain = translateOffer({ sdp: loadSdp('chromium-offer.sdp'), from: 'webrtc', local: PLAIN_B, state: createLegState('4147052340') });
  const toWebrtc = translateOffer({ sdp: loadSdp('asterisk-offer.sdp'), from: 'plain', local: WEBRTC_B, state: createLegState('4147052341') });
  const answered = translateAnswer({ sdp: loadSdp('sipp-uas-answer.sdp'), pending: toPlain.pending, local: WEBRTC_A, state: createLegState('1893453912') });
  return {
    toPlain: { pending: toPlain.pending, offererLocal: WEBRTC_A },
    toWebrtc: { pending: toWebrtc.pending, offererLocal: PLAIN_A },
    webrtcLegAfterAnswer: answered.state,
  };
}

/**
 * Offers and answers through translation. Each input is one of: a mutated WebRTC offer towards a plain leg (a new
 * leg, or a re-offer on a leg with history), a mutated plain offer towards a WebRTC leg, or a mutated answer to a
 * real pending offer in either direction.
 */
export function runSdpTranslateFuzz(options: { iterations: number; seed: number }): FuzzStats {
  const webrtcOffers = mutator(WEBRTC_OFFERS, options.seed);
  const plainOffers = mutator(PLAIN_OFFERS, options.seed ^ 0x1111);
  const plainAnswers = mutator(PLAIN_ANSWERS, options.seed ^ 0x2222);
  const webrtcAnswers = mutator(WEBRTC_ANSWERS, options.seed ^ 0x3333);
  const prepared = prepareAnswers();
  const random = webrtcOffers.random;
  type Case = TextCase & { kind: 'webrtc-offer' | 'webrtc-reoffer' | 'plain-offer' | 'plain-answer' | 'webrtc-answer' };
  return runFuzzLoop<Case>({
    target: 'sdp-translate',
    ...options,
    next: () => {
      const kind = random.pick(['webrtc-offer', 'webrtc-reoffer', 'plain-offer', 'plain-answer', 'webrtc-answer'] as const);
      const source = kind === 'plain-offer' ? plainOffers : kind === 'plain-answer' ? plainAnswers : kind === 'webrtc-answer' ? webrtcAnswers : webrtcOffers;
      const c = source.next();
      return { ...c, ops: [kind, ...c.ops], kind };
    },
    check: (c) => {
      switch (c.kind) {
        case 'webrtc-offer': {
          const o = translateOffer({ sdp: c.input, from: 'webrtc', local: PLAIN_B, state: createLegState('4147052340') });
          reparse(o.sdp, c.kind);
          return 'ok:offer';
        }
        case 'webrtc-reoffer': {
          // A re-offer from the browser on a leg that already answered: its state carries slots and PT numbers.
          const o = translateOffer({ sdp: c.input, from: 'webrtc', local: PLAIN_B, state: prepared.webrtcLegAfterAnswer });
          reparse(o.sdp, c.kind);
          return 'ok:reoffer';
        }
        case 'plain-offer': {
          const o = translateOffer({ sdp: c.input, from: 'plain', local: WEBRTC_B, state: createLegState('4147052341') });
          reparse(o.sdp, c.kind);
          return 'ok:offer';
        }
        case 'plain-answer': {
          const a = translateAnswer({ sdp: c.input, pending: prepared.toPlain.pending, local: WEBRTC_A, state: createLegState('1893453912') });
          reparse(a.sdp, c.kind);
          return 'ok:answer';
        }
        case 'webrtc-answer': {
          const a = translateAnswer({ sdp: c.input, pending: prepared.toWebrtc.pending, local: PLAIN_A, state: createLegState('1893453913') });
          reparse(a.sdp, c.kind);
          return 'ok:answer';
        }
      }
    },
    expected: expectedSdpError,
  });
}
