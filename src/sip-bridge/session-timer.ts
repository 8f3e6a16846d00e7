/**
 * Session timers (RFC 4028), per dialog: the header grammar, the UAS and UAC negotiations, and the one timer a
 * session runs — the refresh at half the interval when we are the refresher, the expiry check when the peer is.
 * A B2BUA runs this on each leg independently; a refresh is never forwarded to the other side.
 *
 * Roles are kept as `local` / `remote` because `refresher=uac|uas` is relative to the transaction that carries
 * it (§7.4, §9): in a refresh the peer sends, `uac` means the peer; in one we send, `uac` means us.
 */
import type { SipMessage, SipRequest, SipResponse } from '../signaling/message.ts';
import { optionTags, parseDecimal } from '../signaling/header-accessors.ts';
import { parseParams } from '../signaling/params.ts';
import { GatewayError } from '../errors.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'session-timer' });

/** §5: "the minimum value … MUST NOT be less than 90 seconds". */
export const MIN_SE_FLOOR = 90;

export interface SessionTimerConfig {
  /** The Session-Expires we ask for (as UAC) or grant when the UAC asks for none (as UAS), in seconds. */
  interval: number;
  /** Our Min-SE: a request asking for less gets 422 (§9). Never below 90. */
  minSE: number;
  /** As UAC of the initial INVITE, the refresher we ask for; undefined lets the UAS choose (§7.1). */
  refresher: Refresher | undefined;
}

export const DEFAULT_SESSION_TIMER: Readonly<SessionTimerConfig> = Object.freeze({ interval: 1800, minSE: MIN_SE_FLOOR, refresher: 'uac' });

export function resolveSessionTimerConfig(partial: Partial<SessionTimerConfig> = {}): Readonly<SessionTimerConfig> {
  const config = { ...DEFAULT_SESSION_TIMER, ...partial };
  if (!Number.isInteger(config.minSE) || config.minSE < MIN_SE_FLOOR) {
    throw new SessionTimerError(`minSE must be an integer ≥ ${MIN_SE_FLOOR}, got ${config.minSE}`, 500);
  }
  if (!Number.isInteger(config.interval) || config.interval < config.minSE) {
    throw new SessionTimerError(`interval must be an integer ≥ minSE (${config.minSE}), got ${config.interval}`, 500);
  }
  return Object.freeze(config);
}

export type Refresher = 'uac' | 'uas';
/** Who refreshes, seen from this side of the dialog. */
export type RefresherRole = 'local' | 'remote';

export interface SessionExpires {
  interval: number;
  refresher: Refresher | undefined;
}

export class SessionTimerError extends GatewayError {
  constructor(message: string, status = 400) {
    super('SIP_SESSION_TIMER', message, { status });
  }
}

/** §4: Session-Expires = delta-seconds *(SEMI se-params); se-params = refresher-param / generic-param. */
export function parseSessionExpires(value: string): SessionExpires {
  const semi = value.indexOf(';');
  let interval: number;
  let params;
  try {
    interval = parseDecimal(semi === -1 ? value : value.slice(0, semi), 'Session-Expires');
    params = parseParams(semi === -1 ? '' : value.slice(semi), 'Session-Expires parameter');
  } catch (error) {
    throw new SessionTimerError(`malformed Session-Expires "${value.slice(0, 60)}": ${(error as Error).message}`);
  }
  if (interval === 0) throw new SessionTimerError('Session-Expires of 0 seconds');
  const refresher = params.get('refresher');
  if (refresher === undefined) return { interval, refresher: undefined };
  const lower = refresher?.toLowerCase();
  if (lower !== 'uac' && lower !== 'uas') throw new SessionTimerError(`invalid refresher "${refresher}"`);
  return { interval, refresher: lower };
}

/** The Session-Expires (compact form `x`) of a message, if any. */
export function readSessionExpires(message: SipMessage): SessionExpires | undefined {
  const value = message.headers.get('Session-Expires');
  return value === undefined ? undefined : parseSessionExpires(value);
}

/** §5: Min-SE = delta-seconds *(SEMI generic-param). */
export function readMinSE(message: SipMessage): number | undefined {
  const value = message.headers.get('Min-SE');
  if (value === undefined) return undefined;
  const semi = value.indexOf(';');
  try {
    return parseDecimal(semi === -1 ? value : value.slice(0, semi), 'Min-SE');
  } catch (error) {
    throw new SessionTimerError(`malformed Min-SE "${value.slice(0, 60)}": ${(error as Error).message}`);
  }
}

export function formatSessionExpires(interval: number, refresher: Refresher | undefined): string {
  return refresher === undefined ? String(interval) : `${interval};refresher=${refresher}`;
}

function supportsTimer(message: SipMessage): boolean {
  try {
    return optionTags(message, 'supported').includes('timer');
  } catch {
    return false;
  }
}

export type UasTimerDecision =
  /** No session timer for this dialog (the 2xx carries no Session-Expires: §9 "there is no session expiration"). */
  | { kind: 'none' }
  /** 422 with `Min-SE: minSE` (§9). */
  | { kind: 'reject'; minSE: number }
  | { kind: 'timer'; interval: number; refresher: Refresher; role: RefresherRole; require: boolean };

/**
 * §9, a UAS answering an INVITE, re-INVITE or UPDATE (every 2xx to one of them renegotiates the timer):
 *  - "If the incoming request contains a Supported header field with a value 'timer' and a Session Expires
 *    header field, the UAS MAY reject the INVITE request with a 422 … if the session interval in the
 *    Session-Expires header field is smaller than the minimum interval defined by the UAS' local policy." We
 *    reject too small intervals without `Supported: timer` as well: a proxy inserted that value and the 422
 *    reaches it first, while accepting it would have us refreshing every few seconds.
 *  - the refresher: the request's when it named one ("the UAS MUST set it to the value in the request"); when
 *    it did not and the UAC supports timers we pick `uac` — the browser (JsSIP, SIP.js) refreshes with UPDATE,
 *    and a B2BUA leg needs no timer of its own; when the UAC does not support timers, only `uas` can work.
 *  - "If the incoming request contains a Supported header field with a value 'timer' but does not contain a
 *    Session-Expires header, … the UAS may request a session timer in the 2XX response": we do, with our
 *    interval raised to the request's Min-SE.
 *  - Require: "If the refresher parameter … has a value of 'uac', the UAS MUST place a Require header field into
 *    the response with the value 'timer'"; with `uas` it SHOULD when the UAC supports timers.
 */
export function negotiateAsUas(request: SipRequest, config: Readonly<SessionTimerConfig>): UasTimerDecision {
  const supported = supportsTimer(request);
  const requested = readSessionExpires(request);
  const theirMin = readMinSE(request) ?? MIN_SE_FLOOR;
  if (requested === undefined) {
    if (!supported) return { kind: 'none' };
    const interval = Math.max(config.interval, theirMin);
    return { kind: 'timer', interval, refresher: 'uac', role: 'remote', require: true };
  }
  if (requested.interval < config.minSE) return { kind: 'reject', minSE: config.minSE };
  const refresher: Refresher = requested.refresher ?? (supported ? 'uac' : 'uas');
  if (refresher === 'uac' && !supported) {
    // A UAC that does not support timers cannot refresh; the proxy that asked for `uac` gets the UAS instead.
    return { kind: 'timer', interval: requested.interval, refresher: 'uas', role: 'local', require: false };
  }
  return { kind: 'timer', interval: requested.interval, refresher, role: refresher === 'uac' ? 'remote' : 'local', require: supported };
}

/**
 * §7.2, the UAC reading the 2xx to its INVITE/UPDATE: "The 'refresher' parameter will be present … indicating
 * who will perform the refreshes" (`uac` = us) and "If the 2xx response did not contain a Session-Expires header
 * field, there is no session expiration" — the timer is off until a later 2xx turns it on again. A malformed
 * value (our peer's bug) switches the timer off rather than failing the call.
 */
export function negotiatedFromResponse(response: SipResponse): { interval: number; role: RefresherRole } | undefined {
  let se: SessionExpires | undefined;
  try {
    se = readSessionExpires(response);
  } catch (error) {
    log.info({ err: error, callId: response.headers.get('call-id') }, 'ignoring a malformed Session-Expires in a 2xx');
    return undefined;
  }
  if (se === undefined) return undefined;
  // A UAS that omitted the parameter broke §9; the UAC refreshing is the safe reading (the UAS may not).
  return { interval: se.interval, role: se.refresher === 'uas' ? 'remote' : 'local' };
}

/**
 * §9 before a request reaches anyone: the answer a too short (422 with Min-SE) or malformed (400) Session-Expires
 * or Min-SE gets, or undefined when the request may proceed.
 */
export function uasRejection(request: SipRequest, config: Readonly<SessionTimerConfig>): { status: number; message: string; headers: Array<[string, string]> } | undefined {
  try {
    const decision = negotiateAsUas(request, config);
    if (decision.kind !== 'reject') return undefined;
    return { status: 422, message: `Session-Expires below our Min-SE ${decision.minSE}`, headers: [['Min-SE', String(decision.minSE)]] };
  } catch (error) {
    if (error instanceof SessionTimerError) return { status: 400, message: error.message, headers: [] };
    throw error;
  }
}

/**
 * §9 into a 2xx we are about to send to an INVITE/UPDATE: Session-Expires with the refresher (and Require: timer)
 * set on `response`; returns the timer to run, or undefined for none ("there is no session expiration").
 */
export function applyUasTimer(request: SipRequest, response: SipResponse, config: Readonly<SessionTimerConfig>): { interval: number; role: RefresherRole } | undefined {
  let decision: UasTimerDecision;
  try {
    decision = negotiateAsUas(request, config);
  } catch {
    return undefined; // refused with 400 on arrival; nothing to negotiate
  }
  if (decision.kind !== 'timer') return undefined;
  response.headers.set('Session-Expires', formatSessionExpires(decision.interval, decision.refresher));
  if (decision.require) response.headers.append('Require', 'timer');
  return { interval: decision.interval, role: decision.role };
}

/** The refresher sends the refresh "at half the session interval" (§10). */
export function refreshDelayMs(interval: number): number {
  return interval * 500;
}

/**
 * §10: "If the side not performing refreshes does not receive a session refresh request before the session
 * expiration, it SHOULD send a BYE … the BYE SHOULD be sent before the session expires … at the time of session
 * expiration minus the minimum of 32 seconds and one third of the session interval."
 */
export function expiryDelayMs(interval: number): number {
  return (interval - Math.min(32, interval / 3)) * 1000;
}

export interface SessionTimerHandlers {
  /** We are the refresher and half the interval has passed: send a refresh re-INVITE or UPDATE. */
  refresh(): void;
  /** The peer is the refresher and did not refresh in time: end the session with a BYE. */
  expire(): void;
}

/** The running timer of one dialog: at most one timeout armed, restarted by every successful refresh. */
export class SessionTimer {
  readonly #handlers: SessionTimerHandlers;
  #handle: ReturnType<typeof setTimeout> | undefined;
  #interval: number | undefined;
  #role: RefresherRole | undefined;

  constructor(handlers: SessionTimerHandlers) {
    this.#handlers = handlers;
  }

  get running(): boolean {
    return this.#interval !== undefined;
  }

  get interval(): number | undefined {
    return this.#interval;
  }

  get role(): RefresherRole | undefined {
    return this.#role;
  }

  get liveTimers(): number {
    return this.#handle === undefined ? 0 : 1;
  }

  /** (Re)starts after a successful refresh (or the first 2xx) negotiated `interval` with `role` refreshing. */
  start(interval: number, role: RefresherRole): void {
    this.stop();
    this.#interval = interval;
    this.#role = role;
    const delay = role === 'local' ? refreshDelayMs(interval) : expiryDelayMs(interval);
    this.#handle = setTimeout(() => {
      this.#handle = undefined;
      try {
        if (role === 'local') this.#handlers.refresh();
        else this.#handlers.expire();
      } catch (err) {
        log.error({ err }, 'session timer handler threw');
      }
    }, delay);
  }

  /** We are the refresher but could not refresh now (a re-INVITE in progress): try again in `ms`. */
  retryRefresh(ms: number): void {
    if (this.#role !== 'local') return;
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = setTimeout(() => {
      this.#handle = undefined;
      try {
        this.#handlers.refresh();
      } catch (err) {
        log.error({ err }, 'session timer handler threw');
      }
    }, ms);
  }

  stop(): void {
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
    this.#interval = undefined;
    this.#role = undefined;
  }
}
