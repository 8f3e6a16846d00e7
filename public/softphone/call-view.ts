/**
 * The phone card around a call: who, what state, timer, live quality (getStats every second), microphone
 * level, tones sent, and which buttons show (dial / accept-reject / in-call controls).
 */
import type { Call } from '../common/call.ts';
import { callQuality, type CallQuality, type CallStatsSample } from '../common/call-stats.ts';
import { formatDuration } from '../common/target.ts';
import { byId } from './dom.ts';
import { LevelMeter } from './level-meter.ts';

export interface CallControls {
  onCall(): void;
  onAccept(): void;
  onReject(): void;
  onHangup(): void;
  onMute(muted: boolean): void;
  onHold(held: boolean): void;
  onKeypad(open: boolean): void;
}

type CardMode = 'idle' | 'incoming' | 'call';

const STATS_INTERVAL_MS = 1000;

export class CallView {
  readonly #card: HTMLElement;
  readonly #dialer = byId('dialer', HTMLDivElement);
  readonly #panel = byId('call-panel', HTMLDivElement);
  readonly #avatar = byId('call-avatar', HTMLDivElement);
  readonly #peer = byId('call-peer', HTMLHeadingElement);
  readonly #status = byId('call-status', HTMLParagraphElement);
  readonly #timer = byId('call-timer', HTMLParagraphElement);
  readonly #quality = byId('call-quality', HTMLElement);
  readonly #rtt = byId('quality-rtt', HTMLElement);
  readonly #jitter = byId('quality-jitter', HTMLElement);
  readonly #loss = byId('quality-loss', HTMLElement);
  readonly #dtmf = byId('dtmf-sent', HTMLParagraphElement);
  readonly #idleActions = byId('idle-actions', HTMLDivElement);
  readonly #incomingActions = byId('incoming-actions', HTMLDivElement);
  readonly #callActions = byId('call-actions', HTMLDivElement);
  readonly #mute = byId('mute-button', HTMLButtonElement);
  readonly #hold = byId('hold-button', HTMLButtonElement);
  readonly #keypad = byId('keypad-button', HTMLButtonElement);
  readonly #level: LevelMeter;
  #call: Call | null = null;
  #ticker: ReturnType<typeof setInterval> | null = null;
  #previous: CallStatsSample | undefined;
  #polling = false;

  constructor(controls: CallControls) {
    this.#card = this.#dialer.closest<HTMLElement>('.phone-card') ?? document.body;
    this.#level = new LevelMeter(byId('mic-level', HTMLDivElement));
    byId('call-button', HTMLButtonElement).addEventListener('click', () => controls.onCall());
    byId('accept-button', HTMLButtonElement).addEventListener('click', () => controls.onAccept());
    byId('reject-button', HTMLButtonElement).addEventListener('click', () => controls.onReject());
    byId('hangup-button', HTMLButtonElement).addEventListener('click', () => controls.onHangup());
    this.#mute.addEventListener('click', () => controls.onMute(!pressed(this.#mute)));
    this.#hold.addEventListener('click', () => controls.onHold(!pressed(this.#hold)));
    this.#keypad.addEventListener('click', () => {
      const open = !pressed(this.#keypad);
      this.#setKeypad(open);
      controls.onKeypad(open);
    });
  }

  get micLevel(): number {
    return this.#level.level;
  }

  showIdle(): void {
    this.#stopTicker();
    this.#level.stop();
    this.#call = null;
    this.#setMode('idle');
    this.#setKeypad(false);
  }

  show(call: Call): void {
    if (this.#call !== call) {
      this.#call = call;
      this.#previous = undefined;
      this.#peer.textContent = call.peer;
      this.#avatar.textContent = /^[+0-9*#]/.test(call.peer) ? '#' : call.peer.slice(0, 1);
      this.#dtmf.textContent = '';
      this.#setKeypad(false);
      this.#showQuality(null);
    }
    this.update();
  }

  /** Re-render from the call's current state. */
  update(): void {
    const call = this.#call;
    if (!call) return;
    this.#panel.dataset['state'] = call.state;
    this.#setMode(call.state === 'incoming' ? 'incoming' : 'call');
    this.#status.textContent = statusText(call);
    this.#mute.setAttribute('aria-pressed', String(call.muted));
    this.#hold.setAttribute('aria-pressed', String(call.held));
    const active = call.state === 'active';
    this.#mute.disabled = !active;
    this.#hold.disabled = !active;
    this.#keypad.disabled = !active;
    this.#dtmf.textContent = call.dtmfSent;
    if (active) this.#startTicker();
    this.#tick();
  }

  /** Start the microphone meter on the stream the call sends. */
  meter(stream: MediaStream | null): void {
    if (stream) this.#level.start(stream);
    else this.#level.stop();
  }

  #setKeypad(open: boolean): void {
    this.#keypad.setAttribute('aria-pressed', String(open));
    this.#card.dataset['keypad'] = open ? 'open' : 'closed';
  }

  #setMode(mode: CardMode): void {
    this.#card.dataset['mode'] = mode;
    this.#dialer.hidden = mode !== 'idle';
    this.#panel.hidden = mode === 'idle';
    this.#idleActions.hidden = mode !== 'idle';
    this.#incomingActions.hidden = mode !== 'incoming';
    this.#callActions.hidden = mode !== 'call';
  }

  #startTicker(): void {
    if (this.#ticker !== null) return;
    this.#ticker = setInterval(() => {
      this.#tick();
      void this.#poll();
    }, STATS_INTERVAL_MS);
    void this.#poll();
  }

  #stopTicker(): void {
    if (this.#ticker !== null) clearInterval(this.#ticker);
    this.#ticker = null;
    this.#previous = undefined;
  }

  #tick(): void {
    this.#timer.textContent = formatDuration(this.#call?.durationSec ?? 0);
  }

  async #poll(): Promise<void> {
    const call = this.#call;
    if (!call || this.#polling) return;
    this.#polling = true;
    try {
      const sample = await call.getStats();
      if (sample && call === this.#call) {
        this.#showQuality(callQuality(sample, this.#previous));
        this.#previous = sample;
      }
    } catch (error) {
      console.warn('getStats failed', error);
    } finally {
      this.#polling = false;
    }
  }

  #showQuality(quality: CallQuality | null): void {
    this.#quality.dataset['grade'] = quality?.grade ?? 'unknown';
    this.#rtt.textContent = quality?.rttMs == null ? '–' : `${Math.round(quality.rttMs)} ms`;
    this.#jitter.textContent = quality?.jitterMs == null ? '–' : `${quality.jitterMs.toFixed(1)} ms`;
    this.#loss.textContent = quality?.lossPercent == null ? '–' : `${quality.lossPercent.toFixed(1)} %`;
  }
}

function pressed(button: HTMLButtonElement): boolean {
  return button.getAttribute('aria-pressed') === 'true';
}

function statusText(call: Call): string {
  switch (call.state) {
    case 'calling':
      return 'Calling…';
    case 'ringing':
      return 'Ringing…';
    case 'incoming':
      return 'Incoming call';
    case 'answering':
      return 'Connecting…';
    case 'active':
      if (call.held) return 'On hold';
      if (call.remoteHeld) return `${call.peer} put you on hold`;
      return call.muted ? 'Connected · muted' : 'Connected';
    case 'ended':
      return call.end?.failure?.message ?? 'Call ended';
  }
}
