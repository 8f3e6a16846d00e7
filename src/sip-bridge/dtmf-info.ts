/**
 * DTMF in SIP INFO bodies, as browsers send it: `application/dtmf-relay` (JsSIP's default: `Signal=5\r\nDuration=160`)
 * and `application/dtmf` (a bare digit). The gateway turns them into RFC 4733 events towards the trunk.
 */
const DIGITS = /^[0-9*#A-Da-d]$/;

export interface InfoDtmf {
  digit: string;
  durationMs: number;
}

/** The digit carried by an INFO body, or undefined when the body is not DTMF (or malformed). */
export function parseInfoDtmf(contentType: string | undefined, body: Buffer): InfoDtmf | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const text = body.toString('utf8');
  if (type === 'application/dtmf-relay') {
    let digit: string | undefined;
    let duration = 160;
    for (const line of text.split(/\r?\n/)) {
      const m = /^\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/.exec(line);
      if (!m) continue;
      const key = m[1]!.toLowerCase();
      if (key === 'signal') digit = m[2];
      else if (key === 'duration' && /^\d{1,5}$/.test(m[2]!)) duration = Number(m[2]);
    }
    if (digit === undefined || !DIGITS.test(digit)) return undefined;
    return { digit: digit.toUpperCase(), durationMs: Math.min(Math.max(duration, 40), 5000) };
  }
  if (type === 'application/dtmf') {
    const digit = text.trim();
    return DIGITS.test(digit) ? { digit: digit.toUpperCase(), durationMs: 160 } : undefined;
  }
  return undefined;
}
