/** `media.workers` in the config: the values it takes, the errors that name it, and what it does to `media.local`. */
import { describe, it, expect } from 'vitest';
import { availableParallelism } from 'node:os';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { workerArgs, workerCount } from '../../src/cluster/media-workers.ts';

function problems(yaml: string): Array<{ key: string; message: string }> {
  try {
    parseConfig(yaml, 'gateway.yaml', {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => ({ key: p.key, message: p.message }));
  }
  throw new Error('expected a ConfigError');
}

describe('media.workers', () => {
  it('defaults to 0: media in the gateway process, media.local true, exactly as before', () => {
    const cfg = parseConfig('', 'empty', {});
    expect(cfg.media.workers).toBe(0);
    expect(cfg.media.local).toBe(true);
    expect(parseConfig('media: { nodes: [{ ng: "udp:127.0.0.1:2223" }] }', 'x', {}).media.local).toBe(true);
    expect(parseConfig('media: { local: false, nodes: [{ ng: "udp:127.0.0.1:2223" }] }', 'x', {}).media.local).toBe(false);
  });

  it('takes a number or "auto", and then media.local defaults to false (the workers own media.ports)', () => {
    expect(parseConfig('media: { workers: 2 }', 'x', {}).media).toMatchObject({ workers: 2, local: false });
    expect(parseConfig('media: { workers: auto }', 'x', {}).media).toMatchObject({ workers: 'auto', local: false });
    expect(parseConfig('media: { workers: 2, local: false }', 'x', {}).media.local).toBe(false);
    expect(workerCount('auto')).toBe(availableParallelism());
    expect(workerCount(3)).toBe(3);
  });

  it.each([['-1'], ['1.5'], ['two'], ['"2"'], ['true'], ['257'], ['[2]']])('refuses workers: %s, naming the key', (value) => {
    expect(problems(`media: { workers: ${value} }`)).toEqual([
      { key: 'media.workers', message: 'expected a number of media processes from 0 to 256, or "auto" (one per core)' },
    ]);
  });

  it('refuses a port range too small to split, naming media.ports and media.workers', () => {
    expect(problems('media: { workers: 4, ports: { min: 30000, max: 30014 } }')).toEqual([
      { key: 'media.workers', message: 'media.ports 30000-30014 (15 ports) is too small for 4 media.workers: each needs at least 4 ports' },
    ]);
  });

  it.each(['2', 'auto'])('refuses local: true next to workers: %s (both would bind media.ports)', (workers) => {
    expect(problems(`media: { workers: ${workers}, local: true }`)).toEqual([
      { key: 'media.local', message: 'local: true cannot share media.ports with media.workers' },
    ]);
  });

  it('refuses a media node named like a worker', () => {
    expect(problems('media: { workers: 2, nodes: [{ ng: "udp:127.0.0.1:2223", name: worker-2 }] }')).toEqual([
      { key: 'media.nodes[0]', message: 'duplicate media node "worker-2"' },
    ]);
  });

  it('local: false without workers or nodes still names media.local', () => {
    expect(problems('media: { local: false }')).toEqual([
      { key: 'media.local', message: 'local: false needs at least one entry in media.nodes, or media.workers' },
    ]);
  });

  it('gives every worker the media settings and its own slice of media.ports', () => {
    const cfg = parseConfig(
      `media:
  workers: 2
  bindAddress: 0.0.0.0
  advertisedAddress: 203.0.113.7
  iceAddresses: [203.0.113.7, 2001:db8::7]
  ports: { min: 40000, max: 40999 }
  timeout: 12.5
  codecs: [PCMA, telephone-event]
`,
      'x',
      {},
    );
    const common = ['--interface', '0.0.0.0!203.0.113.7', '--timeout-ms', '12500', '--codecs', 'PCMA,telephone-event', '--ice-address', '203.0.113.7', '--ice-address', '2001:db8::7'];
    expect(workerArgs(cfg.media, 2)).toEqual([
      [...common, '--port-min', '40000', '--port-max', '40499'],
      [...common, '--port-min', '40500', '--port-max', '40999'],
    ]);
  });

  it.skipIf(availableParallelism() < 2)('"auto" on a range too small for this machine\'s cores fails at start with media.workers named', () => {
    const cfg = parseConfig('media: { workers: auto, ports: { min: 30000, max: 30003 } }', 'x', {});
    expect(() => workerArgs(cfg.media, workerCount('auto'))).toThrow(ConfigError);
    expect(() => workerArgs(cfg.media, workerCount('auto'))).toThrow(/media\.workers: media\.ports 30000-30003 \(4 ports\) is too small/);
  });
});
