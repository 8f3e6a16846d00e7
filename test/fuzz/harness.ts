/**
 * The loop every fuzz target runs: generate a mutated input, feed it to the module, classify the outcome, and
 * turn anything but the module's own typed errors (or a broken invariant) into a FuzzFailure that names the
 * target, seed, iteration, mutation ops and the input — enough to reproduce it with `scripts/fuzz.ts`.
 */
export class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure';
}

export interface FuzzCase {
  /** The input (shown base64 in a failure report when binary). */
  readonly input: Buffer | string;
  /** The mutation operations applied, for the report. */
  readonly ops: readonly string[];
}

export interface FuzzStats {
  target: string;
  seed: number;
  iterations: number;
  /** How many inputs ended in each outcome ('ok', 'SDP_INVALID', 'stun:malformed' …). */
  outcomes: Record<string, number>;
  seconds: number;
  perSecond: number;
  /** The slowest single input, ms: a parser with a super-linear path shows up here. */
  slowestMs: number;
}

export interface FuzzLoop<C extends FuzzCase> {
  target: string;
  iterations: number;
  seed: number;
  next(): C;
  /** Runs the module on the case; returns the outcome name. Throws (anything) on an unexpected error. */
  check(c: C): string | Promise<string>;
  /** The module's own errors, which are an outcome, not a failure: returns the outcome name, or undefined. */
  expected(error: unknown): string | undefined;
}

function show(input: Buffer | string): string {
  if (typeof input === 'string') {
    const text = input.length > 4096 ? `${input.slice(0, 4096)}… (${input.length} chars)` : input;
    return JSON.stringify(text);
  }
  return input.length > 2048 ? `${input.subarray(0, 2048).toString('base64')}… (${input.length} bytes, base64)` : `base64:${input.toString('base64')}`;
}

export function failure(loop: { target: string; seed: number }, iteration: number, c: FuzzCase, what: string): FuzzFailure {
  return new FuzzFailure(
    `${loop.target}: ${what}\n  reproduce: node scripts/fuzz.ts --target ${loop.target} --seed ${loop.seed} --count ${iteration + 1}` +
      `\n  iteration=${iteration} ops=${c.ops.join(' ')}\n  input=${show(c.input)}`,
  );
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error);
}

/** Runs a synchronous target. */
export function runFuzzLoop<C extends FuzzCase>(loop: FuzzLoop<C>): FuzzStats {
  const outcomes: Record<string, number> = {};
  let slowest = 0;
  const started = performance.now();
  for (let i = 0; i < loop.iterations; i++) {
    const c = loop.next();
    const t0 = performance.now();
    let outcome: string;
    try {
      outcome = loop.check(c) as string;
    } catch (error) {
      if (error instanceof FuzzFailure) throw failure(loop, i, c, error.message);
      const known = loop.expected(error);
      if (known === undefined) throw failure(loop, i, c, `unexpected ${describeError(error)}`);
      outcome = known;
    }
    const took = performance.now() - t0;
    if (took > slowest) slowest = took;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  return stats(loop, outcomes, started, slowest);
}

/** Runs a target whose module is asynchronous (token verification). */
export async function runAsyncFuzzLoop<C extends FuzzCase>(loop: FuzzLoop<C>): Promise<FuzzStats> {
  const outcomes: Record<string, number> = {};
  let slowest = 0;
  const started = performance.now();
  for (let i = 0; i < loop.iterations; i++) {
    const c = loop.next();
    const t0 = performance.now();
    let outcome: string;
    try {
      outcome = await loop.check(c);
    } catch (error) {
      if (error instanceof FuzzFailure) throw failure(loop, i, c, error.message);
      const known = loop.expected(error);
      if (known === undefined) throw failure(loop, i, c, `unexpected ${describeError(error)}`);
      outcome = known;
    }
    const took = performance.now() - t0;
    if (took > slowest) slowest = took;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  return stats(loop, outcomes, started, slowest);
}

function stats(loop: { target: string; seed: number }, outcomes: Record<string, number>, started: number, slowest: number): FuzzStats {
  const seconds = (performance.now() - started) / 1000;
  // The inputs that actually went through the module, counted by outcome (what CI asserts), not the request.
  let iterations = 0;
  for (const n of Object.values(outcomes)) iterations += n;
  return {
    target: loop.target,
    seed: loop.seed,
    iterations,
    outcomes,
    seconds,
    perSecond: Math.round(iterations / Math.max(seconds, 1e-9)),
    slowestMs: Math.round(slowest * 10) / 10,
  };
}

/** One line for CI logs: the count is what the requirement is about. */
export function formatStats(s: FuzzStats): string {
  const outcomes = Object.entries(s.outcomes)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `fuzz ${s.target}: ${s.iterations} inputs, seed ${s.seed}, ${s.seconds.toFixed(1)} s (${s.perSecond}/s), slowest ${s.slowestMs} ms; ${outcomes}`;
}

/** FUZZ_SEED / FUZZ_ITERATIONS override a test's fixed seed and count (a long run, or reproducing a CI failure). */
export function fuzzSettings(defaultSeed: number, defaultIterations = 100_000): { seed: number; iterations: number } {
  const seed = process.env.FUZZ_SEED === undefined ? defaultSeed : Number(process.env.FUZZ_SEED) >>> 0;
  const iterations = process.env.FUZZ_ITERATIONS === undefined ? defaultIterations : Number(process.env.FUZZ_ITERATIONS);
  return { seed, iterations };
}
