/**
 * A browser-like test phone for the gateway's integration tests: SIP over WebSocket (RFC 7118) with JsSIP 3.x's
 * wire conventions (jssip-wire.ts), and real WebRTC media (ICE, DTLS-SRTP, rtcp-mux, BUNDLE) from werift's
 * RTCPeerConnection restricted to loopback (media-endpoint.ts). Real SIP on a real WebSocket, real ICE/DTLS/SRTP,
 * and a time limit on every await, so a broken gateway fails a test instead of hanging it.
 *
 *   const phone = await TestPhone.connect({ url: 'ws://127.0.0.1:PORT/sip', user: 'alice', password: 'demo', domain: '127.0.0.1' });
 *   await phone.register();                 // → { expires, response }; rejects TestPhoneError { code, status, reason }
 *   await phone.unregister();
 *   const call = await phone.call('echo');  // resolves when answered (2xx applied, ACK sent); { early: true } → at the
 *                                           // first 1xx with SDP; rejects { status, reason } / PHONE_TIMEOUT
 *   const call = phone.invite('bob');       // the OutgoingCall at once: call.answered, call.earlyMedia, call.responses
 *   phone.on('incoming', (call) => …)  or  const call = await phone.waitForIncoming();
 *     call.ring()  → 180  |  call.ring({ status: 183, sdp: true })  → early media (test extension)
 *     await call.answer()  → 200 with a werift answer, resolves on the ACK  |  call.reject(486)
 *   call.audio          // { packetsReceived, bytesReceived, payloads, markers, ssrcs, payloadTypes, rtcpReceived, packetsSent, … }
 *   await call.waitForAudio(50)  |  call.waitForAudio((a) => a.markers.some((m) => m.stream === s.stream))  |  call.waitForSilence()
 *   const s = call.startSending({ pt: 0, everyMs: 20, payload?: (frame) => Buffer }); s.stop()   // markers: rtp-marker.ts
 *   await call.hold() / call.resume()       // re-INVITE a=sendonly / a=sendrecv, resolves on the 2xx
 *   await call.sendInfoDtmf('5')            // INFO application/dtmf-relay "Signal=5\r\nDuration=160"
 *   await call.refresh('UPDATE' | 'INVITE') // RFC 4028 refresh (UPDATE without SDP as JsSIP)
 *   await call.hangup()                     // BYE (resolves on its response); before the answer CANCEL (resolves on
 *                                           // the INVITE's final response) or 480 for an incoming call
 *   call.on('ended', (by, reason) => …); await call.ended   // by: 'local' | 'remote' | 'system'
 *   call.on('progress' | 'accepted' | 'confirmed' | 'reinvite' | 'update' | 'info' | 'dtmf' | 'hold' | 'unhold', …)
 *   phone.trace, phone.violations, phone.unmatched         // every SIP message; what the peer got wrong
 *   await phone.close()                     // idempotent; ends calls without signalling (a closed tab); phone.kill()
 *                                           // drops the TCP connection without a close handshake
 *
 * In-dialog requests are answered as JsSIP does: BYE 200 (ended), re-INVITE 100 + 200 with a fresh answer (or
 * our offer when it has no SDP) retransmitted until the ACK, UPDATE 200 (with an answer when it has SDP), INFO
 * 200, OPTIONS 200, glare 491, out-of-order CSeq 500. Outside a dialog: MESSAGE 200 with a 'message' listener
 * else 405, NOTIFY 200, BYE/CANCEL for nothing 481, other methods 405, a Request-URI that is not ours 404.
 */
import type { SipMessage, SipRequest, SipResponse } from '../../src/signaling/message.ts';
import { cseq, toTag, topVia } from '../../src/signaling/header-accessors.ts';
import { parseUri } from '../../src/signaling/uri.ts';
import { DigestClient, selectChallenge } from '../../src/signaling/auth/digest-client.ts';
import { buildReply, buildRequest, DEFAULT_USER_AGENT, newBranch, newUuid, randomToken, REGISTER_EXPIRES } from './jssip-wire.ts';
import { Registrator, type Registration } from './registrator.ts';
import { SipWsConnection, type TraceEntry } from './sip-ws-connection.ts';
import { DEFAULT_AUDIO_CODECS, MediaEndpoint, prepareMedia, type AudioCodec, type MediaPrerequisites } from './media-endpoint.ts';
import type { InviteTransaction, PhoneContext, PhoneIdentity } from './phone-context.ts';
import { PhoneEvents } from './phone-events.ts';
import { OutgoingCall, type CallOptions } from './outgoing-call.ts';
import { IncomingCall } from './incoming-call.ts';
import type { TestCall } from './test-call.ts';
import { deferred, TestPhoneError, withTimeout, type Deferred } from './phone-errors.ts';

export interface TestPhoneOptions {
  url: string;
  user: string;
  password?: string;
  /** Host part of the AOR and the registrar URI (`sip:<domain>`). */
  domain: string;
  displayName?: string;
  /** Digest username when it is not `user`. */
  authorizationUser?: string;
  userAgent?: string;
  /** Limit for one transaction (final response, ACK). Default 5000 ms. */
  timeoutMs?: number;
  registerExpires?: number;
  codecs?: readonly AudioCodec[];
  /** Send 180 as soon as an INVITE arrives, as JsSIP does. Default false: the test calls ring(). */
  autoRing?: boolean;
  /**
   * 'jssip' (default): answer only the LAST challenge and only MD5, as JsSIP does (its parser keeps the last
   * WWW-/Proxy-Authenticate header; DigestAuthentication refuses other algorithms) — a gateway putting SHA-256
   * last would fail a real browser, so it fails the test phone too. 'best': the
   * strongest challenge offered (selectChallenge, RFC 8760 §2.4).
   */
  digest?: 'jssip' | 'best';
}

export type PhoneEventMap = {
  incoming: [call: IncomingCall];
  message: [request: SipRequest];
  disconnected: [code: number, reason: string];
};

interface ClientTransaction {
  method: string;
  request: SipRequest;
  onResponse: (response: SipResponse) => void;
  /** For INVITE: the ACK sent for a non-2xx final, re-sent on its retransmission (§17.1.1.2). */
  ack?: SipRequest;
  /** Rejects the waiting caller when the phone or its transport closes. */
  fail?: (error: TestPhoneError) => void;
}

export class TestPhone extends PhoneEvents<PhoneEventMap> implements PhoneContext {
  readonly identity: PhoneIdentity;
  readonly codecs: readonly AudioCodec[];
  readonly timeoutMs: number;
  readonly instanceId = newUuid();
  /** Responses that matched no transaction (a stray or late response). */
  readonly unmatched: SipResponse[] = [];
  readonly #connection: SipWsConnection;
  readonly #media: MediaPrerequisites;
  readonly #options: TestPhoneOptions;
  readonly #digest: DigestClient | undefined;
  readonly #transactions = new Map<string, ClientTransaction>();
  readonly #calls = new Map<string, TestCall>();
  readonly #pendingIncoming: IncomingCall[] = [];
  readonly #registrator: Registrator;
  #closing: Promise<void> | undefined;
  #disconnected = deferred<void>();

  private constructor(options: TestPhoneOptions, connection: SipWsConnection, media: MediaPrerequisites) {
    super();
    this.#options = options;
    this.#connection = connection;
    this.#media = media;
    this.codecs = options.codecs ?? DEFAULT_AUDIO_CODECS;
    this.timeoutMs = options.timeoutMs ?? 5000;
    const viaHost = `${randomToken(12)}.invalid`;
    this.identity = {
      user: options.user,
      domain: options.domain,
      aor: `sip:${options.user}@${options.domain}`,
      displayName: options.displayName,
      viaHost,
      contactUri: `sip:${randomToken(8)}@${viaHost};transport=ws`,
      userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
    };
    this.#digest = options.password === undefined ? undefined : new DigestClient({ username: options.authorizationUser ?? options.user, password: options.password });
    this.#registrator = new Registrator(this, this.instanceId);
    connection.onMessage = (msg) => this.#receive(msg);
    connection.onClose = (code, reason) => this.#onDisconnect(code, reason);
  }

  static async connect(options: TestPhoneOptions): Promise<TestPhone> {
    const [media, connection] = await Promise.all([prepareMedia(), SipWsConnection.connect({ url: options.url, connectTimeoutMs: options.timeoutMs ?? 5000 })]);
    return new TestPhone(options, connection, media);
  }

  /** Every SIP message sent and received, in order. */
  get trace(): readonly TraceEntry[] {
    return this.#connection.trace;
  }

  /** Unparsable frames from the peer and non-loopback media found by any call. */
  get violations(): string[] {
    return [...this.#connection.violations];
  }

  get calls(): ReadonlyMap<string, TestCall> {
    return this.#calls;
  }

  get connected(): boolean {
    return !this.#connection.closed;
  }

  /** The Contact of our REGISTER (Registrator.js): `;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:…>"`. */
  get registerContact(): string {
    return this.#registrator.contact;
  }

  register(expires = this.#options.registerExpires ?? REGISTER_EXPIRES): Promise<Registration> {
    return this.#registrator.register(expires);
  }

  unregister(): Promise<SipResponse> {
    return this.#registrator.unregister();
  }

  /** Starts a call and returns it at once (see OutgoingCall: answered, earlyMedia, hangup before answer). */
  invite(target: string, options: CallOptions = {}): OutgoingCall {
    this.#assertOpen();
    const call = OutgoingCall.start(this, this.#newMedia(), target, options);
    this.#calls.set(call.key, call);
    return call;
  }

  /** Calls `target` and resolves when it answered (2xx ACKed) — or, with `early`, at the first SDP in a 1xx. */
  async call(target: string, options: CallOptions = {}): Promise<OutgoingCall> {
    const call = this.invite(target, options);
    try {
      await (options.early ? Promise.race([call.earlyMedia, call.answered]) : call.answered);
    } catch (error) {
      await call.ended;
      throw error;
    }
    return call;
  }

  /** The next incoming call (one that arrived before and was not taken yet comes first). */
  waitForIncoming(timeoutMs = this.timeoutMs): Promise<IncomingCall> {
    const queued = this.#pendingIncoming.shift();
    if (queued) return Promise.resolve(queued);
    return withTimeout(this.next('incoming').then(([call]) => call), timeoutMs, `incoming call to ${this.identity.user}`);
  }

  /** Ends every call without signalling and closes the WebSocket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const calls = [...this.#calls.values()];
      for (const call of calls) call.destroy('system', 'phone closed');
      await Promise.all(calls.map((call) => call.ended));
      await this.#connection.close();
      this.#failTransactions('phone closed');
    })();
    return this.#closing;
  }

  /** Drops the WebSocket without a close handshake (a crashed tab); calls end on the disconnect. */
  kill(): void {
    this.#connection.terminate();
  }

  /** Resolves when the WebSocket closed (either side). */
  get disconnected(): Promise<void> {
    return this.#disconnected.promise;
  }

  // --- PhoneContext (used by calls) ---

  newVia(): { via: string; branch: string } {
    let branch = newBranch();
    while ([...this.#transactions.keys()].some((key) => key.startsWith(`${branch}|`))) branch = newBranch();
    return { via: `SIP/2.0/WS ${this.identity.viaHost};branch=${branch}`, branch };
  }

  send(msg: SipMessage): void {
    this.#connection.send(msg);
  }

  sendRequest(request: SipRequest): Promise<SipResponse> {
    const done: Deferred<SipResponse> = deferred();
    const key = this.#transactionKey(request);
    this.#transactions.set(key, {
      method: request.method, request, fail: (error) => done.reject(error),
      onResponse: (response) => {
        if (response.status < 200) return;
        this.#transactions.delete(key);
        done.resolve(response);
      },
    });
    try {
      this.send(request);
    } catch (error) {
      this.#transactions.delete(key);
      return Promise.reject(error);
    }
    return withTimeout(done.promise, this.timeoutMs, `${request.method} ${request.uri}`).finally(() => this.#transactions.delete(key));
  }

  sendInvite(request: SipRequest, onResponse: (response: SipResponse) => void): InviteTransaction {
    const key = this.#transactionKey(request);
    const transaction: ClientTransaction = { method: 'INVITE', request, onResponse: (response) => {
      if (response.status >= 300) {
        // §17.1.1.3: the ACK for a non-2xx final is the transaction's: same branch, To from the response.
        const retransmission = transaction.ack !== undefined;
        transaction.ack ??= buildRequest({
          method: 'ACK', uri: request.uri, via: request.headers.get('via')!, to: response.headers.get('to')!,
          from: request.headers.get('from')!, callId: request.headers.get('call-id')!, cseq: cseq(request).seq,
          routes: request.headers.getAll('route'), userAgent: this.identity.userAgent,
        });
        try { this.send(transaction.ack); } catch { /* closed */ }
        if (retransmission) return;
      }
      onResponse(response);
    } };
    this.#transactions.set(key, transaction);
    this.send(request);
    return { branch: key.split('|')[0]!, close: () => { this.#transactions.delete(key); } };
  }

  credentials(response: SipResponse, method: string, uri: string): { header: [string, string]; stale: boolean } | undefined {
    if (!this.#digest) return undefined;
    const proxy = response.status === 407;
    const values = response.headers.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate');
    const challenge = this.#options.digest === 'best'
      ? selectChallenge(values)
      : values.length === 0 ? undefined : selectChallenge([values.at(-1)!]);
    if (!challenge || (this.#options.digest !== 'best' && challenge.algorithm !== 'MD5')) return undefined;
    return { header: [proxy ? 'Proxy-Authorization' : 'Authorization', this.#digest.authorize(challenge, method, uri)], stale: challenge.stale };
  }

  release(callKey: string): void {
    this.#calls.delete(callKey);
  }

  // --- internals ---

  #newMedia(): MediaEndpoint {
    return new MediaEndpoint(this.#media, this.codecs);
  }

  #assertOpen(): void {
    if (this.#closing || this.#connection.closed) throw new TestPhoneError('PHONE_CLOSED', 'the phone is closed');
  }

  #transactionKey(msg: SipMessage): string {
    return `${topVia(msg).params.get('branch') ?? ''}|${cseq(msg).method}`;
  }

  #receive(msg: SipMessage): void {
    if (msg.type === 'response') {
      let key: string;
      try {
        key = this.#transactionKey(msg);
      } catch {
        this.unmatched.push(msg);
        return;
      }
      const transaction = this.#transactions.get(key);
      if (transaction) transaction.onResponse(msg);
      else this.unmatched.push(msg);
      return;
    }
    try {
      this.#receiveRequest(msg);
    } catch (error) {
      // A request whose headers we cannot read at all: JsSIP drops it too.
      this.#connection.violations.push(`request not handled: ${(error as Error).message}`);
    }
  }

  #receiveRequest(request: SipRequest): void {
    const method = request.method;
    const uri = (() => { try { return parseUri(request.uri); } catch { return undefined; } })();
    const user = uri?.kind === 'sip' ? uri.user : undefined;
    const contactUser = /^sips?:([^@]+)@/.exec(this.identity.contactUri)?.[1];
    if (user !== this.identity.user && user !== contactUser) {
      if (method !== 'ACK') this.send(buildReply(request, 404));
      return;
    }
    if (uri?.kind === 'sip' && uri.scheme === 'sips') return this.send(buildReply(request, 416));
    const tag = toTag(request);
    if (method === 'INVITE') {
      // A retransmitted initial INVITE (none over WebSocket, but harmless) belongs to its call already.
      if (tag === undefined && [...this.#calls.values()].some((c) => c instanceof IncomingCall && c.matchesTransaction(request))) return;
      // The INVITE server transaction answers 100 Trying to every INVITE, re-INVITEs included (Transactions.js).
      this.send(buildReply(request, 100));
    }
    // §12.2.2: requests that do not change the dialog (OPTIONS) are answered as outside it.
    if (method === 'OPTIONS') return this.send(buildReply(request, 200));
    if (method === 'MESSAGE') {
      if (this.listenerCount('message') === 0) return this.send(buildReply(request, 405));
      this.send(buildReply(request, 200));
      return this.emit('message', request);
    }
    if (tag === undefined) return this.#outOfDialog(request);
    const call = this.#calls.get(`${request.headers.get('call-id')}|${tag}`);
    if (call?.dialog?.matches(request)) return call.handleRequest(request);
    if (method !== 'ACK') this.send(buildReply(request, 481));
  }

  #outOfDialog(request: SipRequest): void {
    switch (request.method) {
      case 'INVITE': {
        if (this.#closing) return this.send(buildReply(request, 480));
        const call = IncomingCall.receive(this, () => this.#newMedia(), request);
        if (!call) return;
        this.#calls.set(call.key, call);
        if (this.#options.autoRing) void call.ring().catch(() => {});
        if (this.listenerCount('incoming') === 0) this.#pendingIncoming.push(call);
        else this.emit('incoming', call);
        return;
      }
      case 'CANCEL': {
        const call = [...this.#calls.values()].find((c): c is IncomingCall => c instanceof IncomingCall && c.matchesTransaction(request));
        return call ? call.receiveCancel(request) : this.send(buildReply(request, 481));
      }
      case 'ACK': return; // for a non-2xx we sent, or stray: absorbed (UA.js)
      case 'BYE': return this.send(buildReply(request, 481));
      case 'NOTIFY': return this.send(buildReply(request, 200));
      default: return this.send(buildReply(request, 405));
    }
  }

  #onDisconnect(code: number, reason: string): void {
    this.#failTransactions(`WebSocket closed (${code})`);
    for (const call of [...this.#calls.values()]) call.destroy('system', 'transport closed');
    this.#disconnected.resolve();
    this.emit('disconnected', code, reason);
  }

  #failTransactions(why: string): void {
    for (const [key, transaction] of this.#transactions) {
      if (transaction.method === 'INVITE') continue; // its call ends with the phone
      this.#transactions.delete(key);
      transaction.fail?.(new TestPhoneError('PHONE_CLOSED', `${transaction.method}: ${why}`));
    }
  }
}

export { TestPhoneError } from './phone-errors.ts';
export type { Registration } from './registrator.ts';
export type { IncomingCall } from './incoming-call.ts';
export type { OutgoingCall, CallOptions } from './outgoing-call.ts';
export type { TestCall, CallEnd, CallState, EndedBy } from './test-call.ts';
