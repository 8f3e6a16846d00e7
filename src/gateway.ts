/**
 * The composition root: builds the gateway from a validated config — media plane, SIP stack (HTTP/WS for
 * browsers, UDP/TCP/TLS for trunks), registrar, B2BUA, trunk registrations and the built-in services peer —
 * and takes it down again in the right order. Ownership follows the architecture: Gateway → B2BUA → calls →
 * sessions and media; `close()` is idempotent and releases every socket and timer it started.
 */
import { readFileSync } from 'node:fs';
import { SipStack } from './signaling/sip-stack.ts';
import type { ListenerConfig, HttpConfig } from './signaling/transport-layer.ts';
import { DigestServer, type Ha1Lookup } from './signaling/auth/digest-server.ts';
import { computeHa1 } from './signaling/auth/digest.ts';
import { LocationService } from './signaling/registrar/location-service.ts';
import { Registrar } from './signaling/registrar/registrar.ts';
import { MediaService } from './rtp-bridge/media-service.ts';
import type { MediaApi } from './rtp-bridge/media-api.ts';
import { MediaDispatcher, type DispatchNode } from './rtp-bridge/media-dispatcher.ts';
import { RemoteMediaNode } from './rtp-bridge/remote-media.ts';
import { startMediaWorkers, workerCount } from './cluster/media-workers.ts';
import { WorkerStartError } from './cluster/worker-process.ts';
import type { MediaWorker } from './cluster/media-worker.ts';
import { ServicesPeer } from './services/services-peer.ts';
import { B2bua } from './sip-bridge/b2bua.ts';
import { Router } from './sip-bridge/router.ts';
import { TrunkAcl } from './sip-bridge/trunk-acl.ts';
import { TrunkRegistration } from './sip-bridge/trunk-registration.ts';
import type { GatewayConfig } from './config/schema.ts';
import { ConfigError } from './config/config-error.ts';
import { GatewayError } from './errors.ts';
import { guardFromConfig, stackSecurityOptions, tokenOptionsFromConfig } from './security/from-config.ts';
import { RequestAuthenticator } from './security/request-auth.ts';
import { logger } from './log.ts';

const log = logger.child({ module: 'gateway' });

export class StartupError extends GatewayError {
  constructor(message: string, cause?: unknown) {
    super('GATEWAY_STARTUP', message, { cause });
  }
}

export interface Gateway {
  readonly config: GatewayConfig;
  readonly stack: SipStack;
  /** The in-process MediaService, or a MediaDispatcher when `media.workers` or `media.nodes` is configured. */
  readonly media: MediaApi;
  /** The supervised media processes (`media.workers`), nodes of `media`; empty without workers. */
  readonly mediaWorkers: readonly MediaWorker[];
  readonly b2bua: B2bua;
  readonly location: LocationService;
  readonly services: ServicesPeer | undefined;
  readonly registrations: readonly TrunkRegistration[];
  readonly urls: { page: string; ws: string };
  close(): Promise<void>;
}

function readTls(files: { cert: string; key: string }, key: string): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(files.cert), key: readFileSync(files.key) };
  } catch (err) {
    throw new ConfigError('configuration', [{ key, message: `cannot read TLS files: ${(err as Error).message}` }]);
  }
}

/** HA1 for a configured user, from its password or the stored hash for the algorithm asked. */
function ha1Lookup(config: GatewayConfig): Ha1Lookup {
  const users = new Map(config.users.map((u) => [u.name, u]));
  return (username, realm, algorithm) => {
    const user = users.get(username);
    if (user === undefined) return undefined;
    if (user.password !== undefined) return computeHa1(algorithm, username, realm, user.password);
    return algorithm.startsWith('SHA-256') ? user.ha1Sha256 : user.ha1;
  };
}

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * The media plane: the in-process service (default); with `media.workers` and/or `media.nodes`, a dispatcher over
 * the supervised worker processes, those remote ng nodes and — if `media.local` — the in-process service.
 */
async function startMedia(config: GatewayConfig): Promise<{ media: MediaApi; workers: MediaWorker[] }> {
  const m = config.media;
  const workerTotal = workerCount(m.workers);
  const local =
    m.local || (m.nodes.length === 0 && workerTotal === 0)
      ? await MediaService.create({
          bindAddress: m.bindAddress,
          ...(m.advertisedAddress ? { advertisedAddress: m.advertisedAddress } : {}),
          ...(m.iceAddresses ? { iceAddresses: [...m.iceAddresses] } : {}),
          portMin: m.ports.min,
          portMax: m.ports.max,
          mediaTimeoutMs: m.timeout * 1000,
          codecs: [...m.codecs],
        })
      : undefined;
  if (m.nodes.length === 0 && workerTotal === 0) return { media: local!, workers: [] };
  const nodes: DispatchNode[] = local === undefined ? [] : [{ name: 'local', media: local }];
  const workers: MediaWorker[] = [];
  try {
    if (workerTotal > 0) {
      const started = await startMediaWorkers(m, workerTotal, { logLevel: logger.level }).catch((err: unknown) => {
        throw err instanceof WorkerStartError ? new StartupError(`${err.message} (media.workers: ${m.workers})`, err) : err;
      });
      workers.push(...started);
      for (const w of started) nodes.push({ name: w.name, media: w, ping: (timeoutMs) => w.ping(timeoutMs), keepCallsWhenSilent: true });
    }
    for (const n of m.nodes) {
      const remote = await RemoteMediaNode.connect({ ng: n.ng, ...(n.name ? { name: n.name } : {}), timeoutMs: m.nodeHealth.commandTimeout * 1000 });
      nodes.push({ name: remote.name, media: remote, ping: (timeoutMs) => remote.ping(timeoutMs) });
    }
    const media = await MediaDispatcher.create({ nodes, pingIntervalMs: m.nodeHealth.pingInterval * 1000, maxMissedPings: m.nodeHealth.maxMissedPings });
    return { media, workers };
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.media.close()));
    throw err;
  }
}

export async function startGateway(config: GatewayConfig): Promise<Gateway> {
  const domain = config.sip.domain ?? config.http.host;
  const bareTls = config.sip.listeners.findIndex((l) => l.protocol === 'tls' && l.tls === undefined);
  if (bareTls !== -1) {
    throw new ConfigError('configuration', [{ key: `sip.listeners[${bareTls}].tls`, message: 'a TLS listener needs cert and key' }]);
  }
  const listeners: ListenerConfig[] = config.sip.listeners.map((l, i) => ({
    protocol: l.protocol === 'udp' ? 'UDP' : l.protocol === 'tcp' ? 'TCP' : 'TLS',
    host: l.host,
    port: l.port,
    ...(l.advertise ? { advertisedHost: l.advertise } : {}),
    ...(l.tls ? { tls: readTls(l.tls, `sip.listeners[${i}].tls`) } : {}),
    ...(l.protocol === 'udp' ? { receiveBufferSize: config.sip.udpReceiveBuffer, sendBufferSize: config.sip.udpSendBuffer } : {}),
  }));
  const http: HttpConfig = {
    host: config.http.host,
    port: config.http.port,
    publicDir: config.http.publicDir,
    wsPath: config.http.wsPath,
    ...(config.http.tls ? { tls: readTls(config.http.tls, 'http.tls') } : {}),
  };

  const { media, workers: mediaWorkers } = await startMedia(config);

  // The defences: trunk sources and the services peer are exempt from bans; everything else is rate-limited,
  // banned after repeated failures, and held to the Origin list, connection cap and idle timeout.
  const acl = await TrunkAcl.create(config.trunks);
  const guard = guardFromConfig(config, { isTrunkSource: (address) => acl.trunkFor(address) !== undefined });
  const security = stackSecurityOptions(config, guard);
  const stack = new SipStack({
    listeners,
    http: { ...http, ...security.http },
    timers: { T1: config.sip.timers.t1, T2: config.sip.timers.t2, T4: config.sip.timers.t4 },
    limits: { maxMessageSize: config.sip.maxMessageSize, ...security.limits },
    userAgent: config.sip.userAgent,
    transport: { ...security.transport },
    overload: {
      enabled: config.limits.overload.enabled,
      maxEventLoopDelayMs: config.limits.overload.maxEventLoopDelay,
      maxCallsInSetup: config.limits.overload.maxCallsInSetup,
      retryAfterSeconds: config.limits.overload.retryAfter,
      sampleIntervalMs: config.limits.overload.sampleInterval,
      methods: config.limits.overload.methods,
    },
  });
  const digest = new DigestServer({ realm: domain });
  const location = new LocationService();
  const lookupHa1 = ha1Lookup(config);
  const recordFailure = guard.recordFailure.bind(guard);
  const registrar = new Registrar({ location, digest, lookup: lookupHa1, onAuthFailure: (source) => recordFailure(source, 'auth') });
  const auth = new RequestAuthenticator({ digest, lookup: lookupHa1, token: tokenOptionsFromConfig(config), recordFailure });
  const b2bua = new B2bua({ config, stack, media, registrar, location, auth, router: new Router(config), acl, domain, realm: digest.realm, recordFailure });
  stack.setTransactionUser(b2bua);

  let services: ServicesPeer | undefined;
  try {
    await stack.start();
    if (config.services.enabled) {
      services = new ServicesPeer({ host: config.services.host, port: config.services.port, echo: config.services.echo, tone: config.services.tone });
      await services.start();
    }
  } catch (err) {
    await stack.close().catch(() => undefined);
    await services?.close().catch(() => undefined);
    await media.close().catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new StartupError(`cannot listen: ${(err as Error).message} (check http.port, sip.listeners and services.port)`, err);
    }
    throw err;
  }

  const sweeper = setInterval(() => {
    location.sweep();
    digest.sweep();
    guard.sweep();
  }, 30_000);
  sweeper.unref();

  const registrations = config.trunks.filter((t) => t.register.enabled).map((t) => new TrunkRegistration(stack, t));
  for (const r of registrations) r.start();

  const scheme = config.http.tls ? 'https' : 'http';
  // The bound port (a test may ask for port 0).
  const httpPort = stack.listeners.find((l) => l.protocol === 'WS' || l.protocol === 'WSS')?.local.port ?? config.http.port;
  const urls = {
    page: `${scheme}://${bracket(config.http.host)}:${httpPort}/`,
    ws: `${scheme === 'https' ? 'wss' : 'ws'}://${bracket(config.http.host)}:${httpPort}${config.http.wsPath}`,
  };
  log.info(
    {
      page: urls.page,
      ws: urls.ws,
      sip: stack.listeners.map((l) => `${l.protocol} ${l.local.address}:${l.local.port}`),
      media: config.media.local ? `${config.media.bindAddress} ${config.media.ports.min}-${config.media.ports.max}` : 'in other processes',
      mediaWorkers: mediaWorkers.map((w) => `${w.name} pid ${w.pid}`),
      mediaNodes: config.media.nodes.map((n) => n.name ?? n.ng),
      services: services ? `${config.services.host}:${services.port}` : 'off',
      users: config.users.length,
      trunks: config.trunks.map((t) => t.name),
    },
    'gateway listening',
  );

  let closing: Promise<void> | undefined;
  return {
    config,
    stack,
    media,
    mediaWorkers,
    b2bua,
    location,
    services,
    registrations,
    urls,
    close() {
      closing ??= (async () => {
        log.info('gateway shutting down');
        clearInterval(sweeper);
        // A worker that exits from here on (a service manager signalling every process) is not restarted.
        for (const w of mediaWorkers) w.retire();
        await b2bua.close();
        await Promise.all(registrations.map((r) => r.close()));
        await services?.close();
        await stack.close();
        await media.close();
        log.info('gateway stopped');
      })();
      return closing;
    },
  };
}
