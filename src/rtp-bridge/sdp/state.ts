/**
 * What the gateway remembers about the SDP it has sent on one leg, between offer/answer exchanges.
 *
 * - The o= line (RFC 3264 §8): the gateway owns it. Same session id for the life of the leg; the version goes up
 *   by one whenever the SDP sent differs from the previous one. An identical SDP keeps its version (RFC 3264 §8:
 *   "If the version in the origin line does not increment, the SDP MUST be identical"), so a session refresh
 *   (RFC 4028) is not mistaken for a media change by the peer — rtpengine behaves the same unless told
 *   `force-increment-sdp-version`, which is `forceNewVersion` here.
 * - The m-line layout (RFC 3264 §8): m-lines are never removed from a session, so every later offer on the leg
 *   repeats the earlier ones in order (port 0 for those not in use).
 * - The payload type numbers bound to codecs on the leg (RFC 3264 §8.3.2).
 */
import { SdpError } from './errors.ts';
import type { PayloadTypeBinding } from './payload-types.ts';

export interface OriginState {
  /** RFC 4566 §5.2 sess-id: a numeric string, at most 20 digits (fits the 64-bit NTP-style values peers use). */
  readonly sessionId: string;
  readonly version: number;
}

/** One m-line of the SDP the gateway sent on a leg. */
export interface MediaSlot {
  readonly type: string;
  readonly proto: string;
  readonly formats: readonly string[];
  readonly mid?: string;
  /** The m-line carrying the relayed audio; the others are sent with port 0. */
  readonly bridged: boolean;
}

export interface LegSdpState {
  readonly origin: OriginState;
  /** The last SDP sent on this leg without its o= line; undefined before the first. */
  readonly lastBody?: string;
  readonly slots: readonly MediaSlot[];
  readonly payloadTypes: readonly PayloadTypeBinding[];
}

export function createOrigin(sessionId: string, version = 1): OriginState {
  if (!/^\d{1,20}$/.test(sessionId)) throw new SdpError('SDP_LOCAL_INVALID', `o= session id must be 1–20 digits, got "${sessionId}"`);
  if (!Number.isSafeInteger(version) || version < 0) throw new SdpError('SDP_LOCAL_INVALID', `bad o= version ${version}`);
  return { sessionId, version };
}

/** The origin of the next, changed, SDP on the leg. */
export function nextOrigin(origin: OriginState): OriginState {
  return { sessionId: origin.sessionId, version: origin.version + 1 };
}

/** State for a new leg: nothing sent yet; the first SDP carries `version`. */
export function createLegState(sessionId: string, version = 1): LegSdpState {
  return { origin: createOrigin(sessionId, version), slots: [], payloadTypes: [] };
}

/** The origin to put on an SDP whose body (everything but the o= line) is `body`. */
export function originFor(state: LegSdpState, body: string, forceNewVersion: boolean): OriginState {
  if (state.lastBody === undefined) return state.origin;
  if (body === state.lastBody && !forceNewVersion) return state.origin;
  return nextOrigin(state.origin);
}
