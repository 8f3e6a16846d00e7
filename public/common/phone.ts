/**
 * The SIP user agent of the page: one JsSIP UA over one WebSocket (RFC 7118), its registration state, and the
 * calls it makes and receives. Owns the UA; stop() tears it down and ends any call.
 */
import { UA, WebSocketInterface, Utils } from 'jssip';
import type { RTCSessionEvent } from 'jssip/lib/UA';
import { Emitter } from './emitter.ts';
import { Call } from './call.ts';
import { connectionLost, registrationFailure, SoftphoneError, unreachable, type Failure } from './failure.ts';
import { dialTarget } from './target.ts';
import type { RegistrationState } from './states.ts';

export type { RegistrationState };

export interface PhoneConfig {
  /** ws:// or wss:// URL of the gateway's SIP WebSocket. */
  readonly server: string;
  readonly user: string;
  readonly domain: string;
  readonly password?: string;
  /** Bearer token, sent as `Authorization: Bearer <token>` on every request instead of digest auth. */
  readonly token?: string;
  readonly displayName?: string;
  readonly register: boolean;
  readonly pcConfig: RTCConfiguration;
  readonly userAgent: string;
}

export interface PhoneEvents {
  [event: string]: unknown[];
  registration: [state: RegistrationState, failure: Failure | null];
  incoming: [call: Call];
}

export function validateServerUrl(server: string): Failure | null {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return { code: 'invalid-settings', message: `"${server}" is not a valid URL. Use ws://host:port/sip or wss://host/sip.` };
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    return { code: 'invalid-settings', message: 'The server address must start with ws:// or wss://.' };
  }
  return null;
}

export class Phone extends Emitter<PhoneEvents> {
  readonly config: PhoneConfig;
  #ua: UA | null = null;
  #state: RegistrationState = 'signed-out';
  #failure: Failure | null = null;
  #everConnected = false;
  #calls = new Set<Call>();

  constructor(config: PhoneConfig) {
    super();
    this.config = config;
  }

  get state(): RegistrationState {
    return this.#state;
  }
  get failure(): Failure | null {
    return this.#failure;
  }
  /** Whether calls can be placed now. */
  get ready(): boolean {
    return this.#state === 'registered' || this.#state === 'connected';
  }
  get aor(): string {
    return `sip:${this.config.user}@${this.config.domain}`;
  }

  start(): void {
    if (this.#ua) return;
    const invalid = validateServerUrl(this.config.server);
    if (invalid) throw new SoftphoneError(invalid);
    const { config } = this;
    const ua = new UA({
      sockets: [new WebSocketInterface(config.server)],
      uri: `sip:${Utils.escapeUser(config.user)}@${config.domain}`,
      ...(config.password ? { password: config.password } : {}),
      ...(config.token ? { authorization_jwt: `Bearer ${config.token}` } : {}),
      ...(config.displayName ? { display_name: config.displayName } : {}),
      register: config.register,
      register_expires: 300,
      session_timers: true,
      user_agent: config.userAgent,
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
    });
    this.#ua = ua;
    ua.on('connecting', () => {
      if (this.#ua === ua) this.#set(this.#everConnected ? 'reconnecting' : 'connecting', this.#failure);
    });
    ua.on('connected', () => {
      if (this.#ua !== ua) return;
      this.#everConnected = true;
      this.#set(config.register ? 'registering' : 'connected', null);
    });
    ua.on('disconnected', (e) => {
      if (this.#ua !== ua) return;
      if (!this.#everConnected) {
        // First contact failed: say so and stop, rather than retry forever behind a spinner.
        this.#shutdown('failed', unreachable(config.server, e.code, e.reason));
        return;
      }
      this.#set('reconnecting', connectionLost(config.server));
    });
    ua.on('registered', () => {
      if (this.#ua === ua) this.#set('registered', null);
    });
    ua.on('unregistered', () => {
      if (this.#ua === ua && this.#state === 'registered') this.#set('registering', null);
    });
    ua.on('registrationFailed', (e) => {
      if (this.#ua !== ua) return;
      this.#shutdown('failed', registrationFailure(String(e.cause ?? ''), e.response, config.server));
    });
    ua.on('newRTCSession', (e: RTCSessionEvent) => {
      if ((e.originator as string) !== 'remote') return;
      const call = new Call(e.session, 'incoming', null);
      this.#track(call);
      this.emit('incoming', call);
    });
    this.#set('connecting', null);
    ua.start();
  }

  /** Start a call. Takes ownership of `microphone`: the call stops it when it ends. */
  call(input: string, microphone: MediaStream): Call {
    const ua = this.#ua;
    if (!ua || !this.ready) {
      throw new SoftphoneError({ code: 'not-registered', message: 'Not signed in to the gateway yet.' });
    }
    const target = dialTarget(input);
    if (!target.ok) throw new SoftphoneError({ code: 'invalid-settings', message: target.reason });
    const session = ua.call(target.target, {
      mediaStream: microphone,
      mediaConstraints: { audio: true, video: false },
      pcConfig: this.config.pcConfig,
      rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false } as RTCOfferOptions,
    });
    const call = new Call(session, 'outgoing', microphone);
    this.#track(call);
    return call;
  }

  /** Resolves once calls can be placed; rejects with the Failure if the phone fails or stops first. */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const off = this.on('registration', (state, failure) => {
        if (this.ready) {
          off();
          resolve();
        } else if (state === 'failed' || state === 'signed-out') {
          off();
          reject(new SoftphoneError(failure ?? { code: 'unreachable', message: 'The connection to the gateway closed.' }));
        }
      });
    });
  }

  get calls(): ReadonlySet<Call> {
    return this.#calls;
  }

  /** Unregister, end calls and close the WebSocket. Idempotent. */
  stop(): void {
    this.#shutdown('signed-out', null);
  }

  #track(call: Call): void {
    this.#calls.add(call);
    call.on('ended', () => this.#calls.delete(call));
  }

  #shutdown(state: RegistrationState, failure: Failure | null): void {
    const ua = this.#ua;
    this.#ua = null;
    if (ua) {
      for (const call of [...this.#calls]) call.hangup();
      try {
        ua.stop();
      } catch (error) {
        console.warn('UA stop failed', error);
      }
    }
    this.#set(state, failure);
  }

  #set(state: RegistrationState, failure: Failure | null): void {
    if (this.#state === state && this.#failure === failure) return;
    this.#state = state;
    this.#failure = failure;
    this.emit('registration', state, failure);
  }
}
