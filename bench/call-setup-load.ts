/**
 * One load phase of the call-setup benchmark: the trunk UAC places calls at a fixed rate after a linear warm-up
 * ramp (time-based schedule, so timer drift under load does not lower the offered rate) into a system under test, while the answering
 * agents time the same calls on the other side. Measures, over the window after a warm-up:
 *
 *   - INVITE in → INVITE out: agent got the INVITE − trunk sent it;
 *   - 200 in → 200 out:       trunk got the 200  − agent sent it;
 *   - CPU of the system under test per call (utime + stime over the window ÷ calls started in it; in steady state
 *     a call's setup and its teardown both fall in the window, so this is the cost of one whole call);
 *   - the driver's own CPU and event-loop delay (if the driver is saturated, the numbers are the driver's);
 * and, after the phase drained, the outcome of every call of the window: answered, failed, retransmissions.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { TrunkUac, UacCounters } from './call-setup-uac.ts';
import type { AgentTimeline } from './call-setup-agent.ts';
import { cpuMs, rssBytes, udpDrops, type SystemUnderTest } from './call-setup-gateway.ts';
import { percentile } from './report.ts';

export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly samples: number;
}

export interface PhaseResult {
  readonly rate: number;
  readonly seconds: number;
  /** Calls started per second in the window (what the driver managed to offer). */
  readonly offeredRate: number;
  /** Calls of the window answered with 200, per second of the window. */
  readonly setupsPerSecond: number;
  readonly callsInWindow: number;
  readonly answered: number;
  readonly failures: number;
  readonly failuresByReason: Readonly<Record<string, number>>;
  readonly inviteRetransmits: number;
  readonly okRetransmits: number;
  readonly byeRetransmits: number;
  readonly byeFailed: number;
  readonly remoteByes: number;
  /** Datagrams the kernel dropped on the system's SIP/UDP socket (receive buffer full) during the phase. */
  readonly udpDrops: number;
  /** Gateway-side latencies, ms. */
  readonly inviteLatency: Percentiles;
  readonly okLatency: Percentiles;
  /** Per call: INVITE in→out + 200 in→out, ms. */
  readonly addedLatency: Percentiles;
  /** Trunk's INVITE sent → trunk's 200 received (includes the agent), ms. */
  readonly postDialDelay: Percentiles;
  readonly sutCpuMsPerCall: number;
  /** Share of one core the system under test used in the window. */
  readonly sutCpuLoad: number;
  readonly driverCpuLoad: number;
  readonly driverLoopDelayP99Ms: number;
  /** VmRSS of the system under test at the end of the window, and the calls up at that moment. */
  readonly rssLoadedBytes: number;
  readonly concurrentCalls: number;
  /** The measuring window on the monotonic clock (process.hrtime, µs): V8 CPU profiles use the same clock. */
  readonly windowUs: readonly [number, number];
  /** Every call of the window answered, nothing retransmitted, nobody hung up on us, the driver kept up. */
  readonly clean: boolean;
}

export interface PhaseOptions {
  readonly rate: number;
  /**
   * The rate climbs linearly from 0 to `rate` over this time before the window opens, as traffic reaches a
   * gateway that was just started: hit at full rate from cold (JIT not warmed, heap still growing) it stalls
   * long enough to overflow its UDP receive buffer, which a benchmark of the warm state must not measure.
   */
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** How long to wait after the last INVITE for calls to finish (hold time + teardown). */
  readonly drainMs: number;
  /** Runs when the window closes, before the drain (calls still up): e.g. a memory reading. */
  readonly atWindowEnd?: () => Promise<void>;
}

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

function stats(samples: number[]): Percentiles {
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    p50: r(percentile(samples, 50)),
    p90: r(percentile(samples, 90)),
    p99: r(percentile(samples, 99)),
    max: r(percentile(samples, 100)),
    samples: samples.length,
  };
}

function snapshot(c: UacCounters): Omit<UacCounters, 'failed'> & { failed: Map<string, number> } {
  return { ...c, failed: new Map(c.failed) };
}

export async function runPhase(
  sut: SystemUnderTest,
  uac: TrunkUac,
  timeline: AgentTimeline,
  firstSeq: number,
  o: PhaseOptions,
): Promise<{ result: PhaseResult; nextSeq: number }> {
  const before = snapshot(uac.counters);
  const drops0 = udpDrops(sut.sip.port);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let seq = firstSeq;
  const t0 = performance.now();
  const warmEnd = t0 + o.warmupSeconds * 1000;
  const end = warmEnd + o.seconds * 1000;
  let window: { firstSeq: number; cpu0: number; driver0: NodeJS.CpuUsage; t: number; us: number } | undefined;
  let measured: { lastSeq: number; cpuMs: number; driverUs: number; elapsed: number; rss: number; concurrent: number; us: number } | undefined;

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (window === undefined && now >= warmEnd) {
        window = { firstSeq: seq, cpu0: cpuMs(sut.pid), driver0: process.cpuUsage(), t: now, us: monotonicUs() };
        loop.enable();
      }
      if (now >= end) {
        clearInterval(timer);
        const driver = process.cpuUsage(window!.driver0);
        measured = {
          lastSeq: seq - 1,
          cpuMs: cpuMs(sut.pid) - window!.cpu0,
          driverUs: driver.user + driver.system,
          elapsed: (now - window!.t) / 1000,
          rss: rssBytes(sut.pid),
          concurrent: uac.active,
          us: monotonicUs(),
        };
        loop.disable();
        resolve();
        return;
      }
      const t = (now - t0) / 1000;
      const w = o.warmupSeconds;
      // Calls owed by time t: the integral of a rate rising linearly to `rate` over w, then flat.
      const owed = t < w ? (o.rate * t * t) / (2 * w) : (o.rate * w) / 2 + o.rate * (t - w);
      const due = firstSeq + Math.floor(owed);
      while (seq < due) uac.startCall(seq++);
    };
    const timer = setInterval(tick, 1);
  });
  await o.atWindowEnd?.();
  await uac.drain(o.drainMs);

  const w = window!;
  const m = measured!;
  const calls = m.lastSeq - w.firstSeq + 1;
  const invite: number[] = [];
  const ok: number[] = [];
  const added: number[] = [];
  const pdd: number[] = [];
  let answered = 0;
  for (let s = w.firstSeq; s <= m.lastSeq; s++) {
    const sent = uac.inviteSentAt[s];
    const got200 = uac.okReceivedAt[s];
    if (got200 === undefined || sent === undefined) continue;
    answered++;
    pdd.push(got200 - sent);
    const inAt = timeline.inviteReceivedAt[s];
    const okAt = timeline.okSentAt[s];
    if (inAt === undefined || okAt === undefined) continue;
    invite.push(inAt - sent);
    ok.push(got200 - okAt);
    added.push(inAt - sent + (got200 - okAt));
  }
  const after = uac.counters;
  const failuresByReason: Record<string, number> = {};
  let failures = 0;
  for (const [reason, n] of after.failed) {
    const d = n - (before.failed.get(reason) ?? 0);
    if (d > 0) {
      failuresByReason[reason] = d;
      failures += d;
    }
  }
  const inviteRetransmits = after.inviteRetransmits - before.inviteRetransmits;
  const okRetransmits = after.okRetransmits - before.okRetransmits;
  const byeRetransmits = after.byeRetransmits - before.byeRetransmits;
  const byeFailed = after.byeFailed - before.byeFailed;
  const remoteByes = after.remoteByes - before.remoteByes;
  const drops = udpDrops(sut.sip.port) - drops0;
  const offeredRate = calls / m.elapsed;
  const result: PhaseResult = {
    rate: o.rate,
    seconds: Math.round(m.elapsed * 100) / 100,
    offeredRate: Math.round(offeredRate * 10) / 10,
    setupsPerSecond: Math.round((answered / m.elapsed) * 10) / 10,
    callsInWindow: calls,
    answered,
    failures,
    failuresByReason,
    inviteRetransmits,
    okRetransmits,
    byeRetransmits,
    byeFailed,
    remoteByes,
    udpDrops: drops,
    inviteLatency: stats(invite),
    okLatency: stats(ok),
    addedLatency: stats(added),
    postDialDelay: stats(pdd),
    sutCpuMsPerCall: calls > 0 ? Math.round((m.cpuMs / calls) * 1000) / 1000 : Number.NaN,
    sutCpuLoad: Math.round((m.cpuMs / 1000 / m.elapsed) * 1000) / 1000,
    driverCpuLoad: Math.round((m.driverUs / 1e6 / m.elapsed) * 1000) / 1000,
    driverLoopDelayP99Ms: Math.round((loop.percentile(99) / 1e6) * 100) / 100,
    rssLoadedBytes: m.rss,
    concurrentCalls: m.concurrent,
    windowUs: [w.us, m.us],
    clean:
      failures === 0 && answered === calls && inviteRetransmits === 0 && okRetransmits === 0 && byeRetransmits === 0 &&
      byeFailed === 0 && remoteByes === 0 && drops === 0 && offeredRate >= o.rate * 0.97,
  };
  return { result, nextSeq: seq };
}
