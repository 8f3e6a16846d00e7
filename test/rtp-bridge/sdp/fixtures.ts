/**
 * Fixtures and the fixed gateway endpoints of the SDP tests. Volatile values (ports, ICE credentials,
 * fingerprints, session ids) are inputs, so the expected SDP is exact text; the lines every gateway SDP for these
 * endpoints repeats (session part, WebRTC transport) are written out once here.
 *
 * Fixture files under test/fixtures/sdp/ start with `#` lines saying where the SDP comes from; loadSdp drops them
 * and returns the SDP exactly as captured (line endings included).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLegState, translateAnswer, translateOffer } from '../../../src/rtp-bridge/sdp/index.ts';
import type {
  PendingOffer,
  PlainEndpoint,
  TranslateAnswerInput,
  TranslatedAnswer,
  TranslatedOffer,
  TranslateOfferInput,
  WebrtcEndpoint,
} from '../../../src/rtp-bridge/sdp/index.ts';

const DIR = fileURLToPath(new URL('../../fixtures/sdp/', import.meta.url));

/** Expected SDP text: the lines, CRLF-terminated (RFC 4566 §5). */
export const sdp = (...lines: string[]): string => lines.join('\r\n') + '\r\n';

export function loadSdp(name: string): string {
  const text = readFileSync(DIR + name, 'utf8');
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith('#')) i++;
  return lines.slice(i).join('\n');
}

/** The gateway's trunk-facing endpoint: an even RTP port, RTCP on the next one. */
export const PLAIN_B: PlainEndpoint = { kind: 'plain', address: '198.51.100.10', port: 30000 };
export const PLAIN_A: PlainEndpoint = { kind: 'plain', address: '198.51.100.10', port: 30002 };

export const GATEWAY_FINGERPRINT = {
  algorithm: 'sha-256',
  value: '5B:0F:8E:41:C2:7A:93:D4:16:E8:2B:AF:60:3C:D9:71:88:4E:F2:05:B7:1A:C6:39:90:DE:24:6F:83:5D:EA:17',
} as const;

function webrtcEndpoint(port: number, ufrag: string, pwd: string): WebrtcEndpoint {
  return { kind: 'webrtc', address: '127.0.0.1', port, ice: { ufrag, pwd }, fingerprints: [GATEWAY_FINGERPRINT] };
}

/** The gateway's browser-facing endpoints. Loopback, so a browser given this SDP only ever talks to loopback. */
export const WEBRTC_A = webrtcEndpoint(40000, 'gWx4', 'Vx9uQ3bLk7Tn2sR8mW5yZp1a');
export const WEBRTC_B = webrtcEndpoint(40002, 'hQz7', 'Ab3dE6gH9jK2mN5pQ8sT1vW4');

export const SESSION_A = '1893453912';
export const SESSION_B = '4147052340';

// ---- The gateway's SDP for these endpoints, line by line (for `sdp(...)`) ------------------------------------

const sessionLines = (sessionId: string, version: number, address: string): string[] => [
  'v=0',
  `o=- ${sessionId} ${version} IN IP4 ${address}`,
  's=-',
  `c=IN IP4 ${address}`,
  't=0 0',
];

/** The session part towards a trunk: PLAIN_A's and PLAIN_B's address, o= with `version`. */
export const plainSession = (sessionId: string, version = 1): string[] => sessionLines(sessionId, version, '198.51.100.10');

/** The session part towards a browser: loopback, ICE-lite, the audio m-line alone in a BUNDLE group. */
export const webrtcSession = (sessionId: string, version = 1): string[] => [
  ...sessionLines(sessionId, version, '127.0.0.1'),
  'a=ice-lite',
  'a=group:BUNDLE 0',
];

const TRANSPORT = {
  A: { ice: ['a=ice-ufrag:gWx4', 'a=ice-pwd:Vx9uQ3bLk7Tn2sR8mW5yZp1a'], candidate: 'a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host' },
  B: { ice: ['a=ice-ufrag:hQz7', 'a=ice-pwd:Ab3dE6gH9jK2mN5pQ8sT1vW4'], candidate: 'a=candidate:1 1 udp 2130706431 127.0.0.1 40002 typ host' },
} as const;

/**
 * The lines after the gateway's WebRTC audio m-line for WEBRTC_A or WEBRTC_B: mid, ICE credentials, fingerprint,
 * DTLS role, the one host candidate, rtcp-mux.
 */
export function webrtcTransport(endpoint: 'A' | 'B', setup: 'actpass' | 'active' | 'passive'): string[] {
  const { ice, candidate } = TRANSPORT[endpoint];
  return [
    'a=mid:0',
    ...ice,
    'a=fingerprint:sha-256 5B:0F:8E:41:C2:7A:93:D4:16:E8:2B:AF:60:3C:D9:71:88:4E:F2:05:B7:1A:C6:39:90:DE:24:6F:83:5D:EA:17',
    `a=setup:${setup}`,
    candidate,
    'a=end-of-candidates',
    'a=rtcp-mux',
  ];
}

/** The codecs of Chromium's audio offer (chromium-offer.sdp) that the gateway relays, as it writes them. */
export const CHROMIUM_CODECS = [
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
];

// ---- One translation each way, on the fixed endpoints and fresh leg states unless `more` says otherwise --------

/** Browser calls trunk: the browser's offer, translated for the trunk (PLAIN_B, leg B). */
export function translateBrowserOffer(offer: string, more: Partial<TranslateOfferInput> = {}): TranslatedOffer {
  return translateOffer({ sdp: offer, from: 'webrtc', local: PLAIN_B, state: createLegState(SESSION_B), ...more });
}

/** Browser calls trunk: the trunk's answer, translated for the browser (WEBRTC_A, leg A). */
export function translateTrunkAnswer(answer: string, pending: PendingOffer, more: Partial<TranslateAnswerInput> = {}): TranslatedAnswer {
  return translateAnswer({ sdp: answer, pending, local: WEBRTC_A, state: createLegState(SESSION_A), ...more });
}

/** Trunk calls browser: the trunk's offer, translated for the browser (WEBRTC_A, leg A). */
export function translateTrunkOffer(offer: string, more: Partial<TranslateOfferInput> = {}): TranslatedOffer {
  return translateOffer({ sdp: offer, from: 'plain', local: WEBRTC_A, state: createLegState(SESSION_A), ...more });
}

/** Trunk calls browser: the browser's answer, translated for the trunk (PLAIN_B, leg B). */
export function translateBrowserAnswer(answer: string, pending: PendingOffer, more: Partial<TranslateAnswerInput> = {}): TranslatedAnswer {
  return translateAnswer({ sdp: answer, pending, local: PLAIN_B, state: createLegState(SESSION_B), ...more });
}
