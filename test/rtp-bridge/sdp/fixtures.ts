/**
 * Fixtures and the fixed gateway endpoints of the SDP tests. Volatile values (ports, ICE credentials,
 * fingerprints, session ids) are inputs, so the expected SDP is exact text.
 *
 * Fixture files under test/fixtures/sdp/ start with `#` lines saying where the SDP comes from; loadSdp drops them
 * and returns the SDP exactly as captured (line endings included).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PlainEndpoint, WebrtcEndpoint } from '../../../src/rtp-bridge/sdp/index.ts';

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

/** The gateway's browser-facing endpoint. Loopback, so a browser given this SDP only ever talks to loopback. */
export const WEBRTC_A: WebrtcEndpoint = {
  kind: 'webrtc',
  address: '127.0.0.1',
  port: 40000,
  ice: { ufrag: 'gWx4', pwd: 'Vx9uQ3bLk7Tn2sR8mW5yZp1a' },
  fingerprints: [GATEWAY_FINGERPRINT],
};

export const WEBRTC_B: WebrtcEndpoint = {
  kind: 'webrtc',
  address: '127.0.0.1',
  port: 40002,
  ice: { ufrag: 'hQz7', pwd: 'Ab3dE6gH9jK2mN5pQ8sT1vW4' },
  fingerprints: [GATEWAY_FINGERPRINT],
};

export const SESSION_A = '1893453912';
export const SESSION_B = '4147052340';
