/**
 * A MediaApi for the ng server's tests: it records every call and answers with deterministic SDP. The server's
 * contract is the ng protocol, so this double stands where the real media service would (which has its own
 * tests); it keeps just enough state (sessions, legs) for query/delete/play DTMF to have something to report.
 */
import { GatewayError } from '../../../src/errors.ts';
import type {
  AnswerFlags,
  LegStats,
  MediaApi,
  MediaEvents,
  MediaStatistics,
  OfferFlags,
  SessionStats,
} from '../../../src/rtp-bridge/media-api.ts';
import type { LegKind } from '../../../src/rtp-bridge/sdp/index.ts';
import { TypedEmitter } from '../../../src/rtp-bridge/typed-events.ts';

export type Call = [method: string, ...args: unknown[]];

export function answerSdp(kind: LegKind, port: number): string {
  const proto = kind === 'webrtc' ? 'UDP/TLS/RTP/SAVPF' : 'RTP/AVP';
  return `v=0\r\no=- 4147052340 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} ${proto} 0\r\na=rtpmap:0 PCMU/8000\r\n`;
}

function leg(tag: string, kind: LegKind, port: number): LegStats {
  return {
    tag,
    kind,
    local: { address: '127.0.0.1', port },
    remote: { address: '127.0.0.1', port: port + 1000 },
    state: 'active',
    direction: 'sendrecv',
    packetsIn: 50,
    packetsOut: 49,
    bytesIn: 8600,
    bytesOut: 8428,
    lost: 1,
    jitterMs: 2.4,
    rttMs: undefined,
    dropped: 3,
    lastPacketAgoMs: 1500,
  };
}

export class RecordingMedia extends TypedEmitter<MediaEvents> implements MediaApi {
  readonly calls: Call[] = [];
  readonly sessions = new Map<string, SessionStats>();
  /** When set, offers wait for it: lets a test retransmit while a command is still running. */
  gate: Promise<void> | undefined;
  #port = 30000;

  async offer(callId: string, fromTag: string, sdp: string, flags: OfferFlags): Promise<string> {
    this.calls.push(['offer', callId, fromTag, sdp, flags]);
    if (this.gate) await this.gate;
    if (callId === 'explode') throw new GatewayError('NO_PORTS', 'No free media ports');
    const fromKind: LegKind = /UDP\/TLS/.test(sdp) ? 'webrtc' : 'plain';
    const port = (this.#port += 2);
    this.sessions.set(callId, { callId, createdAt: 1_700_000_000_123, legs: [leg(fromTag, fromKind, port)] });
    return answerSdp(flags.to, port);
  }

  async answer(callId: string, fromTag: string, toTag: string, sdp: string, flags?: AnswerFlags): Promise<string> {
    this.calls.push(['answer', callId, fromTag, toTag, sdp, flags]);
    const session = this.sessions.get(callId);
    if (session === undefined) throw new GatewayError('UNKNOWN_CALL', `Unknown call ${callId}`);
    const port = (this.#port += 2);
    session.legs.push(leg(toTag, /UDP\/TLS/.test(sdp) ? 'webrtc' : 'plain', port));
    return answerSdp(session.legs[0]!.kind, port);
  }

  async subscribeAnswer(callId: string, tag: string, sdp: string): Promise<void> {
    this.calls.push(['subscribeAnswer', callId, tag, sdp]);
    if (!this.sessions.has(callId)) throw new GatewayError('UNKNOWN_CALL', `Unknown call ${callId}`);
  }

  async delete(callId: string): Promise<void> {
    this.calls.push(['delete', callId]);
    this.sessions.delete(callId);
  }

  async query(callId: string): Promise<SessionStats | undefined> {
    this.calls.push(['query', callId]);
    return this.sessions.get(callId);
  }

  async list(): Promise<string[]> {
    this.calls.push(['list']);
    return [...this.sessions.keys()];
  }

  async statistics(): Promise<MediaStatistics> {
    this.calls.push(['statistics']);
    return { sessions: this.sessions.size, legs: 2 * this.sessions.size, portsInUse: 4 * this.sessions.size, packetsRelayed: 1234 };
  }

  async blockMedia(callId: string, tag: string | undefined, blocked: boolean): Promise<void> {
    this.calls.push(['blockMedia', callId, tag, blocked]);
  }

  async playDtmf(callId: string, toTag: string, digit: string, durationMs: number): Promise<void> {
    this.calls.push(['playDtmf', callId, toTag, digit, durationMs]);
  }

  async close(): Promise<void> {
    this.calls.push(['close']);
  }

  count(method: string): number {
    return this.calls.filter((c) => c[0] === method).length;
  }
}
