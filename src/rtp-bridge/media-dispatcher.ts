/**
 * One MediaApi over several media nodes — the in-process media service and/or remote nodes over ng — as
 * Kamailio's rtpengine module spreads calls over an rtpengine set, with the health handling a B2BUA needs:
 *
 * - placement: a new call (an `offer` for a Call-ID not seen yet) goes to the healthy node with the least load
 *   (sessions it holds for us, or what it reports through `statistics` when that is more), ties in turn, and
 *   stays there: every later command for the Call-ID goes to the same node. A node that cannot take the call
 *   (503: unreachable, out of ports, shutting down) is skipped and the next one tried.
 * - health: every node with a `ping` is pinged every `pingIntervalMs`; `maxMissedPings` misses in a row take it
 *   out (`node-down`): new calls go elsewhere, and (unless the node is `keepCallsWhenSilent`) every call on it gets a `failed` event so the signalling side
 *   ends it on both legs (its media went with the node). The first answer brings it back (`node-up`), and the
 *   calls it still held are deleted on it then (they were ended meanwhile); a `keepCallsWhenSilent` node kept
 *   its calls, so nothing is deleted.
 * - events of a node are passed on only for the calls this dispatcher placed on that node.
 */
import { GatewayError } from '../errors.ts';
import { logger } from '../log.ts';
import { TypedEmitter } from '../typed-events.ts';
import type { AnswerFlags, MediaApi, MediaEvents, MediaStatistics, OfferFlags, SessionStats } from './media-api.ts';
import { MediaSessionError } from './media-session.ts';

export interface DispatchNode {
  /** For logs and status; unique within a dispatcher. */
  readonly name: string;
  readonly media: MediaApi;
  /** Health probe: resolves when the node answers within `timeoutMs`. Omitted: always healthy (in-process). */
  ping?(timeoutMs: number): Promise<unknown>;
  /**
   * A node whose death is reported by other means (a supervised local process: its supervisor fails its calls
   * when it exits): missed pings only take it out of placement, and its calls carry on. A CPU-starved node
   * answers pings late long before its media stops, and ending its calls then would move their load (and the
   * starvation) onto the others.
   */
  readonly keepCallsWhenSilent?: boolean;
}

export interface MediaDispatcherOptions {
  nodes: readonly DispatchNode[];
  /** Default 1000 ms. */
  pingIntervalMs?: number;
  /** Misses in a row that take a node out (default 3). */
  maxMissedPings?: number;
  /** How often to ask nodes for `statistics` (the load they report); default 5000 ms, 0: own counts only. */
  loadIntervalMs?: number;
}

export type NodeState = 'up' | 'down';

export interface NodeStatus {
  name: string;
  state: NodeState;
  /** Calls this dispatcher placed on the node and has not deleted. */
  calls: number;
  /** Sessions the node last reported (all its sessions, ours and others'). */
  reportedSessions: number | undefined;
  missedPings: number;
}

export type DispatcherEvents = MediaEvents & {
  'node-down': [name: string, failedCalls: number];
  'node-up': [name: string];
};

class NodeEntry {
  readonly node: DispatchNode;
  state: NodeState = 'up';
  missed = 0;
  pinging = false;
  readonly calls = new Set<string>();
  /** Calls ended while the node was down: deleted on it when it answers again. */
  readonly orphans = new Set<string>();
  reported: number | undefined;
  /** Calls placed since `reported` was read (the report does not include them yet). */
  placedSinceReport = 0;

  constructor(node: DispatchNode) {
    this.node = node;
  }

  get load(): number {
    if (this.reported === undefined) return this.calls.size;
    return Math.max(this.calls.size, this.reported + this.placedSinceReport);
  }
}

interface Placement {
  readonly entry: NodeEntry;
  /** The offerer's tag of the creating offer, named in a `failed` event. */
  readonly tag: string;
}

const ORPHANS_MAX = 100_000;
const log = logger.child({ component: 'media-dispatcher' });

export class MediaDispatcher extends TypedEmitter<DispatcherEvents> implements MediaApi {
  readonly #entries: NodeEntry[];
  readonly #calls = new Map<string, Placement>();
  /** Creating offers in flight, so a delete racing one waits for it. */
  readonly #placing = new Map<string, Promise<void>>();
  readonly #pingIntervalMs: number;
  readonly #maxMissed: number;
  readonly #timers: Array<ReturnType<typeof setInterval>> = [];
  #turn = 0;
  #closing: Promise<void> | undefined;

  /**
   * Builds the dispatcher and pings every node once: a node that does not answer that first ping starts out of
   * rotation (no call to fail yet, so no reason to wait for more misses), and comes in at its first answer.
   */
  static async create(options: MediaDispatcherOptions): Promise<MediaDispatcher> {
    const dispatcher = new MediaDispatcher(options);
    await dispatcher.#checkHealth(true);
    return dispatcher;
  }

  private constructor(options: MediaDispatcherOptions) {
    super();
    if (options.nodes.length === 0) throw new GatewayError('MEDIA_CONFIG', 'a media dispatcher needs at least one node');
    const names = new Set(options.nodes.map((n) => n.name));
    if (names.size !== options.nodes.length) throw new GatewayError('MEDIA_CONFIG', 'media node names must be unique');
    this.#pingIntervalMs = options.pingIntervalMs ?? 1000;
    this.#maxMissed = options.maxMissedPings ?? 3;
    this.#entries = options.nodes.map((node) => new NodeEntry(node));
    for (const entry of this.#entries) this.#forwardEvents(entry);
    const ping = setInterval(() => void this.#checkHealth(false), this.#pingIntervalMs);
    ping.unref();
    this.#timers.push(ping);
    const loadMs = options.loadIntervalMs ?? 5000;
    if (loadMs > 0) {
      const load = setInterval(() => void this.#readLoad(), loadMs);
      load.unref();
      this.#timers.push(load);
    }
  }

  status(): NodeStatus[] {
    return this.#entries.map((e) => ({
      name: e.node.name,
      state: e.state,
      calls: e.calls.size,
      reportedSessions: e.reported,
      missedPings: e.missed,
    }));
  }

  /** The node a call was placed on. */
  nodeOf(callId: string): string | undefined {
    return this.#calls.get(callId)?.entry.node.name;
  }

  async offer(callId: string, fromTag: string, sdp: string, flags: OfferFlags): Promise<string> {
    this.#checkOpen();
    // No await before #placing is set when nothing is in flight: a delete() called right after this offer
    // must find the placement and wait for it.
    if (this.#placing.has(callId)) await this.#settled(callId);
    const placed = this.#calls.get(callId);
    if (placed !== undefined) return placed.entry.node.media.offer(callId, fromTag, sdp, flags);
    const placing = this.#place(callId, fromTag, sdp, flags);
    const settled = placing.then(
      () => {},
      () => {},
    );
    this.#placing.set(callId, settled);
    try {
      return await placing;
    } finally {
      if (this.#placing.get(callId) === settled) this.#placing.delete(callId);
    }
  }

  async answer(callId: string, fromTag: string, toTag: string, sdp: string, flags?: AnswerFlags): Promise<string> {
    await this.#settled(callId);
    return this.#mediaOf(callId).answer(callId, fromTag, toTag, sdp, flags);
  }

  async subscribeAnswer(callId: string, tag: string, sdp: string): Promise<void> {
    await this.#settled(callId);
    return this.#mediaOf(callId).subscribeAnswer(callId, tag, sdp);
  }

  async delete(callId: string): Promise<void> {
    await this.#settled(callId);
    const placed = this.#calls.get(callId);
    if (placed === undefined) return;
    this.#unplace(callId, placed.entry);
    await placed.entry.node.media.delete(callId);
  }

  async query(callId: string): Promise<SessionStats | undefined> {
    await this.#settled(callId);
    return this.#calls.get(callId)?.entry.node.media.query(callId);
  }

  /** The calls this dispatcher placed and has not deleted. */
  async list(): Promise<string[]> {
    return [...this.#calls.keys()];
  }

  /** Sums over the nodes that are up (a node that does not answer is left out). */
  async statistics(): Promise<MediaStatistics> {
    const up = this.#entries.filter((e) => e.state === 'up');
    const results = await Promise.allSettled(up.map((e) => e.node.media.statistics()));
    const sum: MediaStatistics = { sessions: 0, legs: 0, portsInUse: 0, packetsRelayed: 0 };
    for (const r of results) {
      if (r.status !== 'fulfilled') continue;
      sum.sessions += r.value.sessions;
      sum.legs += r.value.legs;
      sum.portsInUse += r.value.portsInUse;
      sum.packetsRelayed += r.value.packetsRelayed;
    }
    return sum;
  }

  async blockMedia(callId: string, tag: string | undefined, blocked: boolean): Promise<void> {
    await this.#settled(callId);
    return this.#mediaOf(callId).blockMedia(callId, tag, blocked);
  }

  async playDtmf(callId: string, toTag: string, digit: string, durationMs: number): Promise<void> {
    await this.#settled(callId);
    return this.#mediaOf(callId).playDtmf(callId, toTag, digit, durationMs);
  }

  /** One health round: pings every node that has a probe (and is not still answering the last one). */
  checkHealth(): Promise<void> {
    return this.#checkHealth(false);
  }

  async #checkHealth(initial: boolean): Promise<void> {
    if (this.#closing !== undefined) return;
    const timeoutMs = Math.max(50, Math.floor(this.#pingIntervalMs * 0.9));
    await Promise.all(
      this.#entries.map(async (entry) => {
        const ping = entry.node.ping;
        if (ping === undefined || entry.pinging) return;
        entry.pinging = true;
        let answered: boolean;
        try {
          await ping.call(entry.node, timeoutMs);
          answered = true;
        } catch {
          answered = false;
        } finally {
          entry.pinging = false;
        }
        if (this.#closing !== undefined) return;
        if (answered) this.#answered(entry);
        else if (initial) {
          entry.missed = this.#maxMissed;
          entry.state = 'down';
          log.warn({ node: entry.node.name }, 'media node does not answer at start-up; out of rotation until it does');
        } else this.#missedPing(entry);
      }),
    );
  }

  /** Stops pinging, waits for placements in flight, closes every node (each ends its calls). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const timer of this.#timers) clearInterval(timer);
      await Promise.allSettled([...this.#placing.values()]);
      this.#calls.clear();
      await Promise.allSettled(this.#entries.map((e) => e.node.media.close()));
    })();
    return this.#closing;
  }

  // ------------------------------------------------------------------------------------------- placement

  async #place(callId: string, fromTag: string, sdp: string, flags: OfferFlags): Promise<string> {
    const tried = new Set<NodeEntry>();
    let lastError: unknown;
    for (;;) {
      const entry = this.#pick(tried);
      if (entry === undefined) {
        throw new GatewayError('MEDIA_UNAVAILABLE', `no media node can take the call${lastError instanceof Error ? ` (${lastError.message})` : ''}`, {
          status: 503,
          cause: lastError,
        });
      }
      tried.add(entry);
      this.#calls.set(callId, { entry, tag: fromTag });
      entry.calls.add(callId);
      entry.placedSinceReport++;
      try {
        const answer = await entry.node.media.offer(callId, fromTag, sdp, flags);
        this.#checkOpen();
        return answer;
      } catch (err) {
        if (this.#calls.get(callId)?.entry === entry) this.#unplace(callId, entry);
        // The node may have created the session before its reply was lost, or before close() began.
        entry.node.media.delete(callId).catch(() => undefined);
        if (!(err instanceof GatewayError && err.status === 503) || this.#closing !== undefined) throw err;
        lastError = err;
        log.warn({ callId, node: entry.node.name, err: err.message }, 'media node could not take a new call; trying another');
      }
    }
  }

  /** The healthy node with the least load, not in `tried`; equal loads take turns. */
  #pick(tried: ReadonlySet<NodeEntry>): NodeEntry | undefined {
    let best: NodeEntry | undefined;
    const n = this.#entries.length;
    for (let i = 0; i < n; i++) {
      const entry = this.#entries[(this.#turn + i) % n]!;
      if (entry.state !== 'up' || tried.has(entry)) continue;
      if (best === undefined || entry.load < best.load) best = entry;
    }
    this.#turn = (this.#turn + 1) % n;
    return best;
  }

  #unplace(callId: string, entry: NodeEntry): void {
    this.#calls.delete(callId);
    entry.calls.delete(callId);
  }

  #mediaOf(callId: string): MediaApi {
    const placed = this.#calls.get(callId);
    if (placed === undefined) throw new MediaSessionError('UNKNOWN_CALL', `unknown call ${callId}`);
    return placed.entry.node.media;
  }

  async #settled(callId: string): Promise<void> {
    for (let pending = this.#placing.get(callId); pending !== undefined; pending = this.#placing.get(callId)) await pending;
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new GatewayError('MEDIA_CLOSED', 'the media plane is shutting down', { status: 503 });
  }

  // ---------------------------------------------------------------------------------------------- health

  #answered(entry: NodeEntry): void {
    entry.missed = 0;
    if (entry.state === 'up') return;
    entry.state = 'up';
    const orphans = [...entry.orphans];
    entry.orphans.clear();
    log.info({ node: entry.node.name, orphans: orphans.length }, 'media node answers again; back in rotation');
    for (const callId of orphans) {
      entry.node.media.delete(callId).catch((err: unknown) => log.debug({ callId, node: entry.node.name, err }, 'orphan delete failed'));
    }
    this.emit('node-up', entry.node.name);
  }

  #missedPing(entry: NodeEntry): void {
    entry.missed++;
    if (entry.state !== 'up' || entry.missed < this.#maxMissed) return;
    entry.state = 'down';
    entry.reported = undefined;
    if (entry.node.keepCallsWhenSilent === true) {
      log.warn({ node: entry.node.name, missedPings: entry.missed, calls: entry.calls.size }, 'media node slow to answer; out of rotation, its calls carry on');
      this.emit('node-down', entry.node.name, 0);
      return;
    }
    // Unplace first: a listener that ends the call calls delete(), which must find nothing left to do here.
    const failed: Array<[string, string]> = [];
    for (const callId of entry.calls) {
      const placed = this.#calls.get(callId);
      this.#calls.delete(callId);
      if (entry.orphans.size < ORPHANS_MAX) entry.orphans.add(callId);
      failed.push([callId, placed?.tag ?? '']);
    }
    entry.calls.clear();
    log.warn({ node: entry.node.name, missedPings: entry.missed, calls: failed.length }, 'media node stopped answering; taken out, its calls fail');
    for (const [callId, tag] of failed) this.emit('failed', callId, tag, `media node ${entry.node.name} stopped answering`);
    this.emit('node-down', entry.node.name, failed.length);
  }

  async #readLoad(): Promise<void> {
    await Promise.all(
      this.#entries.map(async (entry) => {
        if (entry.state !== 'up' || entry.node.ping === undefined) return;
        const placedBefore = entry.placedSinceReport;
        try {
          const stats = await entry.node.media.statistics();
          entry.reported = stats.sessions;
          entry.placedSinceReport = Math.max(0, entry.placedSinceReport - placedBefore);
        } catch {
          // A node that does not answer is the pings' business.
        }
      }),
    );
  }

  #forwardEvents(entry: NodeEntry): void {
    const mine = (callId: string): boolean => this.#calls.get(callId)?.entry === entry;
    entry.node.media.on('timeout', (callId, tag) => {
      if (mine(callId)) this.emit('timeout', callId, tag);
    });
    entry.node.media.on('dtmf', (callId, tag, digit) => {
      if (mine(callId)) this.emit('dtmf', callId, tag, digit);
    });
    entry.node.media.on('failed', (callId, tag, reason) => {
      if (mine(callId)) this.emit('failed', callId, tag, reason);
    });
  }
}
