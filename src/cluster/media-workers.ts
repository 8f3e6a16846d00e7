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
    '--timeout',
    String(media.timeout),
    '--codecs',
    media.codecs.join(','),
    ...(media.iceAddresses ?? []).flatMap((a) => ['--ice-address', a]),
  ];
  return slices.map((s) => [...common, '--port-min', String(s.min), '--port-max', String(s.max)]);
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
        killAfterMissedPings: media.nodeHealth.maxMissedPings,
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
