/**
 * The load generator's browser signalling: one SIP-over-WebSocket user agent per "phone" (RFC 7118), built from
 * the test phone's pieces (test/support/sip-ws-connection.ts for the socket, jssip-wire.ts for JsSIP's message
 * shapes, sip-dialog.ts for in-dialog requests) and our digest client. It does what JsSIP does for a call:
 *
 *   REGISTER (401 → digest) once; per call INVITE → 407 → ACK (§17.1.1.3) → INVITE with Proxy-Authorization →
 *   100 → 200 (the answer) → ACK (§13.2.2.4, new branch) … BYE → 200.
 *
 * Session timers are off (JsSIP's `sessionTimers: false`): the benchmark holds calls for minutes and does not
 * measure re-INVITE refreshes. Requests the gateway sends inside a call are answered 200 (a BYE ends the call).
 * Timestamps are performance.now() of this process.
 */
import type { SipMessage, SipRequest, SipResponse } from '../../src/signaling/message.ts';
import { callId as callIdOf, contacts, cseq as cseqOf } from '../../src/signaling/header-accessors.ts';
import { DigestClient, selectChallenge } from '../../src/signaling/auth/digest-client.ts';
import { SipWsConnection } from '../../test/support/sip-ws-connection.ts';
import { SipDialog } from '../../test/support/sip-dialog.ts';
import { buildReply, buildRequest, newBranch, newTag, newUuid, randomToken } from '../../test/support/jssip-wire.ts';

const USER_AGENT = 'bench-load JsSIP-shaped';
const TRANSACTION_TIMEOUT_MS = 32_000;

export interface CallTimes {
  /** First (unauthenticated) INVITE sent. */
  inviteAt: number;
  /** 407 received. */
  challengedAt: number;
  /** INVITE with credentials sent. */
  authInviteAt: number;
  /** 200 received (the answer). */
  answeredAt: number;
}

export interface PhoneCallEvents {
  /** 2xx with the gateway's SDP answer (ACK already sent). */
  onAnswer(sdp: string, times: CallTimes): void;
  /** A final non-2xx (after the challenge), a timeout (status 0) or a closed transport (status -1). */
  onFail(status: number, reason: string): void;
  /** The gateway ended the call (BYE, or the WebSocket closed). */
  onRemoteEnd(why: string): void;
}

export class PhoneCall {
  readonly callId = randomToken(22);
  readonly localTag = newTag();
  readonly times: CallTimes = { inviteAt: 0, challengedAt: 0, authInviteAt: 0, answeredAt: 0 };
  state: 'inviting' | 'confirmed' | 'ending' | 'ended' = 'inviting';
  dialog: SipDialog | undefined;
  invite: SipRequest | undefined;
  readonly events: PhoneCallEvents;
  readonly target: string;
  readonly offer: string;
  challenged = false;
  timer: NodeJS.Timeout | undefined;
  byeDone: (() => void) | undefined;

  constructor(target: string, offer: string, events: PhoneCallEvents) {
    this.target = target;
    this.offer = offer;
    this.events = events;
  }
}

export class Phone {
  readonly user: string;
  readonly #domain: string;
  readonly #password: string;
  readonly #conn: SipWsConnection;
  readonly #viaHost = `${randomToken(12)}.invalid`;
  readonly #contactUri: string;
  readonly #instance = newUuid();
  readonly #digest: DigestClient;
  readonly #calls = new Map<string, PhoneCall>();
  #registerWaiter: { callId: string; resolve: (r: SipResponse) => void } | undefined;
  /** Requests the gateway sent inside calls other than BYE (answered 200), and responses nobody waited for. */
  unexpected = 0;

  private constructor(conn: SipWsConnection, user: string, domain: string, password: string) {
    this.#conn = conn;
    this.user = user;
    this.#domain = domain;
    this.#password = password;
    this.#digest = new DigestClient({ username: user, password });
    this.#contactUri = `sip:${randomToken(8)}@${this.#viaHost};transport=ws`;
    conn.onMessage = (msg) => this.#receive(msg);
    conn.onClose = () => {
      for (const call of [...this.#calls.values()]) this.#closeCall(call, 'WebSocket closed');
    };
  }

  static async connect(url: string, user: string, domain: string, password: string): Promise<Phone> {
    const conn = await SipWsConnection.connect({ url, connectTimeoutMs: 10_000, traceLimit: 4 });
    return new Phone(conn, user, domain, password);
  }

  get activeCalls(): number {
    return this.#calls.size;
  }

  #via(): string {
    return `SIP/2.0/WS ${this.#viaHost};branch=${newBranch()}`;
  }

  #send(msg: SipMessage): boolean {
    try {
      this.#conn.send(msg);
      return true;
    } catch {
      return false;
    }
  }

  /** REGISTER with digest as JsSIP's Registrator does; rejects unless our binding is listed in the 200. */
  async register(): Promise<void> {
    const aor = `sip:${this.user}@${this.#domain}`;
    const callId = randomToken(22);
    const fromTag = newTag();
    let authorization: [string, string] | undefined;
    for (let cseq = 1; cseq <= 2; cseq++) {
      const request = buildRequest({
        method: 'REGISTER', uri: `sip:${this.#domain}`, via: this.#via(), to: `<${aor}>`, from: `<${aor}>;tag=${fromTag}`, callId, cseq,
        headers: [
          ...(authorization ? [authorization] : []),
          ['Contact', `<${this.#contactUri}>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:${this.#instance}>";expires=600`],
          ['Expires', '600'],
        ],
        userAgent: USER_AGENT,
      });
      const response = await new Promise<SipResponse>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`REGISTER ${this.user} timed out`)), 20_000);
        this.#registerWaiter = { callId, resolve: (r) => { clearTimeout(timer); resolve(r); } };
        if (!this.#send(request)) {
          clearTimeout(timer);
          reject(new Error('WebSocket closed'));
        }
      });
      if (response.status === 401) {
        const challenge = selectChallenge(response.headers.getAll('WWW-Authenticate'));
        if (challenge === undefined) throw new Error('401 without a usable digest challenge');
        authorization = ['Authorization', this.#digest.authorize(challenge, 'REGISTER', request.uri)];
        continue;
      }
      if (response.status >= 300) throw new Error(`REGISTER ${this.user}: ${response.status} ${response.reason}`);
      const list = contacts(response);
      if (list === '*' || !list.some((c) => c.uri === this.#contactUri)) throw new Error(`REGISTER ${this.user}: binding not listed`);
      return;
    }
    throw new Error(`REGISTER ${this.user}: challenged twice`);
  }

  /** Starts a call to `number`; events report the outcome. */
  call(number: string, offer: string, events: PhoneCallEvents): PhoneCall {
    const call = new PhoneCall(`sip:${number}@${this.#domain}`, offer, events);
    this.#calls.set(call.callId, call);
    call.timer = setTimeout(() => this.#giveUp(call), TRANSACTION_TIMEOUT_MS);
    call.times.inviteAt = performance.now();
    this.#sendInvite(call, undefined, 1);
    return call;
  }

  #sendInvite(call: PhoneCall, credentials: [string, string] | undefined, cseq: number): void {
    const request = buildRequest({
      method: 'INVITE', uri: call.target, via: this.#via(), to: `<${call.target}>`,
      from: `<sip:${this.user}@${this.#domain}>;tag=${call.localTag}`, callId: call.callId, cseq,
      headers: [...(credentials ? [credentials] : []), ['Contact', `<${this.#contactUri};ob>`], ['Content-Type', 'application/sdp']],
      body: call.offer, userAgent: USER_AGENT,
    });
    call.invite = request;
    if (credentials !== undefined) call.times.authInviteAt = performance.now();
    if (!this.#send(request)) this.#closeCall(call, 'WebSocket closed');
  }

  /** BYE; resolves on its final response (or after 10 s, or at once when the call is not up). */
  hangup(call: PhoneCall): Promise<void> {
    if (call.state !== 'confirmed' || call.dialog === undefined) return Promise.resolve();
    call.state = 'ending';
    const bye = call.dialog.request('BYE', { via: this.#via(), userAgent: USER_AGENT });
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), 10_000);
      const done = (): void => {
        clearTimeout(timer);
        call.state = 'ended';
        this.#calls.delete(call.callId);
        resolve();
      };
      call.byeDone = done;
      if (!this.#send(bye)) done();
    });
  }

  close(): Promise<void> {
    return this.#conn.close(2000);
  }

  #receive(msg: SipMessage): void {
    const id = callIdOf(msg);
    if (msg.type === 'response') {
      if (this.#registerWaiter?.callId === id) {
        if (msg.status >= 200) {
          const w = this.#registerWaiter;
          this.#registerWaiter = undefined;
          w.resolve(msg);
        }
        return;
      }
      const call = this.#calls.get(id);
      if (call === undefined) {
        this.unexpected++;
        return;
      }
      const method = cseqOf(msg).method;
      if (method === 'INVITE') this.#onInviteResponse(call, msg);
      else if (method === 'BYE' && msg.status >= 200) call.byeDone?.();
      return;
    }
    const call = this.#calls.get(id);
    if (msg.method === 'ACK') return;
    if (msg.method === 'BYE') {
      this.#send(buildReply(msg, call === undefined ? 481 : 200));
      if (call !== undefined) this.#closeCall(call, 'BYE from the gateway');
      return;
    }
    this.unexpected++;
    // A re-INVITE would need an SDP answer the light client cannot make; everything else is acknowledged.
    this.#send(buildReply(msg, msg.method === 'INVITE' ? 488 : call === undefined ? 481 : 200));
  }

  #onInviteResponse(call: PhoneCall, res: SipResponse): void {
    const request = call.invite!;
    if (cseqOf(res).seq !== cseqOf(request).seq) return; // late response to the challenged INVITE
    const status = res.status;
    if (status < 200) return;
    if (status >= 300) {
      // §17.1.1.3: the transaction ACKs a non-2xx final response with the INVITE's branch and CSeq number.
      this.#send(buildRequest({
        method: 'ACK', uri: request.uri, via: request.headers.get('via')!, to: res.headers.get('to')!,
        from: request.headers.get('from')!, callId: call.callId, cseq: cseqOf(request).seq, userAgent: USER_AGENT,
      }));
      if ((status === 401 || status === 407) && !call.challenged && call.state === 'inviting') {
        call.challenged = true;
        call.times.challengedAt = performance.now();
        const challenge = selectChallenge(res.headers.getAll(status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate'));
        if (challenge !== undefined) {
          const header = status === 407 ? 'Proxy-Authorization' : 'Authorization';
          this.#sendInvite(call, [header, this.#digest.authorize(challenge, 'INVITE', call.target)], cseqOf(request).seq + 1);
          return;
        }
      }
      if (call.state === 'inviting') this.#failCall(call, status, res.reason);
      return;
    }
    // 2xx
    if (call.state !== 'inviting') {
      // A retransmitted 2xx: ACK again (§13.2.2.4).
      if (call.dialog !== undefined) this.#send(call.dialog.request('ACK', { via: this.#via(), cseq: cseqOf(request).seq, userAgent: USER_AGENT }));
      return;
    }
    call.times.answeredAt = performance.now();
    clearTimeout(call.timer);
    try {
      call.dialog = SipDialog.asUac(request, res);
    } catch (err) {
      this.#failCall(call, 0, (err as Error).message);
      return;
    }
    call.state = 'confirmed';
    this.#send(call.dialog.request('ACK', { via: this.#via(), cseq: cseqOf(request).seq, userAgent: USER_AGENT }));
    call.events.onAnswer(res.body.toString('utf8'), call.times);
  }

  #giveUp(call: PhoneCall): void {
    if (call.state === 'inviting') this.#failCall(call, 0, 'no final response');
  }

  #failCall(call: PhoneCall, status: number, reason: string): void {
    clearTimeout(call.timer);
    call.state = 'ended';
    this.#calls.delete(call.callId);
    call.events.onFail(status, reason);
  }

  #closeCall(call: PhoneCall, why: string): void {
    clearTimeout(call.timer);
    if (call.state === 'inviting') {
      this.#failCall(call, -1, why);
      return;
    }
    const wasUp = call.state === 'confirmed';
    call.state = 'ended';
    this.#calls.delete(call.callId);
    call.byeDone?.();
    if (wasUp) call.events.onRemoteEnd(why);
  }
}

