/**
 * What an INVITE session is once its dialog exists, whichever side sent the INVITE: requests out (BYE,
 * re-INVITE, UPDATE, INFO, OPTIONS — session-request.ts retries them after 401/407, 422 and 491) and in
 * (routed here by the dialog table, CSeq-checked by the Dialog, glare-checked per RFC 3261 §14 and RFC 3311
 * §5.2), the ACK exchange of every 2xx to an INVITE (§13.2.2.4 / §13.3.1.4), offer/answer bookkeeping (RFC 3264),
 * the session timer (RFC 4028) and the end: `terminated` exactly once, `close()` idempotent.
 *
 * In-dialog requests the session cannot answer alone (re-INVITE and UPDATE with SDP need the media layer) are
 * emitted and answered by the owner through `respond()`; a request nobody listens for gets a default answer.
 */
import { createResponseTo, type SipRequest, type SipResponse } from '../signaling/message.ts';
import type { SipStack } from '../signaling/sip-stack.ts';
import type { Channel } from '../signaling/transport.ts';
import type { ChannelTarget } from '../signaling/transport-layer.ts';
import type { DigestCredentials } from '../signaling/auth/digest-client.ts';
import type { InviteServerTransaction } from '../signaling/transaction/invite-server-transaction.ts';
import type { ServerTransaction } from '../signaling/transaction/transaction-layer.ts';
import type { TwoXxRetransmitter } from '../signaling/transaction/2xx-retransmitter.ts';
import { readCSeq } from '../signaling/transaction/matching.ts';
import { TypedEmitter } from '../typed-events.ts';
import { DialogError, type Dialog } from './dialog.ts';
import type { DialogMember, DialogTable } from './dialog-table.ts';
import { SessionError } from './session-error.ts';
import { sdpOf } from './session-body.ts';
import { applyUasTimer, resolveSessionTimerConfig, SessionTimer, uasRejection, type RefresherRole, type SessionTimerConfig } from './session-timer.ts';
import { IncomingRequests } from './session-incoming.ts';
import { nextHopTarget, SessionRequests, type SessionRequestOptions } from './session-outgoing.ts';
import type {
  InviteSessionEvents,
  SessionOptions,
  SessionRespondOptions,
  SessionRole,
  SessionState,
  TerminationReason,
} from './session-types.ts';
import { logger } from '../log.ts';

export type { SessionRequestOptions } from './session-outgoing.ts';
export type {
  InviteSessionEvents,
  SessionOptions,
  SessionRespondOptions,
  SessionRole,
  SessionState,
  TerminationReason,
} from './session-types.ts';

const log = logger.child({ module: 'invite-session' });

interface AwaitingAck {
  cseq: number;
  retransmitter: TwoXxRetransmitter;
  initial: boolean;
}

export abstract class InviteSession<E extends InviteSessionEvents = InviteSessionEvents> extends TypedEmitter<E> implements DialogMember {
  abstract readonly role: SessionRole;
  readonly stack: SipStack;
  readonly table: DialogTable;
  readonly callId: string;
  readonly localTag: string;
  readonly localContact: string;
  readonly userAgent: string | undefined;
  readonly credentials: DigestCredentials | undefined;
  readonly timerConfig: Readonly<SessionTimerConfig> | undefined;
  readonly nextHop: 'channel' | 'dialog';
  protected fixedChannel: Channel | undefined;
  protected target: ChannelTarget | undefined;
  readonly #timer: SessionTimer;
  protected readonly outgoing: SessionRequests;
  protected readonly incoming: IncomingRequests;
  #state: SessionState;
  #dialog: Dialog | undefined;
  #localSdp: string | undefined;
  #remoteSdp: string | undefined;
  #remoteAllow: ReadonlySet<string> | undefined;
  /** RFC 3264: an offer waiting for its answer, and whose it is. */
  #offer: 'local' | 'remote' | undefined;
  #awaitingAck: AwaitingAck | undefined;
  #deferredBye: Array<() => void> = [];
  #closed = false;

  protected constructor(stack: SipStack, init: { callId: string; localTag: string; localContact: string; state: SessionState; options: SessionOptions }) {
    super();
    const { options } = init;
    this.stack = stack;
    this.table = options.table;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.localContact = init.localContact;
    this.userAgent = options.userAgent;
    this.credentials = options.credentials;
    this.nextHop = options.nextHop ?? 'channel';
    try {
      this.timerConfig = options.sessionTimer === false ? undefined : resolveSessionTimerConfig(options.sessionTimer);
    } catch (error) {
      throw new SessionError('SIP_SESSION_OPTIONS', (error as Error).message, { cause: error });
    }
    this.#state = init.state;
    this.#timer = new SessionTimer({ refresh: () => this.outgoing.refresh(), expire: () => this.#expired('no-refresh') });
    // The helpers see the base's events only; a subclass's wider map does not concern them.
    const base = this as unknown as InviteSession;
    this.outgoing = new SessionRequests(base);
    this.incoming = new IncomingRequests(base);
  }

  // ---- state -----------------------------------------------------------------------------------------------

  get state(): SessionState {
    return this.#state;
  }

  get terminated(): boolean {
    return this.#state === 'terminated';
  }

  /** The dialog once one exists (for a UAC with several early forks: the confirmed one, or undefined). */
  get dialog(): Dialog | undefined {
    return this.#dialog;
  }

  /** The channel requests go over when the session is bound to one (its flow: a browser's WebSocket). */
  get channel(): Channel | undefined {
    return this.fixedChannel;
  }

  get flowId(): string | undefined {
    return this.target === undefined ? this.fixedChannel?.flowId : undefined;
  }

  /** The last SDP we sent (offer or answer) and the last we received. */
  get localSdp(): string | undefined {
    return this.#localSdp;
  }

  get remoteSdp(): string | undefined {
    return this.#remoteSdp;
  }

  /** The methods the peer said it allows (Allow of its INVITE or 2xx), upper case. */
  get remoteAllow(): ReadonlySet<string> | undefined {
    return this.#remoteAllow;
  }

  /** The running session timer: its interval in seconds and who refreshes. */
  get sessionTimer(): { interval: number; refresher: RefresherRole } | undefined {
    const { interval, role } = this.#timer;
    return interval === undefined || role === undefined ? undefined : { interval, refresher: role };
  }

  /** Timers this session holds (session timer, glare waits); 2xx retransmitters are counted by the stack. */
  get liveTimers(): number {
    return this.#timer.liveTimers + this.outgoing.liveTimers;
  }

  /** Whether an offer waits for its answer ('local': ours). */
  get pendingOffer(): 'local' | 'remote' | undefined {
    return this.#offer;
  }

  /** §14: an INVITE transaction in progress on this dialog, in either direction (ours until ACKed, theirs until answered and ACKed). */
  inviteInProgress(): 'outgoing' | 'incoming' | undefined {
    if (this.outgoing.inviteInProgress || this.#state === 'calling' || (this.role === 'uac' && this.#state === 'early')) return 'outgoing';
    if (this.incoming.pendingInvite !== undefined || this.#awaitingAck !== undefined) return 'incoming';
    if (this.role === 'uas' && (this.#state === 'incoming' || this.#state === 'early')) return 'incoming';
    return undefined;
  }

  protected setState(state: SessionState): void {
    if (this.#state === 'terminated') return;
    log.debug({ callId: this.callId, role: this.role, from: this.#state, to: state }, 'session state');
    this.#state = state;
  }

  protected setDialog(dialog: Dialog | undefined): void {
    this.#dialog = dialog;
  }

  /** @internal offer/answer bookkeeping shared with the request helpers. */
  noteOffer(offer: 'local' | 'remote' | undefined): void {
    this.#offer = offer;
  }

  /** @internal */
  noteSdp(local: string | undefined, remote: string | undefined): void {
    if (local !== undefined) this.#localSdp = local;
    if (remote !== undefined) this.#remoteSdp = remote;
  }

  /** @internal the Allow of the peer's INVITE/2xx/re-INVITE. */
  noteAllow(message: SipRequest | SipResponse): void {
    const allow = message.headers.getAll('Allow');
    if (allow.length > 0) this.#remoteAllow = new Set(allow.map((m) => m.trim().toUpperCase()));
  }

  /** The dialog an incoming in-dialog request belongs to (a UAC may have several early ones). */
  protected dialogFor(request: SipRequest): Dialog | undefined {
    return this.#dialog?.matchesRequest(request) ? this.#dialog : undefined;
  }

  /** @internal where a request of this session goes (see SessionOptions.nextHop). */
  async channelForRequest(request: SipRequest, dialog: Dialog | undefined = this.#dialog): Promise<Channel> {
    if (this.nextHop === 'dialog' && dialog !== undefined) {
      const hop = nextHopTarget(dialog, request, this.fixedChannel?.protocol ?? this.target?.protocol ?? 'UDP');
      // A trunk configured with tlsVerify: false is not verified inside its dialogs either: without this its
      // in-dialog requests could not reuse (transports/flow-reuse.ts) nor open a connection to it.
      return this.stack.channelFor(this.target?.tlsVerify === false ? { ...hop, tlsVerify: false } : hop);
    }
    if (this.target !== undefined) return this.stack.channelFor(this.target);
    if (this.fixedChannel !== undefined) return this.fixedChannel;
    throw new SessionError('SIP_SESSION_TRANSPORT', 'the session has no channel yet', { status: 503 });
  }

  /**
   * @internal a BYE arrived on `dialog` and was answered 200: whether it ends the session (a UAS answers its
   * pending INVITE 487 first, §15.1.2; a UAC drops just that fork's early dialog).
   */
  acceptBye(_request: SipRequest, _dialog: Dialog): boolean {
    return true;
  }

  // ---- the dialog table's entry points ---------------------------------------------------------------------

  receiveRequest(request: SipRequest, transaction: ServerTransaction): void {
    const dialog = this.#state === 'terminated' ? undefined : this.dialogFor(request);
    if (dialog === undefined) {
      transaction.respond(this.buildResponse(request, 481));
      return;
    }
    try {
      dialog.receiveRequest(request);
    } catch (error) {
      const status = error instanceof DialogError ? error.status ?? 400 : 400;
      transaction.respond(this.buildResponse(request, status, { reason: status === 400 ? 'Bad Request' : undefined }));
      return;
    }
    this.incoming.receive(request, transaction, dialog);
  }

  /** The ACK for a 2xx we sent (initial INVITE or re-INVITE); duplicates and strangers are ignored. */
  receiveAck(ack: SipRequest): void {
    const awaiting = this.#awaitingAck;
    if (awaiting === undefined || readCSeq(ack)?.seq !== awaiting.cseq) return;
    this.#awaitingAck = undefined;
    awaiting.retransmitter.stop();
    const sdp = sdpOf(ack);
    if (this.#offer === 'local') {
      // Our 2xx carried the offer (offerless INVITE); the ACK carries the answer (§13.2.1).
      this.#offer = undefined;
      if (sdp !== undefined) this.#remoteSdp = sdp;
    }
    if (awaiting.initial) this.onInitialAck();
    this.emitSession('ack', ack, sdp);
    this.#runDeferredBye();
  }

  receiveCancel(_cancel: SipRequest): boolean {
    return false;
  }

  receiveStrayResponse(response: SipResponse): void {
    this.outgoing.receiveStray(response);
  }

  /** The UAS's initial 2xx was ACKed (or timed out): the session is confirmed. */
  protected onInitialAck(): void {}

  // ---- answering the peer's requests -----------------------------------------------------------------------

  /**
   * Answers a request the session emitted (`reinvite`, `update`, `info`, `options`, `message`, `notify`,
   * `refer`). A 2xx to a re-INVITE or UPDATE carries Contact (target refresh), Supported, the session timer
   * (RFC 4028 §9) and, for a re-INVITE, is retransmitted until its ACK (§13.3.1.4). A 2xx to an INVITE must
   * carry SDP: the answer to the peer's offer, or our offer when the re-INVITE had none.
   */
  respond(transaction: ServerTransaction, status: number, options: SessionRespondOptions = {}): void {
    this.incoming.respond(transaction, status, options);
  }

  /**
   * A response to `request` from this session: To tag, Server, the owner's headers and body. 1xx/2xx to an INVITE
   * and 2xx to an UPDATE get Contact; 2xx to INVITE/UPDATE get Supported (and Allow for INVITE).
   */
  buildResponse(request: SipRequest, status: number, options: SessionRespondOptions = {}): SipResponse {
    const response = createResponseTo(request, status, options.reason, this.localTag);
    if (this.userAgent !== undefined) response.headers.append('Server', this.userAgent);
    const method = request.method;
    const success = status >= 200 && status < 300;
    if ((method === 'INVITE' && status > 100 && status < 300) || (method === 'UPDATE' && success)) {
      response.headers.append('Contact', this.localContact);
    }
    if (success && (method === 'INVITE' || method === 'UPDATE')) {
      response.headers.append('Supported', this.supportedTags().join(', '));
      if (method === 'INVITE') response.headers.append('Allow', this.stack.allow.join(', '));
    }
    for (const [name, value] of options.headers ?? []) response.headers.append(name, value);
    const body = options.sdp ?? options.body;
    if (body !== undefined && body.length > 0) {
      response.headers.set('Content-Type', options.sdp !== undefined ? 'application/sdp' : (options.contentType ?? 'application/sdp'));
      response.body = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    }
    return response;
  }

  /** Option tags for Supported: the stack's (and its TU's) plus `timer` when session timers are on. */
  supportedTags(): string[] {
    const tags = new Set(this.stack.supported);
    if (this.timerConfig !== undefined) tags.add('timer');
    return [...tags];
  }

  /** @internal RFC 4028 §9 into a 2xx to an INVITE/UPDATE: Session-Expires (Require: timer), the timer restarted or stopped. */
  applyUasTimer(request: SipRequest, response: SipResponse): void {
    if (this.timerConfig !== undefined) this.restartTimer(applyUasTimer(request, response, this.timerConfig));
  }

  /** @internal §9: the 422 (with Min-SE) or 400 a request gets before anyone sees it, if any. */
  timerRejection(request: SipRequest): SessionError | undefined {
    const rejection = this.timerConfig === undefined ? undefined : uasRejection(request, this.timerConfig);
    return rejection === undefined ? undefined : new SessionError('SIP_SESSION_REQUEST', rejection.message, { status: rejection.status, headers: rejection.headers });
  }

  /** @internal the session timer after a 2xx to our re-INVITE/UPDATE: restart with what the 2xx says, or stop. */
  restartTimer(negotiated: { interval: number; role: RefresherRole } | undefined): void {
    if (negotiated === undefined) this.#timer.stop();
    else this.#timer.start(negotiated.interval, negotiated.role);
  }

  /** @internal a refresh could not go now (a re-INVITE in progress): try again shortly. */
  retryRefreshIn(ms: number): void {
    this.#timer.retryRefresh(ms);
  }

  /**
   * @internal a 2xx to an INVITE has been sent: retransmit it until the ACK (§13.3.1.4); no ACK in 64*T1 →
   * `ackTimeout` (a BYE of our own when nobody listens).
   */
  expectAck(transaction: InviteServerTransaction, response: SipResponse, initial: boolean): void {
    const cseq = readCSeq(response)?.seq ?? 0;
    const retransmitter = this.stack.transactions.retransmit2xx(transaction, response, {
      onTimeout: () => {
        if (this.#awaitingAck?.retransmitter !== retransmitter) return;
        this.#awaitingAck = undefined;
        if (this.#offer === 'local') this.#offer = undefined;
        if (initial) this.onInitialAck();
        if (this.listens('ackTimeout')) this.emitSession('ackTimeout');
        else void this.bye();
        this.#runDeferredBye();
      },
    });
    this.#awaitingAck = { cseq, retransmitter, initial };
  }

  get awaitingAck(): boolean {
    return this.#awaitingAck !== undefined;
  }

  #expired(reason: 'no-refresh' | 'refresh-failed'): void {
    if (this.terminated) return;
    log.info({ callId: this.callId, reason }, 'session timer expired');
    if (this.listens('expired')) this.emitSession('expired', reason);
    else void this.bye();
  }

  /** @internal our refresh failed with something other than 481/408 (those end the dialog). */
  refreshFailed(): void {
    this.#expired('refresh-failed');
  }

  // ---- requests out ----------------------------------------------------------------------------------------

  /**
   * Sends `method` inside the dialog and resolves with its final response (after auth, 422 and 491 retries).
   * Rejects with a SessionError: SIP_SESSION_STATE (no dialog), SIP_SESSION_PENDING (status 491: an INVITE or an
   * offer is in progress, §14.1), SIP_SESSION_TIMEOUT (408), SIP_SESSION_TRANSPORT (503). A 481/408 or a timeout
   * ends the session (`dialog-failed`, §12.2.1.2). `request('BYE')` is `bye()` that rejects on failure.
   */
  request(method: string, options: SessionRequestOptions = {}): Promise<SipResponse> {
    return this.outgoing.request(method.toUpperCase(), options);
  }

  /**
   * Ends a confirmed session with BYE (§15.1.1) and resolves with the BYE's final response, or undefined when it
   * failed or there was nothing to end (never rejects). The session is `terminated('local-bye')` when the BYE
   * goes. A UAS whose 2xx is not ACKed yet waits for the ACK or its timeout first ("The callee's UA MUST NOT send
   * a BYE on a confirmed dialog until it has received an ACK for its 2xx response or until the server
   * transaction times out", §15).
   */
  bye(options: Pick<SessionRequestOptions, 'headers'> = {}): Promise<SipResponse | undefined> {
    if (this.terminated) return Promise.resolve(undefined);
    if (this.#awaitingAck !== undefined) {
      return new Promise((resolve) => this.#deferredBye.push(() => void this.bye(options).then(resolve)));
    }
    if (this.#dialog === undefined || (this.#state !== 'confirmed' && this.#state !== 'accepted')) {
      log.warn({ callId: this.callId, state: this.#state }, 'bye() without a confirmed dialog; use terminate()');
      return Promise.resolve(undefined);
    }
    const sent = this.outgoing.send('BYE', options);
    this.endSession('local-bye');
    return sent.catch(() => undefined);
  }

  #runDeferredBye(): void {
    for (const run of this.#deferredBye.splice(0)) run();
  }

  /** Ends the session whatever its state: CANCEL or reject before the answer, BYE after. */
  abstract terminate(options?: { status?: number; reason?: string }): void;

  /** Releases everything without signalling more than the states require (a pending INVITE gets answered or cancelled). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closePending();
    this.endSession('closed');
  }

  /** Subclasses: answer or cancel an initial INVITE still pending (a transaction in Proceeding has no timer). */
  protected abstract closePending(): void;

  /** Subclasses drop their own table entries and state here. */
  protected abstract releaseEntries(): void;

  /**
   * The one way to `terminated`: the session timer stops, glare waits are dropped, our 2xx stops being
   * retransmitted, the peer's pending requests get 487 (§15.1.2), table entries go, and `terminated` is emitted.
   */
  /** @internal */
  endSession(reason: TerminationReason): void {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    if (this.#dialog) this.#dialog.state = 'terminated';
    log.info({ callId: this.callId, role: this.role, reason }, 'session terminated');
    this.#timer.stop();
    this.#awaitingAck?.retransmitter.stop();
    this.#awaitingAck = undefined;
    this.outgoing.abandon();
    this.incoming.abandon();
    this.releaseEntries();
    this.emitSession('terminated', reason);
    // Deferred BYEs have nothing left to end.
    this.#runDeferredBye();
  }

  /** @internal typed emit of the base's events (a subclass's event map extends them). */
  emitSession<K extends keyof InviteSessionEvents & string>(event: K, ...args: InviteSessionEvents[K]): void {
    (this as unknown as TypedEmitter<InviteSessionEvents>).emit(event, ...args);
  }

  /** @internal whether the owner listens for `event` (otherwise the session answers by default). */
  listens(event: keyof InviteSessionEvents & string): boolean {
    return (this as unknown as TypedEmitter<InviteSessionEvents>).listenerCount(event) > 0;
  }
}
