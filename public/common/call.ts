/**
 * One call: a JsSIP RTCSession plus the local microphone stream, seen as a small state machine
 * calling → ringing → active → ended (outgoing) or incoming → answering → active → ended.
 * Owns the microphone stream it is given and stops it when the call ends.
 */
import type { OutgoingEvent, RTCSession } from 'jssip/lib/RTCSession';
import { Emitter } from './emitter.ts';
import { callFailure, type Failure } from './failure.ts';
import { peerLabel } from './target.ts';
import type { DtmfMode } from './dtmf.ts';
import type { CallDirection, CallState } from './states.ts';
import { readCallStats, type CallStatsSample, type StatsEntry } from './call-stats.ts';

export type { CallState, CallDirection };

export interface CallEnd {
  /** Null when the call ended normally (hung up by either side, cancelled by us). */
  readonly failure: Failure | null;
  /** JsSIP's cause string, e.g. "Terminated", "Canceled", "Busy". */
  readonly cause: string;
  readonly originator: string;
  readonly answered: boolean;
  readonly durationSec: number;
}

export interface CallEvents {
  [event: string]: unknown[];
  state: [state: CallState];
  hold: [local: boolean, remote: boolean];
  mute: [muted: boolean];
  remoteStream: [stream: MediaStream];
  dtmf: [tone: string];
  ended: [end: CallEnd];
}

/** How long to wait for a UDP host candidate before sending the INVITE with whatever was gathered. */
const ICE_READY_FALLBACK_MS = 300;

export class Call extends Emitter<CallEvents> {
  readonly direction: CallDirection;
  readonly session: RTCSession;
  /** Who is on the other side, for display. */
  readonly peer: string;
  /** What to dial to reach them again (user part or URI). */
  readonly peerTarget: string;
  readonly startedAt = Date.now();
  #state: CallState;
  #connectedAt: number | null = null;
  #endedAt: number | null = null;
  #end: CallEnd | null = null;
  #localStream: MediaStream | null;
  #remoteStream: MediaStream | null = null;
  #earlyMedia = false;
  #dtmfSent = '';
  #dtmfTransport: DtmfMode | null = null;

  constructor(session: RTCSession, direction: CallDirection, localStream: MediaStream | null) {
    super();
    this.session = session;
    this.direction = direction;
    this.#localStream = localStream;
    this.#state = direction === 'incoming' ? 'incoming' : 'calling';
    const remote = session.remote_identity;
    this.peer = peerLabel(remote?.display_name, remote?.uri?.user, remote?.uri?.host);
    this.peerTarget = remote?.uri?.user ?? this.peer;
    this.#wire();
  }

  get state(): CallState {
    return this.#state;
  }
  get connectedAt(): number | null {
    return this.#connectedAt;
  }
  get end(): CallEnd | null {
    return this.#end;
  }
  get muted(): boolean {
    return this.session.isMuted().audio === true;
  }
  get held(): boolean {
    return this.session.isOnHold().local;
  }
  get remoteHeld(): boolean {
    return this.session.isOnHold().remote;
  }
  /** True when the far end sent early media (183 with SDP): then it plays its own ringback. */
  get earlyMedia(): boolean {
    return this.#earlyMedia;
  }
  get localStream(): MediaStream | null {
    return this.#localStream;
  }
  get remoteStream(): MediaStream | null {
    return this.#remoteStream;
  }
  get dtmfSent(): string {
    return this.#dtmfSent;
  }
  /** How the last DTMF tone went out, or null before the first. */
  get dtmfTransport(): DtmfMode | null {
    return this.#dtmfTransport;
  }
  get durationSec(): number {
    if (this.#connectedAt === null) return 0;
    return ((this.#endedAt ?? Date.now()) - this.#connectedAt) / 1000;
  }

  answer(localStream: MediaStream, pcConfig: RTCConfiguration): void {
    if (this.#state !== 'incoming') return;
    this.#localStream = localStream;
    this.#setState('answering');
    this.session.answer({
      mediaStream: localStream,
      pcConfig,
      rtcAnswerConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false } as RTCOfferOptions,
    });
  }

  /** Hang up, cancel or reject, whichever the state calls for. Safe to call twice. */
  hangup(rejectStatus = 603): void {
    if (this.#state === 'ended' || this.session.isEnded()) return;
    try {
      if (this.#state === 'incoming') this.session.terminate({ status_code: rejectStatus });
      else this.session.terminate();
    } catch (error) {
      // JsSIP throws InvalidStateError if the session ended in between; the ended/failed event still comes.
      console.warn('terminate failed', error);
    }
  }

  setMuted(muted: boolean): void {
    if (muted) this.session.mute({ audio: true });
    else this.session.unmute({ audio: true });
  }

  /** Put the call on hold with a re-INVITE (a=sendonly, RFC 3264 §8.4). Resolves when the peer agreed. */
  setHeld(held: boolean): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (): void => resolve(true);
      const started = held ? this.session.hold({}, done) : this.session.unhold({}, done);
      if (!started) resolve(false);
    });
  }

  /**
   * Send one DTMF tone. RFC 4733 events ride the RTP stream via RTCDTMFSender; when the sender cannot
   * (telephone-event not negotiated, transport not up: canInsertDTMF false) the tone goes as SIP INFO
   * (application/dtmf-relay) instead of being lost. Returns the transport used.
   */
  sendDtmf(tone: string, mode: DtmfMode): DtmfMode | null {
    if (this.#state !== 'active') return null;
    const sender = this.session.connection?.getSenders().find((s) => s.track?.kind === 'audio');
    const transport: DtmfMode = mode === 'rfc4733' && sender?.dtmf?.canInsertDTMF ? 'rfc4733' : 'info';
    this.session.sendDTMF(tone, {
      duration: 120,
      interToneGap: 70,
      transportType: (transport === 'rfc4733' ? 'RFC2833' : 'INFO') as never,
    });
    this.#dtmfSent += tone;
    this.#dtmfTransport = transport;
    this.emit('dtmf', tone);
    return transport;
  }

  /** Switch microphone mid-call without renegotiation (RTCRtpSender.replaceTrack). */
  async replaceMicrophone(stream: MediaStream): Promise<void> {
    const track = stream.getAudioTracks()[0];
    const sender = this.session.connection?.getSenders().find((s) => s.track?.kind === 'audio');
    if (!track || !sender) {
      stopStream(stream);
      return;
    }
    track.enabled = !(this.muted || this.held || this.remoteHeld);
    await sender.replaceTrack(track);
    stopStream(this.#localStream);
    this.#localStream = stream;
  }

  async getStats(): Promise<CallStatsSample | null> {
    const pc = this.session.connection;
    if (!pc || this.#state === 'ended') return null;
    const report = await pc.getStats();
    return readCallStats(report.values() as Iterable<StatsEntry>);
  }

  #setState(state: CallState): void {
    if (this.#state === state || this.#state === 'ended') return;
    this.#state = state;
    this.emit('state', state);
  }

  #wire(): void {
    const session = this.session;
    // The session's peer connection exists already for outgoing calls; incoming ones create it in answer().
    if (session.connection) this.#watchPeerConnection(session.connection);
    session.on('peerconnection', (e) => this.#watchPeerConnection(e.peerconnection));

    // JsSIP waits for iceGatheringState 'complete' before sending the offer/answer, with no timeout. The
    // gateway is ICE-lite on a public address (RFC 8445 §2.5): one host candidate is plenty, so go on the
    // first UDP candidate, and shortly after any other first candidate.
    session.on('icecandidate', (e) => {
      if (e.candidate.protocol === 'udp') e.ready();
      else setTimeout(e.ready, ICE_READY_FALLBACK_MS);
    });

    session.on('progress', (e: OutgoingEvent) => {
      if (this.direction !== 'outgoing') return;
      const response = e.response as { status_code?: number; body?: string } | undefined;
      if (response?.status_code === 183 && response.body) this.#earlyMedia = true;
      this.#setState('ringing');
    });
    session.on('accepted', () => {
      this.#connectedAt ??= Date.now();
      this.#setState('active');
    });
    session.on('confirmed', () => {
      this.#connectedAt ??= Date.now();
      this.#setState('active');
    });
    session.on('hold', () => this.emit('hold', this.held, this.remoteHeld));
    session.on('unhold', () => this.emit('hold', this.held, this.remoteHeld));
    session.on('muted', () => this.emit('mute', true));
    session.on('unmuted', () => this.emit('mute', false));
    session.on('ended', (e) => this.#finish(e.cause, e.message, e.originator));
    session.on('failed', (e) => this.#finish(e.cause, e.message, e.originator));
  }

  #watchPeerConnection(pc: RTCPeerConnection): void {
    pc.addEventListener('track', (event) => {
      if (event.track.kind !== 'audio') return;
      const stream = event.streams[0] ?? new MediaStream([event.track]);
      this.#remoteStream = stream;
      this.emit('remoteStream', stream);
    });
  }

  #finish(cause: string, message: unknown, originator: string): void {
    if (this.#state === 'ended') return;
    this.#endedAt = Date.now();
    const answered = this.#connectedAt !== null;
    this.#end = {
      failure: callFailure(cause, message, this.peer, String(originator)),
      cause,
      originator: String(originator),
      answered,
      durationSec: this.durationSec,
    };
    stopStream(this.#localStream);
    this.#setState('ended');
    this.emit('ended', this.#end);
    this.removeAllListeners();
  }
}

export function stopStream(stream: MediaStream | null): void {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
