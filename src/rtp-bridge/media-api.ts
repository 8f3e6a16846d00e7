/**
 * The media API: the seam between signaling (the B2BUA, or a SIP proxy through the ng protocol) and the media
 * plane. Shaped like rtpengine's ng commands so the same calls can be served in-process, by a remote media node
 * over ng, or to Kamailio/OpenSIPS: a call is identified by its Call-ID, each side by its tag; `offer` takes the
 * SDP one side sent and returns the SDP to give the other side, `answer` does the same for the answer, and
 * `subscribeAnswer` applies a side's answer to an SDP of ours that needs nothing from the other side.
 */
import type { LegKind } from './sdp/index.ts';
import type { TypedEventSource } from './typed-events.ts';

export type CodecName = 'PCMU' | 'PCMA' | 'G722' | 'opus' | 'telephone-event';

export interface CodecFlags {
  /** Remove these codecs from the SDP entirely (ng `codec-strip`). */
  strip?: readonly string[];
  /** Only these codecs may appear towards the receiving side (operator allow-list). */
  allow?: readonly string[];
}

export interface OfferFlags {
  /** What the side that will receive the returned SDP speaks. The sender's kind is read from its SDP. */
  to: LegKind;
  codecs?: CodecFlags;
  /** Accept media only from the latched source (default true; RTP Bleed protection). */
  strictSource?: boolean;
  /** Send to the SDP address and never latch (a trunk known to be reachable at its SDP address). */
  trustAddress?: boolean;
  /** Free text for logs (e.g. "browser→trunk"). */
  label?: string;
}

export interface AnswerFlags {
  codecs?: CodecFlags;
  strictSource?: boolean;
  trustAddress?: boolean;
}

export interface LegStats {
  tag: string;
  kind: LegKind;
  /** Where the gateway receives this side's media. */
  local: { address: string; port: number };
  /** Where media for this side is sent (latched, ICE-selected or from SDP). */
  remote: { address: string; port: number } | undefined;
  state: string;
  direction: string;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** RFC 3550 A.3 cumulative loss of what this side sent us. */
  lost: number;
  jitterMs: number;
  rttMs: number | undefined;
  /** Packets refused: SRTP auth failures, replays, strangers after latching, unknown payload types. */
  dropped: number;
  lastPacketAgoMs: number | undefined;
}

export interface SessionStats {
  callId: string;
  createdAt: number;
  legs: LegStats[];
}

export interface MediaStatistics {
  sessions: number;
  legs: number;
  portsInUse: number;
  packetsRelayed: number;
}

export type MediaEvents = {
  /** No RTP from a leg that is not on hold for the configured time: the signaling side should end the call. */
  timeout: [callId: string, tag: string];
  /** An RFC 4733 event (end of a digit) seen from a leg. */
  dtmf: [callId: string, tag: string, digit: string];
  /** A leg failed for good (DTLS fingerprint mismatch, ICE consent lost). */
  failed: [callId: string, tag: string, reason: string];
};

export interface MediaApi extends TypedEventSource<MediaEvents> {
  offer(callId: string, fromTag: string, sdp: string, flags: OfferFlags): Promise<string>;
  answer(callId: string, fromTag: string, toTag: string, sdp: string, flags?: AnswerFlags): Promise<string>;
  /**
   * The side `tag` answered the SDP the media layer last produced for it, when that SDP answered no offer of the
   * other side's: the offer in a 2xx to an INVITE or re-INVITE without SDP, whose answer comes in the ACK (RFC 3261
   * §13.2.1, §14.2). Applies it to that side's leg (address, ICE/DTLS, direction, the codecs it kept) and returns
   * no SDP: nothing goes to either side, so no leg's o= version moves (RFC 3264 §8). rtpengine's ng
   * `subscribe answer` (call-id, to-tag, sdp; no SDP in the reply). Throws (488) when the answer kept no codec of
   * ours or dropped the one the other side sends; the session is then as it was.
   */
  subscribeAnswer(callId: string, tag: string, sdp: string): Promise<void>;
  /** Ends the call's media and releases its ports; unknown calls are not an error (idempotent). */
  delete(callId: string): Promise<void>;
  query(callId: string): Promise<SessionStats | undefined>;
  list(): Promise<string[]>;
  statistics(): Promise<MediaStatistics>;
  /** Stop (or resume) relaying media that a side sends; `tag` undefined means every side. */
  blockMedia(callId: string, tag: string | undefined, blocked: boolean): Promise<void>;
  /** Send an RFC 4733 digit to the side `toTag` (as if the other side had sent it). */
  playDtmf(callId: string, toTag: string, digit: string, durationMs: number): Promise<void>;
  close(): Promise<void>;
}
