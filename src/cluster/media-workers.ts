/**
 * `media.workers`: the media plane spread over one process per core, signalling left alone in the gateway's.
 *
 * Why one per core and not one fewer for `auto`: per call the SIP process handles a handful of messages, the
 * media processes 50 packets a second per direction per leg, with SRTP on the browser side — in the load
 * benchmark media is nearly all of the CPU. Keeping a core for signalling would leave it mostly idle and cap
 * media at N-1 cores (on a 2-core machine: one, no better than in-process); the scheduler shares the cores well
 * enough with a process that is mostly asleep.
 */
import { availableParallelism } from 'node:os';
import type { GatewayConfig } from '../config/schema.ts';
import { ConfigError } from '../config/config-error.ts';
import { MediaWorker } from './media-worker.ts';
import { portSliceProblem, portSlices } from './port-slices.ts';

/** `media.workers` as a number of processes: `auto` is one per core. */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

/** The media-node flags of each worker: the config's media settings, and the worker's own slice of `media.ports`. */
export function workerArgs(media: GatewayConfig['media'], count: number): string[][] {
  const slices = portSlices(media.ports, count);
  if (slices === undefined) {
    // Only `auto` gets here: a number of workers is checked against the range when the config is loaded.
    throw new ConfigError('configuration', [{ key: 'media.workers', message: portSliceProblem(media.ports, count)! }]);
  }
  const common = [
    '--interface',
    media.advertisedAddress === undefined ? media.bindAddress : `${media.bindAddress}!${media.advertisedAddress}`,
    // In whole ms: the schema takes any positive number of seconds (1e-7, 0.0005, 1e6), which `--timeout`'s
    // seconds with at most 3 decimals, up to 86400, would refuse — and then no worker would start.
    '--timeout-ms',
    String(Math.max(1, Math.round(media.timeout * 1000))),
    '--codecs',
    media.codecs.join(','),
    ...(media.iceAddresses ?? []).flatMap((a) => ['--ice-address', a]),
  ];
  return slices.map((s) => [...common, '--port-min', String(s.min), '--port-max', String(s.max)]);
}

/** A worker that does not answer is killed only after this long without a pong (and 3× the take-out count). */
export const KILL_AFTER_SILENCE_MS = 30_000;

/**
 * When a silent worker is killed. Not when the dispatcher takes it out (`maxMissedPings`): a worker that is alive
 * but starved of CPU for a moment (a long GC, a load spike) would be killed with every call on it, its load
 * moved onto the others — which then starve and are killed in turn. Taken out of placement at the normal
 * threshold, it is killed only after a much longer silence: 3× the take-out count of missed pings, and at least
 * KILL_AFTER_SILENCE_MS without a pong. A worker that died is seen at once anyway (its exit), not by pings.
 */
export function workerSupervision(media: GatewayConfig['media']): { killAfterMissedPings: number; killAfterSilenceMs: number } {
  const takeOutMs = media.nodeHealth.maxMissedPings * media.nodeHealth.pingInterval * 1000;
  return {
    killAfterMissedPings: 3 * media.nodeHealth.maxMissedPings,
    killAfterSilenceMs: Math.max(KILL_AFTER_SILENCE_MS, 3 * takeOutMs),
  };
}

export interface StartWorkersOptions {
  /** The workers' LOG_LEVEL (the gateway's configured level). */
  logLevel?: string;
  /** For tests: first restart delay, ms. */
  restartDelayMs?: number;
}

/**
 * Starts `count` workers (`worker-1` …) in parallel. If any cannot start, those that did are stopped and the
 * first failure is thrown (a WorkerStartError naming the worker and why).
 */
export async function startMediaWorkers(media: GatewayConfig['media'], count: number, options: StartWorkersOptions = {}): Promise<MediaWorker[]> {
  const args = workerArgs(media, count);
  const results = await Promise.allSettled(
    args.map((a, i) =>
      MediaWorker.start({
        name: `worker-${i + 1}`,
        args: a,
        commandTimeoutMs: media.nodeHealth.commandTimeout * 1000,
        ...workerSupervision(media),
        ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
        ...(options.restartDelayMs !== undefined ? { restartDelayMs: options.restartDelayMs } : {}),
      }),
    ),
  );
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = results.find((r) => r.status === 'rejected');
  if (failure !== undefined) {
    await Promise.allSettled(started.map((w) => w.close()));
    throw failure.reason;
  }
  return started;
}
