/**
 * The flags and supervision thresholds the gateway derives from its `media` config for each worker: any
 * media.timeout the schema accepts must reach the worker in a form its flag parser takes (else no worker starts),
 * and a silent worker is killed much later than the dispatcher takes it out.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { KILL_AFTER_SILENCE_MS, workerArgs, workerSupervision } from '../../src/cluster/media-workers.ts';
import { parseMediaNodeArgs } from '../../src/ng/media-node-cli.ts';

const media = (yaml: string) => parseConfig(`media:\n  bindAddress: 127.0.0.1\n  ports: { min: 40000, max: 40099 }\n${yaml}`, 'test', {}).media;

describe('workerArgs', () => {
  it.each([
    ['60', 60_000],
    ['2.5', 2500],
    ['0.0005', 1],
    ['1.23456', 1235],
    ['1e-7', 1],
    ['100000', 100_000_000],
    ['1e9', 1e12],
  ])('media.timeout %s reaches the worker as %d ms, through the media node\'s own flag parser', (timeout, ms) => {
    const config = media(`  timeout: ${timeout}\n  workers: 2\n`);
    const args = workerArgs(config, 2);
    expect(args).toHaveLength(2);
    for (const a of args) {
      expect(a[a.indexOf('--timeout-ms') + 1]).toBe(String(ms));
      expect(parseMediaNodeArgs(['--supervised', ...a])).toMatchObject({ mediaTimeoutMs: ms, supervised: true });
    }
    expect(args.map((a) => [a[a.indexOf('--port-min') + 1], a[a.indexOf('--port-max') + 1]])).toEqual([
      ['40000', '40049'],
      ['40050', '40099'],
    ]);
  });
});

describe('workerSupervision', () => {
  it('kills a silent worker only after 3× the take-out count of missed pings and at least 30 s without a pong', () => {
    expect(workerSupervision(media(''))).toEqual({ killAfterMissedPings: 9, killAfterSilenceMs: KILL_AFTER_SILENCE_MS });
    expect(KILL_AFTER_SILENCE_MS).toBe(30_000);
    // A slow ping interval: the silence scales with the take-out time (3 × 5 × 4 s).
    expect(workerSupervision(media('  nodeHealth: { pingInterval: 4, maxMissedPings: 5 }\n'))).toEqual({ killAfterMissedPings: 15, killAfterSilenceMs: 60_000 });
  });
});
