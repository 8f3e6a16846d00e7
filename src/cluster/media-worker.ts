/**
 * A supervised media worker, as one node of the MediaDispatcher: a media-node process (worker-process.ts) driven
 * over ng carried by its IPC channel (RemoteMediaNode over WorkerNgTransport: no ng port), kept alive across
 * crashes.
 *
 * - The node keeps one name (`worker-1`) for the dispatcher while the process behind it changes: a restarted
 *   worker gets a new RemoteMediaNode over its own channel.
 * - The worker's media events (timeout, DTMF, a failed leg) come over the channel as they happen and are
 *   re-emitted, so a media timeout ends the call as it does in-process (BYE, "Media timeout"), not as a
 *   `failed` call found missing at the next reconcile.
 * - A process that exits unexpectedly is logged (pid, exit code, signal), and every call it carried is reported
 *   at once as `failed`: the dispatcher passes that on and the B2BUA ends those calls with BYE on both legs (their
 *   media went with the process). No need to wait for missed pings. Commands in flight on it fail at once too
 *   (RemoteMediaNode.abort()), instead of waiting for their deadline.
 * - While no process runs, `offer` answers 503 (the dispatcher places the call on another node), `ping` rejects
 *   (after maxMissedPings the dispatcher takes the node out, and brings it back at the first answer), `delete` is
 *   a no-op (the call died with the process).
 * - A process that is alive but does not answer (hung, stopped) is killed once `killAfterMissedPings` pings in a
 *   row went unanswered AND nothing answered for `killAfterSilenceMs` — much later than the dispatcher takes it
 *   out of placement, so a worker that is only starved of CPU for a while is not killed — and so restarted too.
 * - Restarts back off: 250 ms, doubling up to 30 s; a worker that stayed up 30 s starts again from 250 ms.
 * - retire() (the gateway's shutdown begins) stops restarting; close() stops supervising, lets the
 *   RemoteMediaNode delete its calls, then SIGTERM and, after a grace period, SIGKILL.
 */
import { logger } from '../log.ts';
import { TypedEmitter } from '../typed-events.ts';
import type { AnswerFlags, MediaApi, MediaEvents, MediaStatistics, OfferFlags, SessionStats } from '../rtp-bridge/media-api.ts';
import { RemoteMediaError, RemoteMediaNode } from '../rtp-bridge/remote-media.ts';
import { WorkerNgTransport } from './worker-ng-transport.ts';
import type { MediaEventMessage } from './worker-protocol.ts';
import { WorkerProcess, type WorkerExit, type WorkerProcessOptions } from './worker-process.ts';

export interface MediaWorkerOptions extends WorkerProcessOptions {
  /** ng command deadline, retransmissions included (media.nodeHealth.commandTimeout). */
  commandTimeoutMs: number;
  /** SIGTERM → SIGKILL grace on close (default 5000 ms). */
  stopGraceMs?: number;
  /** First restart delay (default 250 ms); doubles per failed restart up to `maxRestartDelayMs` (default 30 s). */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** Unanswered pings in a row after which a live but silent process is killed (default 9; 0: never). */
  killAfterMissedPings?: number;
  /** …and only once no ping was answered for this long (default 30 000 ms; 0: the count alone decides). */
  killAfterSilenceMs?: number;
}

export type MediaWorkerEvents = MediaEvents & {
  /** The process exited without being asked to; `calls` were failed; a new one starts in `restartInMs` (undefined: retired). */
  exit: [pid: number, exit: WorkerExit, calls: number, restartInMs: number | undefined];
  /** A new process is up (after an exit). */
  restart: [pid: number];
};

type State = 'running' | 'down' | 'closed';

const STABLE_MS = 30_000;
const log = logger.child({ component: 'media-worker' });

export class MediaWorker extends TypedEmitter<MediaWorkerEvents> implements MediaApi {
  readonly name: string;
  readonly #options: MediaWorkerOptions;
  #state: State = 'running';
  #process: WorkerProcess;
  #remote: RemoteMediaNode;
  /** Calls on the current process, with the offerer's tag (named in a `failed` event). */
  readonly #calls = new Map<string, string>();
  #restartDelayMs: number;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** A restart under way (close() waits for it, and stops what it started). */
  #restarting: Promise<void> | undefined;
  #startedAt = Date.now();
  #missedPings = 0;
  /** When a ping was last answered (or the process adopted). */
  #lastPong = Date.now();
  #retired = false;
  #closing: Promise<void> | undefined;

  /** Starts the first process; rejects (WorkerStartError) if it cannot start: that is a start-up failure. */
  static async start(options: MediaWorkerOptions): Promise<MediaWorker> {
    const [proc, remote] = await MediaWorker.#spawn(options);
    log.info({ worker: options.name, pid: proc.pid }, 'media worker started');
    return new MediaWorker(options, proc, remote);
  }

  static async #spawn(options: MediaWorkerOptions): Promise<[WorkerProcess, RemoteMediaNode]> {
    const proc = await WorkerProcess.start(options);
    // Reconciling is for nodes that end calls on their own; a worker tells of its timeouts, but keep it as a net.
    return [proc, RemoteMediaNode.over(new WorkerNgTransport(proc), { name: options.name, timeoutMs: options.commandTimeoutMs })];
  }

  private constructor(options: MediaWorkerOptions, proc: WorkerProcess, remote: RemoteMediaNode) {
    super();
    this.name = options.name;
    this.#options = options;
    this.#restartDelayMs = options.restartDelayMs ?? 250;
    this.#process = proc;
    this.#remote = remote;
    this.#adopt(proc, remote);
  }

  /** The current process id (undefined while restarting). */
  get pid(): number | undefined {
    return this.#state === 'running' ? this.#process.pid : undefined;
  }

  get state(): State {
    return this.#state;
  }

  async ping(timeoutMs?: number): Promise<number> {
    const remote = this.#running('ping');
    try {
      const rtt = await remote.ping(timeoutMs);
      this.#missedPings = 0;
      this.#lastPong = Date.now();
      return rtt;
    } catch (err) {
      if (remote === this.#remote && this.#state === 'running') this.#missedPing();
      throw err;
    }
  }

  async offer(callId: string, fromTag: string, sdp: string, flags: OfferFlags): Promise<string> {
    const remote = this.#running('offer');
    const answer = await remote.offer(callId, fromTag, sdp, flags);
    // The process may have died while the offer was out: its calls were failed already, so this one fails too.
    if (remote !== this.#remote || this.#state !== 'running') throw this.#unavailable('offer');
    if (!this.#calls.has(callId)) this.#calls.set(callId, fromTag);
    return answer;
  }

  async answer(callId: string, fromTag: string, toTag: string, sdp: string, flags?: AnswerFlags): Promise<string> {
    return this.#running('answer').answer(callId, fromTag, toTag, sdp, flags);
  }

  async subscribeAnswer(callId: string, tag: string, sdp: string): Promise<void> {
    return this.#running('subscribe answer').subscribeAnswer(callId, tag, sdp);
  }

  async delete(callId: string): Promise<void> {
    const known = this.#calls.delete(callId);
    if (this.#state !== 'running') return;
    // A call this process never had may still be on it (an offer whose reply was lost): delete is idempotent.
    await this.#remote.delete(callId).catch((err: unknown) => {
      if (known) throw err;
    });
  }

  async query(callId: string): Promise<SessionStats | undefined> {
    if (this.#state !== 'running') return undefined;
    return this.#remote.query(callId);
  }

  async list(): Promise<string[]> {
    return this.#running('list').list();
  }

  async statistics(): Promise<MediaStatistics> {
    return this.#running('statistics').statistics();
  }

  async blockMedia(callId: string, tag: string | undefined, blocked: boolean): Promise<void> {
    return this.#running('block media').blockMedia(callId, tag, blocked);
  }

  async playDtmf(callId: string, toTag: string, digit: string, durationMs: number): Promise<void> {
    return this.#running('play DTMF').playDtmf(callId, toTag, digit, durationMs);
  }

  /**
   * The gateway is shutting down: a worker that exits from now on (a SIGTERM sent to the whole service by systemd,
   * say) still has its calls ended, but is not restarted. The process itself is stopped by close().
   */
  retire(): void {
    this.#retired = true;
    clearTimeout(this.#restartTimer);
  }

  /** Stops supervising and the process (SIGTERM, SIGKILL after the grace period). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const wasRunning = this.#state === 'running';
      this.#state = 'closed';
      clearTimeout(this.#restartTimer);
      this.#calls.clear();
      await this.#restarting;
      if (wasRunning) await this.#remote.close().catch(() => undefined);
      const exit = await this.#process.stop(this.#options.stopGraceMs ?? 5000);
      log.info({ worker: this.name, pid: this.#process.pid, code: exit.code, signal: exit.signal }, 'media worker stopped');
    })();
    return this.#closing;
  }

  // ------------------------------------------------------------------------------------------- supervision

  #adopt(proc: WorkerProcess, remote: RemoteMediaNode): void {
    this.#process = proc;
    this.#remote = remote;
    this.#startedAt = Date.now();
    this.#lastPong = this.#startedAt;
    this.#missedPings = 0;
    // From the worker's media plane, over the channel (ng has no notifications).
    proc.on('media', (event) => {
      if (this.#process === proc && this.#state === 'running') this.#mediaEvent(event);
    });
    // From reconcile: a call the worker no longer has (a net under the events above).
    remote.on('failed', (callId, tag, reason) => {
      if (this.#remote !== remote) return;
      this.#calls.delete(callId);
      this.emit('failed', callId, tag, reason);
    });
    proc.exited
      .then((exit) => this.#exited(proc, remote, exit))
      .catch((err: unknown) => log.error({ worker: this.name, pid: proc.pid, err }, 'media worker exit handling failed'));
  }

  #mediaEvent(event: MediaEventMessage): void {
    switch (event.type) {
      case 'media-timeout':
        // The worker deletes the call itself (as rtpengine does); the B2BUA's delete that follows is a no-op there.
        this.emit('timeout', event.callId, event.tag);
        break;
      case 'media-dtmf':
        this.emit('dtmf', event.callId, event.tag, event.digit);
        break;
      case 'media-failed':
        // As the reconcile path does: the call is gone on the worker, so its exit must not report it again.
        this.#calls.delete(event.callId);
        this.emit('failed', event.callId, event.tag, event.reason);
        break;
    }
  }

  #missedPing(): void {
    const limit = this.#options.killAfterMissedPings ?? 9;
    if (limit === 0 || ++this.#missedPings < limit) return;
    const silentMs = Date.now() - this.#lastPong;
    if (silentMs < (this.#options.killAfterSilenceMs ?? 30_000)) return;
    log.error({ worker: this.name, pid: this.#process.pid, missedPings: this.#missedPings, silentMs }, 'media worker does not answer; killing it');
    this.#missedPings = 0;
    // The exit is then handled like any other: calls failed (if any are left), restart with back-off.
    this.#process.kill();
  }

  #exited(proc: WorkerProcess, remote: RemoteMediaNode, exit: WorkerExit): void {
    if (this.#state === 'closed' || this.#process !== proc) return;
    this.#state = 'down';
    const failed = [...this.#calls];
    this.#calls.clear();
    // Its commands in flight fail now rather than at their deadline; there is nothing left to delete on it.
    remote.abort(`media worker ${this.name} (pid ${proc.pid}) exited`);
    if (Date.now() - this.#startedAt >= STABLE_MS) this.#restartDelayMs = this.#options.restartDelayMs ?? 250;
    const restartInMs = this.#retired ? undefined : this.#restartDelayMs;
    log.error(
      { worker: this.name, pid: proc.pid, code: exit.code, signal: exit.signal, calls: failed.length, restartInMs },
      restartInMs === undefined ? 'media worker exited during shutdown; its calls end' : 'media worker exited unexpectedly; its calls end, restarting it',
    );
    for (const [callId, tag] of failed) this.emit('failed', callId, tag, `media worker ${this.name} (pid ${proc.pid}) exited`);
    this.emit('exit', proc.pid, exit, failed.length, restartInMs);
    if (restartInMs !== undefined) this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    const delay = this.#restartDelayMs;
    this.#restartDelayMs = Math.min(delay * 2, this.#options.maxRestartDelayMs ?? 30_000);
    this.#restartTimer = setTimeout(() => {
      this.#restarting = this.#restart()
        .catch((err: unknown) => log.error({ worker: this.name, err }, 'media worker restart failed unexpectedly'))
        .finally(() => (this.#restarting = undefined));
    }, delay);
  }

  async #restart(): Promise<void> {
    if (this.#state !== 'down' || this.#retired) return;
    let spawned: [WorkerProcess, RemoteMediaNode];
    try {
      spawned = await MediaWorker.#spawn(this.#options);
    } catch (err) {
      if (this.#state !== 'down') return;
      log.error({ worker: this.name, err: err instanceof Error ? err.message : String(err), retryInMs: this.#restartDelayMs }, 'media worker restart failed');
      this.#scheduleRestart();
      return;
    }
    const [proc, remote] = spawned;
    if (this.#state !== 'down' || this.#retired) {
      // close() or retire() came while the new process was starting: it is ours to stop.
      await remote.close().catch(() => undefined);
      await proc.stop(this.#options.stopGraceMs ?? 5000);
      return;
    }
    this.#state = 'running';
    this.#adopt(proc, remote);
    log.info({ worker: this.name, pid: proc.pid }, 'media worker restarted');
    this.emit('restart', proc.pid);
  }

  /** Throws when no process runs: every caller is async, so that is a rejection, never a synchronous throw. */
  #running(command: string): RemoteMediaNode {
    if (this.#state !== 'running') throw this.#unavailable(command);
    return this.#remote;
  }

  #unavailable(command: string): RemoteMediaError {
    return new RemoteMediaError('MEDIA_NODE_UNAVAILABLE', `media worker ${this.name}: ${command}: the worker is ${this.#state === 'closed' ? 'closed' : 'restarting'}`, 503);
  }
}
