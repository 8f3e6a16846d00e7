/**
 * What each test/fuzz/*.test.ts does with its target: run it at the CI count and seed (FUZZ_ITERATIONS and
 * FUZZ_SEED override), print the one-line summary with the count, assert that the count reached CI_MIN_COUNT
 * (100,000), and return the stats and the CPU time used.
 * CPU time, not wall time, bounds the run: a machine shared with other jobs must not fail it.
 */
import { expect } from 'vitest';
import { CI_MIN_COUNT, FUZZ_TARGETS } from './targets/index.ts';
import { formatStats, fuzzSettings, type FuzzStats } from './harness.ts';

export async function runTarget(name: string): Promise<{ stats: FuzzStats; cpuSeconds: number; scale: number }> {
  const entry = FUZZ_TARGETS[name];
  if (entry === undefined) throw new Error(`no fuzz target ${name}`);
  const { seed, iterations } = fuzzSettings(entry.ciSeed, entry.ciCount);
  const cpu = process.cpuUsage();
  const stats = await entry.run({ iterations, seed });
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  console.log(`${formatStats(stats)} (${cpuSeconds.toFixed(1)} s CPU)`);
  // The requirement is a count: every input counted by its outcome, at least 100,000 unless FUZZ_ITERATIONS asks
  // for a different run on purpose.
  expect(stats.iterations, `${name}: inputs run`).toBe(iterations);
  if (process.env.FUZZ_ITERATIONS === undefined) expect(stats.iterations, `${name}: CI count`).toBeGreaterThanOrEqual(CI_MIN_COUNT);
  return { stats, cpuSeconds, scale: Math.max(1, iterations / entry.ciCount) };
}

/** Share of inputs that ended in outcomes whose name starts with `prefix`. */
export function share(stats: FuzzStats, prefix: string): number {
  let n = 0;
  for (const [k, v] of Object.entries(stats.outcomes)) if (k.startsWith(prefix)) n += v;
  return n / stats.iterations;
}
