/**
 * One click-to-call button: connects (without registering), calls a fixed destination, offers mute and
 * hang-up, and disconnects when the call ends. Lives in a shadow root; its state is mirrored on the host
 * element's `data-state` (idle | connecting | calling | ringing | active | failed) for the embedding page.
 */
import { stopStream, type Call } from '../common/call.ts';
import { SoftphoneError, type Failure } from '../common/failure.ts';
import { openMicrophone, peerConnectionConfig } from '../common/media.ts';
import { Phone } from '../common/phone.ts';
import { formatDuration } from '../common/target.ts';
import { Tones } from '../common/tones.ts';
import { WIDGET_CSS } from './style.ts';

export interface WidgetConfig {
  /** ws(s):// URL of the gateway's SIP WebSocket. */
  readonly gateway: string;
  readonly user: string;
  readonly domain: string;
  readonly password?: string;
  readonly token?: string;
  readonly displayName?: string;
  /** What to dial: a user, service (echo), number or SIP URI. */
  readonly target: string;
  /** Button text. */
  readonly label: string;
}

export type WidgetState = 'idle' | 'connecting' | 'calling' | 'ringing' | 'active' | 'failed';

const PHONE_ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true" class="fill"><path d="M22 16.92v3a2 2 0 0 1-2.18 2 19.79 19.79 0 0 1-8.63-3.07 19.5 19.5 0 0 1-6-6 19.79 19.79 0 0 1-3.07-8.67A2 2 0 0 1 4.11 2h3a2 2 0 0 1 2 1.72c.13.96.36 1.9.7 2.81a2 2 0 0 1-.45 2.11L8.09 9.91a16 16 0 0 0 6 6l1.27-1.27a2 2 0 0 1 2.11-.45c.91.34 1.85.57 2.81.7A2 2 0 0 1 22 16.92z"/></svg>';
const HANGUP_ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true" class="fill"><path d="M3.6 14.9l-1.3-1.3a1.6 1.6 0 0 1 .07-2.33C5.05 8.9 8.45 7.7 12 7.7s6.95 1.2 9.63 3.57a1.6 1.6 0 0 1 .07 2.33l-1.3 1.3a1.6 1.6 0 0 1-2.05.18 9.9 9.9 0 0 0-1.93-1.03 1.6 1.6 0 0 1-1-1.48v-1.7a14 14 0 0 0-6.84 0v1.7a1.6 1.6 0 0 1-1 1.48c-.68.27-1.33.62-1.93 1.03a1.6 1.6 0 0 1-2.05-.18z"/></svg>';
const MIC_ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true" class="line"><path d="M12 2a3 3 0 0 0-3 3v7a3 3 0 0 0 6 0V5a3 3 0 0 0-3-3z"/><path d="M19 10v2a7 7 0 0 1-14 0v-2"/><path d="M12 19v3"/></svg>';

export class ClickToCall {
  readonly host: HTMLElement;
  readonly #config: WidgetConfig;
  readonly #tones = new Tones();
  readonly #box: HTMLDivElement;
  readonly #callButton: HTMLButtonElement;
  readonly #info: HTMLDivElement;
  readonly #stateText: HTMLSpanElement;
  readonly #mute: HTMLButtonElement;
  readonly #hangup: HTMLButtonElement;
  readonly #error: HTMLSpanElement;
  readonly #audio: HTMLAudioElement;
  #phone: Phone | null = null;
  #call: Call | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(host: HTMLElement, config: WidgetConfig) {
    this.host = host;
    this.#config = config;
    const root = host.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>${WIDGET_CSS}</style>
      <div class="box idle" part="box">
        <button class="call" type="button" part="call-button">${PHONE_ICON}<span class="label"></span></button>
        <div class="info" hidden><span class="who"></span><span class="state" aria-live="polite"></span></div>
        <button class="round mute" type="button" aria-label="Mute" aria-pressed="false" hidden>${MIC_ICON}</button>
        <button class="round hangup" type="button" aria-label="Hang up" hidden>${HANGUP_ICON}</button>
      </div>
      <span class="error" role="alert" hidden></span>
      <audio autoplay></audio>`;
    const q = <T extends Element>(selector: string): T => root.querySelector<T>(selector)!;
    this.#box = q('.box');
    this.#callButton = q('.call');
    this.#info = q('.info');
    this.#stateText = q('.state');
    this.#mute = q('.mute');
    this.#hangup = q('.hangup');
    this.#error = q('.error');
    this.#audio = q('audio');
    q<HTMLSpanElement>('.label').textContent = config.label;
    q<HTMLSpanElement>('.who').textContent = config.label;
    this.#callButton.setAttribute('aria-label', config.label);
    this.#callButton.addEventListener('click', () => void this.start());
    this.#hangup.addEventListener('click', () => this.hangup());
    this.#mute.addEventListener('click', () => {
      const call = this.#call;
      if (call) call.setMuted(!call.muted);
    });
    this.#render('idle');
  }

  get state(): WidgetState {
    return (this.host.dataset['state'] as WidgetState | undefined) ?? 'idle';
  }

  async start(): Promise<void> {
    if (this.#phone) return;
    this.#tones.unlock();
    this.#showError(null);
    const config = this.#config;
    const phone = new Phone({
      server: config.gateway,
      user: config.user,
      domain: config.domain,
      ...(config.password ? { password: config.password } : {}),
      ...(config.token ? { token: config.token } : {}),
      ...(config.displayName ? { displayName: config.displayName } : {}),
      register: false,
      pcConfig: peerConnectionConfig([]),
      userAgent: 'webrtc-sip-gateway click-to-call (JsSIP)',
    });
    this.#phone = phone;
    this.#render('connecting');
    // Ask for the microphone while the WebSocket opens: both must succeed before the INVITE.
    const microphone = openMicrophone();
    try {
      phone.start();
      const [stream] = await Promise.all([microphone, phone.whenReady()]);
      if (this.#phone !== phone) {
        stopStream(stream);
        return;
      }
      this.#watch(phone.call(config.target, stream));
    } catch (error) {
      microphone.then(stopStream, () => undefined);
      // Hung up while connecting: #finish already ran.
      if (this.#phone !== phone) return;
      this.#finish(error instanceof SoftphoneError ? error.failure : { code: 'sip-error', message: String(error) });
    }
  }

  hangup(): void {
    if (this.#call) this.#call.hangup();
    else this.#finish(null);
  }

  #watch(call: Call): void {
    this.#call = call;
    const update = (): void => {
      if (call.state === 'ringing' && !call.earlyMedia) this.#tones.ringback();
      else this.#tones.stop();
      if (call.state === 'active' && this.#timer === null) {
        this.#timer = setInterval(() => this.#render('active'), 1000);
      }
      this.#render(call.state === 'ended' ? 'idle' : call.state === 'ringing' ? 'ringing' : call.state === 'active' ? 'active' : 'calling');
    };
    call.on('state', update);
    call.on('mute', update);
    call.on('remoteStream', (stream) => {
      this.#audio.srcObject = stream;
      void this.#audio.play().catch(() => undefined);
    });
    call.on('ended', (end) => this.#finish(end.failure));
    update();
  }

  #finish(failure: Failure | null): void {
    this.#tones.stop();
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#call = null;
    this.#audio.srcObject = null;
    const phone = this.#phone;
    this.#phone = null;
    phone?.stop();
    this.#showError(failure);
    this.#render(failure ? 'failed' : 'idle');
  }

  #showError(failure: Failure | null): void {
    this.#error.hidden = !failure;
    this.#error.textContent = failure?.message ?? '';
    if (failure) this.host.dataset['error'] = failure.code;
    else delete this.host.dataset['error'];
  }

  #render(state: WidgetState): void {
    this.host.dataset['state'] = state;
    const inCall = state === 'connecting' || state === 'calling' || state === 'ringing' || state === 'active';
    this.#box.classList.toggle('idle', !inCall);
    this.#callButton.hidden = inCall;
    this.#callButton.disabled = false;
    this.#info.hidden = !inCall;
    this.#hangup.hidden = !inCall;
    this.#mute.hidden = state !== 'active';
    const call = this.#call;
    this.#mute.setAttribute('aria-pressed', String(call?.muted ?? false));
    const text: Record<WidgetState, string> = {
      idle: '',
      failed: '',
      connecting: 'Connecting…',
      calling: 'Calling…',
      ringing: 'Ringing…',
      active: `${call?.muted ? 'Muted · ' : ''}${formatDuration(call?.durationSec ?? 0)}`,
    };
    this.#stateText.textContent = text[state];
  }
}
