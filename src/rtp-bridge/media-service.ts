/**
 * The in-process media plane: the MediaApi (rtpengine ng semantics) over MediaSessions, one per Call-ID, each
 * with two legs from one port pool and one relay. The B2BUA calls it directly; the ng server and the media-node
 * CLI serve it to Kamailio/OpenSIPS or a remote gateway.
 *
 * Owns: the port pool, the process's DTLS certificate (one per process, RFC 8827 §6.5: identity is the
 * fingerprint in SDP), the media-timeout watcher, and the sessions. Closing the service closes them all.
 *
 * Commands on one call are serialised only where they must be: creating a session awaits port binds, so a
 * second command for the same Call-ID waits for that creation to finish; everything after that is synchronous.
 */
import { isIP } from 'node:net';
import { GatewayError } from '../errors.ts';
import { logger } from '../log.ts';
import { TypedEmitter } from '../typed-events.ts';
import { getProcessCertificate, type DtlsCertificate } from '../webrtc/index.ts';
import type { MediaApi, MediaEvents, MediaStatistics, OfferFlags, AnswerFlags, SessionStats } from './media-api.ts';
import { createPlainMediaLeg, createWebRtcMediaLeg, type MediaLeg } from './media-leg.ts';
import { MediaSession, MediaSessionError, type SessionContext } from './media-session.ts';
import { MediaTimeoutWatcher } from './media-timeout.ts';
import { PortPool } from './port-pool.ts';
import { DEFAULT_CODECS, codecKey, parseSdp, type LegKind } from './sdp/index.ts';

export interface MediaServiceOptions {
  /** Address the media sockets bind to. */
  bindAddress: string;
  /** Address written into SDP (c= line); default bindAddress. Needed when binding to 0.0.0.0 / ::. */
  advertisedAddress?: string;
  /** ICE host candidates of WebRTC legs; default [advertisedAddress]. */
  iceAddresses?: string[];
  portMin: number;
  portMax: number;
  /** No RTP from a side (not on hold) for this long → `timeout` event. Default 60 s (rtpengine's default). */
  mediaTimeoutMs?: number;
  /** What the relay may carry (CodecPolicy entries: name[/rate[/channels]]); default DEFAULT_CODECS. */
  codecs?: string[];
}

export class MediaConfigError extends GatewayError {
  constructor(message: string) {
    super('MEDIA_CONFIG', message);
  }
}

const DEFAULT_MEDIA_TIMEOUT_MS = 60_000;
const WEBRTC_PROTO = /SAVP/i;

export class MediaService extends TypedEmitter<MediaEvents> implements MediaApi {
  readonly advertisedAddress: string;
  readonly iceAddresses: readonly string[];
  readonly #pool: PortPool;
  readonly #certificate: DtlsCertificate;
  readonly #watcher: MediaTimeoutWatcher<MediaLeg>;
  readonly #context: SessionContext;
  readonly #sessions = new Map<string, MediaSession>();
  /** Sessions being created (port binds in progress), settled when the creating offer has finished. */
  readonly #creating = new Map<string, Promise<void>>();
  #relayedByClosedSessions = 0;
  #closed = false;

  static async create(options: MediaServiceOptions): Promise<MediaService> {
    const certificate = await getProcessCertificate();
    return new MediaService(options, certificate);
  }

  private constructor(options: MediaServiceOptions, certificate: DtlsCertificate) {
    super();
    if (isIP(options.bindAddress) === 0) throw new MediaConfigError(`bind address ${JSON.stringify(options.bindAddress)} is not an IP literal`);
    const advertised = options.advertisedAddress ?? options.bindAddress;
    if (isIP(advertised) === 0 || advertised === '0.0.0.0' || advertised === '::') {
      throw new MediaConfigError(`advertised media address ${JSON.stringify(advertised)} must be a unicast IP literal (set advertisedAddress when binding to ${options.bindAddress})`);
    }
    const timeoutMs = options.mediaTimeoutMs ?? DEFAULT_MEDIA_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new MediaConfigError(`media timeout must be > 0 ms, got ${timeoutMs}`);
    this.advertisedAddress = advertised;
    this.iceAddresses = Object.freeze([...(options.iceAddresses ?? [advertised])]);
    this.#pool = new PortPool({ min: options.portMin, max: options.portMax, bindAddress: options.bindAddress });
    this.#certificate = certificate;
    this.#watcher = new MediaTimeoutWatcher<MediaLeg>({ timeoutMs, sweepMs: Math.min(1000, Math.max(50, Math.floor(timeoutMs / 4))) });
    const log = logger.child({ component: 'media' });
    this.#context = {
      advertisedAddress: advertised,
      relayCodecs: Object.freeze([...(options.codecs ?? DEFAULT_CODECS)]),
      logger: log,
      watch: (leg, onTimeout) => this.#watcher.watch(leg, onTimeout),
      unwatch: (leg) => this.#watcher.unwatch(leg),
      onTimeout: (callId, tag) => this.emit('timeout', callId, tag),
      onDtmf: (callId, tag, digit) => this.emit('dtmf', callId, tag, digit),
      onFailed: (callId, tag, reason) => this.emit('failed', callId, tag, reason),
    };
  }

  /** Ports bound now (a plain leg holds two, a WebRTC leg one). */
  get portsInUse(): number {
    return this.#pool.inUse;
  }

  async offer(callId: string, fromTag: string, sdp: string, flags: OfferFlags): Promise<string> {
    this.#checkOpen();
    const { kind, codecsFrom } = inspectOffer(sdp, flags);
    // Registered before the first await: a delete() arriving while the legs are being made must find this work
    // and wait for it, or the session it creates would outlive its call until the media timeout.
    const prior = this.#creating.get(callId);
    const work = (async () => {
      if (prior !== undefined) await prior;
      const existing = this.#sessions.get(callId);
      if (existing !== undefined) return existing.offer(fromTag, sdp, kind, flags, codecsFrom);
      this.#checkOpen();
      return this.#createSession(callId, fromTag, sdp, kind, flags, codecsFrom);
    })();
    const settled = work.then(
      () => {},
      () => {},
    );
    this.#creating.set(callId, settled);
    try {
      return await work;
    } finally {
      if (this.#creating.get(callId) === settled) this.#creating.delete(callId);
    }
  }

  async answer(callId: string, fromTag: string, toTag: string, sdp: string, flags?: AnswerFlags): Promise<string> {
    await this.#settled(callId);
    return this.#session(callId).answer(fromTag, toTag, sdp, flags);
  }

  async subscribeAnswer(callId: string, tag: string, sdp: string): Promise<void> {
    await this.#settled(callId);
    this.#session(callId).subscribeAnswer(tag, sdp);
  }

  async delete(callId: string): Promise<void> {
    await this.#settled(callId);
    const session = this.#sessions.get(callId);
    if (session === undefined) return;
    this.#sessions.delete(callId);
    this.#relayedByClosedSessions += session.packetsRelayed;
    session.close();
  }

  async query(callId: string): Promise<SessionStats | undefined> {
    await this.#settled(callId);
    const session = this.#sessions.get(callId);
    if (session === undefined) return undefined;
    return { callId, createdAt: session.createdAt, legs: session.stats() };
  }

  async list(): Promise<string[]> {
    return [...this.#sessions.keys()];
  }

  async statistics(): Promise<MediaStatistics> {
    let relayed = this.#relayedByClosedSessions;
    for (const session of this.#sessions.values()) relayed += session.packetsRelayed;
    return { sessions: this.#sessions.size, legs: this.#sessions.size * 2, portsInUse: this.#pool.inUse, packetsRelayed: relayed };
  }

  async blockMedia(callId: string, tag: string | undefined, blocked: boolean): Promise<void> {
    await this.#settled(callId);
    this.#session(callId).blockMedia(tag, blocked);
  }

  async playDtmf(callId: string, toTag: string, digit: string, durationMs: number): Promise<void> {
    await this.#settled(callId);
    this.#session(callId).playDtmf(toTag, digit, durationMs);
  }

  /** Ends every call's media, releases every port, stops the timeout sweep. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#creating.size > 0) await Promise.all(this.#creating.values());
    for (const callId of [...this.#sessions.keys()]) await this.delete(callId);
    this.#watcher.close();
    this.#pool.close();
  }

  async #createSession(
    callId: string,
    fromTag: string,
    sdp: string,
    kind: LegKind,
    flags: OfferFlags,
    codecsFrom: readonly string[] | undefined,
  ): Promise<string> {
    const a = await this.#createLeg(kind, callId, flags);
    let b: MediaLeg;
    try {
      b = await this.#createLeg(flags.to, callId, undefined);
    } catch (err) {
      a.close();
      throw err;
    }
    const session = new MediaSession(this.#context, callId, fromTag, a, b);
    let out: string;
    try {
      out = session.offer(fromTag, sdp, kind, flags, codecsFrom);
      this.#checkOpen();
    } catch (err) {
      session.close();
      throw err;
    }
    this.#sessions.set(callId, session);
    return out;
  }

  /** A leg of `kind`; offer flags apply to the leg of the side whose SDP carried them. */
  #createLeg(kind: LegKind, callId: string, flags: OfferFlags | undefined): Promise<MediaLeg> {
    if (kind === 'webrtc') {
      return createWebRtcMediaLeg(this.#pool, {
        iceAddresses: this.iceAddresses,
        certificate: this.#certificate,
        logger: this.#context.logger.child({ callId }),
      });
    }
    return createPlainMediaLeg(this.#pool, {
      callId,
      ...(flags?.label === undefined ? {} : { label: flags.label }),
      latching: {
        mode: flags?.trustAddress === true ? 'trust-sdp' : 'latch',
        strictSource: flags?.strictSource ?? true,
      },
    });
  }

  #session(callId: string): MediaSession {
    const session = this.#sessions.get(callId);
    if (session === undefined) throw new MediaSessionError('UNKNOWN_CALL', `unknown call ${callId}`);
    return session;
  }

  /** Waits until no creation of this call's session is in progress. */
  async #settled(callId: string): Promise<void> {
    for (let pending = this.#creating.get(callId); pending !== undefined; pending = this.#creating.get(callId)) await pending;
  }

  #checkOpen(): void {
    if (this.#closed) throw new GatewayError('MEDIA_CLOSED', 'the media service is shutting down', { status: 503 });
  }
}

/**
 * What the offer's author speaks, from its first audio m-line in use: DTLS-SRTP (UDP/TLS/RTP/SAVP(F), or
 * RTP/SAVP(F) with a fingerprint, RFC 5763) is a WebRTC leg; anything else a plain one (the SDP module then
 * refuses what a plain leg cannot use, SDES-SRTP included, with its own reason). Also turns `codecs.strip` into
 * the allow-list of the offer's codecs that are not stripped.
 */
function inspectOffer(sdp: string, flags: OfferFlags): { kind: LegKind; codecsFrom: string[] | undefined } {
  const session = parseSdp(sdp);
  const audio = session.media.find((m) => m.type.toLowerCase() === 'audio' && (m.port !== 0 || m.bundleOnly));
  const proto = audio?.proto ?? '';
  const kind: LegKind =
    WEBRTC_PROTO.test(proto) && (/^UDP\/TLS\//i.test(proto) || (audio?.fingerprints.length ?? 0) > 0) ? 'webrtc' : 'plain';
  const strip = flags.codecs?.strip;
  if (strip === undefined || strip.length === 0 || audio === undefined) return { kind, codecsFrom: undefined };
  const stripped = (name: string): boolean => strip.some((s) => s.toLowerCase() === 'all' || s.toLowerCase() === name.toLowerCase());
  return { kind, codecsFrom: audio.codecs.filter((c) => !stripped(c.name)).map((c) => codecKey(c)) };
}
