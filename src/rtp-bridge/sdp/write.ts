/**
 * Rendering of the SDP the gateway emits. The builders decide every line and its order, so the text is fully
 * determined by the inputs (tests compare it byte for byte, as rtpengine's do); this file only lays it out in
 * RFC 4566 §5 order: v o s c t a*, then each m= with its a* lines. c= is session-level and covers every m-line,
 * rejected ones included.
 */
import type { OriginState } from './state.ts';
import type { AddressFamily } from './types.ts';

export interface OutMedia {
  readonly type: string;
  readonly port: number;
  readonly proto: string;
  readonly formats: readonly string[];
  /** Attribute values without the leading "a=". */
  readonly attributes: readonly string[];
}

export interface OutSession {
  readonly family: AddressFamily;
  readonly address: string;
  readonly sessionAttributes: readonly string[];
  readonly media: readonly OutMedia[];
}

function lines(s: OutSession, originLine: string | undefined): string {
  const out = ['v=0'];
  if (originLine !== undefined) out.push(originLine);
  out.push('s=-', `c=IN ${s.family} ${s.address}`, 't=0 0');
  for (const a of s.sessionAttributes) out.push(`a=${a}`);
  for (const m of s.media) {
    out.push(`m=${m.type} ${m.port} ${m.proto} ${m.formats.join(' ')}`);
    for (const a of m.attributes) out.push(`a=${a}`);
  }
  return out.join('\r\n') + '\r\n';
}

/** The SDP without its o= line: what decides whether the o= version must change (RFC 3264 §8). */
export function renderBody(s: OutSession): string {
  return lines(s, undefined);
}

export function renderSdp(s: OutSession, origin: OriginState): string {
  return lines(s, `o=- ${origin.sessionId} ${origin.version} IN ${s.family} ${s.address}`);
}
