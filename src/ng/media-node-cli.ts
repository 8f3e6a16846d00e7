/**
 * The media-only node: the media plane and an ng listener, nothing else (no SIP, no HTTP). Kamailio, OpenSIPS
 * or a remote gateway drive it exactly as they would drive rtpengine. Flags are named after rtpengine's:
 *
 *   --listen-ng [IP:]PORT        ng over UDP (repeatable)            rtpengine --listen-ng
 *   --listen-tcp-ng [IP:]PORT    ng over TCP (repeatable)            rtpengine --listen-tcp-ng
 *   --listen-ws-ng [IP:]PORT     ng over WebSocket (repeatable)      rtpengine serves it from --listen-http
 *   --interface [NAME/]ADDR[!ADVERTISED]                              rtpengine --interface (one here)
 *   --port-min N --port-max N    media port range (30000-40000)      rtpengine --port-min/--port-max
 *   --timeout SECS               no-media timeout (media default)    rtpengine --timeout (fractions allowed here)
 *   --timeout-ms MS              the same in milliseconds (what the gateway passes its workers: any positive
 *                                media.timeout survives as a whole number of ms)
 *   --ice-address ADDR           ICE host candidate (repeatable)     default: the advertised address
 *   --codecs LIST                codecs relayed, comma-separated     default: the media plane's (PCMU,…,opus)
 *   --supervised                 run as a gateway media worker: ng and media events over the IPC channel (no
 *                                --listen-* needed), exit when that channel closes (src/cluster/worker-process.ts)
 *
 * A PORT without an address listens on 127.0.0.1, not on every address as rtpengine does: ng has no
 * authentication, so exposing it must be a deliberate choice. IPv6 addresses go in brackets: [::1]:2223.
 */
import { isIP, isIPv6 } from 'node:net';
import { GatewayError } from '../errors.ts';
import { logger } from '../log.ts';
import type { MediaApi } from '../rtp-bridge/media-api.ts';
import { NgServer } from './ng-server.ts';
import type { NgListenAddress } from './ng-server.ts';

export const MEDIA_NODE_USAGE = `usage: node src/media-node.ts --listen-ng [IP:]PORT --interface [NAME/]ADDR[!ADVERTISED]
       [--listen-tcp-ng [IP:]PORT] [--listen-ws-ng [IP:]PORT]
       [--port-min 30000] [--port-max 40000] [--timeout SECONDS | --timeout-ms MS]
       [--ice-address ADDR]... [--codecs PCMU,PCMA,G722,opus,telephone-event] [--supervised]`;

export class CliError extends GatewayError {
  readonly flag: string | undefined;

  constructor(message: string, flag?: string) {
    super('CLI_INVALID', message);
    this.flag = flag;
  }
}

export interface MediaInterface {
  /** rtpengine's logical interface name (`direction`/`interface` keys refer to it); "default" if not given. */
  name: string;
  address: string;
  advertised: string | undefined;
}

export interface MediaNodeOptions {
  udp: NgListenAddress[];
  tcp: NgListenAddress[];
  ws: NgListenAddress[];
  interface: MediaInterface;
  portMin: number;
  portMax: number;
  mediaTimeoutMs: number | undefined;
  iceAddresses: string[] | undefined;
  codecs: string[] | undefined;
  /** Started by the gateway's supervisor (IPC channel): report readiness to it, stop when it goes. */
  supervised: boolean;
}

/** What the node needs from the media plane's factory (MediaService.create in src/rtp-bridge/media-service.ts). */
export interface MediaFactoryOptions {
  bindAddress: string;
  advertisedAddress?: string;
  portMin: number;
  portMax: number;
  mediaTimeoutMs?: number;
  iceAddresses?: string[];
  codecs?: string[];
}

const VALUE_FLAGS = new Set([
  '--listen-ng',
  '--listen-tcp-ng',
  '--listen-ws-ng',
  '--interface',
  '--port-min',
  '--port-max',
  '--timeout',
  '--timeout-ms',
  '--ice-address',
  '--codecs',
]);
const SWITCHES = new Set(['--supervised']);
/** A CodecPolicy entry, name[/rate[/channels]] (the media plane checks the names it knows). */
const CODEC = /^[A-Za-z0-9_.-]+(?:\/\d+(?:\/\d+)?)?$/;

/** `undefined` means --help was asked for. Throws CliError naming the flag at fault. */
export function parseMediaNodeArgs(argv: readonly string[]): MediaNodeOptions | undefined {
  const values = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return undefined;
    if (SWITCHES.has(arg)) {
      values.set(arg, ['']);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (SWITCHES.has(flag)) throw new CliError(`${flag} takes no value`, flag);
    if (!VALUE_FLAGS.has(flag)) throw new CliError(`unknown flag ${JSON.stringify(flag)}`, flag);
    let value: string | undefined;
    if (flag !== arg) value = arg.slice(eq + 1);
    else {
      value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new CliError(`${flag} needs a value`, flag);
    }
    values.set(flag, [...(values.get(flag) ?? []), value]);
  }
  const listen = (flag: string): NgListenAddress[] => (values.get(flag) ?? []).map((v) => parseListen(flag, v));
  const udp = listen('--listen-ng');
  const tcp = listen('--listen-tcp-ng');
  const ws = listen('--listen-ws-ng');
  const supervised = values.has('--supervised');
  // A supervised worker is driven over its IPC channel: a listener is only there if asked for.
  if (udp.length + tcp.length + ws.length === 0 && !supervised) {
    throw new CliError('one of --listen-ng, --listen-tcp-ng or --listen-ws-ng is required', '--listen-ng');
  }
  const interfaces = values.get('--interface') ?? [];
  if (interfaces.length === 0) throw new CliError('--interface is required', '--interface');
  if (interfaces.length > 1) throw new CliError('--interface: only one interface is supported', '--interface');
  const portMin = single(values, '--port-min', (v) => parsePort('--port-min', v)) ?? 30000;
  const portMax = single(values, '--port-max', (v) => parsePort('--port-max', v)) ?? 40000;
  if (portMax <= portMin) throw new CliError(`--port-max ${portMax} must be above --port-min ${portMin}`, '--port-max');
  const timeout = single(values, '--timeout', (v) => parseSeconds('--timeout', v));
  const timeoutMs = single(values, '--timeout-ms', (v) => parseMilliseconds('--timeout-ms', v));
  if (timeout !== undefined && timeoutMs !== undefined) throw new CliError('--timeout and --timeout-ms: give one of them', '--timeout-ms');
  const iceAddresses = values.get('--ice-address')?.map((v) => {
    if (isIP(v) === 0) throw new CliError(`--ice-address ${JSON.stringify(v)}: expected an IP address`, '--ice-address');
    return v;
  });
  const codecs = single(values, '--codecs', (v) => {
    const list = v.split(',');
    if (list.some((c) => !CODEC.test(c))) throw new CliError(`--codecs ${JSON.stringify(v)}: expected NAME[/RATE[/CHANNELS]],…`, '--codecs');
    return list;
  });
  return {
    udp,
    tcp,
    ws,
    interface: parseInterface(interfaces[0]!),
    portMin,
    portMax,
    mediaTimeoutMs: timeoutMs ?? (timeout === undefined ? undefined : Math.round(timeout * 1000)),
    iceAddresses,
    codecs,
    supervised,
  };
}

function single<T>(values: Map<string, string[]>, flag: string, parse: (v: string) => T): T | undefined {
  const list = values.get(flag) ?? [];
  if (list.length > 1) throw new CliError(`${flag} given more than once`, flag);
  return list.length === 0 ? undefined : parse(list[0]!);
}

function parseInteger(flag: string, value: string, min: number, max: number): number {
  if (!/^\d{1,6}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new CliError(`${flag} ${JSON.stringify(value)}: expected an integer from ${min} to ${max}`, flag);
  }
  return Number(value);
}

/** rtpengine takes whole seconds; fractions are accepted too (the gateway's media.timeout may have them). */
function parseSeconds(flag: string, value: string): number {
  if (!/^\d{1,5}(?:\.\d{1,3})?$/.test(value) || Number(value) <= 0 || Number(value) > 86_400) {
    throw new CliError(`${flag} ${JSON.stringify(value)}: expected seconds, above 0 and at most 86400`, flag);
  }
  return Number(value);
}

/** A whole number of ms, at least 1; no upper bound here (the media plane's timeout watcher sweeps, no long timer). */
function parseMilliseconds(flag: string, value: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) {
    throw new CliError(`${flag} ${JSON.stringify(value)}: expected a whole number of milliseconds, at least 1`, flag);
  }
  return Number(value);
}

function parsePort(flag: string, value: string): number {
  return parseInteger(flag, value, 1, 65535);
}

/** `PORT`, `IPv4:PORT` or `[IPv6]:PORT`. */
export function parseListen(flag: string, value: string): NgListenAddress {
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d+)$/.exec(value);
  const host = m?.[1] ?? m?.[2] ?? '127.0.0.1';
  if (m === null || isIP(host) === 0 || (m[1] !== undefined && !isIPv6(host))) {
    throw new CliError(`${flag} ${JSON.stringify(value)}: expected [IP:]PORT (IPv6 as [ADDR]:PORT)`, flag);
  }
  return { host, port: parseInteger(flag, m[3]!, 0, 65535) };
}

/** rtpengine's `[NAME/]IP[!IP]`: a logical name, the address to bind, the address to put in SDP. */
export function parseInterface(value: string): MediaInterface {
  const m = /^(?:([A-Za-z0-9_.:-]+)\/)?([^!/]+)(?:!(.+))?$/.exec(value);
  const address = m?.[2];
  const advertised = m?.[3];
  if (m === null || address === undefined || isIP(address) === 0 || (advertised !== undefined && isIP(advertised) === 0)) {
    throw new CliError(`--interface ${JSON.stringify(value)}: expected [NAME/]ADDRESS[!ADVERTISED-ADDRESS]`, '--interface');
  }
  return { name: m[1] ?? 'default', address, advertised };
}

export interface RunningMediaNode {
  server: NgServer;
  media: MediaApi;
  stop(): Promise<void>;
}

/** Starts the media plane and the ng listeners. The factory is injected so the node runs any MediaApi. */
export async function runMediaNode(
  options: MediaNodeOptions,
  createMedia: (options: MediaFactoryOptions) => MediaApi | Promise<MediaApi>,
): Promise<RunningMediaNode> {
  const factoryOptions: MediaFactoryOptions = {
    bindAddress: options.interface.address,
    portMin: options.portMin,
    portMax: options.portMax,
  };
  if (options.interface.advertised !== undefined) factoryOptions.advertisedAddress = options.interface.advertised;
  if (options.mediaTimeoutMs !== undefined) factoryOptions.mediaTimeoutMs = options.mediaTimeoutMs;
  if (options.iceAddresses !== undefined) factoryOptions.iceAddresses = options.iceAddresses;
  if (options.codecs !== undefined) factoryOptions.codecs = options.codecs;
  const media = await createMedia(factoryOptions);
  // Over ng nobody can be told that a call went silent, so, like rtpengine, the node ends it itself.
  media.on('timeout', (callId, tag) => {
    logger.info({ callId, tag }, 'media timeout, deleting the call');
    media.delete(callId).catch((err: unknown) => logger.warn({ callId, err }, 'delete after media timeout failed'));
  });
  media.on('failed', (callId, tag, reason) => logger.warn({ callId, tag, reason }, 'media leg failed'));
  let server: NgServer;
  try {
    server = await NgServer.listen({
      media,
      udp: options.udp,
      tcp: options.tcp,
      ws: options.ws,
      parse: {
        interfaces: [options.interface.name],
        addressFamilies: [isIPv6(options.interface.address) ? 'IP6' : 'IP4'],
      },
    });
  } catch (err) {
    await media.close();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    server,
    media,
    stop: () => (stopping ??= server.close().then(() => media.close())),
  };
}
