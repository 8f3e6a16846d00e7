/**
 * Call setup through the gateway: a trunk calls a browser. Targets (the issue): ≥ 200 call setups/s sustained
 * with no failures, gateway-added setup latency p50 < 5 ms.
 *
 *   trunk UAC (SIP/UDP, this process) ──INVITE──▶ gateway (child: node src/main.ts) ──INVITE/WS──▶ agents (this process)
 *             ◀──────200──────────────           ◀─────200───────────
 *   ACK, then BYE after the hold time, through the same path.
 *
 * The gateway does everything a real trunk→browser call costs: ACL, dial plan, registrar lookup, two dialogs and
 * their transactions, a media session (plain RTP leg + WebRTC leg with ICE-lite credentials and DTLS role, SDP
 * rewritten both ways), and the teardown. No product code is added for the benchmark.
 *
 * Per run (median of `runs`, a fresh child process each time):
 *   1. baseline: the same load through bench/call-setup-relay.ts (byte forwarding, no SIP) — the Node+loopback
 *      floor of the latencies; then a fresh gateway, and a cold start: `rate` at once for `coldSeconds`;
 *   2. fixed rate (`rate`, default 200/s) for `seconds` (default 20) after a linear warm-up from 0 over
 *      `warmupSeconds` (default 10): latencies, CPU/call, memory;
 *   3. ramp: `rampStart`, +`rampStep`, … for `rampSeconds` each until a step is not clean twice in a row (a
 *      failure, any retransmission, or the driver unable to offer the rate): the highest clean step is the
 *      sustained rate.
 * Optional: `--profile` runs one more fixed-rate phase with `--cpu-prof` on the gateway and summarizes it;
 * `--sipp` repeats the fixed rate with SIPp's built-in uac scenario as the trunk (an independent load shape).
 *
 *   node bench/call-setup.bench.ts [--rate 200] [--seconds 20] [--runs 3] [--hold-ms 1000] [--agents 20]
 *        [--ramp-start 100] [--ramp-step 100] [--ramp-seconds 5] [--ramp-max 2000] [--no-ramp] [--no-baseline]
 *        [--cold-seconds 10] [--warmup-seconds 10] [--settle-seconds 35] [--log-level info] [--profile] [--sipp] [--quick] [--no-docs]
 */
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrunkUac } from './call-setup-uac.ts';
import { AnsweringAgent, type AgentTimeline } from './call-setup-agent.ts';
import { didFor, freePort, rssBytes, startGatewayChild, startRelayChild, type SystemUnderTest } from './call-setup-gateway.ts';
import { runPhase, type PhaseOptions, type PhaseResult } from './call-setup-load.ts';
import type { MemorySample } from './inspector-memory.ts';
import { runSippCheck, type SippCheck } from './call-setup-sipp.ts';
import { latestProfile, summarizeProfile, type ProfileSummary } from './cpu-profile.ts';
import { describeMachine, loadAverage, type LoadAverage } from './machine.ts';
import { writeCallSetupSection } from './call-setup-report.ts';
import { callSetupOptionsFromArgs, commandLine, resolveOptions, type CallSetupOptions, type ResolvedOptions } from './call-setup-options.ts';

export { callSetupOptionsFromArgs, type CallSetupOptions };

export interface CallSetupRun {
  readonly load: LoadAverage;
  readonly baseline: PhaseResult | undefined;
  /** The fresh gateway at the full rate without warm-up (`coldSeconds`), before the fixed-rate phase. */
  readonly cold: PhaseResult | undefined;
  readonly fixed: PhaseResult;
  readonly rssIdleBytes: number;
  /** VmRSS `settleSeconds` after the fixed-rate phase drained (V8 keeps heap it grew into: not a leak measure). */
  readonly rssAfterBytes: number;
  /**
   * After a forced GC: idle (agents registered); at the end of the fixed-rate window (`loadedCalls` calls up, and
   * the transactions of the last 32 s of calls); `settleSeconds` after every call ended (growth here is a leak).
   */
  readonly memory:
    | {
        readonly idle: MemorySample;
        readonly loaded: MemorySample;
        readonly loadedCalls: number;
        readonly after: MemorySample;
        /** Calls placed on this gateway before the "after" reading (warm-up included). */
        readonly callsBefore: number;
      }
    | undefined;
  /** Live memory growth between the settled reading after the fixed phase and one after the ramp, per call. */
  readonly leak: { readonly calls: number; readonly bytesPerCall: number; readonly final: MemorySample } | undefined;
  readonly ramp: readonly PhaseResult[];
  /** Highest clean ramp step, calls/s (0 when even the first step was not clean). */
  readonly sustainedRate: number | undefined;
  readonly logProblems: Readonly<Record<string, number>>;
  /** Log lines and bytes per call placed on the gateway (all phases). */
  readonly logPerCall: { readonly lines: number; readonly bytes: number };
}

export interface CallSetupResult {
  readonly bench: 'call-setup';
  readonly options: ResolvedOptions;
  readonly command: string;
  readonly runs: readonly CallSetupRun[];
  readonly profile: ProfileSummary | undefined;
  readonly sipp: SippCheck | undefined;
  readonly load: { readonly start: LoadAverage; readonly end: LoadAverage };
}

const PASSWORD = 'bench-secret';
const MEDIA_PORTS = { min: 10000, max: 17999 };
const thisFile = fileURLToPath(import.meta.url);

interface Rig {
  readonly sut: SystemUnderTest;
  readonly uac: TrunkUac;
  readonly agents: AnsweringAgent[];
  readonly timeline: AgentTimeline;
  seq: number;
  close(): Promise<void>;
}

async function rig(sut: SystemUnderTest, o: ResolvedOptions): Promise<Rig> {
  const timeline: AgentTimeline = { inviteReceivedAt: [], okSentAt: [] };
  const agentNames = Array.from({ length: o.agents }, (_, i) => `agent${i}`);
  const mediaPort = await freePort();
  const agents: AnsweringAgent[] = [];
  try {
    for (const name of agentNames) {
      const agent = await AnsweringAgent.connect(sut.wsUrl, name, timeline, mediaPort);
      agents.push(agent);
      if (sut.register) await agent.register('127.0.0.1', PASSWORD);
    }
  } catch (err) {
    for (const a of agents) a.close();
    await sut.stop();
    throw err;
  }
  const uac = await TrunkUac.create({ target: sut.sip, dids: agentNames.map((_, i) => didFor(i)), holdMs: o.holdMs }, mediaPort);
  return {
    sut, uac, agents, timeline, seq: 0,
    async close() {
      uac.close();
      for (const a of agents) a.close();
      await sut.stop();
    },
  };
}

function gatewayOptions(o: ResolvedOptions, profileDir?: string): Parameters<typeof startGatewayChild>[0] {
  return {
    agents: Array.from({ length: o.agents }, (_, i) => `agent${i}`),
    password: PASSWORD,
    logLevel: o.logLevel,
    mediaPorts: MEDIA_PORTS,
    ...(profileDir === undefined ? {} : { profileDir }),
  };
}

async function phase(
  r: Rig,
  o: ResolvedOptions,
  rate: number,
  seconds: number,
  warmupSeconds: number,
  atWindowEnd?: PhaseOptions['atWindowEnd'],
): Promise<PhaseResult> {
  const { result, nextSeq } = await runPhase(r.sut, r.uac, r.timeline, r.seq, {
    rate, seconds, warmupSeconds, drainMs: o.holdMs + 12_000, ...(atWindowEnd ? { atWindowEnd } : {}),
  });
  r.seq = nextSeq;
  return result;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function describe(p: PhaseResult): string {
  return `${p.rate}/s: offered ${p.offeredRate}/s, answered ${p.answered}/${p.callsInWindow}, failures ${p.failures}, ` +
    `retransmits ${p.inviteRetransmits}/${p.okRetransmits}/${p.byeRetransmits}, UDP drops ${p.udpDrops}, BYE failed ${p.byeFailed}, hung up by gateway ${p.remoteByes}, added p50 ${p.addedLatency.p50} ms p99 ${p.addedLatency.p99} ms, ` +
    `CPU ${p.sutCpuMsPerCall} ms/call (${(p.sutCpuLoad * 100).toFixed(0)} % of a core), driver ${(p.driverCpuLoad * 100).toFixed(0)} %` +
    `${p.clean ? '' : '  [not clean]'}`;
}

async function oneRun(o: ResolvedOptions, say: (s: string) => void): Promise<CallSetupRun> {
  const load = loadAverage();
  let baseline: PhaseResult | undefined;
  if (o.baseline) {
    const r = await rig(await startRelayChild(), o);
    try {
      baseline = await phase(r, o, o.rate, Math.min(o.seconds, 10), Math.min(o.warmupSeconds, 3));
      say(`  baseline (null relay) ${describe(baseline)}`);
    } finally {
      await r.close();
    }
  }
  const r = await rig(await startGatewayChild(gatewayOptions(o)), o);
  try {
    await sleep(500);
    const idle = await r.sut.memory();
    const rssIdle = rssBytes(r.sut.pid);
    // Cold start: the freshly started gateway hit at the full rate at once (no warm-up), as after a restart
    // under traffic. Reported on its own; the fixed-rate phase below then measures the warm state.
    let cold: PhaseResult | undefined;
    if (o.coldSeconds > 0) {
      cold = await phase(r, o, o.rate, o.coldSeconds, 0);
      say(`  cold start ${describe(cold)}`);
    }
    const fixed = await phase(r, o, o.rate, o.seconds, o.warmupSeconds);
    // Memory with calls up, in a phase of its own: the forced GC pauses the gateway, which must not show in the
    // fixed-rate phase's retransmissions. The count is taken after the GC (some calls may end during it).
    let loaded: { sample: MemorySample | undefined; calls: number } | undefined;
    await phase(r, o, o.rate, o.holdMs / 1000, 1, async () => {
      const sample = await r.sut.memory();
      loaded = { sample, calls: r.uac.active };
    });
    say(`  gateway ${describe(fixed)}`);
    // Transactions outlive their calls by 64×T1 (Timer J, and RFC 6026's Accepted state for the INVITE): only
    // after that is everything a finished call held due to be released.
    await sleep(o.settleSeconds * 1000);
    const rssAfter = rssBytes(r.sut.pid);
    const after = await r.sut.memory();
    const memory = idle !== undefined && loaded?.sample !== undefined && after !== undefined
      ? { idle, loaded: loaded.sample, loadedCalls: loaded.calls, after, callsBefore: r.seq }
      : undefined;
    if (memory !== undefined) {
      const live = (m: MemorySample): number => (m.heapUsed + m.external) / 2 ** 20;
      say(`  memory after GC (heap + external): idle ${live(memory.idle).toFixed(1)} MiB, ${memory.loadedCalls} calls up ${live(memory.loaded).toFixed(1)} MiB, after ${live(memory.after).toFixed(1)} MiB`);
    }
    const ramp: PhaseResult[] = [];
    let sustained: number | undefined;
    if (o.ramp) {
      sustained = 0;
      for (let rate = o.rampStart; rate <= o.rampMax; rate += o.rampStep) {
        // On a shared machine one step can be hit by someone else's burst: an unclean step is tried once more,
        // and only two unclean attempts in a row end the ramp (both are listed).
        let step = await phase(r, o, rate, o.rampSeconds, 2);
        ramp.push(step);
        say(`  ramp ${describe(step)}`);
        if (!step.clean) {
          step = await phase(r, o, rate, o.rampSeconds, 2);
          ramp.push(step);
          say(`  ramp (again) ${describe(step)}`);
        }
        if (!step.clean) break;
        sustained = rate;
      }
    }
    // A second settled reading: what grows between two settled readings grows with calls (a leak); what the
    // first one shows over idle may be one-time (JIT code, caches warmed by the first calls).
    let leak: CallSetupRun['leak'];
    if (o.ramp && memory !== undefined && r.seq > memory.callsBefore) {
      await r.uac.drain(o.holdMs + 12_000);
      await sleep(o.settleSeconds * 1000);
      const again = await r.sut.memory();
      if (again !== undefined) {
        const live = (m: MemorySample): number => m.heapUsed + m.external;
        leak = { calls: r.seq - memory.callsBefore, bytesPerCall: (live(again) - live(memory.after)) / (r.seq - memory.callsBefore), final: again };
        say(`  memory after the ramp, settled: ${(live(again) / 2 ** 20).toFixed(1)} MiB (${leak.bytesPerCall.toFixed(0)} bytes per call over ${leak.calls} calls)`);
      }
    }
    return {
      load,
      baseline,
      cold,
      fixed,
      rssIdleBytes: rssIdle,
      rssAfterBytes: rssAfter,
      memory,
      leak,
      ramp,
      sustainedRate: sustained,
      logProblems: Object.fromEntries(r.sut.logProblems()),
      logPerCall: (() => {
        const v = r.sut.logVolume();
        return { lines: Math.round((v.lines / Math.max(1, r.seq)) * 10) / 10, bytes: Math.round(v.bytes / Math.max(1, r.seq)) };
      })(),
    };
  } finally {
    await r.close();
  }
}

async function profiledPhase(o: ResolvedOptions, say: (s: string) => void): Promise<ProfileSummary | undefined> {
  const dir = path.join(os.tmpdir(), `call-setup-prof-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const r = await rig(await startGatewayChild(gatewayOptions(o, dir)), o);
  let p: PhaseResult;
  try {
    p = await phase(r, o, o.rate, o.seconds, o.warmupSeconds);
    say(`  profiled ${describe(p)}`);
  } finally {
    await r.close();
  }
  const file = latestProfile(dir);
  const summary = file === undefined ? undefined : summarizeProfile(file, 15, p.windowUs);
  rmSync(dir, { recursive: true, force: true });
  return summary;
}

export async function benchCallSetup(options: CallSetupOptions = {}): Promise<CallSetupResult> {
  const o = resolveOptions(options);
  const say = options.onProgress ?? ((s: string) => console.error(s));
  const start = loadAverage();
  const runs: CallSetupRun[] = [];
  for (let i = 0; i < o.runs; i++) {
    say(`call-setup run ${i + 1}/${o.runs} (load average ${loadAverage().join(' ')})`);
    runs.push(await oneRun(o, say));
  }
  const profile = o.profile ? await profiledPhase(o, say) : undefined;
  let sipp: SippCheck | undefined;
  if (o.sipp) {
    const sustained = runs.map((r) => r.sustainedRate ?? 0).sort((a, b) => a - b)[runs.length >> 1] ?? 0;
    const rate = Math.max(o.rate, sustained);
    const r = await rig(await startGatewayChild(gatewayOptions(o)), o);
    try {
      sipp = await runSippCheck({ target: r.sut.sip, did: didFor(0), rate, seconds: o.seconds, holdMs: o.holdMs, warmupSeconds: o.warmupSeconds, pid: r.sut.pid });
      say(`  sipp -sn uac at ${rate}/s: ${JSON.stringify(sipp)}`);
    } finally {
      await r.close();
    }
  }
  const result: CallSetupResult = {
    bench: 'call-setup',
    options: o,
    command: options.command ?? commandLine(o),
    runs,
    profile,
    sipp,
    load: { start, end: loadAverage() },
  };
  if (o.docs) writeCallSetupSection(result, describeMachine());
  return result;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === thisFile) {
  const result = await benchCallSetup(callSetupOptionsFromArgs(process.argv.slice(2)));
  console.log(JSON.stringify(result, null, 2));
}
