/**
 * The softphone controller: owns the Phone (SIP UA) and the current Call, and keeps the views in step.
 * Views know the DOM; this file knows what each user action means.
 */
import { stopStream, type Call, type CallEnd } from '../common/call.ts';
import type { CallStatsSample } from '../common/call-stats.ts';
import { shortFailure, SoftphoneError, type Failure } from '../common/failure.ts';
import { openMicrophone, peerConnectionConfig } from '../common/media.ts';
import { Phone, validateServerUrl } from '../common/phone.ts';
import type { CallState, RegistrationState } from '../common/states.ts';
import { dialTarget } from '../common/target.ts';
import { Tones } from '../common/tones.ts';
import { CallView } from './call-view.ts';
import { DevicePicker } from './devices.ts';
import { Dialer, type DialerMode } from './dialer.ts';
import { byId } from './dom.ts';
import { addToHistory, callOutcome, clearHistory, loadHistory, type CallOutcome, type CallRecord } from './history.ts';
import { callInfoOf, type HookCallInfo, type SoftphoneHook } from './hook.ts';
import { RecentView } from './recent-view.ts';
import { loadSettings, parseIceServers, saveSettings, sipDomain, type Settings, type StorageLike } from './settings.ts';
import { SignInView } from './signin-view.ts';
import { StatusView } from './status-view.ts';

const USER_AGENT = 'webrtc-sip-gateway softphone (JsSIP)';

export class SoftphoneApp implements SoftphoneHook {
  readonly #storage: StorageLike;
  readonly #tones = new Tones();
  readonly #audio = byId('remote-audio', HTMLAudioElement);
  readonly #phoneView = byId('phone-view', HTMLElement);
  readonly #signOut = byId('signout-button', HTMLButtonElement);
  readonly #accountLine = byId('account-line', HTMLParagraphElement);
  readonly #status = new StatusView();
  readonly #signIn: SignInView;
  readonly #dialer: Dialer;
  readonly #callView: CallView;
  readonly #recent: RecentView;
  readonly #devices: DevicePicker;
  #settings: Settings;
  #phone: Phone | null = null;
  #call: Call | null = null;
  #lastError: Failure | null = null;
  #lastCall: CallRecord | null = null;
  #registration: RegistrationState = 'signed-out';
  #title = document.title;

  constructor(storage: StorageLike) {
    this.#storage = storage;
    this.#settings = loadSettings(storage, location);
    this.#signIn = new SignInView(() => this.signIn());
    this.#signIn.fill(this.#settings, location.hostname);
    this.#dialer = new Dialer({
      onKey: (key, mode) => this.#onKey(key, mode),
      onEnter: () => this.#onEnter(),
      onEscape: () => this.#onEscape(),
    });
    this.#callView = new CallView({
      onCall: () => void this.dial(this.#dialer.value),
      onAccept: () => void this.accept(),
      onReject: () => this.#call?.hangup(603),
      onHangup: () => this.#call?.hangup(),
      onMute: (muted) => this.#call?.setMuted(muted),
      onHold: (held) => void this.#hold(held),
      onKeypad: (open) => (this.#dialer.keypadOpen = open),
    });
    this.#recent = new RecentView(
      (target) => {
        this.#dialer.value = target;
        void this.dial(target);
      },
      () => {
        clearHistory(this.#storage);
        this.#recent.render([]);
      },
    );
    this.#recent.render(loadHistory(storage));
    this.#devices = new DevicePicker(this.#audio, this.#settings.microphoneId, this.#settings.speakerId, {
      onMicrophone: (id) => void this.#switchMicrophone(id),
      onSpeaker: (id) => {
        this.#save({ ...this.#settings, speakerId: id });
        void this.#tones.setSinkId(id);
      },
    });
    if (this.#settings.speakerId) void this.#tones.setSinkId(this.#settings.speakerId);
    document.querySelectorAll<HTMLButtonElement>('button[data-dial]').forEach((button) => {
      button.addEventListener('click', () => {
        this.#dialer.value = button.dataset['dial'] ?? '';
        void this.dial(this.#dialer.value);
      });
    });
    this.#signOut.addEventListener('click', () => this.signOut());
    // Leaving the page ends calls and unregisters instead of leaving a ghost registration for 5 minutes.
    addEventListener('pagehide', () => this.#phone?.stop());
    this.#callView.showIdle();
    this.#showRegistration('signed-out', null);
  }

  // ---- SoftphoneHook ----
  get registration(): RegistrationState {
    return this.#registration;
  }
  get call(): CallState | 'idle' {
    return this.#call?.state ?? 'idle';
  }
  get callInfo(): HookCallInfo | null {
    return this.#call ? callInfoOf(this.#call) : null;
  }
  get lastError(): Failure | null {
    return this.#lastError;
  }
  get lastCall(): CallRecord | null {
    return this.#lastCall;
  }
  get micLevel(): number {
    return this.#call ? this.#callView.micLevel : 0;
  }
  get tone(): string | null {
    return this.#tones.playing;
  }
  getStats(): Promise<CallStatsSample | null> {
    return this.#call?.getStats() ?? Promise.resolve(null);
  }

  // ---- actions ----
  signIn(): void {
    const settings = this.#signIn.read(this.#settings);
    const invalid = validateServerUrl(settings.server);
    if (invalid) return this.#fail(invalid, () => this.#signIn.focus('server'));
    if (!settings.user) {
      return this.#fail({ code: 'invalid-settings', message: 'Enter your user name.' }, () => this.#signIn.focus('user'));
    }
    const ice = parseIceServers(settings.iceServers);
    if (!ice.ok) return this.#fail({ code: 'invalid-settings', message: ice.reason });
    this.#save(settings);
    this.#tones.unlock();
    const previous = this.#phone;
    this.#phone = null;
    previous?.stop();
    this.#lastError = null;
    this.#status.clearAlert();
    const phone = new Phone({
      server: settings.server,
      user: settings.user,
      domain: sipDomain(settings, location),
      password: settings.password,
      displayName: settings.displayName,
      register: true,
      pcConfig: peerConnectionConfig(ice.servers as RTCIceServer[]),
      userAgent: USER_AGENT,
    });
    this.#phone = phone;
    phone.on('registration', (state, failure) => {
      if (this.#phone === phone) this.#onRegistration(phone, state, failure);
    });
    phone.on('incoming', (call) => this.#onIncoming(call));
    this.#signIn.setBusy(true);
    try {
      phone.start();
    } catch (error) {
      this.#phone = null;
      this.#signIn.setBusy(false);
      this.#fail(asFailure(error));
    }
  }

  signOut(): void {
    const phone = this.#phone;
    this.#phone = null;
    phone?.stop();
    if (!this.#settings.rememberPassword) this.#settings = { ...this.#settings, password: '' };
    this.#signIn.fill(this.#settings, location.hostname);
    this.#showRegistration('signed-out', null);
    this.#status.clearAlert();
  }

  async dial(input: string): Promise<void> {
    const phone = this.#phone;
    if (this.#call) return;
    if (!phone?.ready) {
      return this.#fail({ code: 'not-registered', message: 'Not registered with the gateway yet; wait for "Registered" or sign in again.' });
    }
    const target = dialTarget(input);
    if (!target.ok) return this.#fail({ code: 'invalid-settings', message: target.reason });
    this.#tones.unlock();
    this.#lastError = null;
    this.#status.clearAlert();
    let microphone: MediaStream;
    try {
      microphone = await openMicrophone(this.#settings.microphoneId);
    } catch (error) {
      return this.#fail(asFailure(error));
    }
    if (this.#call || this.#phone !== phone) {
      stopStream(microphone);
      return;
    }
    try {
      this.#attach(phone.call(input, microphone));
    } catch (error) {
      stopStream(microphone);
      this.#fail(asFailure(error));
    }
  }

  async accept(): Promise<void> {
    const call = this.#call;
    if (!call || call.state !== 'incoming') return;
    this.#tones.stop();
    let microphone: MediaStream;
    try {
      microphone = await openMicrophone(this.#settings.microphoneId);
    } catch (error) {
      // 480 tells the caller we could not take it, rather than that we declined.
      call.hangup(480);
      return this.#fail(asFailure(error));
    }
    if (call.state !== 'incoming') {
      stopStream(microphone);
      return;
    }
    call.answer(microphone, this.#phone?.config.pcConfig ?? peerConnectionConfig([]));
  }

  // ---- events ----
  #onRegistration(phone: Phone, state: RegistrationState, failure: Failure | null): void {
    this.#showRegistration(state, failure);
    if (state === 'registered') {
      this.#signIn.setBusy(false);
      this.#status.clearAlert();
      this.#showPhone(true);
      this.#accountLine.textContent = `Signed in as ${phone.aor.replace(/^sip:/, '')} via ${phone.config.server}`;
      void this.#devices.refresh();
      if (matchMedia('(pointer: fine)').matches && !this.#call) this.#dialer.input.focus();
    } else if (state === 'reconnecting' && failure) {
      this.#status.showAlert(failure.message, 'info');
    } else if (state === 'failed') {
      this.#phone = null;
      this.#signIn.setBusy(false);
      this.#showPhone(false);
      this.#fail(failure ?? { code: 'sip-error', message: 'Sign-in failed.' }, () => {
        this.#signIn.focus(failure?.code === 'wrong-password' ? 'password' : 'server');
      });
    }
  }

  #onIncoming(call: Call): void {
    if (this.#call) {
      // One call at a time: 486 Busy Here (RFC 3261 §21.4.24).
      call.hangup(486);
      this.#record(call, 'missed', 'You were on another call');
      return;
    }
    this.#attach(call);
    document.title = `Incoming call from ${call.peer}`;
  }

  #attach(call: Call): void {
    this.#call = call;
    this.#callView.show(call);
    this.#dialer.mode = 'off';
    this.#dialer.keypadOpen = false;
    this.#onCallState(call);
    call.on('state', () => this.#onCallState(call));
    call.on('hold', () => this.#callView.update());
    call.on('mute', () => this.#callView.update());
    call.on('dtmf', () => this.#callView.update());
    call.on('remoteStream', (stream) => {
      this.#audio.srcObject = stream;
      void this.#devices.applySpeaker();
      void this.#audio.play().catch((error: unknown) => console.warn('remote audio did not start', error));
    });
    call.on('ended', (end) => this.#onCallEnded(call, end));
  }

  #onCallState(call: Call): void {
    if (call !== this.#call) return;
    switch (call.state) {
      case 'incoming':
        this.#tones.ring();
        break;
      case 'ringing':
        if (call.earlyMedia) this.#tones.stop();
        else this.#tones.ringback();
        break;
      case 'active':
        this.#tones.stop();
        document.title = this.#title;
        this.#dialer.mode = 'dtmf';
        this.#callView.meter(call.localStream);
        void this.#devices.refresh();
        break;
      default:
        this.#tones.stop();
    }
    this.#callView.update();
  }

  #onCallEnded(call: Call, end: CallEnd): void {
    if (call !== this.#call) return;
    this.#call = null;
    this.#tones.stop();
    document.title = this.#title;
    this.#audio.srcObject = null;
    this.#callView.showIdle();
    this.#dialer.mode = this.#phone?.ready ? 'dial' : 'off';
    this.#dialer.value = '';
    const outcome = callOutcome(call.direction, end.answered, end.originator === 'local', end.failure !== null);
    this.#record(call, outcome, end.failure ? shortFailure(end.failure) : undefined);
    if (end.failure) this.#fail(end.failure);
  }

  #onKey(key: string, mode: DialerMode): void {
    if (mode === 'dtmf') this.#call?.sendDtmf(key, this.#settings.dtmfMode);
    this.#tones.dtmf(key);
  }

  #onEnter(): void {
    if (!this.#phone) return;
    if (this.#call?.state === 'incoming') void this.accept();
    else if (!this.#call) void this.dial(this.#dialer.value);
  }

  #onEscape(): void {
    if (this.#call) this.#call.hangup(603);
    else this.#status.clearAlert();
  }

  async #hold(held: boolean): Promise<void> {
    const call = this.#call;
    if (!call) return;
    const done = await call.setHeld(held);
    if (!done && call === this.#call) {
      this.#status.showAlert(held ? 'The call cannot be put on hold right now.' : 'The call cannot be resumed right now.');
    }
    this.#callView.update();
  }

  async #switchMicrophone(id: string): Promise<void> {
    this.#save({ ...this.#settings, microphoneId: id });
    const call = this.#call;
    if (!call || call.state !== 'active') return;
    try {
      const stream = await openMicrophone(id);
      await call.replaceMicrophone(stream);
      this.#callView.meter(call.localStream);
    } catch (error) {
      this.#fail(asFailure(error));
    }
  }

  // ---- helpers ----
  #record(call: Call, outcome: CallOutcome, detail?: string): void {
    const record: CallRecord = {
      peer: call.peer,
      target: call.peerTarget,
      direction: call.direction,
      outcome,
      startedAt: call.startedAt,
      durationSec: Math.round(call.durationSec),
      ...(detail ? { detail } : {}),
    };
    this.#lastCall = record;
    this.#recent.render(addToHistory(this.#storage, record));
  }

  #fail(failure: Failure, then?: () => void): void {
    this.#lastError = failure;
    this.#status.showAlert(failure.message);
    then?.();
  }

  #save(settings: Settings): void {
    this.#settings = settings;
    saveSettings(this.#storage, settings);
  }

  #showRegistration(state: RegistrationState, failure: Failure | null): void {
    this.#registration = state;
    this.#status.showRegistration(state, this.#phone?.aor ?? null, failure);
    this.#signOut.hidden = state === 'signed-out' || state === 'failed';
    if (state === 'signed-out') this.#showPhone(false);
  }

  #showPhone(visible: boolean): void {
    this.#phoneView.hidden = !visible;
    this.#signIn.visible = !visible;
    // During a call the call decides the keypad's meaning.
    if (!this.#call) this.#dialer.mode = visible ? 'dial' : 'off';
  }
}

function asFailure(error: unknown): Failure {
  if (error instanceof SoftphoneError) return error.failure;
  return { code: 'sip-error', message: error instanceof Error ? error.message : String(error) };
}
