/** DTMF (ITU-T Q.23) as the page sends it. DOM-free. */

/** RFC 4733 telephone-events in the RTP stream, or SIP INFO with application/dtmf-relay (JsSIP's default). */
export type DtmfMode = 'rfc4733' | 'info';

/** The keys of a 12-key pad; A–D exist in RFC 4733 but on no phone keypad, so typing them dials letters. */
export function isDtmfKey(key: string): boolean {
  return key.length === 1 && /^[0-9*#]$/.test(key);
}
