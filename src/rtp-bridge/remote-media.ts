/**
 * The media API served by a remote media node over rtpengine's ng protocol: our own `src/media-node.ts`, or any
 * node that speaks ng as rtpengine does. Each MediaApi call becomes the ng dictionary Kamailio's rtpengine module
 * would send for the same job (the classic WebRTC ↔ RTP bridging flags), so what works from Kamailio works from
 * here and the other way round:
 *
 *   offer towards a browser   transport-protocol UDP/TLS/RTP/SAVPF, ICE force, DTLS passive
 *   offer towards a trunk     transport-protocol RTP/AVP, ICE remove
 *   both                      replace [origin, session-connection]; codec strip / strip all + except;
 *                             flags trust-address, strict-source | media-handover; label
 *
 * What ng cannot carry: the node's `timeout`, `dtmf` and `failed` events (ng has no notifications). A node ends
 * a call whose media timed out by itself (as rtpengine does), so `reconcile()` — run every `reconcileEveryMs` —
 * compares the calls we created with the node's `list` and reports each one that vanished as `failed`, so the
 * signalling side ends it instead of keeping a call without media up for hours. (A supervised worker tells its
 * gateway of those events over its IPC channel instead: src/cluster/media-worker.ts.)
 *
 * close() deletes the calls on the node, for a node that stays; abort() is for a node known dead (its process
 * exited): commands waiting on it fail at once, nothing is sent to it any more.
 */
import { GatewayError } from '../errors.ts';
import { logger } from '../log.ts';
import type { BencodeDict, BencodeInput } from '../ng/bencode.ts';
import {
  NgClient,
  NgClientError,
  type NgTransport,
  parseListReply,
  parseQueryReply,
  parseStatisticsReply,
  type NgClientOptions,
  type NgRequest,
} from '../ng/ng-client.ts';
import { TypedEmitter } from '../typed-events.ts';
import type { AnswerFlags, CodecFlags, MediaApi, MediaEvents, MediaStatistics, OfferFlags, SessionStats } from './media-api.ts';

export type RemoteMediaErrorCode =
  /** The node answered `result: error` (its reason is the message). */
  | 'MEDIA_NODE_ERROR'
  /** No (usable) answer: timeout, client closed, undecodable reply. 503: another node may take the call. */
  | 'MEDIA_NODE_UNAVAILABLE'
  /** The call or side is not known here. */
  | 'UNKNOWN_CALL';

export class RemoteMediaError extends GatewayError {
  declare readonly code: RemoteMediaErrorCode;

  constructor(code: RemoteMediaErrorCode, message: string, status: number, cause?: unknown) {
    super(code, message, { status, cause });
  }
}

export interface RemoteMediaNodeOptions extends Omit<NgClientOptions, 'address'> {
  /** The node's ng address, Kamailio's rtpengine_sock syntax: `udp:127.0.0.1:2223`. */
  ng: string;
  /** For logs and status; default the address. */
  name?: string;
  /** How often to look for calls the node ended by itself (default 5000 ms; 0: never). */
  reconcileEveryMs?: number;
}

interface Tracked {
  /** Tags seen in offers/answers, first the offerer's. */
  readonly tags: string[];
  /** When the creating offer was answered: only calls older than a `list` can be missing from it. */
  readonly since: number;
}

/** `list` asks for this many calls; a reply as long as this may be truncated and is checked call by call. */
const LIST_LIMIT = 2000;
const QUERY_CONCURRENCY = 16;
const CLOSE_DELETE_TIMEOUT_MS = 1000;
/** rtpengine's text for a query on a call it does not have. */
const UNKNOWN_CALL_REASON = /unknown call/i;

const log = logger.child({ component: 'remote-media' });

export class RemoteMediaNode extends TypedEmitter<MediaEvents> implements MediaApi {
  readonly name: string;
  readonly address: string;
  readonly #client: NgClient;
  readonly #calls = new Map<string, Tracked>();
  /** Creating offers in flight: later commands on the call wait for them (as MediaService does). */
  readonly #creating = new Map<string, Promise<void>>();
  readonly #reconcileTimer: ReturnType<typeof setInterval> | undefined;
  #reconciling = false;
  #closing: Promise<void> | undefined;

  static async connect(options: RemoteMediaNodeOptions): Promise<RemoteMediaNode> {
    const { ng, name, reconcileEveryMs, ...clientOptions } = options;
    const client = await NgClient.open({ ...clientOptions, address: ng });
    return new RemoteMediaNode(client, name, reconcileEveryMs ?? 5000);
  }

  /** A node reached over another channel than UDP (a supervised worker's IPC pipe). */
  static over(transport: NgTransport, options: Omit<RemoteMediaNodeOptions, 'ng' | 'bindAddress'> = {}): RemoteMediaNode {
    const { name, reconcileEveryMs, ...clientOptions } = options;
    return new RemoteMediaNode(NgClient.over(transport, clientOptions), name, reconcileEveryMs ?? 5000);
  }

  private constructor(client: NgClient, name: string | undefined, reconcileEveryMs: number) {
    super();
    this.#client = client;
    this.address = client.label;
    this.name = name ?? this.address;
    if (reconcileEveryMs > 0) {
      this.#reconcileTimer = setInterval(() => void this.reconcile().catch(() => undefined), reconcileEveryMs);
      this.#reconcileTimer.unref();
    }
  }

  /** Calls created through this node and not deleted. */
  get activeCalls(): number {
    return this.#calls.size;
  }

  /** ng `ping`; resolves with the round trip in ms, rejects when the node does not answer in time. */
  ping(timeoutMs?: number): Promise<number> {
    return this.#client.ping(timeoutMs);
  }

  async offer(callId: string, fromTag: string, sdp: string, flags: OfferFlags): Promise<string> {
    // Only await when a creation is in flight: a delete() right after a creating offer must see it.
    if (this.#creating.has(callId)) await this.#settled(callId);
    const webrtc = flags.to === 'webrtc';
    const request: NgRequest = {
      command: 'offer',
      'call-id': callId,
      'from-tag': fromTag,
      sdp,
      'transport-protocol': webrtc ? 'UDP/TLS/RTP/SAVPF' : 'RTP/AVP',
      ICE: webrtc ? 'force' : 'remove',
      DTLS: webrtc ? 'passive' : undefined,
      replace: ['origin', 'session-connection'],
      flags: latchingFlags(flags),
      codec: codecDict(flags.codecs),
      label: flags.label,
    };
    if (this.#calls.has(callId)) {
      const reply = await this.#request(request, callId, 488);
      this.#addTag(callId, fromTag);
      return sdpOf(reply, 'offer');
    }
    const creation = this.#request(request, callId, 488);
    const settled = creation.then(
      () => {},
      () => {},
    );
    this.#creating.set(callId, settled);
    try {
      const reply = await creation.catch((err: unknown) => {
        // No answer is not "not created": the node may have set the call up and lost its reply. Undo it there.
        if (err instanceof RemoteMediaError && err.code === 'MEDIA_NODE_UNAVAILABLE' && !this.#client.closed) {
          this.#client.request({ command: 'delete', 'call-id': callId }).catch(() => undefined);
        }
        throw err;
      });
      this.#calls.set(callId, { tags: [fromTag], since: Date.now() });
      return sdpOf(reply, 'offer');
    } finally {
      if (this.#creating.get(callId) === settled) this.#creating.delete(callId);
    }
  }

  async answer(callId: string, fromTag: string, toTag: string, sdp: string, flags: AnswerFlags = {}): Promise<string> {
    await this.#settled(callId);
    const reply = await this.#request(
      {
        command: 'answer',
        'call-id': callId,
        'from-tag': fromTag,
        'to-tag': toTag,
        sdp,
        replace: ['origin', 'session-connection'],
        flags: latchingFlags(flags),
        codec: codecDict(flags.codecs),
      },
      callId,
      488,
    );
    this.#addTag(callId, fromTag);
    this.#addTag(callId, toTag);
    return sdpOf(reply, 'answer');
  }

  async subscribeAnswer(callId: string, tag: string, sdp: string): Promise<void> {
    await this.#settled(callId);
    await this.#request({ command: 'subscribe answer', 'call-id': callId, 'to-tag': tag, sdp }, callId, 488);
  }

  /** Idempotent: a call the node does not know is no error (the node answers ok with a warning). */
  async delete(callId: string): Promise<void> {
    await this.#settled(callId);
    this.#calls.delete(callId);
    await this.#request({ command: 'delete', 'call-id': callId }, callId, 500);
  }

  async query(callId: string): Promise<SessionStats | undefined> {
    await this.#settled(callId);
    let reply: BencodeDict;
    try {
      reply = await this.#client.request({ command: 'query', 'call-id': callId });
    } catch (err) {
      if (err instanceof NgClientError && err.code === 'NG_REMOTE_ERROR' && UNKNOWN_CALL_REASON.test(err.message)) return undefined;
      throw this.#wrap(err, 'query', 500);
    }
    return parseQueryReply(callId, reply, Date.now());
  }

  async list(): Promise<string[]> {
    const reply = await this.#request({ command: 'list', limit: LIST_LIMIT }, undefined, 500);
    return parseListReply(reply);
  }

  async statistics(): Promise<MediaStatistics> {
    return parseStatisticsReply(await this.#request({ command: 'statistics' }, undefined, 500));
  }

  async blockMedia(callId: string, tag: string | undefined, blocked: boolean): Promise<void> {
    await this.#settled(callId);
    await this.#request(
      {
        command: blocked ? 'block media' : 'unblock media',
        'call-id': callId,
        'from-tag': tag,
        // rtpengine applies a from-tag only with `directional` (ng_control_protocol.md, "block media").
        flags: tag === undefined ? undefined : ['directional'],
      },
      callId,
      500,
    );
  }

  /** ng names the side generating the event (`from-tag`); the media API names the side hearing it. */
  async playDtmf(callId: string, toTag: string, digit: string, durationMs: number): Promise<void> {
    await this.#settled(callId);
    let fromTag = this.#calls.get(callId)?.tags.find((t) => t !== toTag);
    if (fromTag === undefined) fromTag = (await this.query(callId))?.legs.find((l) => l.tag !== toTag)?.tag;
    if (fromTag === undefined) throw new RemoteMediaError('UNKNOWN_CALL', `no side of call ${callId} other than ${toTag}`, 481);
    await this.#request(
      { command: 'play DTMF', 'call-id': callId, 'from-tag': fromTag, 'to-tag': toTag, digit, duration: durationMs },
      callId,
      500,
    );
  }

  /**
   * Reports (as `failed`) every call created here that the node no longer has — it ended it itself after a
   * media timeout, or it restarted. Returns their Call-IDs. A node that does not answer changes nothing here
   * (noticing that is the dispatcher's ping).
   */
  async reconcile(): Promise<string[]> {
    if (this.#reconciling || this.#closing !== undefined || this.#calls.size === 0) return [];
    this.#reconciling = true;
    try {
      const asked = Date.now();
      const candidates = [...this.#calls].filter(([, t]) => t.since < asked).map(([id]) => id);
      if (candidates.length === 0) return [];
      const missing = await this.#missing(candidates);
      const gone: string[] = [];
      for (const callId of missing) {
        const tracked = this.#calls.get(callId);
        // Deleted (or re-created) meanwhile: not ours to report.
        if (tracked === undefined || tracked.since >= asked) continue;
        this.#calls.delete(callId);
        gone.push(callId);
        log.warn({ callId, node: this.name }, 'call gone from the media node (media timeout or restart)');
        this.emit('failed', callId, tracked.tags[0] ?? '', `the media node ${this.name} no longer has the call`);
      }
      return gone;
    } finally {
      this.#reconciling = false;
    }
  }

  /**
   * Deletes every call created here (best effort, at most CLOSE_DELETE_TIMEOUT_MS: a node that went away must not
   * hold up a shutdown), then closes the client. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#reconcileTimer);
      await Promise.allSettled([...this.#creating.values()]);
      const callIds = [...this.#calls.keys()];
      this.#calls.clear();
      await Promise.allSettled(
        callIds.map((callId) => this.#client.request({ command: 'delete', 'call-id': callId }, { timeoutMs: CLOSE_DELETE_TIMEOUT_MS })),
      );
      await this.#client.close();
    })();
    return this.#closing;
  }

  /**
   * The node is gone (its process exited): commands waiting on it reject now (MEDIA_NODE_UNAVAILABLE, from
   * NG_ABORTED) instead of at their deadline; its calls are forgotten without a delete (nothing would receive it).
   * Idempotent; close() after it does nothing more.
   */
  abort(reason: string): void {
    if (this.#closing !== undefined && this.#client.closed) return;
    clearInterval(this.#reconcileTimer);
    this.#calls.clear();
    this.#closing ??= Promise.resolve();
    this.#client.abort(reason);
  }

  /** Of `callIds`, those the node does not have: from `list`, or call by call when the list may be cut short. */
  async #missing(callIds: string[]): Promise<string[]> {
    let listed: Set<string> | undefined;
    try {
      const reply = await this.#client.request({ command: 'list', limit: LIST_LIMIT });
      const calls = parseListReply(reply);
      listed = new Set(calls);
      if (calls.length < LIST_LIMIT) return callIds.filter((id) => !listed!.has(id));
    } catch (err) {
      // "Reply too large for UDP" from a busy node: check our calls one by one. No answer at all: give up.
      if (!(err instanceof NgClientError && err.code === 'NG_REMOTE_ERROR')) return [];
    }
    const unsure = callIds.filter((id) => !listed?.has(id));
    const missing: string[] = [];
    for (let i = 0; i < unsure.length; i += QUERY_CONCURRENCY) {
      const batch = unsure.slice(i, i + QUERY_CONCURRENCY);
      const results = await Promise.allSettled(batch.map((id) => this.#client.request({ command: 'query', 'call-id': id })));
      results.forEach((r, j) => {
        if (r.status === 'rejected' && r.reason instanceof NgClientError && r.reason.code === 'NG_REMOTE_ERROR' && UNKNOWN_CALL_REASON.test(r.reason.message)) {
          missing.push(batch[j]!);
        }
      });
    }
    return missing;
  }

  async #request(request: NgRequest, callId: string | undefined, errorStatus: number): Promise<BencodeDict> {
    let reply: BencodeDict;
    try {
      reply = await this.#client.request(request);
    } catch (err) {
      throw this.#wrap(err, request.command, errorStatus);
    }
    const warning = reply['warning'];
    if (typeof warning === 'string') log.debug({ callId, node: this.name, command: request.command, warning }, 'media node warning');
    return reply;
  }

  #wrap(err: unknown, command: string, errorStatus: number): RemoteMediaError {
    if (err instanceof NgClientError && err.code === 'NG_REMOTE_ERROR') {
      return new RemoteMediaError('MEDIA_NODE_ERROR', err.message, errorStatus, err);
    }
    const why = err instanceof Error ? err.message : String(err);
    return new RemoteMediaError('MEDIA_NODE_UNAVAILABLE', `media node ${this.name}: ${command} failed: ${why}`, 503, err);
  }

  #addTag(callId: string, tag: string): void {
    const tracked = this.#calls.get(callId);
    if (tracked !== undefined && !tracked.tags.includes(tag)) tracked.tags.push(tag);
  }

  async #settled(callId: string): Promise<void> {
    for (let pending = this.#creating.get(callId); pending !== undefined; pending = this.#creating.get(callId)) await pending;
  }
}

// ------------------------------------------------------------------------------------- request building

function latchingFlags(flags: { strictSource?: boolean; trustAddress?: boolean }): string[] | undefined {
  const out: string[] = [];
  if (flags.trustAddress === true) out.push('trust-address');
  if (flags.strictSource === true) out.push('strict-source');
  if (flags.strictSource === false) out.push('media-handover');
  return out.length > 0 ? out : undefined;
}

/** strip → `codec: { strip }`; an allow-list → `strip: [all], except: [...]` (rtpengine's way to keep only some). */
function codecDict(codecs: CodecFlags | undefined): { [key: string]: BencodeInput } | undefined {
  if (codecs === undefined) return undefined;
  const strip = codecs.strip ?? [];
  if (codecs.allow !== undefined) {
    const stripped = new Set(strip.map((c) => c.toLowerCase()));
    const keep = codecs.allow.filter((c) => !stripped.has(c.split('/')[0]!.toLowerCase()));
    if (keep.length === 0) throw new RemoteMediaError('MEDIA_NODE_ERROR', 'no codec left once the allow-list and strip are applied', 488);
    return { strip: ['all'], except: keep };
  }
  return strip.length > 0 ? { strip: [...strip] } : undefined;
}

function sdpOf(reply: BencodeDict, command: string): string {
  const sdp = reply['sdp'];
  if (typeof sdp !== 'string' || sdp === '') {
    throw new RemoteMediaError('MEDIA_NODE_UNAVAILABLE', `the media node's ${command} reply carries no SDP`, 503);
  }
  return sdp;
}
