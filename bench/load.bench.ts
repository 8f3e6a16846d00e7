/**
 * Concurrent calls, WebRTC ↔ SIP end to end: how many calls this machine's gateway carries, and what each costs.
 *
 * Targets (the issue; G.711 20 ms, loopback, the load generator on the same machine): ≥ 1,000 concurrent calls
 * with < 0.1 % loss and p99 added latency < 5 ms; gateway CPU per relayed packet ≤ 2× a plain Node dgram relay
 * measured in the same run; ≤ 250 KB RSS per call; ≥ 200 call setups/s with gateway-added setup latency p50 < 5 ms.
 *
 * Processes (bench/load/):
 *   gateway     `node src/main.ts --config …` — only the gateway (services peer off); CPU and RSS from /proc.
 *               With `--media-workers N` (media.workers: N, or `auto`) the gateway forks N media processes
 *               itself; its CPU and RSS are then those of the whole group (main process + media workers).
 *   echo trunk  a SIP/UDP UAS answering every INVITE and echoing RTP from one socket per call (echo-trunk.ts).
 *   W workers   browsers: SIP over WebSocket (register, INVITE with digest, ACK, BYE — phone.ts) and one light
 *               WebRTC client per call (real ICE, DTLS-SRTP, SRTP) sending 50 packets/s of 172-byte PCMU.
 * The ramp brings the calls up step by step (100, 150, 200, 250, 300, 400, 500, 750, 1000 by default) at the
 * setup rate (200/s), holds each step `holdSeconds` and measures: loss, round trip against the baseline round
 * trip of the same generator straight to the echo (added latency), gateway CPU per relayed packet and RSS per call, and the
 * setups of that step. It stops at the first step losing more than `stopLoss` (5 %), bringing up fewer than
 * 95 % of its new calls, or failing outright (a gateway that no longer answers). Afterwards, with nothing
 * else running, `measurePlainRelay` (bench/dgram-relay.ts, raw) relays the same packet rate for each step
 * reached: the ratio. `profile` adds a run with `--cpu-prof` on the gateway at the highest step (or the failing
 * one), summarised over its measuring window.
 *
 *   node bench/load.bench.ts [--steps 100,150,200,250,300,400,500,750,1000] [--hold 20] [--rate 200] [--workers 2]
 *        [--media-workers 0|N|auto]
 *        [--warmup 2] [--warmup-calls 20] [--calls-per-phone 1] [--probes 10] [--stop-loss 0.05]
 *        [--plain-seconds 10] [--no-profile] [--profile-seconds 10] [--log-level info] [--quick] [--no-docs]
 */
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measurePlainRelay, type PlainRelayResult } from './dgram-relay.ts';
import { latestProfile, summarizeProfile, type ProfileSummary } from './cpu-profile.ts';
import { loadAverage, type LoadAverage } from './machine.ts';
import { Rig, type MediaWindow, type SetupPhase } from './load/rig.ts';
import { writeLoadDocs } from './load/report.ts';
import { stepPasses } from './load/targets.ts';

export { TARGETS, stepPasses } from './load/targets.ts';

export interface LoadOptions {
  readonly steps?: readonly number[];
  readonly holdSeconds?: number;
  readonly warmupSeconds?: number;
  /** Calls set up (and kept) before the first step, so the first step's setups do not carry the JIT warm-up. */
  readonly warmupCalls?: number;
  /** Call setups per second, all workers together. */
  readonly setupRate?: number;
  readonly workers?: number;
  /** The gateway's `media.workers`: media processes it forks (0: media in the gateway process, the default). */
  readonly mediaWorkers?: number | 'auto';
  /** Calls sharing one WebSocket (and registration); 1 = one per call, as browsers have. */
  readonly callsPerPhone?: number;
  /** Baseline probe flows per worker. */
  readonly probes?: number;
  /** Stop the ramp after a step losing more than this share of packets. */
  readonly stopLoss?: number;
  readonly plainSeconds?: number;
  readonly profile?: boolean;
  readonly profileSeconds?: number;
  readonly logLevel?: string;
  readonly mediaPorts?: { readonly min: number; readonly max: number };
  readonly docs?: boolean;
  /** The command line printed in the docs (the runner passes its own). */
  readonly command?: string;
  readonly onProgress?: (line: string) => void;
}

export type ResolvedLoadOptions = Required<Omit<LoadOptions, 'onProgress' | 'command'>>;

export interface LoadStep {
  readonly target: number;
  readonly setup: SetupPhase;
  readonly window: MediaWindow;
  readonly rssPerCallBytes: number;
  /** heapUsed + external after a forced GC, per call, over the idle gateway's. */
  readonly livePerCallBytes: number | undefined;
  plain?: PlainRelayResult;
  /** gateway µs per relayed packet ÷ plain relay µs per packet. */
  ratio?: number;
}

export interface LoadResult {
  readonly bench: 'load';
  readonly options: ResolvedLoadOptions;
  readonly command: string;
  readonly steps: readonly LoadStep[];
  /** Why the ramp stopped before its last step, if it did. */
  readonly stoppedAt: { readonly target: number; readonly reason: string } | undefined;
  /** Highest step meeting every per-step target (loss, p99 added latency, ratio, RSS per call). */
  readonly highestPassing: number;
  readonly profile:
    | {
        readonly calls: number;
        readonly window: MediaWindow;
        /** The steady-media window. */
        readonly summary: ProfileSummary;
        /** The setup phase that brought the calls up (SIP, ICE, DTLS handshakes, media of the calls already up). */
        readonly setup: SetupPhase;
        readonly setupSummary: ProfileSummary;
      }
    | undefined;
  readonly rssIdleBytes: number;
  readonly gatewayLogProblems: Readonly<Record<string, number>>;
  readonly load: { readonly start: LoadAverage; readonly end: LoadAverage };
}

function resolve(o: LoadOptions): ResolvedLoadOptions {
  return {
    steps: o.steps ?? [100, 150, 200, 250, 300, 400, 500, 750, 1000],
    holdSeconds: o.holdSeconds ?? 20,
    warmupSeconds: o.warmupSeconds ?? 2,
    warmupCalls: o.warmupCalls ?? 20,
    setupRate: o.setupRate ?? 200,
    workers: o.workers ?? 2,
    mediaWorkers: o.mediaWorkers ?? 0,
    callsPerPhone: o.callsPerPhone ?? 1,
    probes: o.probes ?? 10,
    stopLoss: o.stopLoss ?? 0.05,
    plainSeconds: o.plainSeconds ?? 10,
    profile: o.profile ?? true,
    profileSeconds: o.profileSeconds ?? 10,
    logLevel: o.logLevel ?? 'info',
    // Below the kernel's ephemeral range (32768–60999) and clear of the other benchmarks' ranges.
    mediaPorts: o.mediaPorts ?? { min: 18000, max: 23999 },
    docs: o.docs ?? true,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '–');

function describeStep(s: LoadStep): string {
  const w = s.window;
  return `${w.calls} calls: loss ${f(w.loss * 100, 3)} %, rtt p50/p99 ${f(w.rttMs.p50)}/${f(w.rttMs.p99)} ms (baseline ${f(w.baselineMs.p50)}/${f(w.baselineMs.p99)}), ` +
    `added p50/p99 ${f(w.addedMs.p50)}/${f(w.addedMs.p99)} ms, gateway ${f(w.gatewayCpuLoad * 100, 0)} % of a core, ${f(w.gatewayUsPerPacket)} µs/pkt ` +
    `(${f(w.packetsPerSecond, 0)} pkt/s), RSS ${f(w.gatewayRssBytes / 2 ** 20, 0)} MiB (${f(s.rssPerCallBytes / 1024, 0)} KB/call), ` +
    `workers ${f(w.workersCpuLoad * 100, 0)} %, trunk ${f(w.trunkCpuLoad * 100, 0)} %, skipped ${w.skipped}, dropped ${w.dropped}, load ${f(w.loadAverage, 1)}, ` +
    `gateway waited for a CPU ${f(w.gatewayRunqueueWait * 100, 0)} % of the time, machine busy ${f(w.machineBusyCores, 2)} cores; ` +
    `setup ${f(s.setup.offeredRate, 0)}/s offered, ${f(s.setup.completedRate, 0)}/s completed, added p50/p99 ${f(s.setup.addedMs.p50)}/${f(s.setup.addedMs.p99)} ms, ` +
    `407 p50 ${f(s.setup.challengeMs.p50)} ms, DTLS p50 ${f(s.setup.mediaMs.p50)} ms, gateway ${f(s.setup.gatewayCpuMsPerCall)} ms CPU/call, failures ${JSON.stringify(s.setup.failures)}`;
}

async function ramp(o: ResolvedLoadOptions, say: (s: string) => void): Promise<{ steps: LoadStep[]; stoppedAt: LoadResult['stoppedAt']; rssIdle: number; problems: Record<string, number> }> {
  const maxCalls = Math.max(...o.steps);
  const rig = await Rig.start({ workers: o.workers, maxCalls, callsPerPhone: o.callsPerPhone, probes: o.probes, mediaPorts: o.mediaPorts, logLevel: o.logLevel, mediaWorkers: o.mediaWorkers });
  const steps: LoadStep[] = [];
  let stoppedAt: LoadResult['stoppedAt'];
  const idle = await rig.gateway.memory();
  try {
    const warm = Math.min(o.warmupCalls, o.steps[0]!);
    if (warm > 0) {
      const w = await rig.rampTo(warm, o.setupRate);
      say(`  warm-up: ${w.connected} calls up (setup added p50 ${f(w.addedMs.p50)} ms, not reported)`);
    }
    for (const target of o.steps) {
      say(`  step ${target}: setting up ${target - rig.calls} calls at ${o.setupRate}/s (load average ${loadAverage()[0]})`);
      const wanted = target - rig.calls;
      let setup: SetupPhase;
      let window: MediaWindow;
      try {
        setup = await rig.rampTo(target, o.setupRate);
        await sleep(o.warmupSeconds * 1000);
        window = await rig.measure(o.holdSeconds);
      } catch (err) {
        // A worker or the gateway gave up (an overloaded gateway stops answering): the ramp ends here, the steps
        // measured so far stand.
        stoppedAt = { target, reason: `the step could not be completed: ${(err as Error).message.split('\n')[0]}` };
        say(`  ramp stopped at ${target}: ${stoppedAt.reason}`);
        break;
      }
      const mem = await rig.gateway.memory();
      const calls = Math.max(window.calls, 1);
      const step: LoadStep = {
        target,
        setup,
        window,
        rssPerCallBytes: (window.gatewayRssBytes - rig.rssIdleBytes) / calls,
        livePerCallBytes: idle !== undefined && mem !== undefined ? (mem.heapUsed + mem.external - idle.heapUsed - idle.external) / calls : undefined,
      };
      steps.push(step);
      say(`  step ${target}: ${describeStep(step)}`);
      const reasons: string[] = [];
      if (window.loss > o.stopLoss) reasons.push(`loss ${f(window.loss * 100, 1)} % > ${f(o.stopLoss * 100, 0)} %`);
      if (setup.connected < 0.95 * wanted) {
        const why = Object.entries(setup.failures).map(([k, v]) => `${v}× ${k}`).join(', ');
        reasons.push(`only ${setup.connected} of ${wanted} new calls came up${why === '' ? '' : ` (${why})`}`);
      }
      if (reasons.length > 0) {
        stoppedAt = { target, reason: reasons.join('; ') };
        say(`  ramp stopped at ${target}: ${stoppedAt.reason}`);
        break;
      }
    }
  } finally {
    await rig.close(o.setupRate);
  }
  return { steps, stoppedAt, rssIdle: rig.rssIdleBytes, problems: Object.fromEntries(rig.gateway.logProblems()) };
}

async function profiled(o: ResolvedLoadOptions, calls: number, say: (s: string) => void): Promise<LoadResult['profile']> {
  const dir = path.join(os.tmpdir(), `bench-load-prof-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const rig = await Rig.start({
    workers: o.workers, maxCalls: calls, callsPerPhone: o.callsPerPhone, probes: o.probes, mediaPorts: o.mediaPorts, logLevel: o.logLevel, profileDir: dir,
    mediaWorkers: o.mediaWorkers,
  });
  let window: MediaWindow;
  let setup: SetupPhase;
  let setupUs: [number, number];
  try {
    const us0 = Number(process.hrtime.bigint() / 1000n);
    setup = await rig.rampTo(calls, o.setupRate);
    setupUs = [us0, Number(process.hrtime.bigint() / 1000n)];
    say(`  profiled run: ${setup.connected} calls up`);
    await sleep(o.warmupSeconds * 1000);
    window = await rig.measure(o.profileSeconds);
  } finally {
    await rig.close(o.setupRate);
  }
  const file = latestProfile(dir);
  if (file === undefined) return undefined;
  const summary = summarizeProfile(file, 15, window.windowUs);
  const setupSummary = summarizeProfile(file, 15, setupUs);
  const top = (p: ProfileSummary): string => p.functions.slice(0, 5).map((e) => `${e.name} ${e.selfPercent} %`).join(', ');
  say(`  profile (${file}) media: ${top(summary)}`);
  say(`  profile setup phase: ${top(setupSummary)}`);
  return { calls, window, summary, setup, setupSummary };
}

export async function benchLoad(options: LoadOptions = {}): Promise<LoadResult> {
  const o = resolve(options);
  const say = options.onProgress ?? ((s: string) => console.error(s));
  const start = loadAverage();
  say(`load: steps ${o.steps.join(', ')}, hold ${o.holdSeconds} s, ${o.setupRate} setups/s, ${o.workers} workers, ${o.mediaWorkers} gateway media workers (load average ${start.join(' ')})`);
  const { steps, stoppedAt, rssIdle, problems } = await ramp(o, say);
  for (const s of steps) {
    await sleep(1000);
    s.plain = await measurePlainRelay({ flows: s.window.calls, seconds: o.plainSeconds, pps: 50, mode: 'raw' });
    s.ratio = s.window.gatewayUsPerPacket / s.plain.usPerPacket;
    say(`  plain relay, ${s.window.calls} flows: ${f(s.plain.usPerPacket)} µs/pkt (${f(s.plain.packetsPerSecond, 0)} pkt/s, loss ${f(s.plain.lossRatio * 100)} %) → ratio ${f(s.ratio)}`);
  }
  let profile: LoadResult['profile'];
  if (o.profile && steps.length > 0) {
    // The failing step if it was measured, else the last one that was (a step that could not even be set up
    // would not give a profile either).
    const at = stoppedAt !== undefined && steps.some((s) => s.target === stoppedAt.target) ? stoppedAt.target : steps[steps.length - 1]!.target;
    try {
      profile = await profiled(o, at, say);
    } catch (err) {
      say(`  profiled run failed: ${(err as Error).message}`);
    }
  }
  const passing = steps.filter(stepPasses).map((s) => s.target);
  const result: LoadResult = {
    bench: 'load',
    options: o,
    command: options.command ?? commandLine(o),
    steps,
    stoppedAt,
    highestPassing: passing.length === 0 ? 0 : Math.max(...passing),
    profile,
    rssIdleBytes: rssIdle,
    gatewayLogProblems: problems,
    load: { start, end: loadAverage() },
  };
  if (o.docs) writeLoadDocs(result);
  return result;
}

/** One line for bench/run.ts's summary table. */
export function loadSummary(r: LoadResult): { result: string; target: string; met: boolean } {
  const top = r.steps[r.steps.length - 1];
  const reached = top === undefined ? 'no step completed' : r.stoppedAt === undefined ? `reached ${top.window.calls}` : `stopped at ${r.stoppedAt.target}`;
  const at = top === undefined ? '' : `; at ${top.window.calls}: loss ${f(top.window.loss * 100, 2)} %, p99 added ${f(top.window.addedMs.p99, 1)} ms, ${f(top.ratio ?? Number.NaN)}× plain, ${f(top.rssPerCallBytes / 1024, 0)} KB/call`;
  return {
    result: `${r.highestPassing} calls meet all targets (ramp ${reached}${at})`,
    target: '≥ 1000 calls, < 0.1 % loss, p99 added < 5 ms, ≤ 2× plain, ≤ 250 KB/call',
    met: r.highestPassing >= 1000,
  };
}

function commandLine(o: ResolvedLoadOptions): string {
  const parts = ['node bench/load.bench.ts', `--steps ${o.steps.join(',')}`, `--hold ${o.holdSeconds}`, `--rate ${o.setupRate}`, `--workers ${o.workers}`];
  if (o.mediaWorkers !== 0) parts.push(`--media-workers ${o.mediaWorkers}`);
  if (o.warmupCalls !== 20) parts.push(`--warmup-calls ${o.warmupCalls}`);
  if (o.callsPerPhone !== 1) parts.push(`--calls-per-phone ${o.callsPerPhone}`);
  if (o.probes !== 10) parts.push(`--probes ${o.probes}`);
  if (o.stopLoss !== 0.05) parts.push(`--stop-loss ${o.stopLoss}`);
  if (o.plainSeconds !== 10) parts.push(`--plain-seconds ${o.plainSeconds}`);
  if (!o.profile) parts.push('--no-profile');
  if (o.logLevel !== 'info') parts.push(`--log-level ${o.logLevel}`);
  return parts.join(' ');
}

/** Options from a command line (bench/run.ts can pass its argv through). */
export function loadOptionsFromArgs(argv: readonly string[]): LoadOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: false,
    options: {
      steps: { type: 'string' }, hold: { type: 'string' }, warmup: { type: 'string' }, 'warmup-calls': { type: 'string' }, rate: { type: 'string' }, workers: { type: 'string' }, 'media-workers': { type: 'string' },
      'calls-per-phone': { type: 'string' }, probes: { type: 'string' }, 'stop-loss': { type: 'string' }, 'plain-seconds': { type: 'string' },
      'no-profile': { type: 'boolean' }, 'profile-seconds': { type: 'string' }, 'log-level': { type: 'string' }, 'no-docs': { type: 'boolean' },
      quick: { type: 'boolean' },
    },
  });
  const num = (v: unknown): number | undefined => (typeof v === 'string' ? Number(v) : undefined);
  const mediaWorkers = values['media-workers'];
  if (mediaWorkers !== undefined && mediaWorkers !== 'auto' && !(typeof mediaWorkers === 'string' && /^\d{1,3}$/.test(mediaWorkers))) {
    throw new Error(`--media-workers ${JSON.stringify(mediaWorkers)}: expected a number of media processes (0 or more) or "auto"`);
  }
  const quick = values.quick === true;
  const out: Record<string, unknown> = {
    steps: typeof values.steps === 'string' ? values.steps.split(',').map(Number) : quick ? [50, 100] : undefined,
    holdSeconds: num(values.hold) ?? (quick ? 5 : undefined),
    warmupSeconds: num(values.warmup),
    warmupCalls: num(values['warmup-calls']),
    setupRate: num(values.rate),
    workers: num(values.workers),
    mediaWorkers: values['media-workers'] === 'auto' ? 'auto' : num(values['media-workers']),
    callsPerPhone: num(values['calls-per-phone']),
    probes: num(values.probes),
    stopLoss: num(values['stop-loss']),
    plainSeconds: num(values['plain-seconds']) ?? (quick ? 3 : undefined),
    profile: values['no-profile'] === true ? false : quick ? false : undefined,
    profileSeconds: num(values['profile-seconds']),
    logLevel: typeof values['log-level'] === 'string' ? values['log-level'] : undefined,
    docs: values['no-docs'] === true ? false : undefined,
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as LoadOptions;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await benchLoad(loadOptionsFromArgs(process.argv.slice(2)));
  console.log(JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2));
}
