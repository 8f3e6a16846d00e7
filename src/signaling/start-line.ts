/**
 * The start line (RFC 3261 §7.1 Request-Line, §7.2 Status-Line): method, Request-URI and SIP-Version, or version,
 * Status-Code and Reason-Phrase. Faults are collected (not thrown) so the header fields are still read for the
 * answer a transport sends (400, 414, 505).
 */
import { SIP_VERSION } from './message.ts';
import { SipParseError, type ParseFaults, type PartialMessage } from './parse-error.ts';
import { checkUri } from './uri.ts';
import { isToken } from './grammar.ts';

/** Request-Line (§7.1) or Status-Line (§7.2); fills type, method and uri of the partial message. */
export function parseStartLine(line: string, partial: PartialMessage, faults: ParseFaults, maxLine: number): void {
  const sp1 = line.indexOf(' ');
  const firstWord = sp1 === -1 ? line : line.slice(0, sp1);
  if (firstWord.length > 4 && firstWord.charCodeAt(3) === 0x2f && firstWord.slice(0, 4).toUpperCase() === 'SIP/') {
    partial.type = 'response';
    if (checkVersion(firstWord, faults) && statusOf(line) === 0) faults.add('malformed Status-Line');
    return;
  }
  const sp2 = sp1 === -1 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1) {
    faults.add('malformed Request-Line');
    return;
  }
  const method = line.slice(0, sp1);
  const uri = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!isToken(method)) {
    faults.add('invalid method in Request-Line');
    return;
  }
  partial.type = 'request';
  partial.method = method;
  // RFC 4475 §3.1.2.8–10: exactly one SP between the elements and none at the end of the line; a liberal reading
  // would be ambiguous for URIs with LWS inside, so these are 400.
  if (uri.length === 0 || version.includes(' ') || version.includes('\t')) {
    faults.add('malformed Request-Line (extra whitespace)');
    return;
  }
  partial.uri = uri;
  if (!checkVersion(version, faults)) return;
  if (line.length > maxLine) {
    faults.add('Request-URI too long', 414, 'SIP_LIMIT');
    return;
  }
  try {
    // §19.1.1 (table of URI components): headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
    if (checkUri(uri) === 'sip-with-headers') faults.add('Request-URI must not contain headers');
  } catch (error) {
    faults.add(error instanceof SipParseError ? `bad Request-URI: ${error.message}` : 'bad Request-URI');
  }
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT, case-insensitive (§7.1); another version is 505 (§8.2.2… §21.5.6). */
function checkVersion(version: string, faults: ParseFaults): boolean {
  if (version.length === 7 && version.toUpperCase() === SIP_VERSION) return true;
  if (/^SIP\/\d{1,9}\.\d{1,9}$/i.test(version)) {
    faults.add(`unsupported SIP version ${version}`, 505, 'SIP_VERSION');
  } else {
    faults.add('malformed SIP-Version');
  }
  return false;
}

/** The 3-digit 100–699 Status-Code of a Status-Line whose version was checked, or 0 when malformed. */
export function statusOf(line: string): number {
  // "SIP/2.0 " is 8 characters; the code follows, then SP and the (possibly empty, possibly UTF-8) reason.
  if (line.charCodeAt(7) !== 0x20) return 0;
  let code = 0;
  for (let i = 8; i < 11; i++) {
    const c = line.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x39)) return 0;
    code = code * 10 + (c - 0x30);
  }
  // RFC 4475 §3.1.1.13: the SP before an empty reason is required, but "a liberal receiver would accept" none.
  if (line.length > 11 && line.charCodeAt(11) !== 0x20) return 0;
  return code >= 100 && code <= 699 ? code : 0;
}
