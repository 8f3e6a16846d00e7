import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { CliError, parseInterface, parseListen, parseMediaNodeArgs, runMediaNode } from '../../src/ng/media-node-cli.ts';
import type { MediaFactoryOptions, RunningMediaNode } from '../../src/ng/media-node-cli.ts';
import { encodeBencode } from '../../src/ng/bencode.ts';
import { RecordingMedia } from './helpers/recording-media.ts';

function cliError(argv: string[]): CliError {
  try {
    parseMediaNodeArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return err as CliError;
  }
  throw new Error('parsed without error');
}

describe('media node flags', () => {
  it('parses rtpengine-style flags, in both --flag value and --flag=value forms', () => {
    expect(
      parseMediaNodeArgs([
        '--listen-ng', '127.0.0.1:2223', '--listen-tcp-ng=[::1]:2224', '--listen-ws-ng', '2225',
        '--interface', 'pub/127.0.0.1!203.0.113.7', '--port-min', '31000', '--port-max=32000', '--timeout', '60',
      ]),
    ).toEqual({
      udp: [{ host: '127.0.0.1', port: 2223 }],
      tcp: [{ host: '::1', port: 2224 }],
      ws: [{ host: '127.0.0.1', port: 2225 }],
      interface: { name: 'pub', address: '127.0.0.1', advertised: '203.0.113.7' },
      portMin: 31000,
      portMax: 32000,
      mediaTimeoutMs: 60_000,
      supervised: false,
    });
    expect(parseMediaNodeArgs(['--listen-ng', '2223', '--interface', '127.0.0.1'])).toMatchObject({
      interface: { name: 'default', address: '127.0.0.1', advertised: undefined },
      portMin: 30000,
      portMax: 40000,
      mediaTimeoutMs: undefined,
    });
    expect(parseMediaNodeArgs(['--help'])).toBeUndefined();
  });

  it.each([
    [['--interface', '127.0.0.1'], '--listen-ng'],
    [['--listen-ng', '2223'], '--interface'],
    [['--listen-ng', '2223', '--interface', '127.0.0.1', '--interface', '127.0.0.2'], '--interface'],
    [['--listen-ng', 'localhost:2223', '--interface', '127.0.0.1'], '--listen-ng'],
    [['--listen-ng', '::1:2223', '--interface', '127.0.0.1'], '--listen-ng'],
    [['--listen-ng', '127.0.0.1:70000', '--interface', '127.0.0.1'], '--listen-ng'],
    [['--listen-ng', '2223', '--interface', 'eth0'], '--interface'],
    [['--listen-ng', '2223', '--interface', '127.0.0.1!nowhere'], '--interface'],
    [['--listen-ng', '2223', '--interface', '127.0.0.1', '--port-min', '40000', '--port-max', '30000'], '--port-max'],
    [['--listen-ng', '2223', '--interface', '127.0.0.1', '--port-min', 'x'], '--port-min'],
    [['--listen-ng', '2223', '--interface', '127.0.0.1', '--timeout', '0'], '--timeout'],
    [['--listen-ng'], '--listen-ng'],
    [['--listen-ng', '--interface', '127.0.0.1'], '--listen-ng'],
    [['--listen-http', '2225'], '--listen-http'],
  ])('%j → an error naming %s', (argv, flag) => {
    const err = cliError(argv);
    expect(err.flag).toBe(flag);
    expect(err.message).toContain(flag);
  });

  it('takes the gateway worker flags: ICE addresses, codecs, fractional timeout, --supervised', () => {
    const options = parseMediaNodeArgs([
      '--listen-ng', '127.0.0.1:0', '--interface', '127.0.0.1', '--timeout', '2.5', '--ice-address', '127.0.0.1',
      '--ice-address=::1', '--codecs', 'PCMU,opus/48000/2,telephone-event', '--supervised',
    ]);
    expect(options).toMatchObject({
      mediaTimeoutMs: 2500,
      iceAddresses: ['127.0.0.1', '::1'],
      codecs: ['PCMU', 'opus/48000/2', 'telephone-event'],
      supervised: true,
    });
    expect(parseMediaNodeArgs(['--listen-ng', '2223', '--interface', '127.0.0.1'])).toMatchObject({ iceAddresses: undefined, codecs: undefined, supervised: false });
  });

  it.each([
    [['--ice-address', 'eth0'], '--ice-address'],
    [['--codecs', 'PCMU,,PCMA'], '--codecs'],
    [['--codecs', 'PCMU', '--codecs', 'PCMA'], '--codecs'],
    [['--timeout', '1.2345'], '--timeout'],
    [['--supervised=yes'], '--supervised'],
  ])('worker flags %j → an error naming %s', (extra, flag) => {
    const err = cliError(['--listen-ng', '2223', '--interface', '127.0.0.1', ...extra]);
    expect(err.flag).toBe(flag);
    expect(err.message).toContain(flag);
  });

  it('takes --timeout-ms, any whole number of ms from 1 (what the gateway gives its workers), and not with --timeout', () => {
    const base = ['--listen-ng', '2223', '--interface', '127.0.0.1'];
    expect(parseMediaNodeArgs([...base, '--timeout-ms', '1'])).toMatchObject({ mediaTimeoutMs: 1 });
    expect(parseMediaNodeArgs([...base, '--timeout-ms', '1000000000'])).toMatchObject({ mediaTimeoutMs: 1_000_000_000 });
    for (const bad of ['0', '1.5', '-3', '1e3', '']) expect(cliError([...base, `--timeout-ms=${bad}`]).flag).toBe('--timeout-ms');
    expect(cliError([...base, '--timeout', '2', '--timeout-ms', '2000']).flag).toBe('--timeout-ms');
  });

  it('needs no ng listener when --supervised (ng comes over the IPC channel), and still does otherwise', () => {
    expect(parseMediaNodeArgs(['--supervised', '--interface', '127.0.0.1'])).toMatchObject({ udp: [], tcp: [], ws: [], supervised: true });
    expect(cliError(['--interface', '127.0.0.1']).flag).toBe('--listen-ng');
  });

  it('reads listen addresses and interfaces as rtpengine writes them', () => {
    expect(parseListen('--listen-ng', '[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseInterface('::1')).toEqual({ name: 'default', address: '::1', advertised: undefined });
    expect(parseInterface('int/10.0.0.1')).toEqual({ name: 'int', address: '10.0.0.1', advertised: undefined });
  });
});

describe('runMediaNode', () => {
  let node: RunningMediaNode | undefined;
  afterEach(async () => {
    await node?.stop();
    node = undefined;
  });

  it('serves ng over UDP on top of the factory media plane, deletes calls that time out, and stops cleanly', async () => {
    const media = new RecordingMedia();
    let factoryOptions: MediaFactoryOptions | undefined;
    node = await runMediaNode(parseMediaNodeArgs(['--listen-ng', '127.0.0.1:0', '--interface', 'pub/127.0.0.1!203.0.113.7', '--timeout', '30'])!, (o) => {
      factoryOptions = o;
      return media;
    });
    expect(factoryOptions).toEqual({ bindAddress: '127.0.0.1', advertisedAddress: '203.0.113.7', portMin: 30000, portMax: 40000, mediaTimeoutMs: 30_000 });

    const client = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    const reply = once(client, 'message');
    const offer = encodeBencode({ command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: 'v=0\r\nm=audio 4000 RTP/AVP 0\r\n', direction: ['pub', 'pub'] });
    client.send(Buffer.concat([Buffer.from('n1 '), offer]), node.server.addresses.udp[0]!.port, '127.0.0.1');
    const [data] = (await reply) as [Buffer];
    expect(data.toString()).toMatch(/^n1 d6:result2:ok3:sdp\d+:v=0/);
    expect(data.toString()).not.toContain('warning');
    client.close();

    media.emit('timeout', 'c', 'f');
    await new Promise((r) => setTimeout(r, 10));
    expect(media.calls.at(-1)).toEqual(['delete', 'c']);

    await node.stop();
    expect(media.calls.at(-1)).toEqual(['close']);
    node = undefined;
  });

  it('hands ICE addresses and codecs to the media plane', async () => {
    let factoryOptions: MediaFactoryOptions | undefined;
    const argv = ['--listen-ng', '127.0.0.1:0', '--interface', '127.0.0.1', '--ice-address', '127.0.0.1', '--codecs', 'PCMA,telephone-event'];
    node = await runMediaNode(parseMediaNodeArgs(argv)!, (o) => {
      factoryOptions = o;
      return new RecordingMedia();
    });
    expect(factoryOptions).toEqual({ bindAddress: '127.0.0.1', portMin: 30000, portMax: 40000, iceAddresses: ['127.0.0.1'], codecs: ['PCMA', 'telephone-event'] });
  });
});

// The entry point loads the real media service once its flags are good; until that module exists (it is
// being written in parallel) only the flag errors can be checked end to end.
const hasMediaService = existsSync(new URL('../../src/rtp-bridge/media-service.ts', import.meta.url));

describe('src/media-node.ts', () => {
  const run = (args: string[]) => {
    const child = spawn(process.execPath, ['src/media-node.ts', ...args], { cwd: new URL('../../', import.meta.url), env: { ...process.env, LOG_LEVEL: 'silent' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    return { child, exit: once(child, 'exit').then(([code]) => ({ code: code as number, stderr })) };
  };

  it('exits 2 naming the bad flag', async () => {
    const { code, stderr } = await run(['--listen-ng', 'nope', '--interface', '127.0.0.1']).exit;
    expect(code).toBe(2);
    expect(stderr).toContain('--listen-ng');
  });

  it('refuses --supervised without an IPC channel to report to (exit 2)', async () => {
    const { code, stderr } = await run(['--supervised', '--listen-ng', '127.0.0.1:0', '--interface', '127.0.0.1']).exit;
    expect(code).toBe(2);
    expect(stderr).toContain('--supervised needs an IPC channel');
  });

  it.skipIf(!hasMediaService)('starts, answers ping, and exits 0 on SIGTERM', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const { child, exit } = run(['--listen-ng', `127.0.0.1:${port}`, '--interface', '127.0.0.1', '--port-min', '41000', '--port-max', '41100']);
    const client = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    let pong = '';
    client.on('message', (m) => (pong = m.toString()));
    for (let i = 0; i < 100 && pong === ''; i++) {
      client.send(`p${i} d7:command4:pinge`, port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 100));
    }
    client.close();
    expect(pong).toMatch(/^p\d+ d6:result4:ponge$/);
    child.kill('SIGTERM');
    expect((await exit).code).toBe(0);
  });
});
