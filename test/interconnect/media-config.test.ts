/**
 * The media keys of the config file for remote nodes (`media.nodes`, `media.local`, `media.nodeHealth`), and
 * what the gateway builds from them: today's in-process MediaService when no node is listed, else a
 * MediaDispatcher over the nodes (and the in-process plane too unless `local: false`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.ts';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { NgServer } from '../../src/ng/ng-server.ts';
import { MediaDispatcher } from '../../src/rtp-bridge/media-dispatcher.ts';
import { MediaService } from '../../src/rtp-bridge/media-service.ts';
import { freePort } from '../gateway/harness.ts';
import { RecordingMedia } from '../ng/helpers/recording-media.ts';

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'test', {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.key}: ${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

const opened: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function gateway(mediaYaml: string): Promise<Gateway> {
  const yaml = `
http: { host: 127.0.0.1, port: 0 }
sip: { listeners: [{ protocol: udp, host: 127.0.0.1, port: ${await freePort()} }] }
media: ${mediaYaml}
services: { enabled: false }
logLevel: silent
`;
  const gw = await startGateway(parseConfig(yaml, 'test', {}));
  opened.push(gw);
  return gw;
}

describe('media.nodes / media.local / media.nodeHealth', () => {
  it('defaults to today: no nodes, the in-process plane takes the calls, ping every 1 s, 3 misses', () => {
    const media = parseConfig('{}', 'test', {}).media;
    expect(media.nodes).toEqual([]);
    expect(media.local).toBe(true);
    expect(media.nodeHealth).toEqual({ pingInterval: 1, maxMissedPings: 3, commandTimeout: 3 });
  });

  it('reads nodes in rtpengine_sock syntax with optional names', () => {
    const media = parseConfig(
      "media: { local: false, nodes: [{ ng: 'udp:127.0.0.1:2223' }, { ng: 'udp6:[::1]:2224', name: v6 }], nodeHealth: { pingInterval: 0.5, maxMissedPings: 2 } }",
      'test',
      {},
    ).media;
    expect(media.nodes).toEqual([{ ng: 'udp:127.0.0.1:2223' }, { ng: 'udp6:[::1]:2224', name: 'v6' }]);
    expect(media.local).toBe(false);
    expect(media.nodeHealth).toMatchObject({ pingInterval: 0.5, maxMissedPings: 2 });
  });

  it('refuses a bad ng address, local: false with no node, duplicate nodes and unknown keys', () => {
    expect(problems("media: { nodes: [{ ng: 'tcp:127.0.0.1:2223' }] }")).toEqual([expect.stringMatching(/^media\.nodes\[0\]\.ng: expected udp:IP:PORT/)]);
    expect(problems("media: { nodes: [{ ng: 'udp:rtpengine.example:2223' }] }")).toHaveLength(1);
    expect(problems('media: { local: false }')).toEqual([expect.stringMatching(/^media\.local: local: false needs at least one entry in media\.nodes/)]);
    expect(problems("media: { nodes: [{ ng: 'udp:127.0.0.1:1' }, { ng: 'udp:127.0.0.1:1' }] }")).toEqual([expect.stringMatching(/^media\.nodes\[1\]: duplicate/)]);
    expect(problems("media: { nodes: [{ ng: 'udp:127.0.0.1:1', name: local }] }")).toEqual([expect.stringMatching(/duplicate media node "local"/)]);
    expect(problems("media: { nodes: [{ ng: 'udp:127.0.0.1:1', weight: 2 }] }")).toHaveLength(1);
    expect(problems('media: { nodeHealth: { maxMissedPings: 0 } }')).toHaveLength(1);
  });
});

describe('what the gateway builds', () => {
  it('no nodes: the in-process MediaService, as before', async () => {
    const gw = await gateway('{ bindAddress: 127.0.0.1, ports: { min: 47000, max: 47099 } }');
    expect(gw.media).toBeInstanceOf(MediaService);
  });

  it('nodes and local: a dispatcher over the in-process plane and each node, all up', async () => {
    const server = await NgServer.listen({ media: new RecordingMedia(), udp: [{ host: '127.0.0.1', port: 0 }] });
    opened.push(server);
    const gw = await gateway(`{ bindAddress: 127.0.0.1, ports: { min: 47100, max: 47199 }, nodes: [{ ng: 'udp:127.0.0.1:${server.addresses.udp[0]!.port}', name: far }] }`);
    expect(gw.media).toBeInstanceOf(MediaDispatcher);
    expect((gw.media as MediaDispatcher).status().map((s) => [s.name, s.state])).toEqual([['local', 'up'], ['far', 'up']]);
  });

  it('local: false with a node that does not answer: the gateway starts, the node is out until it answers', async () => {
    const gw = await gateway(`{ local: false, nodes: [{ ng: 'udp:127.0.0.1:${await freePort()}' }], nodeHealth: { pingInterval: 0.2 } }`);
    expect(gw.media).toBeInstanceOf(MediaDispatcher);
    expect((gw.media as MediaDispatcher).status()[0]!.state).toBe('down');
    await expect(gw.media.offer('c1', 'a', 'v=0\r\n', { to: 'plain' })).rejects.toMatchObject({ code: 'MEDIA_UNAVAILABLE', status: 503 });
  });
});
