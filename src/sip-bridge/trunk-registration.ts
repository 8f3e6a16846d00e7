/**
 * Registering the gateway with a trunk that wants it (RFC 3261 §10.2): REGISTER with digest auth on 401/407,
 * refresh before expiry, exponential back-off on failure, state changes logged (one JSON line each) so an
 * operator can see at a glance whether inbound calls can reach them.
 */
import { randomBytes } from 'node:crypto';
import type { SipStack } from '../signaling/sip-stack.ts';
import { createRequest, type SipRequest, type SipResponse } from '../signaling/message.ts';
import { expires as expiresHeader, contacts } from '../signaling/header-accessors.ts';
import { DigestClient, selectChallenge } from '../signaling/auth/digest-client.ts';
import type { Channel, TransportProtocol } from '../signaling/transport.ts';
import type { TrunkConfig } from '../config/schema.ts';
import { contactForChannel } from '../signaling/transports/contact-address.ts';
import type { SentBy } from '../signaling/transports/channels.ts';
import { logger } from '../log.ts';

export type TrunkRegistrationState = 'idle' | 'registering' | 'registered' | 'failed' | 'closed';

const MIN_RETRY_MS = 5_000;
const MAX_RETRY_MS = 300_000;

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export class TrunkRegistration {
  readonly trunk: TrunkConfig;
  readonly #stack: SipStack;
  readonly #callId: string;
  readonly #fromTag = randomBytes(6).toString('hex');
  readonly #digest: DigestClient;
  readonly #log;
  #cseq = 0;
  #state: TrunkRegistrationState = 'idle';
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #expiresAt = 0;
  #lastReason = '';

  constructor(stack: SipStack, trunk: TrunkConfig) {
    this.#stack = stack;
    this.trunk = trunk;
    this.#callId = `${randomBytes(12).toString('hex')}@gateway`;
    this.#digest = new DigestClient({
      username: trunk.authUsername ?? trunk.username ?? '',
      password: trunk.password ?? '',
      ...(trunk.realm === undefined ? {} : { realm: trunk.realm }),
    });
    this.#log = logger.child({ module: 'trunk-registration', trunk: trunk.name, callId: this.#callId });
  }

  get state(): TrunkRegistrationState {
    return this.#state;
  }

  get expiresAt(): number {
    return this.#expiresAt;
  }

  get lastReason(): string {
    return this.#lastReason;
  }

  start(): void {
    if (this.#state !== 'idle') return;
    void this.#register(this.trunk.register.expires);
  }

  /** Stops refreshing and removes the binding: best effort, a shutdown waits at most `waitMs` for the trunk. */
  async close(waitMs = 2000): Promise<void> {
    if (this.#state === 'closed') return;
    const wasRegistered = this.#state === 'registered';
    this.#setState('closed', 'shutdown');
    clearTimeout(this.#timer);
    if (!wasRegistered) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#send(0).catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))),
    ]);
    clearTimeout(timer);
  }

  #setState(state: TrunkRegistrationState, reason: string): void {
    if (this.#state === state && this.#lastReason === reason) return;
    this.#state = state;
    this.#lastReason = reason;
    const level = state === 'failed' ? 'warn' : 'info';
    this.#log[level]({ state, reason }, `trunk registration ${state}`);
  }

  async #register(expires: number): Promise<void> {
    if (this.#state === 'closed') return;
    if (this.#state !== 'registered') this.#setState('registering', 'sending REGISTER');
    try {
      const response = await this.#send(expires);
      if (this.#isClosed()) return;
      if (response.status >= 200 && response.status < 300) {
        const granted = this.#grantedExpires(response, expires);
        this.#failures = 0;
        this.#expiresAt = Date.now() + granted * 1000;
        this.#setState('registered', `${response.status} ${response.reason}`);
        // Refresh comfortably before expiry (RFC 3261 §10.2.4 leaves the margin to the UA).
        this.#schedule(Math.max(1000, Math.min(granted * 1000 * 0.85, granted * 1000 - 10_000)), expires);
        return;
      }
      if (response.status === 423) {
        const min = Number(response.headers.get('Min-Expires'));
        if (Number.isFinite(min) && min > expires && min <= 86_400) {
          void this.#register(min);
          return;
        }
      }
      this.#fail(`${response.status} ${response.reason}`, expires);
    } catch (err) {
      if (this.#isClosed()) return;
      this.#fail((err as Error).message, expires);
    }
  }

  /** A method, not a field read, so the check after an await is not narrowed away by the compiler. */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #fail(reason: string, expires: number): void {
    this.#failures++;
    this.#setState('failed', reason);
    const delay = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** Math.min(this.#failures - 1, 10));
    this.#schedule(delay, expires);
  }

  #schedule(ms: number, expires: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#register(expires), ms);
    this.#timer.unref?.();
  }

  #grantedExpires(response: SipResponse, asked: number): number {
    try {
      const list = contacts(response);
      if (list !== '*') {
        const mine = list.find((c) => c.uri.includes(`@`) && c.expires !== undefined);
        if (mine?.expires !== undefined) return mine.expires;
      }
      return expiresHeader(response) ?? asked;
    } catch {
      return asked;
    }
  }

  #protocol(): TransportProtocol {
    return this.trunk.transport === 'udp' ? 'UDP' : this.trunk.transport === 'tcp' ? 'TCP' : 'TLS';
  }

  #build(local: SentBy, expires: number): SipRequest {
    const t = this.trunk;
    const domain = t.fromDomain ?? t.realm ?? t.host;
    const user = t.username ?? 'gateway';
    const transport = this.trunk.transport === 'udp' ? '' : `;transport=${this.trunk.transport}`;
    return createRequest('REGISTER', `sip:${formatHost(t.host)}${t.port === 5060 ? '' : `:${t.port}`}`, [
      ['Max-Forwards', '70'],
      ['From', `<sip:${user}@${formatHost(domain)}>;tag=${this.#fromTag}`],
      ['To', `<sip:${user}@${formatHost(domain)}>`],
      ['Call-ID', this.#callId],
      ['CSeq', `${++this.#cseq} REGISTER`],
      ['Contact', `<sip:${user}@${formatHost(local.host)}:${local.port}${transport}>`],
      ['Expires', String(expires)],
      ['User-Agent', 'webrtc-sip-gateway'],
    ]);
  }

  /** One REGISTER transaction, answering one digest challenge. Resolves with the final response. */
  async #send(expires: number): Promise<SipResponse> {
    const channel = await this.#stack.channelFor({ protocol: this.#protocol(), host: this.trunk.host, port: this.trunk.port, tlsVerify: this.trunk.tlsVerify });
    // RFC 3261 §10.2.1: the Contact is where requests for the binding go — the listener's advertised or bound
    // address, or for a wildcard listener the address we reach the trunk from (contact-address.ts).
    const local = await contactForChannel(this.#stack.listeners, channel);
    let request = this.#build(local, expires);
    let response = await this.#transact(request, channel);
    if ((response.status === 401 || response.status === 407) && this.trunk.password !== undefined) {
      const header = response.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
      const challenge = selectChallenge(response.headers.getAll(header), this.trunk.realm);
      if (challenge) {
        request = this.#build(local, expires);
        request.headers.append(response.status === 401 ? 'Authorization' : 'Proxy-Authorization', this.#digest.authorize(challenge, 'REGISTER', request.uri));
        response = await this.#transact(request, channel);
      }
    }
    return response;
  }

  #transact(request: SipRequest, channel: Channel): Promise<SipResponse> {
    return new Promise((resolve, reject) => {
      this.#stack.transactions.sendRequest(request, channel, {
        onResponse: (res) => {
          if (res.status >= 200) resolve(res);
        },
        onTimeout: () => reject(new Error('no response from the trunk (timeout)')),
        onTransportError: (err) => reject(err),
      });
    });
  }
}
