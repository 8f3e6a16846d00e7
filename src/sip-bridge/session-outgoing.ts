/**
 * A session's own requests inside its dialog: the checks before sending (§14.1: no re-INVITE while another INVITE
 * is in progress in either direction; one offer at a time), the headers every INVITE/UPDATE carries (Supported,
 * Allow, the session timer of RFC 4028 §7.4), the ACK of every 2xx to a re-INVITE — built once, re-sent for each
 * retransmitted 2xx (§13.2.2.4) — the consequences of the final response (target refresh §12.2.1.2, session timer,
 * a 481/408 ending the dialog), and the session-timer refresh when we are the refresher.
 */
import type { SipRequest, SipResponse } from '../signaling/message.ts';
import type { ChannelTarget } from '../signaling/transport-layer.ts';
import type { TransportProtocol } from '../signaling/transport.ts';
import { parseNameAddr } from '../signaling/name-addr.ts';
import { parseUri } from '../signaling/uri.ts';
import { readCSeq } from '../signaling/transaction/matching.ts';
import { isLooseRoute, type Dialog } from './dialog.ts';
import type { InviteSession } from './invite-session.ts';
import { SessionError } from './session-error.ts';
import { sdpOf } from './session-body.ts';
import { mergeHeaders, OutgoingRequest } from './session-request.ts';
import { negotiatedFromResponse, readMinSE } from './session-timer.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'session-outgoing' });

export interface SessionRequestOptions {
  body?: string | Buffer;
  /** Default `application/sdp` when there is a body. */
  contentType?: string;
  headers?: ReadonlyArray<readonly [string, string]>;
  /**
   * An offerless re-INVITE: the answer to the offer in its 2xx, for the ACK (§13.2.1). Required then; a throw or
   * rejection ends the session (ACK without answer, then BYE, as RFC 3264 leaves no other way out).
   */
  ackSdp?: (response: SipResponse) => string | Promise<string>;
  onProvisional?: (response: SipResponse) => void;
  /** §14.1 retry after a 491; default true for re-INVITE and UPDATE. */
  retryOn491?: boolean;
}

const TRANSPORTS: Readonly<Record<string, TransportProtocol>> = { udp: 'UDP', tcp: 'TCP', tls: 'TLS', ws: 'WS', wss: 'WSS' };

/**
 * §8.1.2 with §12.2.1.1: a request goes to the first route when that is a loose router, otherwise to its
 * Request-URI (the remote target, or the strict router placed there). The URI's `transport` decides the protocol,
 * `sips:` means TLS; without either, the protocol the session already uses (a trunk reached over TCP keeps TCP).
 */
export function nextHopTarget(dialog: Dialog, request: SipRequest, fallback: TransportProtocol): ChannelTarget {
  const first = dialog.routeSet[0];
  const hop = first !== undefined && isLooseRoute(first) ? parseNameAddr(first).uri : request.uri;
  const uri = parseUri(hop);
  if (uri.kind !== 'sip') throw new SessionError('SIP_SESSION_TRANSPORT', `cannot send to "${hop}"`, { status: 503 });
  const transport = uri.params.get('transport');
  let protocol = typeof transport === 'string' ? TRANSPORTS[transport.toLowerCase()] : undefined;
  if (protocol === undefined) protocol = uri.scheme === 'sips' ? (fallback === 'WSS' ? 'WSS' : 'TLS') : fallback;
  const maddr = uri.params.get('maddr');
  return { protocol, host: typeof maddr === 'string' ? maddr : uri.host, ...(uri.port === undefined ? {} : { port: uri.port }) };
}

function isOffer(method: string, options: SessionRequestOptions): boolean {
  const body = options.body;
  if ((method !== 'INVITE' && method !== 'UPDATE') || body === undefined || body.length === 0) return false;
  return (options.contentType ?? 'application/sdp').toLowerCase().startsWith('application/sdp');
}

export class SessionRequests {
  readonly #session: InviteSession;
  readonly #active = new Set<OutgoingRequest>();
  #inviteInProgress = false;
  /** The ACK of the last 2xx to our re-INVITE (undefined while its answer is being computed). */
  #lastAck: { cseq: number; ack: SipRequest | undefined } | undefined;
  #minSE: number | undefined;
  #updateRefused = false;

  constructor(session: InviteSession) {
    this.#session = session;
  }

  get inviteInProgress(): boolean {
    return this.#inviteInProgress;
  }

  get liveTimers(): number {
    let n = 0;
    for (const r of this.#active) n += r.liveTimers;
    return n;
  }

  /** InviteSession.request: checks the dialog state, §14.1 and offer rules, then sends. */
  request(method: string, options: SessionRequestOptions): Promise<SipResponse> {
    const session = this.#session;
    if (method === 'BYE') {
      return session.bye(options).then((response) => response ?? Promise.reject(new SessionError('SIP_SESSION_STATE', 'BYE not sent or failed', { status: 481 })));
    }
    if (method === 'ACK' || method === 'CANCEL' || method === 'PRACK') {
      return Promise.reject(new SessionError('SIP_SESSION_REQUEST', `${method} is sent by the session itself, not through request()`));
    }
    const dialog = session.dialog;
    if (session.terminated || dialog === undefined) {
      return Promise.reject(new SessionError('SIP_SESSION_STATE', `no dialog to send ${method} in (state ${session.state})`, { status: 481 }));
    }
    if (method === 'INVITE') {
      if (session.inviteInProgress() !== undefined) {
        // §14.1: "a UAC MUST NOT initiate a re-INVITE while another INVITE transaction is in progress in either direction."
        return Promise.reject(new SessionError('SIP_SESSION_PENDING', 'an INVITE is in progress on this dialog', { status: 491 }));
      }
      if (!isOffer(method, options) && options.ackSdp === undefined) {
        return Promise.reject(new SessionError('SIP_SESSION_OPTIONS', 'an offerless re-INVITE needs ackSdp for the answer in its ACK'));
      }
    }
    if (isOffer(method, options) && session.pendingOffer !== undefined) {
      return Promise.reject(new SessionError('SIP_SESSION_PENDING', 'an offer is waiting for its answer on this dialog', { status: 491 }));
    }
    return this.send(method, options);
  }

  /** Sends without the checks (BYE after termination decisions, refreshes). */
  send(method: string, options: SessionRequestOptions): Promise<SipResponse> {
    const session = this.#session;
    const dialog = session.dialog;
    if (dialog === undefined) return Promise.reject(new SessionError('SIP_SESSION_STATE', `no dialog for ${method}`, { status: 481 }));
    const offer = isOffer(method, options) ? bodyText(options.body!) : undefined;
    return new Promise<SipResponse>((resolve, reject) => {
      const outgoing: OutgoingRequest = new OutgoingRequest(method, {
        stack: session.stack,
        callId: session.callId,
        build: (replace) =>
          dialog.createRequest(method, {
            body: options.body,
            contentType: options.contentType,
            headers: mergeHeaders(mergeHeaders(this.#standardHeaders(method), options.headers ?? []), replace),
          }),
        channel: (request) => session.channelForRequest(request),
        mayRetryAfterGlare: () => !session.terminated && session.inviteInProgress() === undefined && (offer === undefined || session.pendingOffer === undefined),
        afterTooSmall: (response) => this.#afterTooSmall(response),
        onProvisional: (response) => options.onProvisional?.(response),
        onInvite2xx: (response, request) => this.#ack2xx(dialog, response, request, options.ackSdp),
        attemptStarted: () => {
          if (method === 'INVITE') this.#inviteInProgress = true;
          if (offer !== undefined) session.noteOffer('local');
        },
        attemptEnded: (response) => {
          if (method === 'INVITE') this.#inviteInProgress = false;
          if (offer === undefined || session.pendingOffer !== 'local') return;
          session.noteOffer(undefined);
          if (response !== undefined && response.status >= 200 && response.status < 300) session.noteSdp(offer, sdpOf(response));
        },
        onFinal: (response) => {
          this.#active.delete(outgoing);
          this.#afterFinal(dialog, method, response);
          resolve(response);
        },
        onFailure: (error) => {
          this.#active.delete(outgoing);
          if (method !== 'BYE' && error.code === 'SIP_SESSION_TIMEOUT') session.endSession('dialog-failed');
          else if (method !== 'BYE' && error.code === 'SIP_SESSION_TRANSPORT') session.endSession('transport-error');
          reject(error);
        },
      }, {
        credentials: session.credentials,
        retryOn491: options.retryOn491 ?? (method === 'INVITE' || method === 'UPDATE'),
        ownsCallId: session.role === 'uac',
      });
      this.#active.add(outgoing);
      outgoing.start();
    });
  }

  /** Every INVITE and UPDATE says what we support and, with a running session timer, refreshes it (RFC 4028 §7.4). */
  #standardHeaders(method: string): Array<readonly [string, string]> {
    const session = this.#session;
    const headers: Array<readonly [string, string]> = [];
    if (session.userAgent !== undefined) headers.push(['User-Agent', session.userAgent]);
    if (method !== 'INVITE' && method !== 'UPDATE') return headers;
    headers.push(['Supported', session.supportedTags().join(', ')]);
    if (method === 'INVITE') headers.push(['Allow', session.stack.allow.join(', ')]);
    const timer = session.sessionTimer;
    if (session.timerConfig !== undefined && timer !== undefined) {
      // The refresher stays who it was: in our request `uac` is us (§7.4).
      headers.push(['Session-Expires', `${timer.interval};refresher=${timer.refresher === 'local' ? 'uac' : 'uas'}`]);
      headers.push(['Min-SE', String(this.#minSE ?? session.timerConfig.minSE)]);
    }
    return headers;
  }

  /** RFC 4028 §7.4 / §6: after a 422, ask again with at least the Min-SE it names. */
  #afterTooSmall(response: SipResponse): Array<readonly [string, string]> | undefined {
    const config = this.#session.timerConfig;
    if (config === undefined) return undefined;
    let min: number | undefined;
    try {
      min = readMinSE(response);
    } catch {
      return undefined;
    }
    if (min === undefined) return undefined;
    this.#minSE = Math.max(min, this.#minSE ?? config.minSE);
    const timer = this.#session.sessionTimer;
    const interval = Math.max(this.#minSE, timer?.interval ?? config.interval);
    return [['Session-Expires', `${interval};refresher=${timer?.refresher === 'remote' ? 'uas' : 'uac'}`], ['Min-SE', String(this.#minSE)]];
  }

  /**
   * §13.2.2.4: "The UAC core MUST generate an ACK request for each 2xx received from the transaction layer" — the
   * same ACK for each retransmission. An offerless re-INVITE's ACK carries the owner's answer (ackSdp).
   */
  #ack2xx(dialog: Dialog, response: SipResponse, request: SipRequest, ackSdp: SessionRequestOptions['ackSdp']): void {
    const seq = readCSeq(response)?.seq;
    if (seq === undefined) return;
    if (this.#lastAck?.cseq === seq) {
      if (this.#lastAck.ack !== undefined) this.sendAck(this.#lastAck.ack);
      return;
    }
    const entry: { cseq: number; ack: SipRequest | undefined } = { cseq: seq, ack: undefined };
    this.#lastAck = entry;
    dialog.receiveTargetRefreshResponse(response);
    const send = (answer: string | undefined): void => {
      entry.ack = dialog.createRequest('ACK', { cseq: seq, ...(answer === undefined ? {} : { body: answer }) });
      if (answer !== undefined) this.#session.noteSdp(answer, sdpOf(response));
      this.sendAck(entry.ack);
    };
    if (sdpOf(request) !== undefined || ackSdp === undefined) {
      send(undefined);
      return;
    }
    Promise.resolve()
      .then(() => ackSdp(response))
      .then(
        (answer) => send(answer),
        (error: unknown) => {
          log.warn({ err: error, callId: this.#session.callId }, 'no answer for the offer in a 2xx: ACK without one, then BYE');
          send(undefined);
          void this.#session.bye();
        },
      )
      .catch((err: unknown) => log.error({ err, callId: this.#session.callId }, 'ACK for a re-INVITE 2xx failed'));
  }

  /** ACKs travel outside any transaction (§17), to the same next hop as the dialog's requests. */
  sendAck(ack: SipRequest, dialog?: Dialog): void {
    const session = this.#session;
    session.channelForRequest(ack, dialog ?? session.dialog).then(
      (channel) => {
        try {
          session.stack.transactions.sendAck(ack, channel);
        } catch (err) {
          log.warn({ err, callId: session.callId }, 'could not send ACK');
        }
      },
      (err: unknown) => log.warn({ err, callId: session.callId }, 'no channel for ACK'),
    );
  }

  #afterFinal(dialog: Dialog, method: string, response: SipResponse): void {
    const session = this.#session;
    const status = response.status;
    if (status >= 200 && status < 300 && (method === 'INVITE' || method === 'UPDATE')) {
      dialog.receiveTargetRefreshResponse(response);
      session.noteAllow(response);
      if (session.timerConfig !== undefined) {
        session.restartTimer(negotiatedFromResponse(response));
        if (session.sessionTimer !== undefined) session.emitSession('refreshed', 'outgoing');
      }
    }
    // §12.2.1.2: "If the response for a request within a dialog is a 481 … or a 408 …, the UAC SHOULD terminate
    // the dialog."
    if (method !== 'BYE' && (status === 481 || status === 408)) session.endSession('dialog-failed');
  }

  /** A 2xx retransmission that outlived its transaction: ACK it again if it is our last re-INVITE's. */
  receiveStray(response: SipResponse): void {
    const cseq = readCSeq(response);
    if (cseq?.method !== 'INVITE' || response.status < 200 || response.status >= 300) return;
    if (this.#lastAck?.cseq === cseq.seq && this.#lastAck.ack !== undefined) this.sendAck(this.#lastAck.ack);
  }

  /**
   * The session timer fired and we are the refresher (RFC 4028 §7.4, §10): UPDATE without a body when the peer
   * allows UPDATE ("it is RECOMMENDED that the UPDATE request be used"), else a re-INVITE offering our current SDP
   * unchanged (RFC 3264 §8: same version, no change). A re-INVITE must wait for an INVITE in progress.
   */
  refresh(): void {
    const session = this.#session;
    if (session.terminated || session.dialog === undefined) return;
    const useUpdate = !this.#updateRefused && (session.remoteAllow?.has('UPDATE') ?? false);
    if (!useUpdate && (session.inviteInProgress() !== undefined || session.pendingOffer !== undefined)) {
      session.retryRefreshIn(2_000);
      return;
    }
    if (!useUpdate && session.localSdp === undefined) {
      session.refreshFailed();
      return;
    }
    const method = useUpdate ? 'UPDATE' : 'INVITE';
    this.send(method, useUpdate ? {} : { body: session.localSdp }).then(
      (response) => {
        const status = response.status;
        if (status < 300 || status === 481 || status === 408) return;
        if (method === 'UPDATE' && (status === 405 || status === 501)) {
          this.#updateRefused = true;
          this.refresh();
          return;
        }
        session.refreshFailed();
      },
      () => {
        // Timeout or transport failure: the dialog already ended (dialog-failed / transport-error).
      },
    ).catch((err: unknown) => log.error({ err, callId: session.callId }, 'session refresh failed'));
  }

  /** The session ended: retries waiting for their timers are dropped (their promises reject). */
  abandon(): void {
    for (const outgoing of [...this.#active]) outgoing.abandon();
  }
}

function bodyText(body: string | Buffer): string {
  return typeof body === 'string' ? body : body.toString('utf8');
}
