/**
 * `window.softphone`: a read-only view of the page's state for end-to-end tests and debugging. Tests drive
 * the page through its real UI and read this to assert. DOM-free so the node test suite can import the types.
 */
import type { CallStatsSample } from '../common/call-stats.ts';
import type { Failure } from '../common/failure.ts';
import type { CallDirection, CallState, RegistrationState } from '../common/states.ts';
import type { DtmfMode } from '../common/dtmf.ts';
import type { CallRecord } from './history.ts';

export interface HookCallInfo {
  readonly direction: CallDirection;
  /** Display name or user part of the other side. */
  readonly peer: string;
  readonly state: CallState;
  readonly muted: boolean;
  /** We put the call on hold. */
  readonly held: boolean;
  /** The other side put us on hold (a=sendonly/inactive in its offer). */
  readonly remoteHeld: boolean;
  /** The far end sent 183 with SDP; no local ringback is played. */
  readonly earlyMedia: boolean;
  /** Epoch ms of the 2xx, or null before. */
  readonly connectedAt: number | null;
  readonly durationSec: number;
  /** DTMF tones sent so far, in order. */
  readonly dtmfSent: string;
  /** How the last tone went: 'rfc4733' (RTP) or 'info' (SIP INFO, also the fallback when RTP cannot carry it). */
  readonly dtmfTransport: DtmfMode | null;
}

export interface SoftphoneHook {
  readonly registration: RegistrationState;
  /** 'idle' when there is no call. */
  readonly call: CallState | 'idle';
  readonly callInfo: HookCallInfo | null;
  /** The last failure shown to the user (sign-in, call, microphone); cleared when a new sign-in or call starts. */
  readonly lastError: Failure | null;
  /** The most recent finished call, as stored in the recent-calls list. */
  readonly lastCall: CallRecord | null;
  /** Microphone level 0..1 from the input meter (0 when no call). */
  readonly micLevel: number;
  /** 'ring' | 'ringback' while a progress tone plays, else null. */
  readonly tone: string | null;
  /** A fresh getStats() of the current call's audio, or null without a call. */
  getStats(): Promise<CallStatsSample | null>;
}

/** A plain copy of a call's state (the Call class has these as getters). */
export function callInfoOf(call: HookCallInfo): HookCallInfo {
  return {
    direction: call.direction,
    peer: call.peer,
    state: call.state,
    muted: call.muted,
    held: call.held,
    remoteHeld: call.remoteHeld,
    earlyMedia: call.earlyMedia,
    connectedAt: call.connectedAt,
    durationSec: call.durationSec,
    dtmfSent: call.dtmfSent,
    dtmfTransport: call.dtmfTransport,
  };
}

/** Freeze a getter-only object over `source` and put it on `target.softphone` (not writable). */
export function installHook(target: object, source: SoftphoneHook): SoftphoneHook {
  const hook: SoftphoneHook = Object.freeze({
    get registration() {
      return source.registration;
    },
    get call() {
      return source.call;
    },
    get callInfo() {
      const info = source.callInfo;
      return info ? Object.freeze({ ...info }) : null;
    },
    get lastError() {
      const error = source.lastError;
      return error ? Object.freeze({ ...error }) : null;
    },
    get lastCall() {
      const record = source.lastCall;
      return record ? Object.freeze({ ...record }) : null;
    },
    get micLevel() {
      return source.micLevel;
    },
    get tone() {
      return source.tone;
    },
    getStats: () => source.getStats(),
  });
  Object.defineProperty(target, 'softphone', { value: hook, writable: false, enumerable: true, configurable: false });
  return hook;
}
