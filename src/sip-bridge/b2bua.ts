/**
 * The B2BUA: the transaction user of the SIP stack. In-dialog traffic goes to its session through the dialog
 * table; REGISTER to the registrar; a new INVITE is authenticated (digest for browsers, source address for
 * trunks), checked against the dial plan and the toll-fraud limits, and becomes a Call.
 *
 * Who may send what (closing the doors a public gateway has):
 * - browsers (WebSocket flows) register and call after digest authentication — every INVITE is challenged (407),
 *   and the From user must be the authenticated one;
 * - SIP over UDP/TCP/TLS is accepted out of dialog only from configured trunk sources; anything else gets 403
 *   (the same answer for every user and method) or, with `security.nonTrunkSources: ignore`, no answer at all.
 */
import { createResponseTo, type SipRequest, type SipResponse } from '../signaling/message.ts';
import type { SipStack, SipTransactionUser } from '../signaling/sip-stack.ts';
import type { ChannelTarget } from '../signaling/transport-layer.ts';
import type { Channel, Endpoint, TransportProtocol } from '../signaling/transport.ts';
import { contactHostPort, isWildcard, knownLocal, knownLocalAddressTowards, listenerTowards, localAddressTowards } from '../signaling/transports/contact-address.ts';
import type { ServerTransaction } from '../signaling/transaction/transaction-layer.ts';
import type { InviteServerTransaction } from '../signaling/transaction/invite-server-transaction.ts';
import type { NonInviteServerTransaction } from '../signaling/transaction/non-invite-server-transaction.ts';
import { from as fromOf, maxForwards, to as toOf } from '../signaling/header-accessors.ts';
import { isSipUri, parseUri, uriUserDecoded } from '../signaling/uri.ts';
import { authorizeDestination } from '../signaling/auth/token.ts';
import type { RequestAuthenticator } from '../security/request-auth.ts';
import type { FailureReason } from '../security/ban-list.ts';
import type { Registrar } from '../signaling/registrar/registrar.ts';
import type { LocationService } from '../signaling/registrar/location-service.ts';
import type { MediaApi } from '../rtp-bridge/media-api.ts';
import type { GatewayConfig, TrunkConfig } from '../config/schema.ts';
import { DialogTable, type DialogMember } from './dialog-table.ts';
import { newTag, tagOf } from './dialog.ts';
import { InviteServerSession, rejectInvite } from './invite-server-session.ts';
import type { Router, RouteDecision } from './router.ts';
import type { TrunkAcl } from './trunk-acl.ts';
import { Call, type CallInfo, type CallTarget } from './call.ts';
import { CallLimits } from './call-limits.ts';
import { NonTrunkSources } from '../security/non-trunk-sources.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'b2bua' });

export interface B2buaOptions {
  config: GatewayConfig;
  stack: SipStack;
  media: MediaApi;
  registrar: Registrar;
  location: LocationService;
  /** Flow token, Bearer token or digest, for INVITE and REGISTER from browsers. */
  auth: RequestAuthenticator;
  /** The digest realm: users' AORs are `sip:<user>@<realm>` in the location service. */
  realm: string;
  router: Router;
  acl: TrunkAcl;
  /** The SIP domain users register with (From/To host towards browsers). */
  domain: string;
  /** Refused sources and destinations, for the brute-force defences (auth failures are recorded by `auth`). */
  recordFailure?: (source: string, reason: FailureReason) => void;
}

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function quote(display: string): string {
  return `"${display.replace(/["\\\r\n]/g, '')}"`;
}

/** How long a peer's DTLS close may precede its BYE before the call is ended as a media failure. */
const PEER_CLOSE_GRACE_MS = 5000;

const STREAM_TRANSPORTS: ReadonlySet<TransportProtocol> = new Set(['WS', 'WSS']);

export class B2bua implements SipTransactionUser {
  readonly methods = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'UPDATE', 'INFO', 'OPTIONS'] as const;
  readonly supported = ['timer', 'outbound'] as const;
  readonly table: DialogTable;
  /** Requests from sources that are no trunk on UDP/TCP/TLS: the configured action and its counters. */
  readonly nonTrunk: NonTrunkSources;
  readonly #o: B2buaOptions;
  readonly #calls = new Map<string, Call>();
  readonly #limits: CallLimits;
  /** How released INVITE transactions reach a late fork's next hop; one closure for the gateway's life, no call in it. */
  readonly #channelFor = (target: ChannelTarget): Promise<Channel> => this.#o.stack.channelFor(target);
  /** The same for a trunk configured `tlsVerify: false`: a late fork's next hop is not verified either. */
  readonly #channelForUnverified = (target: ChannelTarget): Promise<Channel> => this.#o.stack.channelFor({ ...target, tlsVerify: false });
  #closed = false;

  constructor(options: B2buaOptions) {
    this.#o = options;
    this.table = new DialogTable({ userAgent: options.config.sip.userAgent });
    this.#limits = new CallLimits(options.config);
    this.nonTrunk = new NonTrunkSources({ action: options.config.security.nonTrunkSources });
    // Our address towards each trunk, for Contacts from a wildcard listener (#contactFor): known before the first call.
    if (options.config.sip.listeners.some((l) => l.advertise === undefined && isWildcard(l.host))) {
      for (const trunk of options.config.trunks) this.#knownSource(trunk.host);
    }
    options.media.on('timeout', (callId, tag) => this.#calls.get(callId)?.end(`no media from side ${tag}`, { status: 408, reason: 'Media timeout' }));
    options.media.on('failed', (callId, tag, reason) => {
      const end = () => this.#calls.get(callId)?.end(`media failed on side ${tag}: ${reason}`, { status: 488, reason: 'Media failed' });
      // A browser closes its PeerConnection (DTLS close_notify) as part of hanging up, tens of ms before its BYE
      // arrives: give the signaling a moment to end the call properly before calling it a media failure.
      if (reason.startsWith('DTLS_CLOSED_BY_PEER')) setTimeout(end, PEER_CLOSE_GRACE_MS).unref();
      else end();
    });
  }

  get activeCalls(): number {
    return this.#calls.size;
  }

  // ---- SipTransactionUser -----------------------------------------------------------------------------------

  /**
   * `security.nonTrunkSources: ignore`: on the trunk-facing listeners, a request from a source that is no trunk is
   * dropped before a transaction exists — unless it belongs to a dialog we have (the services peer's BYE) or is
   * an ACK (never answered anyway). Browsers (WS/WSS) always pass: they authenticate.
   */
  admitRequest(request: SipRequest, channel: Channel): boolean {
    if (this.nonTrunk.action !== 'ignore' || STREAM_TRANSPORTS.has(channel.protocol) || request.method === 'ACK') return true;
    const source = channel.remote.address;
    if (this.#o.acl.trunkFor(source) !== undefined) return true;
    if (tagOf(request.headers.get('to')) !== undefined && this.table.findFor(request) !== undefined) return true;
    this.nonTrunk.record(source, channel.protocol, request.method, 'ignore');
    this.#o.recordFailure?.(source, 'not-trunk');
    return false;
  }

  onRequest(request: SipRequest, transaction: ServerTransaction, channel: Channel): void {
    if (this.table.dispatchRequest(request, transaction) !== 'out-of-dialog') return;
    const browser = STREAM_TRANSPORTS.has(channel.protocol);
    const trunk = browser ? undefined : this.#o.acl.trunkFor(channel.remote.address);
    if (!browser && trunk === undefined) {
      // Trunk-facing listeners: only configured trunk sources may start anything (security.nonTrunkSources:
      // reject; with ignore, admitRequest has dropped the request before it got here).
      this.nonTrunk.record(channel.remote.address, channel.protocol, request.method, 'reject');
      this.#o.recordFailure?.(channel.remote.address, 'not-trunk');
      this.#reply(transaction, 403);
      return;
    }
    switch (request.method) {
      case 'REGISTER':
        if (!browser) return this.#reply(transaction, 403);
        this.#register(request, transaction, channel);
        return;
      case 'OPTIONS':
        transaction.respond(this.#o.stack.optionsResponse(request));
        return;
      case 'INVITE':
        if (this.#closed) return this.#reply(transaction, 503);
        if (trunk) this.#inviteFromTrunk(request, transaction as InviteServerTransaction, channel, trunk);
        else this.#inviteFromUser(request, transaction as InviteServerTransaction, channel);
        return;
      default:
        // BYE, UPDATE, INFO … without a To tag belong to no dialog (§12.2.2 / §15.1.2).
        this.#reply(transaction, 481);
    }
  }

  onAck(ack: SipRequest): void {
    this.table.dispatchAck(ack);
  }

  onCancel(cancel: SipRequest, cancelTransaction: NonInviteServerTransaction, target: InviteServerTransaction | undefined): void {
    this.table.dispatchCancel(cancel, cancelTransaction, target);
  }

  onStrayResponse(response: SipResponse): void {
    this.table.dispatchStrayResponse(response);
  }

  /** A browser's WebSocket closed: its registrations die, and so do its calls (BYE to the other side). */
  onFlowClosed(flowId: string): void {
    const removed = this.#o.location.removeFlow(flowId);
    if (removed.length > 0) log.info({ flowId, users: removed.map((b) => b.user) }, 'registrations removed with their flow');
    for (const member of this.table.sessionsOnFlow(flowId)) this.#callOf(member)?.flowClosed(member);
  }

  // ---- INVITE -----------------------------------------------------------------------------------------------

  /** A token (on the flow or in Authorization) stands in for digest; otherwise the registrar's digest applies. */
  #register(request: SipRequest, transaction: ServerTransaction, channel: Channel): void {
    const source = channel.remote.address;
    const flowIdentity = this.#o.stack.transport.flowIdentity(channel.flowId);
    this.#o.auth.authenticateToken(request, { source, flowIdentity, header: 'authorization' }).then(
      (byToken) => {
        if (transaction.terminated) return;
        if (byToken !== undefined && !byToken.ok) return transaction.respond(this.#o.auth.challenge(request, byToken, 'authorization'));
        transaction.respond(this.#o.registrar.handle(request, { flowId: channel.flowId, source, ...(byToken ? { preAuthenticatedUser: byToken.user } : {}) }));
      },
      (err: unknown) => {
        log.error({ err }, 'REGISTER authentication failed');
        this.#reply(transaction, 500);
      },
    );
  }

  #inviteFromUser(request: SipRequest, transaction: InviteServerTransaction, channel: Channel): void {
    const source = channel.remote.address;
    const flowIdentity = this.#o.stack.transport.flowIdentity(channel.flowId);
    this.#o.auth.authenticate(request, { source, flowIdentity, header: 'proxy-authorization' }).then(
      (result) => {
        if (transaction.finalResponse !== undefined || transaction.terminated) return;
        if (!result.ok) {
          const challenge = this.#o.auth.challenge(request, result, 'proxy-authorization');
          this.#finish(challenge);
          return transaction.respond(challenge);
        }
        this.#authenticatedInvite(request, transaction, channel, result.user, result.identity);
      },
      (err: unknown) => {
        log.error({ err }, 'INVITE authentication failed');
        this.#reply(transaction, 500);
      },
    );
  }

  #authenticatedInvite(
    request: SipRequest,
    transaction: InviteServerTransaction,
    channel: Channel,
    user: string,
    identity: Parameters<typeof authorizeDestination>[0] | undefined,
  ): void {
    const fromUser = this.#userPart(() => fromOf(request).uri);
    if (fromUser !== user) return this.#reply(transaction, 403, 'From does not match the authenticated user');
    const dialled = this.#userPart(() => request.uri);
    if (dialled === undefined) return this.#reply(transaction, 404, 'No user in the Request-URI');
    if (!this.#checkHops(request, transaction)) return;

    if (identity !== undefined) {
      // A token names what its page may dial; that narrows the user's own dial plan further.
      const directory = { isUser: (n: string) => this.#o.router.user(n) !== undefined, isService: (n: string) => n === this.#o.config.services.echo || n === this.#o.config.services.tone };
      if (!authorizeDestination(identity, dialled, directory)) {
        this.#o.recordFailure?.(channel.remote.address, 'forbidden');
        return this.#reply(transaction, 403, 'Destination not allowed');
      }
    }
    const decision = this.#o.router.fromUser(user, dialled);
    const refusal = this.#limits.admitUser(user, decision);
    if (refusal) return this.#reply(transaction, refusal.status, refusal.reason);
    const display = this.#o.router.user(user)?.displayName ?? user;
    const caller = { user, display, uri: `sip:${user}@${bracket(this.#o.domain)}` };
    this.#route(request, transaction, channel, decision, { caller: { kind: 'user', name: user }, callee: calleeOf(decision) }, caller);
  }

  #inviteFromTrunk(request: SipRequest, transaction: InviteServerTransaction, channel: Channel, trunk: TrunkConfig): void {
    if (!this.#checkHops(request, transaction)) return;
    const requestUser = this.#userPart(() => request.uri);
    const toUser = this.#userPart(() => toOf(request).uri);
    const decision = this.#o.router.fromTrunk(trunk.name, requestUser, toUser);
    const refusal = this.#limits.admitTrunk(trunk);
    if (refusal) return this.#reply(transaction, refusal.status, refusal.reason);
    let callerUser = 'anonymous';
    let display: string | undefined;
    try {
      const f = fromOf(request);
      callerUser = this.#userPart(() => f.uri) ?? 'anonymous';
      display = f.displayName;
    } catch {
      // A From we cannot read still makes a call, from "anonymous".
    }
    const caller = { user: callerUser, display: display ?? callerUser, uri: `sip:${callerUser}@${bracket(this.#o.domain)}` };
    this.#route(request, transaction, channel, decision, { caller: { kind: 'trunk', name: trunk.name, ...(trunk.codecs ? { codecs: trunk.codecs } : {}) }, callee: calleeOf(decision) }, caller);
  }

  #route(
    request: SipRequest,
    transaction: InviteServerTransaction,
    channel: Channel,
    decision: RouteDecision,
    info: CallInfo,
    caller: { user: string; display: string; uri: string },
    looked = false,
  ): void {
    const unknown = looked || decision.kind === 'reject' ? [] : this.#sourcesToFind(channel, decision);
    if (unknown.length > 0) {
      // First call with this peer from a wildcard listener: our Contacts need the address we reach it from
      // (§8.1.1.8), found before they are written (a route lookup, well under a millisecond); if it fails, the
      // listener's sent-by. A CANCEL meanwhile is answered 487 by the dialog table.
      void Promise.allSettled(unknown.map((remote) => localAddressTowards(remote))).then(() => {
        if (transaction.finalResponse !== undefined || transaction.terminated) return;
        this.#route(request, transaction, channel, decision, info, caller, true);
      });
      return;
    }
    if (decision.kind === 'reject') {
      // Probing for dialable numbers is how toll fraud starts: refused destinations count towards a ban.
      if (decision.status === 403) this.#o.recordFailure?.(channel.remote.address, 'forbidden');
      return this.#reply(transaction, decision.status, decision.reason);
    }
    const targets = this.#targets(decision, caller);
    if (targets.length === 0) return this.#reply(transaction, 480, 'Not registered');

    let a: InviteServerSession;
    try {
      a = new InviteServerSession(this.#o.stack, request, transaction, channel, {
        table: this.table,
        localContact: this.#contactFor(channel.protocol, channel),
        userAgent: this.#o.config.sip.userAgent,
        sessionTimer: { minSE: 90 },
      });
    } catch (err) {
      rejectInvite(transaction, err, this.#o.config.sip.userAgent);
      return;
    }
    const call = new Call(
      {
        stack: this.#o.stack,
        table: this.table,
        media: this.#o.media,
        userAgent: this.#o.config.sip.userAgent,
        sessionTimer: { minSE: 90 },
        maxDurationMs: this.#o.config.limits.maxCallDuration * 1000,
        noResponseTimeoutMs: this.#o.config.limits.noResponseTimeout * 1000,
        noAnswerTimeoutMs: this.#o.config.limits.noAnswerTimeout * 1000,
        onEnded: (c) => this.#ended(c),
      },
      a,
      info,
    );
    this.#calls.set(call.id, call);
    this.#limits.started(call.info);
    call.start(targets).catch(
      (err: unknown) => {
        log.error({ err, callId: request.headers.get('Call-ID') }, 'call start failed');
        call.end('internal error', { status: 500, reason: 'Server Internal Error' });
      },
    );
  }

  #targets(decision: Exclude<RouteDecision, { kind: 'reject' }>, caller: { user: string; display: string; uri: string }): CallTarget[] {
    const from = `${quote(caller.display)} <${caller.uri}>`;
    if (decision.kind === 'service') {
      const s = this.#o.config.services;
      const name = decision.service === 'echo' ? s.echo : s.tone;
      const hostPort = `${bracket(s.host)}:${s.port}`;
      return [
        {
          legKind: 'plain',
          requestUri: `sip:${name}@${hostPort}`,
          from,
          to: `<sip:${name}@${hostPort}>`,
          contact: this.#contactFor('UDP', undefined, s.host),
          target: { protocol: 'UDP', host: s.host, port: s.port },
          label: `service:${decision.service}`,
        },
      ];
    }
    if (decision.kind === 'trunk') {
      const t = decision.trunk;
      const protocol: TransportProtocol = t.transport === 'udp' ? 'UDP' : t.transport === 'tcp' ? 'TCP' : 'TLS';
      const transportParam = t.transport === 'udp' ? '' : `;transport=${t.transport}`;
      const host = bracket(t.host);
      const fromDomain = bracket(t.fromDomain ?? t.host);
      const callerId = t.callerId ?? caller.user;
      const callerName = t.callerName ?? caller.display;
      return [
        {
          legKind: 'plain',
          requestUri: `sip:${decision.number}@${host}:${t.port}${transportParam}`,
          from: `${quote(callerName)} <sip:${callerId}@${fromDomain}>`,
          to: `<sip:${decision.number}@${host}>`,
          contact: this.#contactFor(protocol, undefined, t.host),
          target: { protocol, host: t.host, port: t.port, tlsVerify: t.tlsVerify },
          ...(t.password !== undefined ? { credentials: { username: t.authUsername ?? t.username ?? callerId, password: t.password, ...(t.realm ? { realm: t.realm } : {}) } } : {}),
          ...(t.codecs ? { codecs: t.codecs } : {}),
          label: `trunk:${t.name}`,
        },
      ];
    }
    const out: CallTarget[] = [];
    for (const user of decision.users) {
      for (const binding of this.#o.location.lookup(`sip:${user}@${this.#o.realm}`)) {
        const channel = this.#o.stack.flow(binding.flowId);
        if (channel === undefined) continue;
        out.push({
          legKind: 'webrtc',
          // JsSIP answers 404 unless the Request-URI user is the one in the Contact it registered.
          requestUri: binding.uri,
          from,
          to: `<sip:${user}@${bracket(this.#o.domain)}>`,
          contact: this.#contactFor(channel.protocol, channel),
          channel,
          label: `user:${user}`,
        });
      }
    }
    return out;
  }

  // ---- helpers ----------------------------------------------------------------------------------------------

  #ended(call: Call): void {
    this.#calls.delete(call.id);
    this.#limits.finished(call.info);
    // Our INVITE transactions linger up to 64*T1 after their outcome (RFC 6026 Accepted, Timer D); without this
    // their callbacks would keep the whole ended call reachable that long. They re-ACK on their own from now on,
    // and ACK and BYE a fork that answers late (§13.2.2.4), reaching its next hop through the stack.
    const unverified = (side: CallInfo['caller'] | CallInfo['callee']): boolean =>
      side.kind === 'trunk' && this.#o.config.trunks.find((t) => t.name === side.name)?.tlsVerify === false;
    const aUnverified = unverified(call.info.caller);
    const bUnverified = unverified(call.info.callee);
    for (const session of call.sessions()) {
      const skipVerify = session === (call.a as unknown) ? aUnverified : bUnverified;
      this.#o.stack.transactions.release(session.callId, skipVerify ? this.#channelForUnverified : this.#channelFor);
    }
  }

  #callOf(member: DialogMember): Call | undefined {
    for (const call of this.#calls.values()) if (call.sessions().some((s) => s === (member as unknown))) return call;
    return undefined;
  }

  /** §16.3 habit for a B2BUA: Max-Forwards 0 on a new INVITE ends it with 483 (loop protection). */
  #checkHops(request: SipRequest, transaction: ServerTransaction): boolean {
    let hops: number | undefined;
    try {
      hops = maxForwards(request);
    } catch {
      hops = undefined;
    }
    if (hops === 0) {
      this.#reply(transaction, 483);
      return false;
    }
    return true;
  }

  #userPart(read: () => string): string | undefined {
    try {
      const uri = parseUri(read());
      if (isSipUri(uri)) return uriUserDecoded(uri);
      if (uri.kind === 'tel') return uri.number;
    } catch {
      // An unreadable URI has no user.
    }
    return undefined;
  }

  /**
   * Our Contact for a dialog with the peer over `channel`, or at `towards` (a trunk's host) before one exists: the
   * listener's advertised or bound address, or for a wildcard listener the address we reach that peer from
   * (contact-address.ts). That address is looked up before a call's first Contact towards a new peer (#route;
   * trunks at start-up) and served while it is refreshed; only if the lookup failed, the listener's sent-by.
   */
  #contactFor(protocol: TransportProtocol, channel?: Channel, towards?: string): string {
    const transport = protocol === 'UDP' ? '' : `;transport=${protocol.toLowerCase()}`;
    const listeners = this.#o.stack.listeners;
    const remote = channel?.remote.address ?? towards;
    const listener = listenerTowards(listeners, protocol, remote);
    const wildcard = listener !== undefined && !listener.advertised && isWildcard(listener.local.address);
    const local = (channel === undefined ? undefined : knownLocal(channel)) ?? (wildcard ? this.#knownSource(remote) : undefined);
    const hostPort = contactHostPort(listeners, protocol, remote, local) ?? (listener ?? listeners[0])?.sentBy;
    if (hostPort === undefined) return `<sip:gateway@${bracket(this.#o.domain)}${transport}>`;
    return `<sip:gateway@${hostPort.host}:${hostPort.port}${transport}>`;
  }

  /** The peers of this call whose Contact would need a source address never looked up yet (#contactFor). */
  #sourcesToFind(channel: Channel, decision: Exclude<RouteDecision, { kind: 'reject' }>): string[] {
    const out: string[] = [];
    const needs = (protocol: TransportProtocol, remote: string, via?: Channel): void => {
      const listener = listenerTowards(this.#o.stack.listeners, protocol, remote);
      if (listener === undefined || listener.advertised || !isWildcard(listener.local.address)) return;
      if (via !== undefined && knownLocal(via) !== undefined) return;
      if (knownLocalAddressTowards(remote) === undefined) out.push(remote);
    };
    needs(channel.protocol, channel.remote.address, channel);
    if (decision.kind === 'trunk') {
      const t = decision.trunk;
      needs(t.transport === 'udp' ? 'UDP' : t.transport === 'tcp' ? 'TCP' : 'TLS', t.host);
    } else if (decision.kind === 'service') {
      needs('UDP', this.#o.config.services.host);
    }
    return out;
  }

  /** The source address towards `remote` if already known; otherwise starts finding it for the next time. */
  #knownSource(remote: string | undefined): Endpoint | undefined {
    if (remote === undefined) return undefined;
    const address = knownLocalAddressTowards(remote);
    if (address !== undefined) return { address, port: 0 };
    localAddressTowards(remote).catch((err: unknown) => log.debug({ err, remote }, 'no route to find our address towards a peer'));
    return undefined;
  }

  #reply(transaction: ServerTransaction, status: number, reason?: string): void {
    if (transaction.finalResponse !== undefined || transaction.terminated) return;
    const response = createResponseTo(transaction.request, status, reason, newTag());
    this.#finish(response);
    transaction.respond(response);
  }

  #finish(response: SipResponse): void {
    response.headers.append('Server', this.#o.config.sip.userAgent);
  }

  /** Graceful: new INVITEs get 503, every call is ended (BYE/CANCEL), the table empties. */
  async close(): Promise<void> {
    this.#closed = true;
    this.nonTrunk.close();
    for (const call of [...this.#calls.values()]) call.end('gateway shutting down', { status: 503, reason: 'Service Unavailable' });
  }
}

function calleeOf(decision: RouteDecision): CallInfo['callee'] {
  switch (decision.kind) {
    case 'trunk':
      return { kind: 'trunk', name: decision.trunk.name };
    case 'service':
      return { kind: 'service', name: decision.service };
    case 'users':
      return { kind: 'user', name: decision.users.join(',') };
    default:
      return { kind: 'user', name: '' };
  }
}
