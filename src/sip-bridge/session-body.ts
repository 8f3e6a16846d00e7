/**
 * The session description in a SIP message body (RFC 3261 §13.2.1, RFC 3264): `application/sdp`, or the SDP part
 * of a `multipart/mixed` (or related/alternative) body — SIP-I/SIP-T trunks (ITU-T Q.1912.5, RFC 3204) send SDP
 * next to an ISUP part (RFC 5621 §3). A body we cannot read as SDP yields undefined, never an exception.
 */
import { contentType, parseMediaType } from '../signaling/header-accessors.ts';
import type { SipMessage } from '../signaling/message.ts';

function isSdpType(type: string, subtype: string): boolean {
  return type === 'application' && subtype === 'sdp';
}

/** The SDP of `message`, or undefined when its body is empty or carries none. */
export function sdpOf(message: SipMessage): string | undefined {
  if (message.body.length === 0) return undefined;
  let media;
  try {
    media = contentType(message);
  } catch {
    return undefined;
  }
  // §20.15: a body without Content-Type is malformed; an SDP is still recognisable by its first line.
  if (media === undefined) return looksLikeSdp(message.body) ? message.body.toString('utf8') : undefined;
  if (isSdpType(media.type, media.subtype)) return message.body.toString('utf8');
  if (media.type === 'multipart') {
    const boundary = media.params.get('boundary');
    if (typeof boundary !== 'string' || boundary.length === 0) return undefined;
    return sdpPart(message.body, boundary.replace(/^"|"$/g, ''));
  }
  return undefined;
}

function looksLikeSdp(body: Buffer): boolean {
  return body.subarray(0, 4).toString('latin1') === 'v=0\r' || body.subarray(0, 4).toString('latin1') === 'v=0\n';
}

/** RFC 2046 §5.1.1: parts between `--boundary` delimiter lines; part headers end at the first empty line. */
function sdpPart(body: Buffer, boundary: string): string | undefined {
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  const pieces = text.split(delimiter);
  // pieces[0] is the preamble; a piece starting with "--" is the close delimiter's epilogue.
  for (const piece of pieces.slice(1)) {
    if (piece.startsWith('--')) break;
    const part = piece.replace(/^[ \t]*\r?\n/, '');
    const split = /\r?\n\r?\n/.exec(part);
    if (split === null) continue;
    const headerText = part.slice(0, split.index);
    const content = part.slice(split.index + split[0].length).replace(/\r?\n$/, '');
    const typeLine = /^content-type[ \t]*:[ \t]*(.+)$/im.exec(headerText);
    if (typeLine === null) continue;
    try {
      const type = parseMediaType(typeLine[1]!.trim());
      if (isSdpType(type.type, type.subtype)) return Buffer.from(content, 'latin1').toString('utf8');
    } catch {
      continue;
    }
  }
  return undefined;
}
