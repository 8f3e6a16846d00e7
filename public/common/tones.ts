/**
 * Call progress tones synthesised with WebAudio — no audio files. Cadences follow ITU-T E.180:
 * ringing (incoming) uses the UK double ring 400+450 Hz, 0.4 on/0.2 off/0.4 on/2 off; ringback (outgoing,
 * when the far end sends no early media) the North American 440+480 Hz, 2 s on/4 s off. Keypad feedback
 * plays the real DTMF pair (ITU-T Q.23) for 100 ms.
 */

const DTMF_ROWS: Record<string, number> = {
  '1': 697, '2': 697, '3': 697, A: 697,
  '4': 770, '5': 770, '6': 770, B: 770,
  '7': 852, '8': 852, '9': 852, C: 852,
  '*': 941, '0': 941, '#': 941, D: 941,
};
const DTMF_COLUMNS: Record<string, number> = {
  '1': 1209, '4': 1209, '7': 1209, '*': 1209,
  '2': 1336, '5': 1336, '8': 1336, '0': 1336,
  '3': 1477, '6': 1477, '9': 1477, '#': 1477,
  A: 1633, B: 1633, C: 1633, D: 1633,
};

interface Pattern {
  readonly frequencies: readonly number[];
  /** Alternating on/off durations in seconds, starting with on. */
  readonly cadence: readonly number[];
  readonly volume: number;
}

const RING: Pattern = { frequencies: [400, 450], cadence: [0.4, 0.2, 0.4, 2.0], volume: 0.16 };
const RINGBACK: Pattern = { frequencies: [440, 480], cadence: [2, 4], volume: 0.07 };
/** How far ahead gain changes are scheduled; a timer tops the schedule up before it runs out. */
const SCHEDULE_AHEAD_S = 30;

type AudioContextWithSink = AudioContext & { setSinkId?: (id: string) => Promise<void> };

export class Tones {
  #context: AudioContextWithSink | null = null;
  #playing: { readonly name: string; stop(): void } | null = null;
  #sinkId = '';

  /** Create/resume the AudioContext; call from a user gesture so autoplay policies let it run. */
  unlock(): void {
    const context = this.#ensure();
    if (context?.state === 'suspended') void context.resume().catch(() => undefined);
  }

  get playing(): string | null {
    return this.#playing?.name ?? null;
  }

  ring(): void {
    this.#loop('ring', RING);
  }

  ringback(): void {
    this.#loop('ringback', RINGBACK);
  }

  stop(): void {
    this.#playing?.stop();
    this.#playing = null;
  }

  /** Route tones to the chosen speaker where AudioContext.setSinkId exists (Chromium 110+). */
  async setSinkId(id: string): Promise<void> {
    this.#sinkId = id;
    const context = this.#context;
    if (context?.setSinkId) await context.setSinkId(id).catch(() => undefined);
  }

  dtmf(key: string): void {
    const context = this.#ensure();
    const low = DTMF_ROWS[key.toUpperCase()];
    const high = DTMF_COLUMNS[key.toUpperCase()];
    if (!context || !low || !high) return;
    const gain = context.createGain();
    const t = context.currentTime;
    gain.gain.setValueAtTime(0, t);
    gain.gain.linearRampToValueAtTime(0.08, t + 0.005);
    gain.gain.setValueAtTime(0.08, t + 0.1);
    gain.gain.linearRampToValueAtTime(0, t + 0.11);
    gain.connect(context.destination);
    for (const frequency of [low, high]) {
      const osc = context.createOscillator();
      osc.frequency.value = frequency;
      osc.connect(gain);
      osc.start(t);
      osc.stop(t + 0.12);
    }
    setTimeout(() => gain.disconnect(), 200);
  }

  #ensure(): AudioContextWithSink | null {
    if (this.#context) return this.#context;
    if (typeof AudioContext === 'undefined') return null;
    this.#context = new AudioContext({ latencyHint: 'interactive' });
    if (this.#sinkId) void this.setSinkId(this.#sinkId);
    return this.#context;
  }

  #loop(name: string, pattern: Pattern): void {
    if (this.#playing?.name === name) return;
    this.stop();
    const context = this.#ensure();
    if (!context) return;
    if (context.state === 'suspended') void context.resume().catch(() => undefined);
    const gain = context.createGain();
    gain.gain.value = 0;
    gain.connect(context.destination);
    const oscillators = pattern.frequencies.map((frequency) => {
      const osc = context.createOscillator();
      osc.frequency.value = frequency;
      osc.connect(gain);
      osc.start();
      return osc;
    });
    let cursor = context.currentTime + 0.05;
    const fill = (): void => {
      const until = context.currentTime + SCHEDULE_AHEAD_S;
      while (cursor < until) {
        pattern.cadence.forEach((duration, i) => {
          const on = i % 2 === 0;
          // A 10 ms time constant removes the click of a hard on/off edge.
          gain.gain.setTargetAtTime(on ? pattern.volume : 0, cursor, 0.01);
          cursor += duration;
        });
      }
    };
    fill();
    const timer = setInterval(fill, (SCHEDULE_AHEAD_S / 2) * 1000);
    this.#playing = {
      name,
      stop: () => {
        clearInterval(timer);
        gain.gain.cancelScheduledValues(0);
        gain.gain.setTargetAtTime(0, context.currentTime, 0.01);
        for (const osc of oscillators) osc.stop(context.currentTime + 0.1);
        setTimeout(() => gain.disconnect(), 200);
      },
    };
  }
}
