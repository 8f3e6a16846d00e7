/**
 * The targets for the concurrent-calls benchmark, and the per-step check against them.
 */
import type { LoadStep } from '../load.bench.ts';

export const TARGETS = {
  calls: 1000,
  loss: 0.001,
  addedP99Ms: 5,
  ratio: 2,
  rssPerCallBytes: 250 * 1024,
  setupRate: 200,
  setupAddedP50Ms: 5,
} as const;

/** Loss, p99 added latency, CPU ratio and RSS per call of one step all within target. */
export function stepPasses(s: LoadStep): boolean {
  return s.window.loss < TARGETS.loss && s.window.addedMs.p99 < TARGETS.addedP99Ms && (s.ratio ?? Number.POSITIVE_INFINITY) <= TARGETS.ratio && s.rssPerCallBytes <= TARGETS.rssPerCallBytes;
}

