/**
 * One benchmark rig: the echo trunk process, the gateway process configured for it, and W load-generator
 * workers; and the two things the driver does with it — bring the number of calls up to a target at a given
 * setup rate, and measure a window of steady media.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { ChildHandle } from './ipc.ts';
import { cpuMs, LOAD_PASSWORD, rssBytes, startGatewayProcess, userName, type GatewayProcess } from './gateway-process.ts';
import { LatencyHistogram, percentileOf } from './stats.ts';
import type { AddCallsResult, WindowResult, WorkerInit } from './worker.ts';
import type { TrunkCounters } from './echo-trunk.ts';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const TRUNK = fileURLToPath(new URL('./echo-trunk.ts', import.meta.url));

export interface RigOptions {
  readonly workers: number;
  readonly maxCalls: number;
  readonly callsPerPhone: number;
  readonly probes: number;
  readonly mediaPorts: { readonly min: number; readonly max: number };
  readonly logLevel: string;
  readonly profileDir?: string;
  /** The gateway's `media.workers` (0: media in the gateway process). */
  readonly mediaWorkers?: number | 'auto';
}

export interface SetupPhase {
  readonly placed: number;
  readonly answered: number;
  readonly connected: number;
  readonly failures: Record<string, number>;
  /** Calls placed per second (what the workers offered). */
  readonly offeredRate: number;
  /** Calls answered per second, first INVITE to last 200. */
  readonly completedRate: number;
  /** Gateway-added setup time: (authenticated INVITE → 200 at the browser) − (INVITE → 200 inside the trunk), ms. */
  readonly addedMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** INVITE → 407 at the browser (the gateway's challenge, nothing else on the path), ms. */
  readonly challengeMs: { readonly p50: number; readonly p99: number };
  /** 200 → DTLS up at the light client (ICE check + handshake through the gateway's WebRTC leg), ms. */
  readonly mediaMs: { readonly p50: number; readonly p99: number };
  /** The gateway's process and its media workers, in cores. */
  readonly gatewayCpuLoad: number;
  /** Gateway CPU during the phase ÷ calls set up (gross: the media of the calls already up runs meanwhile), ms. */
  readonly gatewayCpuMsPerCall: number;
  /** Share of the phase the gateway's main thread was runnable but waiting for a CPU. */
  readonly gatewayRunqueueWait: number;
  readonly seconds: number;
}

export interface MediaWindow {
  readonly calls: number;
  readonly seconds: number;
  readonly sent: number;
  readonly returned: number;
  readonly loss: number;
  /** Round trip generator → gateway → echo trunk → gateway → generator, and generator → echo trunk directly. */
  readonly rttMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly baselineMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly baselineLoss: number;
  /** rtt percentile − baseline percentile. */
  readonly addedMs: { readonly p50: number; readonly p99: number };
  readonly packetsRelayed: number;
  readonly packetsPerSecond: number;
  /** Cores used by the gateway: its process and, with media workers, theirs too (so is µs/pkt, and RSS summed). */
  readonly gatewayCpuLoad: number;
  readonly gatewayUsPerPacket: number;
  readonly gatewayRssBytes: number;
  /** The load generator's workers (not the gateway's media workers). */
  readonly workersCpuLoad: number;
  readonly trunkCpuLoad: number;
  readonly skipped: number;
  readonly srtpFailures: number;
  readonly stale: number;
  readonly dropped: number;
  readonly loadAverage: number;
  /** Share of the window the gateway's main thread was runnable but waiting for a CPU (other processes had the cores). */
  readonly gatewayRunqueueWait: number;
  /** Cores busy machine-wide (all processes, ours included) on average over the window. */
  readonly machineBusyCores: number;
  /** process.hrtime µs of the window (to cut a CPU profile to it). */
  readonly windowUs: readonly [number, number];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** ns the process's threads spent runnable but waiting for a CPU (/proc/<pid>/schedstat, second field). */
function runqueueWaitMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

/** Machine-wide busy and total jiffies (all CPUs) from /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3]! + fields[4]!; // idle + iowait
  return { busy: total - idle, total };
}
/**
 * CPU ms of each process, for a process group (the gateway and its media workers): a process that is gone by the
 * end of a window (a worker that died and was restarted) drops out of that window's sum rather than failing it.
 */
function cpuOf(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, cpuMs(pid));
    } catch {
      // gone
    }
  }
  return out;
}

function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms0] of before) {
    const ms1 = after.get(pid);
    if (ms1 !== undefined) sum += ms1 - ms0;
  }
  return sum;
}

/** VmRSS of the group, summed (shared pages of the workers counted in each: an upper bound). */
function groupRssBytes(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += rssBytes(pid);
    } catch {
      // gone
    }
  }
  return sum;
}

const hrUs = (): number => Number(process.hrtime.bigint() / 1000n);
const ms = (us: number): number => us / 1000;

export class Rig {
  readonly gateway: GatewayProcess;
  readonly trunk: ChildHandle;
  readonly workers: readonly ChildHandle[];
  readonly rssIdleBytes: number;
  readonly #o: RigOptions;
  #users = 0;
  #calls = 0;
  /** Calls given to each worker so far (connected or not): what its phones must have lines for. */
  readonly #assigned: number[];

  private constructor(o: RigOptions, gateway: GatewayProcess, trunk: ChildHandle, workers: ChildHandle[], rssIdle: number) {
    this.#o = o;
    this.gateway = gateway;
    this.trunk = trunk;
    this.workers = workers;
    this.rssIdleBytes = rssIdle;
    this.#assigned = workers.map(() => 0);
  }

  static async start(o: RigOptions): Promise<Rig> {
    const trunk = new ChildHandle('echo-trunk', TRUNK);
    const workers: ChildHandle[] = [];
    let gateway: GatewayProcess | undefined;
    try {
      const { sipPort, probePort } = await trunk.call<{ sipPort: number; probePort: number }>('start');
      gateway = await startGatewayProcess({
        users: Math.ceil(o.maxCalls / o.callsPerPhone) + 8, trunkPort: sipPort, mediaPorts: o.mediaPorts, logLevel: o.logLevel,
        ...(o.profileDir === undefined ? {} : { profileDir: o.profileDir }),
        ...(o.mediaWorkers === undefined ? {} : { mediaWorkers: o.mediaWorkers }),
      });
      for (let i = 0; i < o.workers; i++) {
        const w = new ChildHandle(`worker${i}`, WORKER);
        workers.push(w);
        const init: WorkerInit = { index: i, wsUrl: gateway.wsUrl, domain: gateway.domain, password: LOAD_PASSWORD, probePort, probes: o.probes, callsPerPhone: o.callsPerPhone };
        await w.call('start', init);
      }
      await sleep(1000);
      // Idle RSS after a full GC, so start-up garbage is not subtracted from the loaded figure.
      await gateway.memory();
      return new Rig(o, gateway, trunk, workers, groupRssBytes(gateway.processIds()));
    } catch (err) {
      await Promise.all(workers.map((w) => w.exit()));
      await gateway?.stop();
      await trunk.exit();
      throw err;
    }
  }

  get calls(): number {
    return this.#calls;
  }

  /** Phones for the new calls (registered, not timed), then the calls placed at `rate` per second in total. */
  async rampTo(target: number, rate: number): Promise<SetupPhase> {
    const add = target - this.#calls;
    const W = this.workers.length;
    const share = (n: number, w: number): number => Math.floor(n / W) + (w < n % W ? 1 : 0);
    const registrations = await Promise.all(this.workers.map((w, i) => {
      const had = Math.ceil(this.#assigned[i]! / this.#o.callsPerPhone);
      this.#assigned[i]! += share(add, i);
      const phones = Math.ceil(this.#assigned[i]! / this.#o.callsPerPhone) - had;
      const users = Array.from({ length: phones }, () => userName(this.#users++));
      return w.call<{ registered: number; failed: number; error: string | undefined }>('addPhones', users);
    }));
    const phoneFailures = registrations.reduce((n, r) => n + r.failed, 0);
    await this.trunk.call('takeUasTimes');
    const group = this.gateway.processIds();
    const cpu0 = cpuOf(group);
    const wait0 = runqueueWaitMs(this.gateway.pid);
    const t0 = performance.now();
    const results = await Promise.all(this.workers.map((w, i) => w.call<AddCallsResult>('addCalls', share(add, i), rate / W)));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuDelta(cpu0, cpuOf(group));
    const wait = runqueueWaitMs(this.gateway.pid) - wait0;
    const uas = new Map(await this.trunk.call<[number, number][]>('takeUasTimes'));
    const failures: Record<string, number> = {};
    if (phoneFailures > 0) {
      const why = registrations.find((r) => r.error !== undefined)?.error ?? '';
      failures[`phones failed to connect or register (${why.slice(0, 80)})`] = phoneFailures;
    }
    let placed = 0;
    let answered = 0;
    let connected = 0;
    const added: number[] = [];
    const challenge: number[] = [];
    const media: number[] = [];
    for (const r of results) {
      placed += r.placed;
      answered += r.answered;
      connected += r.connected;
      for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
      for (const [number, setupUs, challengeUs, mediaUs] of r.samples) {
        const u = uas.get(number);
        if (u !== undefined) added.push(ms(setupUs - u));
        challenge.push(ms(challengeUs));
        if (mediaUs >= 0) media.push(ms(mediaUs));
      }
    }
    this.#calls += connected;
    const placingS = Math.max(...results.map((r) => r.placingMs)) / 1000;
    const answerS = Math.max(...results.map((r) => r.lastAnswerMs)) / 1000;
    return {
      placed, answered, connected, failures,
      offeredRate: placingS > 0 ? placed / placingS : Number.NaN,
      completedRate: answerS > 0 ? answered / answerS : Number.NaN,
      addedMs: { p50: percentileOf(added, 50), p99: percentileOf(added, 99), max: percentileOf(added, 100) },
      challengeMs: { p50: percentileOf(challenge, 50), p99: percentileOf(challenge, 99) },
      mediaMs: { p50: percentileOf(media, 50), p99: percentileOf(media, 99) },
      gatewayCpuLoad: cpu / 1000 / seconds,
      gatewayCpuMsPerCall: placed > 0 ? cpu / placed : Number.NaN,
      gatewayRunqueueWait: wait / 1000 / seconds,
      seconds,
    };
  }

  /** `seconds` of steady media: loss, round trips against the baseline, the gateway's CPU and RSS. */
  async measure(seconds: number): Promise<MediaWindow> {
    // Index 0 stands for the gateway's whole group (main process and media workers), read separately.
    const pids = [this.gateway.pid, this.trunk.pid, ...this.workers.map((w) => w.pid)];
    const group = this.gateway.processIds();
    const loadAverage = os.loadavg()[0]!;
    const trunk0 = await this.trunk.call<TrunkCounters>('counters');
    await Promise.all(this.workers.map((w) => w.call('windowStart')));
    const cpu0 = pids.map(cpuMs);
    const group0 = cpuOf(group);
    const wait0 = runqueueWaitMs(this.gateway.pid);
    const machine0 = machineJiffies();
    const t0 = performance.now();
    const us0 = hrUs();
    await sleep(seconds * 1000);
    const cpu1 = pids.map(cpuMs);
    const group1 = cpuOf(group);
    const wait1 = runqueueWaitMs(this.gateway.pid);
    const machine1 = machineJiffies();
    const elapsed = (performance.now() - t0) / 1000;
    const us1 = hrUs();
    const rss = groupRssBytes(group);
    const stops = this.workers.map((w) => w.call<WindowResult>('windowStop'));
    const trunk1 = await this.trunk.call<TrunkCounters>('counters');
    const results = await Promise.all(stops);
    const sum = (f: (r: WindowResult) => number): number => results.reduce((n, r) => n + f(r), 0);
    const rtt = LatencyHistogram.merge(results.map((r) => r.rtt));
    const base = LatencyHistogram.merge(results.map((r) => r.probeRtt));
    // Relayed by the gateway in the window: what reached the trunk from it, and what reached the clients from it.
    const relayed = trunk1.rtpIn - trunk0.rtpIn + sum((r) => r.arrivals);
    const gatewayCpu = cpuDelta(group0, group1);
    const sent = sum((r) => r.sent);
    const probeSent = sum((r) => r.probeSent);
    const pct = (h: LatencyHistogram, p: number): number => ms(h.percentile(p));
    return {
      calls: sum((r) => r.calls),
      seconds: elapsed,
      sent,
      returned: sum((r) => r.returned),
      loss: sent > 0 ? 1 - sum((r) => r.returned) / sent : Number.NaN,
      rttMs: { p50: pct(rtt, 50), p99: pct(rtt, 99), max: ms(rtt.maxUs) },
      baselineMs: { p50: pct(base, 50), p99: pct(base, 99), max: ms(base.maxUs) },
      baselineLoss: probeSent > 0 ? 1 - sum((r) => r.probeReturned) / probeSent : Number.NaN,
      addedMs: { p50: pct(rtt, 50) - pct(base, 50), p99: pct(rtt, 99) - pct(base, 99) },
      packetsRelayed: relayed,
      packetsPerSecond: relayed / elapsed,
      gatewayCpuLoad: gatewayCpu / 1000 / elapsed,
      gatewayUsPerPacket: relayed > 0 ? (gatewayCpu * 1000) / relayed : Number.NaN,
      gatewayRssBytes: rss,
      workersCpuLoad: pids.slice(2).reduce((n, _, i) => n + cpu1[i + 2]! - cpu0[i + 2]!, 0) / 1000 / elapsed,
      trunkCpuLoad: (cpu1[1]! - cpu0[1]!) / 1000 / elapsed,
      skipped: sum((r) => r.skipped),
      srtpFailures: sum((r) => r.srtpFailures),
      stale: sum((r) => r.stale),
      dropped: sum((r) => r.dropped),
      loadAverage,
      gatewayRunqueueWait: (wait1 - wait0) / 1000 / elapsed,
      machineBusyCores: ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * os.cpus().length,
      windowUs: [us0, us1],
    };
  }

  async close(hangupRate: number): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.call('hangupAll', hangupRate / this.workers.length)));
    await Promise.all(this.workers.map((w) => w.exit()));
    await this.gateway.stop();
    await this.trunk.exit();
  }
}
