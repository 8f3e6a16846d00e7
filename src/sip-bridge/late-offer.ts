/**
 * Late offer (RFC 3261 §13.2.1 / §14, RFC 3264 §4): an INVITE without SDP must be accepted, the UAS offering in
 * its 2xx and the answer coming in the ACK. The media API is offer/answer shaped (rtpengine ng), and the B side —
 * a browser — needs an offer from us; so the A side is stood for by a placeholder offer: plain RTP/AVP with the
 * codecs the trunk may use, at the trunk's signalling address and the discard port (RFC 863), sendrecv. Not
 * c=0.0.0.0: the SDP layer reads that as RFC 2543 hold and would offer the browser recvonly. The placeholder's
 * address is never trusted for long: the trunk's real answer (in the ACK) replaces it — applied to the trunk's leg
 * alone (MediaApi.subscribeAnswer, see in-dialog-offers.ts) — and latching learns the real source from the first
 * packet anyway.
 */
import { isIP } from 'node:net';

/** What a trunk is offered when its config names no codecs: what plain RTP trunks commonly take. */
export const DEFAULT_TRUNK_CODECS: readonly string[] = ['PCMU', 'PCMA', 'G722', 'telephone-event'];

const KNOWN: Readonly<Record<string, { pt: number | undefined; rtpmap: string; fmtp?: string }>> = {
  pcmu: { pt: 0, rtpmap: 'PCMU/8000' },
  pcma: { pt: 8, rtpmap: 'PCMA/8000' },
  // RFC 3551 §4.5.2: G.722's RTP clock is 8000 Hz.
  g722: { pt: 9, rtpmap: 'G722/8000' },
  opus: { pt: undefined, rtpmap: 'opus/48000/2' },
  'telephone-event': { pt: undefined, rtpmap: 'telephone-event/8000', fmtp: '0-16' },
};

/** The placeholder offer standing for an offerless A side (see the module comment). */
export function placeholderOffer(address: string, codecs: readonly string[]): string {
  const family = isIP(address) === 6 ? 'IP6' : 'IP4';
  const host = isIP(address) === 0 ? '127.0.0.1' : address;
  const formats: string[] = [];
  const attributes: string[] = [];
  let dynamic = 96;
  for (const name of codecs) {
    const known = KNOWN[name.toLowerCase()];
    if (known === undefined) continue;
    // 101 is what trunks habitually use for RFC 4733; any free dynamic number would do.
    const pt = known.pt ?? (name.toLowerCase() === 'telephone-event' ? 101 : dynamic++);
    if (formats.includes(String(pt))) continue;
    formats.push(String(pt));
    attributes.push(`a=rtpmap:${pt} ${known.rtpmap}`);
    if (known.fmtp !== undefined) attributes.push(`a=fmtp:${pt} ${known.fmtp}`);
  }
  if (formats.length === 0) {
    formats.push('0');
    attributes.push('a=rtpmap:0 PCMU/8000');
  }
  const version = String(Math.floor(Math.random() * 1e9) + 1);
  return [
    'v=0',
    `o=- ${version} 1 IN ${family} ${host}`,
    's=-',
    `c=IN ${family} ${host}`,
    't=0 0',
    `m=audio 9 RTP/AVP ${formats.join(' ')}`,
    ...attributes,
    'a=sendrecv',
    '',
  ].join('\r\n');
}
