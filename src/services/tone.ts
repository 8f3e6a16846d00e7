/**
 * The `tone` service's audio: a looped pattern of sine tones and pauses, rendered once per (pattern, codec) into
 * G.711 code words, then copied out 160 bytes at a time. The media path does no arithmetic per sample and
 * allocates nothing: a call only keeps its position in the shared loop.
 *
 * The phase runs on across segments, and a short linear ramp fades in and out wherever the frequency changes
 * (tone ↔ silence, tone ↔ other tone), so the cadence has no clicks. A pattern of one segment loops without a
 * ramp: its duration should hold a whole number of periods (1 s does for any integer frequency) to loop seamlessly.
 */
import { GatewayError } from '../errors.ts';
import { encodeTable, type G711Law } from './g711.ts';

export const SAMPLE_RATE = 8000;

export interface ToneSegment {
  /** Hz; 0 is silence. */
  readonly frequency: number;
  readonly durationMs: number;
}

/** The default: a steady 440 Hz (ISO 16 concert A, the classic test tone). */
export const DEFAULT_TONE: readonly ToneSegment[] = Object.freeze([{ frequency: 440, durationMs: 1000 }]);

/** Peak level, as a fraction of full scale: about −12 dBFS (−9 dBm0), comfortable in a handset. */
export const TONE_PEAK = 0.25;

/** Ramp length at frequency changes: 4 ms. */
const RAMP_SAMPLES = 32;
/** Longest loop: one minute of audio (480 000 bytes per codec). */
const MAX_LOOP_SAMPLES = 60 * SAMPLE_RATE;

export class TonePatternError extends GatewayError {
  constructor(message: string) {
    super('SERVICES_TONE_PATTERN', message);
  }
}

function checkPattern(pattern: readonly ToneSegment[]): number[] {
  if (pattern.length === 0) throw new TonePatternError('a tone pattern needs at least one segment');
  const lengths = pattern.map((s, i) => {
    if (!Number.isFinite(s.frequency) || s.frequency < 0 || s.frequency >= SAMPLE_RATE / 2) {
      throw new TonePatternError(`segment ${i}: frequency ${s.frequency} Hz is not in 0…${SAMPLE_RATE / 2 - 1}`);
    }
    const samples = Math.round((s.durationMs * SAMPLE_RATE) / 1000);
    if (!Number.isFinite(s.durationMs) || samples < 1) throw new TonePatternError(`segment ${i}: duration ${s.durationMs} ms is too short`);
    return samples;
  });
  const total = lengths.reduce((a, b) => a + b, 0);
  if (total > MAX_LOOP_SAMPLES) throw new TonePatternError(`a tone pattern may last at most ${MAX_LOOP_SAMPLES / SAMPLE_RATE} s`);
  return lengths;
}

/** The pattern as 16-bit linear samples (one loop). */
export function renderLinear(pattern: readonly ToneSegment[], peak = TONE_PEAK): Int16Array {
  const lengths = checkPattern(pattern);
  const out = new Int16Array(lengths.reduce((a, b) => a + b, 0));
  const amplitude = peak * 32767;
  let phase = 0;
  let at = 0;
  for (let i = 0; i < pattern.length; i++) {
    const { frequency } = pattern[i]!;
    const n = lengths[i]!;
    const previous = pattern[(i + pattern.length - 1) % pattern.length]!.frequency;
    const next = pattern[(i + 1) % pattern.length]!.frequency;
    const rampIn = pattern.length > 1 && previous !== frequency ? Math.min(RAMP_SAMPLES, n >> 1) : 0;
    const rampOut = pattern.length > 1 && next !== frequency ? Math.min(RAMP_SAMPLES, n >> 1) : 0;
    const increment = (2 * Math.PI * frequency) / SAMPLE_RATE;
    for (let k = 0; k < n; k++) {
      let gain = 1;
      if (k < rampIn) gain = k / rampIn;
      else if (k >= n - rampOut) gain = (n - 1 - k) / rampOut;
      out[at++] = frequency === 0 ? 0 : Math.round(amplitude * gain * Math.sin(phase));
      phase += increment;
      if (phase > 2 * Math.PI) phase -= 2 * Math.PI;
    }
  }
  return out;
}

const loops = new Map<string, Buffer>();

/** The pattern encoded in `law`, cached: every call of the same pattern and codec shares one buffer. */
export function toneLoop(pattern: readonly ToneSegment[], law: G711Law): Buffer {
  const key = `${law}:${pattern.map((s) => `${s.frequency}/${s.durationMs}`).join(',')}`;
  let loop = loops.get(key);
  if (loop === undefined) {
    const linear = renderLinear(pattern);
    const table = encodeTable(law);
    loop = Buffer.alloc(linear.length);
    for (let i = 0; i < linear.length; i++) loop[i] = table[linear[i]! + 32768]!;
    if (loops.size >= 32) loops.clear(); // a handful of patterns in practice; bounded anyway
    loops.set(key, loop);
  }
  return loop;
}

/** A position in a shared loop; `fill` copies the next samples (wrapping) into a packet buffer. */
export class TonePlayer {
  readonly #loop: Buffer;
  #position = 0;

  constructor(loop: Buffer) {
    this.#loop = loop;
  }

  /** Writes `count` code words at `out[offset…]`. */
  fill(out: Buffer, offset: number, count: number): void {
    const loop = this.#loop;
    let written = 0;
    while (written < count) {
      const chunk = Math.min(count - written, loop.length - this.#position);
      loop.copy(out, offset + written, this.#position, this.#position + chunk);
      written += chunk;
      this.#position += chunk;
      if (this.#position === loop.length) this.#position = 0;
    }
  }

  /** Moves on by `count` samples without writing (frames skipped while the sender was late or on hold). */
  skip(count: number): void {
    this.#position = (this.#position + count) % this.#loop.length;
  }
}
