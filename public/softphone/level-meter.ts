/** Microphone input level from a WebAudio AnalyserNode on the local stream, drawn ~30 times a second. */
export class LevelMeter {
  readonly #bar: HTMLElement;
  #context: AudioContext | null = null;
  #source: MediaStreamAudioSourceNode | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #level = 0;

  constructor(bar: HTMLElement) {
    this.#bar = bar;
  }

  /** The last measured level, 0..1. */
  get level(): number {
    return this.#level;
  }

  start(stream: MediaStream): void {
    this.stop();
    if (typeof AudioContext === 'undefined' || stream.getAudioTracks().length === 0) return;
    const context = (this.#context ??= new AudioContext());
    if (context.state === 'suspended') void context.resume().catch(() => undefined);
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    const source = context.createMediaStreamSource(stream);
    source.connect(analyser);
    this.#source = source;
    const samples = new Float32Array(analyser.fftSize);
    // A timer rather than requestAnimationFrame: it keeps measuring (for the hook) in a background tab.
    this.#timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
      const rms = Math.sqrt(sum / samples.length);
      // Map -60..0 dBFS onto 0..1 so speech sits mid-scale.
      const db = 20 * Math.log10(rms || 1e-8);
      const level = Math.min(1, Math.max(0, (db + 60) / 60));
      // Fast attack, slow release, like a VU meter.
      this.#level = level > this.#level ? level : this.#level * 0.85 + level * 0.15;
      this.#draw();
    }, 33);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#source?.disconnect();
    this.#source = null;
    this.#level = 0;
    this.#draw();
  }

  #draw(): void {
    this.#bar.style.setProperty('--level', this.#level.toFixed(3));
    this.#bar.setAttribute('aria-valuenow', String(Math.round(this.#level * 100)));
  }
}
