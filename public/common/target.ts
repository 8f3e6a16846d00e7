/**
 * What the user typed → what JsSIP dials. Pure.
 * - `echo`, `bob`            → user part; JsSIP appends the account's domain.
 * - `+1 (555) 010-9999`      → `+15550109999`: telephone visual separators removed (RFC 3966 §5.1.1).
 * - `*97`, `123#`            → kept as typed: feature codes and DTMF-ish numbers are valid user parts.
 * - `sip:bob@example.org`    → passed through for calls to another domain.
 */

const PHONE_LIKE = /^\+?[0-9*#\s\-.()/]+$/;
const SIP_USER = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/#%]+$/;
const SIP_URI = /^sips?:[^\s@]+@[^\s@]+$/i;

export type DialTarget =
  | { readonly ok: true; readonly target: string; readonly kind: 'number' | 'user' | 'uri' }
  | { readonly ok: false; readonly reason: string };

export function dialTarget(input: string): DialTarget {
  const text = input.trim();
  if (text === '') return { ok: false, reason: 'Type a number or a user name to call.' };
  if (SIP_URI.test(text)) return { ok: true, target: text, kind: 'uri' };
  if (PHONE_LIKE.test(text) && /[0-9*#]/.test(text)) {
    return { ok: true, target: text.replace(/[\s\-.()/]/g, ''), kind: 'number' };
  }
  const userAtHost = /^([^@\s]+)@([^@\s]+)$/.exec(text);
  if (userAtHost) return { ok: true, target: `sip:${text}`, kind: 'uri' };
  if (SIP_USER.test(text)) return { ok: true, target: text, kind: 'user' };
  return { ok: false, reason: `"${text}" is not a number or a SIP user name.` };
}

/** What to show for the other side: display name if there is one, else the user part. */
export function peerLabel(displayName: string | undefined | null, user: string | undefined | null, host?: string): string {
  const name = displayName?.trim();
  if (name) return name;
  if (user) return user;
  return host ?? 'Unknown';
}

/** mm:ss (or h:mm:ss) for the call timer. */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  const mm = String(minutes).padStart(2, '0');
  const ss = String(seconds).padStart(2, '0');
  return hours > 0 ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}
