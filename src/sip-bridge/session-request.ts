/**
 * One request a session sends inside its dialog (BYE, re-INVITE, UPDATE, INFO, OPTIONS …), from the first send to
 * its final response, with the retries RFC 3261 and its extensions ask of a UAC:
 *  - 401/407 (§22.2, §22.3): the same request with credentials, a new CSeq and branch — once per challenge kind
 *    and realm; a second challenge after our answer is final unless it says `stale=true` (RFC 7616 §3.3).
 *  - 491 to a re-INVITE or UPDATE (§14.1, RFC 3311 §5.2): once more after a random wait, "between 2.1 and 4
 *    seconds in units of 10 ms" when we own the Call-ID, "between 0 and 2 seconds" otherwise.
 *  - 422 (RFC 4028 §7.4): once more with the Session-Expires and Min-SE the 422's Min-SE asks for.
 * Every attempt is a new request built by the session (next CSeq from its dialog, §12.2.1.1); every 2xx to an
 * INVITE, retransmissions included, is handed to the session to be ACKed (§13.2.2.4).
 */
import type { SipRequest, SipResponse } from '../signaling/message.ts';
import type { SipStack } from '../signaling/sip-stack.ts';
import type { Channel, TransportError } from '../signaling/transport.ts';
import { DigestClient, selectChallenge, type DigestChallenge, type DigestCredentials } from '../signaling/auth/digest-client.ts';
import { SessionError } from './session-error.ts';
import { logger } from '../log.ts';

const log = logger.child({ module: 'session-request' });

/** §14.1: T "in units of 10 ms". */
export function glareDelayMs(ownsCallId: boolean, random: () => number = Math.random): number {
  const [min, max] = ownsCallId ? [210, 400] : [0, 200];
  return (min + Math.floor(random() * (max - min + 1))) * 10;
}

/** The challenges a request answered so far, recomputed for every attempt (the nonce count must grow). */
export class Challenges {
  readonly #client: DigestClient;
  readonly #credentials: DigestCredentials;
  readonly #answered = new Map<string, { header: 'Authorization' | 'Proxy-Authorization'; challenge: DigestChallenge }>();
  #attempts = 0;

  constructor(credentials: DigestCredentials) {
    this.#credentials = credentials;
    this.#client = new DigestClient(credentials);
  }

  /** Records the challenge of a 401/407 when it may be answered; false when the response is final for us. */
  accept(response: SipResponse): boolean {
    if ((response.status !== 401 && response.status !== 407) || this.#attempts >= 4) return false;
    const header = response.status === 401 ? 'Authorization' : 'Proxy-Authorization';
    const values = response.headers.getAll(response.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate');
    const challenge = selectChallenge(values, this.#credentials.realm);
    if (challenge === undefined) return false;
    const key = `${header}\n${challenge.realm}`;
    // The same kind and realm again, without stale=true: our credentials were refused.
    if (this.#answered.has(key) && !challenge.stale) return false;
    this.#answered.set(key, { header, challenge });
    this.#attempts++;
    return true;
  }

  /** Authorization / Proxy-Authorization values for `request` (method, Request-URI and body as they will be sent). */
  headersFor(request: SipRequest): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const { header, challenge } of this.#answered.values()) {
      const body = challenge.qop === 'auth-int' ? request.body : undefined;
      out.push([header, this.#client.authorize(challenge, request.method, request.uri, body)]);
    }
    return out;
  }
}

export interface OutgoingRequestHost {
  readonly stack: SipStack;
  readonly callId: string;
  /** A new attempt: the next CSeq in the dialog, `replace` headers set (replacing any of the same name). */
  build(replace: ReadonlyArray<readonly [string, string]>): SipRequest;
  channel(request: SipRequest): Promise<Channel>;
  /** Whether the 491 retry may go (the session is alive and no INVITE is in progress in either direction). */
  mayRetryAfterGlare(): boolean;
  /** Headers for a retry after a 422 (Session-Expires, Min-SE), or undefined when a 422 is final. */
  afterTooSmall(response: SipResponse): ReadonlyArray<readonly [string, string]> | undefined;
  onProvisional(response: SipResponse): void;
  /** Every 2xx to an INVITE attempt (first and retransmitted, any fork) with the request it answers. */
  onInvite2xx(response: SipResponse, request: SipRequest): void;
  /** The final response: the last attempt's, after any retries. */
  onFinal(response: SipResponse, request: SipRequest): void;
  /** Timeout, transport failure, or the session ended during a glare wait; `request` is the last attempt, if any. */
  onFailure(error: SessionError, request: SipRequest | undefined): void;
  /** An attempt goes out / got its final response (also the intermediate 401, 422, 491 ones; undefined on failure). */
  attemptStarted(request: SipRequest): void;
  attemptEnded(response: SipResponse | undefined): void;
}

export interface OutgoingRequestOptions {
  credentials: DigestCredentials | undefined;
  retryOn491: boolean;
  ownsCallId: boolean;
}

export class OutgoingRequest {
  readonly method: string;
  readonly #host: OutgoingRequestHost;
  readonly #options: OutgoingRequestOptions;
  readonly #challenges: Challenges | undefined;
  #replace: Array<readonly [string, string]> = [];
  #glareRetried = false;
  #tooSmallRetried = false;
  #wait: ReturnType<typeof setTimeout> | undefined;
  #current: SipRequest | undefined;
  #inFlight = false;
  #done = false;

  constructor(method: string, host: OutgoingRequestHost, options: OutgoingRequestOptions) {
    this.method = method;
    this.#host = host;
    this.#options = options;
    this.#challenges = options.credentials === undefined ? undefined : new Challenges(options.credentials);
  }

  get request(): SipRequest | undefined {
    return this.#current;
  }

  get done(): boolean {
    return this.#done;
  }

  get liveTimers(): number {
    return this.#wait === undefined ? 0 : 1;
  }

  start(): void {
    this.#attempt();
  }

  /** The session ended: a retry waiting for its timer is dropped; a request in flight finishes on its own. */
  abandon(): void {
    if (this.#wait === undefined) return;
    clearTimeout(this.#wait);
    this.#wait = undefined;
    this.#fail(new SessionError('SIP_SESSION_TERMINATED', `${this.method} not re-sent: the session ended`, { status: 481 }), this.#current);
  }

  #attempt(): void {
    let request: SipRequest;
    try {
      request = this.#host.build(this.#replace);
      if (this.#challenges) for (const [name, value] of this.#challenges.headersFor(request)) request.headers.append(name, value);
    } catch (error) {
      this.#fail(new SessionError('SIP_SESSION_REQUEST', `cannot build ${this.method}: ${(error as Error).message}`, { status: 500, cause: error }), this.#current);
      return;
    }
    this.#current = request;
    this.#inFlight = true;
    this.#host.attemptStarted(request);
    this.#host.channel(request).then(
      (channel) => this.#send(request, channel),
      (error: unknown) => this.#fail(new SessionError('SIP_SESSION_TRANSPORT', `no channel for ${this.method}: ${(error as Error).message}`, { status: 503, cause: error }), request),
    ).catch((err: unknown) => log.error({ err, callId: this.#host.callId, method: this.method }, 'sending an in-dialog request failed'));
  }

  #send(request: SipRequest, channel: Channel): void {
    let finished = false;
    try {
      this.#host.stack.transactions.sendRequest(request, channel, {
        onResponse: (response) => {
          if (response.status < 200) {
            if (!finished) this.#host.onProvisional(response);
            return;
          }
          if (response.status < 300 && request.method === 'INVITE') this.#host.onInvite2xx(response, request);
          if (finished) return;
          finished = true;
          this.#onFinal(response, request);
        },
        onTimeout: () => {
          if (finished) return;
          finished = true;
          this.#fail(new SessionError('SIP_SESSION_TIMEOUT', `${this.method} timed out`, { status: 408 }), request);
        },
        onTransportError: (error: TransportError) => {
          if (finished) return;
          finished = true;
          this.#fail(new SessionError('SIP_SESSION_TRANSPORT', `${this.method} could not be sent: ${error.message}`, { status: 503, cause: error }), request);
        },
      });
    } catch (error) {
      if (finished) return;
      finished = true;
      this.#fail(new SessionError('SIP_SESSION_TRANSPORT', `${this.method} could not be sent: ${(error as Error).message}`, { status: 503, cause: error }), request);
    }
  }

  #onFinal(response: SipResponse, request: SipRequest): void {
    this.#inFlight = false;
    this.#host.attemptEnded(response);
    const status = response.status;
    if ((status === 401 || status === 407) && this.#challenges?.accept(response)) {
      this.#attempt();
      return;
    }
    if (status === 422 && !this.#tooSmallRetried) {
      const replace = this.#host.afterTooSmall(response);
      if (replace !== undefined) {
        this.#tooSmallRetried = true;
        this.#replace = mergeHeaders(this.#replace, replace);
        this.#attempt();
        return;
      }
    }
    if (status === 491 && this.#options.retryOn491 && !this.#glareRetried) {
      this.#glareRetried = true;
      const delay = glareDelayMs(this.#options.ownsCallId);
      log.debug({ callId: this.#host.callId, method: this.method, delay }, 'glare: retrying after 491');
      this.#wait = setTimeout(() => {
        this.#wait = undefined;
        if (this.#host.mayRetryAfterGlare()) this.#attempt();
        else this.#finish(response, request);
      }, delay);
      return;
    }
    this.#finish(response, request);
  }

  #finish(response: SipResponse, request: SipRequest): void {
    if (this.#done) return;
    this.#done = true;
    this.#host.onFinal(response, request);
  }

  #fail(error: SessionError, request: SipRequest | undefined): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#inFlight) {
      this.#inFlight = false;
      this.#host.attemptEnded(undefined);
    }
    this.#host.onFailure(error, request);
  }
}

/** `base` with every header named in `extra` replaced by extra's value. */
export function mergeHeaders(base: ReadonlyArray<readonly [string, string]>, extra: ReadonlyArray<readonly [string, string]>): Array<readonly [string, string]> {
  const names = new Set(extra.map(([name]) => name.toLowerCase()));
  return [...base.filter(([name]) => !names.has(name.toLowerCase())), ...extra];
}
