/**
 * A real gateway in the test process, from a YAML config: ephemeral HTTP/SIP ports, a media port range and a
 * services port chosen free for this run. Teardown checks that nothing leaked.
 */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { TestPhone, type TestPhoneOptions } from '../support/test-phone.ts';
import { SippProcess, sippReport, type SippResult } from '../support/sipp.ts';

/** A UDP+TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 9000);
    const ok = await new Promise<boolean>((resolve) => {
      const tcp = createServer();
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => {
        const udp = createSocket('udp4');
        udp.once('error', () => tcp.close(() => resolve(false)));
        udp.bind(port, '127.0.0.1', () => udp.close(() => tcp.close(() => resolve(true))));
      });
    });
    if (ok) return port;
  }
}

// Test files run in parallel workers, each with its own counter: start each somewhere else in 50000–63999.
let mediaBase = 50000 + 400 * Math.floor(Math.random() * 35);

export interface GatewayForOptions {
  sipPort?: number;
  /** sip.timers.t1 in ms (default 500): Timers B, F, H, J, L, M are 64·T1. */
  t1?: number;
  /** media.timeout in seconds (default 30). */
  mediaTimeout?: number;
}

/** Starts a gateway; `extraYaml` is appended to a base config with alice and bob (password "demo"). */
export async function gatewayFor(extraYaml = '', options: GatewayForOptions = {}): Promise<Gateway & { sipPort: number }> {
  const sipPort = options.sipPort ?? (await freePort());
  const servicesPort = await freePort();
  const min = mediaBase;
  mediaBase += 400;
  if (mediaBase > 64000) mediaBase = 50000;
  const yaml = `
http: { host: 127.0.0.1, port: 0 }
sip:
  listeners:
    - { protocol: udp, host: 127.0.0.1, port: ${sipPort} }
    - { protocol: tcp, host: 127.0.0.1, port: ${sipPort} }
${options.t1 !== undefined ? `  timers: { t1: ${options.t1}, t2: ${Math.max(options.t1, 4000)} }\n` : ''}media: { bindAddress: 127.0.0.1, ports: { min: ${min}, max: ${min + 399} }, timeout: ${options.mediaTimeout ?? 30} }
services: { enabled: true, host: 127.0.0.1, port: ${servicesPort} }
logLevel: silent
${extraYaml.includes('users:') ? '' : 'users:\n  - { name: alice, password: demo, displayName: Alice }\n  - { name: bob, password: demo, displayName: Bob }\n'}${extraYaml}
`;
  const gateway = await startGateway(parseConfig(yaml, 'test config', {}));
  return Object.assign(gateway, { sipPort });
}

// ---- helpers for the integration suite ----------------------------------------------------------------------

/** Things to undo after each test, newest first: `const cleanup = new Cleanup(); afterEach(() => cleanup.run())`. */
export class Cleanup {
  readonly #steps: Array<() => unknown> = [];

  add<T>(value: T, undo: (value: T) => unknown): T {
    this.#steps.push(() => undo(value));
    return value;
  }

  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // One failed cleanup must not leave the others undone.
      }
    }
  }
}

/** Polls `check` until it returns true (or a truthy value), failing with `what` after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A test phone connected to `gw` as `user` (password "demo"), registered unless `register: false`. */
export async function phoneFor(gw: Gateway, user: string, options: { register?: boolean } & Partial<TestPhoneOptions> = {}): Promise<TestPhone> {
  const { register = true, ...rest } = options;
  const phone = await TestPhone.connect({ url: gw.urls.ws, user, password: 'demo', domain: '127.0.0.1', ...rest });
  if (register) {
    try {
      await phone.register();
    } catch (error) {
      await phone.close();
      throw error;
    }
  }
  return phone;
}

/** What the gateway holds that a finished call must give back. */
export interface GatewayResources {
  calls: number;
  dialogs: number;
  mediaSessions: number;
  ports: number;
  transactions: number;
  transactionTimers: number;
  retransmitters: number;
}

export async function resourcesOf(gw: Gateway): Promise<GatewayResources> {
  const tx = gw.stack.transactions.counts;
  const media = await gw.media.statistics();
  return {
    calls: gw.b2bua.activeCalls,
    dialogs: gw.b2bua.table.size,
    mediaSessions: media.sessions,
    ports: media.portsInUse,
    transactions: tx.inviteClient + tx.inviteServer + tx.nonInviteClient + tx.nonInviteServer + tx.pendingCancels,
    transactionTimers: tx.timers,
    retransmitters: tx.retransmitters,
  };
}

/**
 * Waits until the gateway holds no more than `baseline` (default: nothing). Transactions are compared only with
 * `transactions: true`: over UDP they outlive the call by design (Timer D ≥ 32 s, Timers J/L/M = 64·T1).
 */
export async function expectReleased(
  gw: Gateway,
  options: { baseline?: GatewayResources; timeoutMs?: number; transactions?: boolean } = {},
): Promise<void> {
  const zero: GatewayResources = { calls: 0, dialogs: 0, mediaSessions: 0, ports: 0, transactions: 0, transactionTimers: 0, retransmitters: 0 };
  const want = options.baseline ?? zero;
  const timeoutMs = options.timeoutMs ?? 5000;
  const pick = (r: GatewayResources): Partial<GatewayResources> =>
    options.transactions ? r : { calls: r.calls, dialogs: r.dialogs, mediaSessions: r.mediaSessions, ports: r.ports };
  const same = (r: GatewayResources): boolean => JSON.stringify(pick(r)) === JSON.stringify(pick(want));
  let now = await resourcesOf(gw);
  const deadline = Date.now() + timeoutMs;
  while (!same(now) && Date.now() < deadline) {
    await sleep(50);
    now = await resourcesOf(gw);
  }
  if (!same(now)) {
    throw new Error(`gateway resources not released within ${timeoutMs} ms: have ${JSON.stringify(pick(now))}, want ${JSON.stringify(pick(want))}`);
  }
}

// ---- SIPp as a trunk ----------------------------------------------------------------------------------------

/** Whether something listens on 127.0.0.1:port (UDP socket, or TCP in LISTEN), read from /proc without touching it. */
function bound(port: number, protocol: 'udp' | 'tcp'): boolean {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  try {
    return readFileSync(`/proc/net/${protocol}`, 'utf8')
      .split('\n')
      .some((line) => {
        const cols = line.trim().split(/\s+/);
        return cols[1] === hex && (protocol === 'udp' || cols[3] === '0A');
      });
  } catch {
    return false;
  }
}

export interface SippPeer {
  readonly sipp: SippProcess;
  /** SIP port SIPp listens on. */
  readonly port: number;
  /** RTP port (`-mp`, [media_port]); echoed with `echo`. */
  readonly mediaPort: number;
  /** Resolves with SIPp's result once it exited; rejects (with its logs) unless it exited 0. */
  succeeded(timeoutMs?: number): Promise<SippResult>;
  /** Every SIP message SIPp sent and received so far (-trace_msg). */
  messages(): string;
  /** `<log>` lines (-trace_logs). */
  logs(): string;
  stop(): Promise<SippResult>;
}

export interface SippPeerOptions {
  scenario: string;
  /** `host:port` to call (a UAC); omitted for a UAS. */
  remote?: string;
  transport?: 'udp' | 'tcp';
  /** Echo RTP on the media port (-rtp_echo). */
  echo?: boolean;
  keys?: Record<string, string | number>;
  /** -s: the Request-URI user of a UAC. */
  service?: string;
  /** -d: how long `<pause/>` lasts. */
  pauseMs?: number;
  calls?: number;
  /** -l: calls at once (UAC). */
  concurrent?: number;
  /** -r: calls per second (UAC). */
  rate?: number;
  /** Local address (-i); default 127.0.0.1. */
  address?: string;
  port?: number;
  timeoutSeconds?: number;
}

function readLog(dir: string, suffix: string): string {
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .join('\n');
}

/** Starts SIPp and waits until its SIP port is bound (a UAS must be listening before the gateway calls it). */
export async function startSipp(options: SippPeerOptions): Promise<SippPeer> {
  const port = options.port ?? (await freePort());
  const mediaPort = await freePort();
  const transport = options.transport ?? 'udp';
  const extra = ['-mi', options.address ?? '127.0.0.1', '-mp', String(mediaPort), '-trace_msg', '-trace_logs', '-max_socket', '1000'];
  if (options.address !== undefined) extra.push('-i', options.address);
  if (options.echo) extra.push('-rtp_echo');
  for (const [key, value] of Object.entries(options.keys ?? {})) extra.push('-key', key, String(value));
  if (options.service !== undefined) extra.push('-s', options.service);
  if (options.pauseMs !== undefined) extra.push('-d', String(options.pauseMs));
  if (options.concurrent !== undefined) extra.push('-l', String(options.concurrent));
  if (options.rate !== undefined) extra.push('-r', String(options.rate));
  const sipp = new SippProcess({
    scenario: options.scenario,
    ...(options.remote !== undefined ? { remote: options.remote } : {}),
    localPort: port,
    transport: transport === 'udp' ? 'u1' : 't1',
    calls: options.calls ?? 1,
    timeoutSeconds: options.timeoutSeconds ?? 30,
    extra,
  });
  let exited = false;
  /** A failed run keeps its directory (the error message names it); a good one is removed by stop(). */
  let failed = false;
  void sipp.done.then(() => (exited = true), () => (exited = true));
  const bindAddress = options.address ?? '127.0.0.1';
  if (options.remote === undefined && bindAddress === '127.0.0.1') {
    const protocol = transport === 'udp' ? 'udp' : 'tcp';
    await waitFor(() => exited || bound(port, protocol), `SIPp listening on ${protocol} ${port}`, 5000, 10);
  }
  const peer: SippPeer = {
    sipp,
    port,
    mediaPort,
    messages: () => readLog(sipp.dir, '_messages.log'),
    logs: () => readLog(sipp.dir, '_logs.log'),
    async succeeded(timeoutMs = 20_000) {
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        sipp.done,
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
      ]).finally(() => clearTimeout(timer));
      if (result === 'timeout') {
        const trace = peer.messages().slice(-6000);
        failed = true;
        const stopped = await sipp.stop();
        throw new Error(`SIPp (${options.scenario}) still running after ${timeoutMs} ms\n${trace}\n${sippReport({ ...stopped, code: stopped.code || 1 })}`);
      }
      if (result.code !== 0) {
        failed = true;
        throw new Error(`${peer.messages().slice(-6000)}\n${sippReport(result)}`);
      }
      return result;
    },
    async stop() {
      const result = await sipp.stop();
      if (!failed) rmSync(sipp.dir, { recursive: true, force: true });
      return result;
    },
  };
  if (exited) {
    failed = true;
    throw new Error(`SIPp (${options.scenario}) exited at once\n${sippReport(await sipp.done)}`);
  }
  return peer;
}

/** The YAML for one trunk (`carrier` by default) towards a SIPp peer, with an outbound route for +1555…. */
export function trunkYaml(peer: { port: number }, options: { name?: string; transport?: 'udp' | 'tcp'; auth?: { username: string; password: string }; allowedSources?: string[] } = {}): string {
  const name = options.name ?? 'carrier';
  const auth = options.auth ? `, username: ${options.auth.username}, password: ${options.auth.password}` : '';
  return `  - { name: ${name}, host: 127.0.0.1, port: ${peer.port}, transport: ${options.transport ?? 'udp'}, allowedSources: [${(options.allowedSources ?? ['127.0.0.1']).join(', ')}]${auth} }\n`;
}

/** Users alice and bob (password "demo") who may also dial +1555 numbers, with generous limits. */
export const DIALING_USERS = `users:
  - { name: alice, password: demo, displayName: Alice, dialPatterns: ['@users', '@services', '\\+1555[0-9]+'], maxCalls: 200 }
  - { name: bob, password: demo, displayName: Bob, dialPatterns: ['@users', '@services', '\\+1555[0-9]+'], maxCalls: 200 }
`;

/** The DID the inbound-trunk tests call; `inboundTrunkGateway` routes it (and its neighbours) to alice. */
export const INBOUND_DID = '+15550001000';

/** A gateway with one trunk allowed from 127.0.0.1 whose calls to INBOUND_DID ring alice. */
export async function inboundTrunkGateway(cleanup: Cleanup): Promise<Gateway & { sipPort: number }> {
  const yaml = `${DIALING_USERS}trunks:
${trunkYaml({ port: 5060 }, { allowedSources: ['127.0.0.1'] })}routes:
  inbound:
    - { match: '\\+1555000100[0-9]', users: [alice] }
`;
  return cleanup.add(await gatewayFor(yaml), (g) => g.close());
}

/** SIPp as the trunk, calling INBOUND_DID through the gateway with `scenario`. */
export async function trunkCallsIn(
  cleanup: Cleanup,
  gw: { sipPort: number },
  scenario: string,
  options: Partial<SippPeerOptions> = {},
): Promise<SippPeer> {
  return cleanup.add(await startSipp({ scenario, remote: `127.0.0.1:${gw.sipPort}`, service: INBOUND_DID, ...options }), (p) => p.stop());
}
