import { readFileSync } from 'node:fs';
import type { SrtpKeyMaterial, SrtpProfileName } from '../../../src/webrtc/srtp/profiles.ts';
import { SRTP_PROFILES } from '../../../src/webrtc/srtp/profiles.ts';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../fixtures/srtp/${name}`, import.meta.url), 'utf8')) as T;
}

export const ALL_PROFILES = Object.keys(SRTP_PROFILES) as SrtpProfileName[];

/** Deterministic, distinct key material per profile and seed. */
export function keysFor(profile: SrtpProfileName, seed = 1): SrtpKeyMaterial {
  const { keyLength, saltLength } = SRTP_PROFILES[profile];
  return {
    profile,
    masterKey: Buffer.from(Array.from({ length: keyLength }, (_, i) => (seed * 37 + i * 11) & 0xff)),
    masterSalt: Buffer.from(Array.from({ length: saltLength }, (_, i) => (seed * 59 + i * 7 + 3) & 0xff)),
  };
}

export interface RtpOptions {
  seq: number;
  ssrc?: number;
  timestamp?: number;
  payloadType?: number;
  payloadLength?: number;
  csrcs?: number[];
  /** Extension words (32-bit each) behind a 0xBEDE one-byte-header profile word. */
  extensionWords?: number;
}

/** A plain RTP packet (RFC 3550 §5.1) with a recognisable payload; `room` spare octets at the end for a tag. */
export function rtpPacket(options: RtpOptions, room = 20): Buffer {
  const csrcs = options.csrcs ?? [];
  const extension = options.extensionWords;
  const headerLength = 12 + csrcs.length * 4 + (extension === undefined ? 0 : 4 + extension * 4);
  const payloadLength = options.payloadLength ?? 160;
  const p = Buffer.alloc(headerLength + payloadLength + room);
  p[0] = 0x80 | (extension === undefined ? 0 : 0x10) | csrcs.length;
  p[1] = options.payloadType ?? 0;
  p.writeUInt16BE(options.seq & 0xffff, 2);
  p.writeUInt32BE((options.timestamp ?? options.seq * 160) >>> 0, 4);
  p.writeUInt32BE((options.ssrc ?? 0x11223344) >>> 0, 8);
  csrcs.forEach((c, i) => p.writeUInt32BE(c >>> 0, 12 + i * 4));
  if (extension !== undefined) {
    const at = 12 + csrcs.length * 4;
    p.writeUInt16BE(0xbede, at);
    p.writeUInt16BE(extension, at + 2);
    for (let i = 0; i < extension * 4; i++) p[at + 4 + i] = 0xe0 + i;
  }
  for (let i = 0; i < payloadLength; i++) p[headerLength + i] = (options.seq + i * 13) & 0xff;
  return p;
}

export function rtpLength(options: RtpOptions): number {
  const extension = options.extensionWords;
  const extensionLength = extension === undefined ? 0 : 4 + extension * 4;
  return 12 + (options.csrcs?.length ?? 0) * 4 + extensionLength + (options.payloadLength ?? 160);
}

/** An RTCP receiver report with one report block followed by an SDES CNAME chunk (a compound packet). */
export function rtcpCompound(ssrc: number, marker: number, room = 24): { packet: Buffer; length: number } {
  const packet = Buffer.alloc(32 + 20 + room);
  packet[0] = 0x81; // RR, one report block
  packet[1] = 201;
  packet.writeUInt16BE(7, 2);
  packet.writeUInt32BE(ssrc >>> 0, 4);
  for (let i = 8; i < 32; i++) packet[i] = (marker + i) & 0xff;
  packet[32] = 0x81; // SDES, one chunk
  packet[33] = 202;
  packet.writeUInt16BE(4, 34);
  packet.writeUInt32BE(ssrc >>> 0, 36);
  packet[40] = 1; // CNAME
  packet[41] = 6;
  packet.write('gw-cnm', 42, 'latin1');
  return { packet, length: 52 };
}
