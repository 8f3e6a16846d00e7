/**
 * The built-in services peer: a small, separate SIP endpoint bundled for the demo and the tests. It is not part of
 * the gateway's B2BUA: the gateway reaches it over real SIP/UDP and real RTP exactly as it would reach a trunk,
 * so a call to `echo` or `tone` exercises the whole path with nothing to set up. It is a minimal UAS of its own
 * on the transaction layer (it shares no code with src/sip-bridge, so tests through it do not share its bugs).
 *
 * - `sip:echo@…`: every RTP packet (RFC 4733 events included) comes back to its source.
 * - `sip:tone@…`: a 440 Hz tone (or the configured pattern) in G.711, 20 ms packets, until BYE.
 * Both report RFC 4733 DTMF digits (`dtmf` event). Unknown users get 404, offers it cannot use 488, more than
 * `maxCalls` calls 486; OPTIONS 200; CANCEL while ringing 487; RTP silence for `mediaTimeoutMs` ends a call
 * with BYE. See service-call.ts for the dialog and call-media.ts for the media.
 */
import { GatewayError } from '../errors.ts';
import { logger } from '../log.ts';
import { PortPool } from '../rtp-bridge/port-pool.ts';
import { TypedEmitter } from '../rtp-bridge/typed-events.ts';
import { NoCommonCodecError, parseSdp } from '../rtp-bridge/sdp/index.ts';
import { contentType } from '../signaling/header-accessors.ts';
import type { SipRequest } from '../signaling/message.ts';
import { SipStack, type SipTransactionUser } from '../signaling/sip-stack.ts';
import { newTag } from '../signaling/transaction/branch.ts';
import type { InviteServerTransaction } from '../signaling/transaction/invite-server-transaction.ts';
import type { NonInviteServerTransaction } from '../signaling/transaction/non-invite-server-transaction.ts';
import type { ServerTransaction, TransactionCounts } from '../signaling/transaction/transaction-layer.ts';
import type { Channel } from '../signaling/transport.ts';
import { isSipUri, parseUri, uriUserDecoded } from '../signaling/uri.ts';
import { acceptRemoteSeq, createUasDialog, dialogKey, requestDialogKey } from './dialog.ts';
import { buildResponse, warning } from './responses.ts';
import { negotiateOffer, type ServiceKind } from './sdp-answer.ts';
import { ServiceCall, type CallEndReason, type CallHost, type ServiceCallInfo } from './service-call.ts';
import type { DtmfDigit } from './telephone-event.ts';
import { resolveServicesOptions, ServicesConfigError, type ResolvedServicesOptions, type ServicesPeerOptions } from './options.ts';

export type ServicesPeerEvents = {
  /** A call was answered (200 sent). */
  'call-started': [call: ServiceCallInfo];
  /** An RFC 4733 DTMF event ended (reported once per key press). */
  dtmf: [callId: string, digit: DtmfDigit];
  'call-ended': [callId: string, reason: CallEndReason];
};

export interface ServicesPeerCounters {
  /** New INVITEs (not re-INVITEs). */
  invites: number;
  answered: number;
  /** Final responses refusing a new INVITE, by status (404, 415, 486, 488, 503 …). */
  rejected: Record<number, number>;
  dtmf: number;
  mediaTimeouts: number;
}

export { SERVICES_PEER_DEFAULTS, ServicesConfigError } from './options.ts';
export type { ServicesPeerOptions } from './options.ts';

const log = logger.child({ module: 'services-peer' });

export class ServicesPeer extends TypedEmitter<ServicesPeerEvents> {
  readonly options: Readonly<ResolvedServicesOptions>;
  readonly counters: ServicesPeerCounters = { invites: 0, answered: 0, rejected: {}, dtmf: 0, mediaTimeouts: 0 };
  readonly #stack: SipStack;
  readonly #pool: PortPool;
  readonly #host: CallHost;
  /** By dialog id (Call-ID, our tag, their tag), from the INVITE on (an early dialog may get a BYE, §15). */
  readonly #calls = new Map<string, ServiceCall>();
  /** INVITE transactions still without a final response, for CANCEL (§9.2). */
  readonly #pending = new Map<InviteServerTransaction, ServiceCall>();
  #state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  #sweep: ReturnType<typeof setInterval> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ServicesPeerOptions = {}) {
    super();
    this.options = resolveServicesOptions(options);
    const { host, port, tcp, timers, userAgent } = this.options;
    this.#stack = new SipStack({
      listeners: tcp ? [{ protocol: 'UDP', host, port }, { protocol: 'TCP', host, port }] : [{ protocol: 'UDP', host, port }],
      http: false,
      userAgent,
      timers,
    });
    this.#pool = new PortPool({ ...this.options.portPool, bindAddress: host });
    this.#host = this.#callHost();
    this.#stack.setTransactionUser(this.#transactionUser());
  }

  /** Binds the SIP listener(s). */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new ServicesConfigError('ServicesPeer.start() called twice or after close()');
    this.#state = 'starting';
    try {
      await this.#stack.start();
    } catch (err) {
      this.#state = 'closed';
      this.#pool.close();
      throw err;
    }
    if (this.#state !== 'starting') return; // closed while binding
    this.#state = 'running';
    const sweepMs = Math.max(250, Math.min(5000, Math.min(this.options.mediaTimeoutMs, this.options.holdTimeoutMs) / 4));
    this.#sweep = setInterval(() => this.#sweepMedia(), sweepMs);
    this.#sweep.unref();
    log.info({ host: this.options.host, port: this.port, echo: this.options.echo, tone: this.options.tone }, 'services peer listening');
  }

  /** The SIP/UDP port (the bound one when 0 was asked). */
  get port(): number {
    return this.#stack.port('UDP');
  }

  /** The SIP/TCP port with `tcp` (with port 0 it is bound separately, so it may differ from `port`). */
  get tcpPort(): number {
    return this.#stack.port('TCP');
  }

  /** Calls in progress (ringing, answered or confirmed). */
  get calls(): number {
    return this.#calls.size;
  }

  /** Media ports bound by this peer (an RTP/RTCP pair counts two). */
  get mediaPortsInUse(): number {
    return this.#pool.inUse;
  }

  /** The SIP transactions and timers alive, for leak checks. */
  get transactions(): TransactionCounts {
    return this.#stack.transactions.counts;
  }

  listCalls(): ServiceCallInfo[] {
    return [...this.#calls.values()].map((c) => c.info());
  }

  call(callId: string): ServiceCallInfo | undefined {
    for (const c of this.#calls.values()) if (c.callId === callId) return c.info();
    return undefined;
  }

  /**
   * Idempotent. Ends every call (BYE for established ones, 503 for ringing ones), waits up to closeTimeoutMs for
   * the BYEs to be answered, then closes the SIP stack and releases every media port.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const started = this.#state !== 'new';
      this.#state = 'closing';
      if (this.#sweep !== undefined) clearInterval(this.#sweep);
      this.#sweep = undefined;
      const ringing = [...this.#pending.keys()];
      const byes = [...this.#calls.values()].map((c) => c.end('closed', true));
      const deadline = performance.now() + this.options.closeTimeoutMs;
      if (byes.length > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([Promise.all(byes), new Promise<void>((r) => (timer = setTimeout(r, this.options.closeTimeoutMs)))]);
        clearTimeout(timer);
      }
      // The 503s to ringing INVITEs: wait for their ACKs (the transaction leaves Completed), so that closing the
      // socket cannot swallow a response that is still on its way out, and Timer G can retransmit a lost one.
      while (ringing.some((tx) => tx.state === 'Completed') && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      if (started) await this.#stack.close();
      this.#pool.close();
      this.#state = 'closed';
      log.info('services peer closed');
    })();
    return this.#closing;
  }

  #transactionUser(): SipTransactionUser {
    return {
      methods: ['INVITE', 'BYE', 'OPTIONS'],
      onRequest: (request, tx, channel) => this.#onRequest(request, tx, channel),
      onAck: (ack) => this.#onAck(ack),
      onCancel: (cancel, cancelTx, target) => this.#onCancel(cancel, cancelTx, target),
      onServerTransportError: (tx, error) => log.warn({ callId: tx.callId, err: error.message }, 'could not send a response'),
    };
  }

  #callHost(): CallHost {
    const peer = this;
    return {
      stack: this.#stack,
      pool: this.#pool,
      server: this.options.userAgent,
      get warnAgent() {
        return peer.#hostPort();
      },
      ringMs: this.options.ringMs,
      tonePattern: this.options.tonePattern,
      allow: 'INVITE, ACK, CANCEL, BYE, OPTIONS',
      contact: (user, channel) => this.#contact(user, channel),
      answered: (call) => {
        this.#pending.delete(call.transaction);
        this.counters.answered++;
        this.emit('call-started', call.info());
      },
      ended: (call, reason) => {
        this.#pending.delete(call.transaction);
        const key = dialogKey(call.callId, call.dialog.localTag, call.dialog.remoteTag);
        if (this.#calls.get(key) === call) this.#calls.delete(key);
        if (reason === 'media-timeout') this.counters.mediaTimeouts++;
        this.emit('call-ended', call.callId, reason);
      },
      dtmf: (call, digit) => {
        this.counters.dtmf++;
        log.info({ callId: call.callId, service: call.service, digit }, 'dtmf');
        this.emit('dtmf', call.callId, digit);
      },
    };
  }

  #onRequest(request: SipRequest, tx: ServerTransaction, channel: Channel): void {
    let key: string | undefined;
    try {
      key = requestDialogKey(request);
    } catch (err) {
      this.#reject(request, tx, 400, `Bad Request (${(err as Error).message.slice(0, 80)})`);
      return;
    }
    if (key !== undefined) return this.#inDialog(request, tx, key);
    if (request.method === 'INVITE') return this.#newInvite(request, tx as InviteServerTransaction, channel);
    if (request.method === 'OPTIONS') {
      tx.respond(buildResponse(request, 200, this.options.userAgent, { toTag: newTag(), headers: [['Allow', this.#host.allow], ['Accept', 'application/sdp']] }));
      return;
    }
    // A BYE without a To tag belongs to no dialog (§12.2.2).
    this.#reject(request, tx, 481);
  }

  #inDialog(request: SipRequest, tx: ServerTransaction, key: string): void {
    const call = this.#calls.get(key);
    // §12.2.2: "If the UAS wishes to reject the request because it does not wish to recreate the dialog, it MUST
    // respond to the request with a 481 (Call/Transaction Does Not Exist)".
    if (call === undefined) return this.#reject(request, tx, 481);
    if (!acceptRemoteSeq(call.dialog, request)) return this.#reject(request, tx, 500, 'Out of order request');
    if (request.method === 'INVITE') return call.reInvite(request, tx as InviteServerTransaction);
    if (request.method === 'BYE') return call.bye(request, tx);
    return call.options(request, tx);
  }

  #newInvite(request: SipRequest, tx: InviteServerTransaction, channel: Channel): void {
    this.counters.invites++;
    if (this.#state !== 'running') return this.#reject(request, tx, 503);
    if (this.#calls.size >= this.options.maxCalls) return this.#reject(request, tx, 486);
    const service = this.#serviceOf(request.uri);
    if (service === undefined) return this.#reject(request, tx, 404);
    let dialog;
    try {
      dialog = createUasDialog(request, newTag());
    } catch (err) {
      return this.#reject(request, tx, 400, `Bad Request (${(err as Error).message.slice(0, 80)})`);
    }
    if (request.body.length === 0) {
      // RFC 3261 §13.2.1 allows the offer in our 2xx instead; this small endpoint wants the offer in the INVITE.
      return this.#reject(request, tx, 488, undefined, warning(399, this.#host.warnAgent, 'an SDP offer is required in the INVITE'));
    }
    let type;
    try {
      type = contentType(request);
    } catch {
      type = undefined;
    }
    if (type?.type !== 'application' || type.subtype !== 'sdp') {
      return this.#reject(request, tx, 415, undefined, ['Accept', 'application/sdp']);
    }
    let negotiated;
    let offer;
    try {
      offer = parseSdp(request.body.toString('utf8'));
      negotiated = negotiateOffer(offer, service);
    } catch (err) {
      const status = err instanceof GatewayError && err.status !== undefined ? err.status : 488;
      const code = err instanceof NoCommonCodecError ? 305 : 399;
      return this.#reject(request, tx, status, undefined, warning(code, this.#host.warnAgent, (err as Error).message));
    }
    const call = new ServiceCall(this.#host, { service, user: service === 'echo' ? this.options.echo : this.options.tone, transaction: tx, dialog, offer, ...negotiated });
    this.#calls.set(dialogKey(dialog.callId, dialog.localTag, dialog.remoteTag), call);
    this.#pending.set(tx, call);
    log.debug({ callId: dialog.callId, service, channel: channel.flowId }, 'services call offered');
    void call.start();
  }

  #onAck(ack: SipRequest): void {
    let key: string | undefined;
    try {
      key = requestDialogKey(ack);
    } catch {
      return;
    }
    if (key !== undefined) this.#calls.get(key)?.ack(ack);
  }

  #onCancel(cancel: SipRequest, cancelTx: NonInviteServerTransaction, target: InviteServerTransaction | undefined): void {
    const call = target === undefined ? undefined : this.#pending.get(target);
    if (call !== undefined) return call.cancel(cancelTx);
    // §9.2: no matching transaction → 481; one that was already answered → 200 and the CANCEL has no effect.
    if (target === undefined) return this.#reject(cancel, cancelTx, 481);
    cancelTx.respond(buildResponse(cancel, 200, this.options.userAgent, { toTag: newTag() }));
    if (target.finalResponse === undefined && !target.terminated) this.#reject(target.request, target, 487);
  }

  /** The service a Request-URI names (its user part, compared as §19.1.4 does: case-sensitive, unescaped). */
  #serviceOf(requestUri: string): ServiceKind | undefined {
    try {
      const uri = parseUri(requestUri);
      const user = isSipUri(uri) ? uriUserDecoded(uri) : undefined;
      if (user === this.options.echo) return 'echo';
      if (user === this.options.tone) return 'tone';
    } catch {
      // the transport layer parsed it already; a URI we cannot read names no service
    }
    return undefined;
  }

  #reject(request: SipRequest, tx: ServerTransaction, status: number, reason?: string, header?: readonly [string, string]): void {
    if (request.method === 'INVITE' && request.headers.get('to')?.includes('tag=') !== true) {
      this.counters.rejected[status] = (this.counters.rejected[status] ?? 0) + 1;
    }
    log.debug({ callId: tx.callId, method: request.method, status }, 'services peer refused a request');
    tx.respond(buildResponse(request, status, this.options.userAgent, { toTag: newTag(), ...(reason === undefined ? {} : { reason }), headers: header === undefined ? [] : [header] }));
  }

  #sweepMedia(): void {
    const now = performance.now();
    for (const call of [...this.#calls.values()]) {
      if (call.state !== 'answered' && call.state !== 'confirmed') continue;
      const { expecting, silentMs } = call.silence(now);
      if (silentMs < (expecting ? this.options.mediaTimeoutMs : this.options.holdTimeoutMs)) continue;
      log.info({ callId: call.callId, silentMs: Math.round(silentMs), expecting }, 'media timeout; ending the call');
      void call.end('media-timeout', true);
    }
  }

  #hostPort(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `${host}:${this.#state === 'running' ? this.port : this.options.port}`;
  }

  /** Our Contact (§8.1.1.8, §12.1.1): the service user at our listener, with the transport the request came on. */
  #contact(user: string, channel: Channel): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    const port = channel.local.port;
    const transport = channel.protocol === 'UDP' ? '' : `;transport=${channel.protocol.toLowerCase()}`;
    return `<sip:${encodeURIComponent(user)}@${host}:${port}${transport}>`;
  }
}
