/**
 * Microphone and speaker pickers (enumerateDevices). Labels appear only after the first microphone
 * permission, so the lists refresh on devicechange and after each call starts. The speaker list shows only
 * where HTMLMediaElement.setSinkId exists (Chromium, Firefox 116+).
 */
import { byId } from './dom.ts';

export interface DeviceChoice {
  onMicrophone(deviceId: string): void;
  onSpeaker(deviceId: string): void;
}

type SinkableAudio = HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> };

export class DevicePicker {
  readonly #mic = byId('microphone-select', HTMLSelectElement);
  readonly #speaker = byId('speaker-select', HTMLSelectElement);
  readonly #speakerField = byId('speaker-field', HTMLDivElement);
  readonly #audio: SinkableAudio;
  #micId: string;
  #speakerId: string;

  constructor(audio: HTMLAudioElement, micId: string, speakerId: string, choice: DeviceChoice) {
    this.#audio = audio;
    this.#micId = micId;
    this.#speakerId = speakerId;
    this.#speakerField.hidden = typeof this.#audio.setSinkId !== 'function';
    this.#mic.addEventListener('change', () => {
      this.#micId = this.#mic.value;
      choice.onMicrophone(this.#micId);
    });
    this.#speaker.addEventListener('change', () => {
      this.#speakerId = this.#speaker.value;
      void this.applySpeaker();
      choice.onSpeaker(this.#speakerId);
    });
    navigator.mediaDevices?.addEventListener?.('devicechange', () => void this.refresh());
  }

  get microphoneId(): string {
    return this.#micId;
  }

  async refresh(): Promise<void> {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    let devices: MediaDeviceInfo[];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      return;
    }
    fill(this.#mic, devices.filter((d) => d.kind === 'audioinput'), this.#micId, 'Microphone');
    fill(this.#speaker, devices.filter((d) => d.kind === 'audiooutput'), this.#speakerId, 'Speaker');
  }

  async applySpeaker(): Promise<void> {
    if (typeof this.#audio.setSinkId !== 'function') return;
    try {
      await this.#audio.setSinkId(this.#speakerId);
    } catch (error) {
      console.warn('setSinkId failed', error);
    }
  }
}

function fill(select: HTMLSelectElement, devices: MediaDeviceInfo[], chosen: string, noun: string): void {
  // Chromium lists the OS default as deviceId "default" with a label like "Default - USB Headset".
  const systemDefault = devices.find((d) => d.deviceId === 'default')?.label;
  const options = [new Option(systemDefault || 'System default', '')];
  devices
    .filter((d) => d.deviceId && d.deviceId !== 'default' && d.deviceId !== 'communications')
    .forEach((d, i) => options.push(new Option(d.label || `${noun} ${i + 1}`, d.deviceId)));
  select.replaceChildren(...options);
  select.value = options.some((o) => o.value === chosen) ? chosen : '';
}
