/**
 * RFC 4028 session timers as JsSIP 3.x keeps them (RTCSession.js _sessionTimers): the interval and whether this
 * side is the refresher, updated from the Session-Expires of each INVITE/UPDATE answered or response received.
 * The phone never refreshes on its own (tests call `call.refresh()`), nor ends a call whose refresh is late.
 */
import type { SipRequest, SipResponse } from '../../src/signaling/message.ts';
import { MIN_SESSION_EXPIRES, SESSION_EXPIRES } from './jssip-wire.ts';

export type Refresher = 'uac' | 'uas';

/** `Session-Expires: 90;refresher=uac` (RFC 4028 §4). */
export function parseSessionExpires(value: string | undefined): { seconds: number | undefined; refresher: Refresher | undefined } {
  const match = value === undefined ? null : /^\s*(\d+)\s*(?:;(.*))?$/.exec(value);
  if (!match) return { seconds: undefined, refresher: undefined };
  const refresher = /(?:^|;)\s*refresher\s*=\s*(uac|uas)\b/i.exec(match[2] ?? '')?.[1]?.toLowerCase();
  return { seconds: Number(match[1]), refresher: refresher === 'uac' || refresher === 'uas' ? refresher : undefined };
}

export class SessionTimer {
  /** The session interval in seconds. */
  expires = SESSION_EXPIRES;
  /** Whether this side sends the refreshes. */
  refresher = false;

  /** A request we answer 2xx (_handleSessionTimersInIncomingRequest): the Session-Expires row for the response. */
  fromRequest(request: SipRequest): [string, string] {
    const { seconds, refresher } = parseSessionExpires(request.headers.get('session-expires'));
    const ok = seconds !== undefined && seconds >= MIN_SESSION_EXPIRES;
    const chosen: Refresher = ok ? refresher ?? 'uas' : 'uas';
    this.expires = ok ? seconds : SESSION_EXPIRES;
    this.refresher = chosen === 'uas';
    return ['Session-Expires', `${this.expires};refresher=${chosen}`];
  }

  /** A 2xx to our INVITE/UPDATE (_handleSessionTimersInIncomingResponse): the UAC refreshes unless told. */
  fromResponse(response: SipResponse): void {
    const { seconds, refresher } = parseSessionExpires(response.headers.get('session-expires'));
    const ok = seconds !== undefined && seconds >= MIN_SESSION_EXPIRES;
    this.expires = ok ? seconds : SESSION_EXPIRES;
    this.refresher = (ok ? refresher ?? 'uac' : 'uac') === 'uac';
  }

  /** The row for a re-INVITE/UPDATE we send once the timer runs. */
  header(): [string, string] {
    return ['Session-Expires', `${this.expires};refresher=${this.refresher ? 'uac' : 'uas'}`];
  }
}
