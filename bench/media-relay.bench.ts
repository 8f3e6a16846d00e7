/**
 * Media relay cost of the whole media service, WebRTC ↔ plain RTP, under N concurrent calls.
 *
 * Processes (all on loopback; none is the process that measures):
 *   gateway   — MediaService, driven over IPC with the MediaApi calls the B2BUA would make (offer/answer/delete).
 *   generator — N light WebRTC clients (bench/light-webrtc-client.ts: real ICE, DTLS-SRTP, SRTP), each sending
 *               50 packets/s of 172-byte G.711 RTP (12 + 160 octets) as a browser calling a trunk.
 *   trunk     — N plain UDP endpoints that echo every RTP packet back (so the trunk→browser direction carries
 *               50 packets/s per call too).
 * The driver (this process) reads the gateway's /proc/<pid>/stat (utime + stime) over the steady-state window
 * and divides by the packets the gateway relayed in that window (one relayed packet = received on one leg and
 * sent on the other), reads VmRSS before the calls and with them, counts loss end to end (sent by the clients
 * vs. echoes they decrypted), then runs measurePlainRelay (bench/dgram-relay.ts, raw mode: bare dgram, no
 * crypto) at the same packet rate for the ratio. Median of `runs` runs.
 *
 *   node_modules/.bin/node bench/media-relay.bench.ts [--sessions 200] [--seconds 10] [--runs 3] [--profile]
 *       [--gateway-flags '--max-semi-space-size=2'] [--compare-flags '--max-semi-space-size=2'] [--no-docs]
 *
 * --profile adds a run whose steady-state window is CPU-profiled (inspector sampling profiler, left out of the
 * figures) and lists the gateway's top self-time functions; the .cpuprofile is kept under $TMPDIR/media-relay-prof.
 * Writes/replaces the "Media relay (WebRTC↔RTP)" section of docs/benchmarks.md unless --no-docs.
 */
import { execSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measurePlainRelay, type PlainRelayResult } from './dgram-relay.ts';
import { writeBenchSection } from './bench-docs.ts';
import { profileSummary, renderSection } from './media-relay-report.ts';
import { runRole, type Reply, type Request } from './media-relay-roles.ts';

export interface MediaRelayOptions {
  readonly sessions?: number;
  readonly seconds?: number;
  readonly warmupSeconds?: number;
  readonly runs?: number;
  readonly profile?: boolean;
  /** Write the docs/benchmarks.md section (default true). */
  readonly docs?: boolean;
  /** Extra Node/V8 flags for the gateway process (e.g. --max-semi-space-size=2). */
  readonly gatewayFlags?: readonly string[];
  /** When given, the runs are repeated with the gateway started with these extra flags, for comparison. */
  readonly compareFlags?: readonly string[];
  /** Gateway port range; 3 ports per call. Default 26000–27999. */
  readonly portMin?: number;
  readonly portMax?: number;
}

export interface MediaRelayRun {
  readonly sessions: number;
  readonly connected: number;
  readonly seconds: number;
  readonly packetsRelayed: number;
  readonly packetsPerSecond: number;
  readonly cpuMs: number;
  readonly usPerPacket: number;
  readonly cpuLoad: number;
  /** The machine's 1-minute load average when the window started: other work competing for the cores. */
  readonly loadAverage: number;
  readonly rssIdleBytes: number;
  readonly rssLoadedBytes: number;
  readonly rssPerSessionBytes: number;
  /**
   * The RSS growth per call split by process.memoryUsage(): live JS objects (after a full GC), V8 heap reserved
   * but not in use (mostly the young generation, which grows with the allocation rate, i.e. the packet rate, up
   * to V8's semi-space limit, not with the number of calls), ArrayBuffers and other V8-accounted native
   * memory, and the rest (sockets, OpenSSL and libuv state, allocator slack).
   */
  readonly memoryPerSession: {
    readonly heapUsedBytes: number;
    readonly heapReservedBytes: number;
    readonly externalBytes: number;
    readonly otherBytes: number;
  };
  readonly lossRatio: number;
  readonly srtpFailures: number;
  /** Packet counts along the path, over the whole media period: where loss happened. */
  readonly hops: Readonly<Record<string, number>>;
  readonly plain: PlainRelayResult;
  readonly ratio: number;
}

export interface ProfileEntry {
  readonly name: string;
  /** Share of the non-idle samples. */
  readonly busyPercent: number;
}

export interface MediaRelayResult {
  readonly bench: 'media-relay';
  readonly machine: { readonly nproc: number; readonly cpu: string; readonly node: string };
  readonly command: string;
  readonly gatewayFlags: readonly string[];
  readonly sessions: number;
  readonly runs: readonly MediaRelayRun[];
  readonly median: {
    readonly usPerPacket: number;
    readonly plainUsPerPacket: number;
    readonly ratio: number;
    readonly rssPerSessionBytes: number;
    readonly memoryPerSession: MediaRelayRun['memoryPerSession'];
    readonly lossRatio: number;
    readonly packetsPerSecond: number;
    readonly cpuLoad: number;
  };
  readonly targets: { readonly ratio: boolean; readonly rssPerSession: boolean };
  /** With compareFlags: the same runs with the gateway started with those extra flags. */
  readonly compared?: { readonly gatewayFlags: readonly string[]; readonly runs: readonly MediaRelayRun[]; readonly median: MediaRelayResult['median'] };
  /** With --profile: where the gateway's busy time goes in the steady state. */
  readonly profile?: { readonly functions: readonly ProfileEntry[]; readonly areas: readonly ProfileEntry[] };
}

const thisFile = fileURLToPath(import.meta.url);
const PROFILE_DIR = path.join(os.tmpdir(), 'media-relay-prof');

class Child {
  readonly process: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;

  constructor(role: string, execArgv: string[] = []) {
    // Signalling-rate log lines (one per offer/answer/delete) would only clutter the output.
    const env = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
    this.process = fork(thisFile, ['--role', role], { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.process.on('message', (m: Reply) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    this.process.on('exit', (code) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${role} exited (${code})`));
      this.#pending.clear();
    });
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.process.send({ id, method, args } satisfies Request);
    });
  }

  async exit(): Promise<void> {
    if (this.process.exitCode !== null) return;
    const exited = new Promise((r) => this.process.once('exit', r));
    this.call('exit').catch(() => {});
    await Promise.race([exited, sleep(5000)]);
    if (this.process.exitCode === null) this.process.kill();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function procStat(pid: number): { cpuTicks: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { cpuTicks: Number(fields[11]) + Number(fields[12]) }; // utime, stime (fields 14 and 15)
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? Number.NaN : Number(m[1]) * 1024;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execSync('getconf CLK_TCK', { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function trunkSdp(port: number): string {
  return ['v=0', `o=trunk 1 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=sendrecv', ''].join('\r\n');
}

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map((item, j) => fn(item, i + j)));
}

async function oneRun(options: Required<MediaRelayOptions>, profile: boolean): Promise<MediaRelayRun> {
  const n = options.sessions;
  if (profile) {
    rmSync(PROFILE_DIR, { recursive: true, force: true });
    mkdirSync(PROFILE_DIR, { recursive: true });
  }
  const gateway = new Child('gateway', ['--expose-gc', ...options.gatewayFlags]);
  const trunk = new Child('trunk');
  const generator = new Child('generator');
  try {
    const pid = await gateway.call<number>('start', { portMin: options.portMin, portMax: options.portMax });
    await sleep(500);
    await gateway.call('gc');
    const rssIdle = rssBytes(pid);
    const memIdle = await gateway.call<NodeJS.MemoryUsage>('memory');

    const trunkPorts = await trunk.call<number[]>('start', n);
    const offers = await generator.call<string[]>('start', n);
    const answers: string[] = [];
    await inBatches(offers, 20, async (offer, i) => {
      const callId = `bench-${i}`;
      await gateway.call('offer', callId, 'browser', offer, { to: 'plain' });
      answers[i] = await gateway.call<string>('answer', callId, 'browser', 'trunk', trunkSdp(trunkPorts[i]!));
    });
    const connected = await generator.call<number>('connect', answers);
    await generator.call('media', true);
    await sleep(options.warmupSeconds * 1000);

    if (profile) await gateway.call('profileStart');
    const loadAverage = os.loadavg()[0]!;
    const cpu0 = procStat(pid).cpuTicks;
    const relayed0 = (await gateway.call<{ packetsRelayed: number }>('statistics')).packetsRelayed;
    const t0 = performance.now();
    await sleep(options.seconds * 1000);
    const cpu1 = procStat(pid).cpuTicks;
    const relayed1 = (await gateway.call<{ packetsRelayed: number }>('statistics')).packetsRelayed;
    if (profile) await gateway.call('profileStop', path.join(PROFILE_DIR, 'gateway.cpuprofile'));
    const elapsed = (performance.now() - t0) / 1000;
    await gateway.call('gc');
    const rssLoaded = rssBytes(pid);
    const memLoaded = await gateway.call<NodeJS.MemoryUsage>('memory');
    // BENCH_HEAP_SNAPSHOT=1: a heap snapshot of the loaded gateway, to see what a call keeps alive.
    if (process.env.BENCH_HEAP_SNAPSHOT !== undefined) await gateway.call('heapSnapshot', path.join(os.tmpdir(), 'media-relay.heapsnapshot'));
    const memory = {
      heapUsedBytes: (memLoaded.heapUsed - memIdle.heapUsed) / n,
      heapReservedBytes: (memLoaded.heapTotal - memLoaded.heapUsed - (memIdle.heapTotal - memIdle.heapUsed)) / n,
      externalBytes: (memLoaded.external - memIdle.external) / n,
      otherBytes: (rssLoaded - rssIdle - (memLoaded.heapTotal - memIdle.heapTotal) - (memLoaded.external - memIdle.external)) / n,
    };

    await generator.call('media', false);
    await sleep(300);
    const counts = await generator.call<{ sent: number; received: number; srtpFailures: number; skipped: number }>('counts');
    const legTotals = await gateway.call<Record<string, { packetsIn: number; packetsOut: number; dropped: number }>>('legTotals');
    const webrtc = legTotals.webrtc ?? { packetsIn: 0, packetsOut: 0, dropped: 0 };
    const plainLegs = legTotals.plain ?? { packetsIn: 0, packetsOut: 0, dropped: 0 };
    const hops = {
      clientSkipped: counts.skipped,
      clientSent: counts.sent,
      gatewayFromClient: webrtc.packetsIn,
      gatewayToTrunk: plainLegs.packetsOut,
      gatewayFromTrunk: plainLegs.packetsIn,
      gatewayToClient: webrtc.packetsOut,
      clientReceived: counts.received,
      gatewayDropped: webrtc.dropped + plainLegs.dropped,
    };
    await gateway.call('close');

    const packets = relayed1 - relayed0;
    const cpuMs = ((cpu1 - cpu0) * 1000) / ticksPerSecond();
    const usPerPacket = packets > 0 ? (cpuMs * 1000) / packets : Number.NaN;
    await Promise.all([gateway.exit(), trunk.exit(), generator.exit()]);

    const plain = await measurePlainRelay({ flows: n, seconds: options.seconds, warmupSeconds: options.warmupSeconds, pps: 50, mode: 'raw' });
    return {
      sessions: n,
      connected,
      seconds: elapsed,
      packetsRelayed: packets,
      packetsPerSecond: packets / elapsed,
      cpuMs,
      usPerPacket,
      cpuLoad: cpuMs / 1000 / elapsed,
      loadAverage,
      rssIdleBytes: rssIdle,
      rssLoadedBytes: rssLoaded,
      rssPerSessionBytes: (rssLoaded - rssIdle) / n,
      memoryPerSession: memory,
      lossRatio: counts.sent > 0 ? 1 - counts.received / counts.sent : Number.NaN,
      srtpFailures: counts.srtpFailures,
      hops,
      plain,
      ratio: usPerPacket / plain.usPerPacket,
    };
  } finally {
    await Promise.all([gateway.exit(), trunk.exit(), generator.exit()]);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

type Median = MediaRelayResult['median'];

function summarize(runs: readonly MediaRelayRun[]): Median {
  const med = (f: (r: MediaRelayRun) => number): number => median(runs.map(f));
  return {
    usPerPacket: med((r) => r.usPerPacket),
    plainUsPerPacket: med((r) => r.plain.usPerPacket),
    ratio: med((r) => r.ratio),
    rssPerSessionBytes: med((r) => r.rssPerSessionBytes),
    memoryPerSession: {
      heapUsedBytes: med((r) => r.memoryPerSession.heapUsedBytes),
      heapReservedBytes: med((r) => r.memoryPerSession.heapReservedBytes),
      externalBytes: med((r) => r.memoryPerSession.externalBytes),
      otherBytes: med((r) => r.memoryPerSession.otherBytes),
    },
    lossRatio: med((r) => r.lossRatio),
    packetsPerSecond: med((r) => r.packetsPerSecond),
    cpuLoad: med((r) => r.cpuLoad),
  };
}

export async function benchMediaRelay(opts: MediaRelayOptions = {}): Promise<MediaRelayResult> {
  const options: Required<MediaRelayOptions> = {
    sessions: opts.sessions ?? 200,
    seconds: opts.seconds ?? 10,
    warmupSeconds: opts.warmupSeconds ?? 2,
    runs: opts.runs ?? 3,
    profile: opts.profile ?? false,
    docs: opts.docs ?? true,
    // The flags `npm start` and `npm run media` use: a 2 MiB young generation keeps RSS per call down.
    gatewayFlags: opts.gatewayFlags ?? ['--max-semi-space-size=2'],
    compareFlags: opts.compareFlags ?? [],
    portMin: opts.portMin ?? 26000,
    portMax: opts.portMax ?? 27999,
  };
  const runs: MediaRelayRun[] = [];
  for (let r = 0; r < options.runs; r++) runs.push(await oneRun(options, false));
  // The profiler costs CPU itself: the profiled run is an extra one, left out of the figures.
  if (options.profile) await oneRun(options, true);
  let compared: MediaRelayResult['compared'];
  if (options.compareFlags.length > 0) {
    const variant = { ...options, gatewayFlags: [...options.gatewayFlags, ...options.compareFlags] };
    const variantRuns: MediaRelayRun[] = [];
    for (let r = 0; r < options.runs; r++) variantRuns.push(await oneRun(variant, false));
    compared = { gatewayFlags: variant.gatewayFlags, runs: variantRuns, median: summarize(variantRuns) };
  }
  const med = summarize(runs);
  const result: MediaRelayResult = {
    bench: 'media-relay',
    machine: { nproc: os.availableParallelism(), cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    command:
      `node_modules/.bin/node bench/media-relay.bench.ts --sessions ${options.sessions} --seconds ${options.seconds} --runs ${options.runs}` +
      (options.gatewayFlags.length > 0 ? ` --gateway-flags '${options.gatewayFlags.join(' ')}'` : '') +
      (options.compareFlags.length > 0 ? ` --compare-flags '${options.compareFlags.join(' ')}'` : '') +
      (options.profile ? ' --profile' : ''),
    gatewayFlags: options.gatewayFlags,
    sessions: options.sessions,
    runs,
    median: med,
    targets: { ratio: med.ratio <= 2, rssPerSession: med.rssPerSessionBytes <= 250 * 1024 },
    ...(compared === undefined ? {} : { compared }),
    ...(options.profile ? { profile: profileSummary(PROFILE_DIR, 15) } : {}),
  };
  if (options.docs) writeBenchSection('Media relay (WebRTC↔RTP)', renderSection(result));
  return result;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

if (process.argv.includes('--role')) {
  await runRole(arg('role', ''));
} else if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === thisFile) {
  const result = await benchMediaRelay({
    sessions: Number(arg('sessions', '200')),
    seconds: Number(arg('seconds', '10')),
    runs: Number(arg('runs', '3')),
    profile: process.argv.includes('--profile'),
    docs: !process.argv.includes('--no-docs'),
    gatewayFlags: arg('gateway-flags', '').split(' ').filter((f) => f !== ''),
    compareFlags: arg('compare-flags', '').split(' ').filter((f) => f !== ''),
  });
  console.log(JSON.stringify(result, null, 2));
}
