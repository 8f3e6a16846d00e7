/**
 * The "Call setup (trunk → browser)" section of docs/benchmarks.md, from a CallSetupResult: medians over the
 * runs against the targets, every run, the cold start, the ramp, and (when taken) the gateway's CPU profile and
 * the SIPp check.
 */
import type { CallSetupResult, CallSetupRun } from './call-setup.bench.ts';
import type { PhaseResult } from './call-setup-load.ts';
import type { MemorySample } from './inspector-memory.ts';
import { renderProfile } from './cpu-profile.ts';
import type { MachineInfo } from './machine.ts';
import { fmt, markdownTable, median, writeSection } from './report.ts';

export const CALL_SETUP_TITLE = 'Call setup (trunk → browser)';
const TARGET_RATE = 200;
const TARGET_P50_MS = 5;

const live = (m: MemorySample): number => m.heapUsed + m.external;
const retransmits = (p: PhaseResult): number => p.inviteRetransmits + p.okRetransmits + p.byeRetransmits;

function net(run: CallSetupRun, pick: (p: PhaseResult) => number): number {
  return run.baseline === undefined ? Number.NaN : pick(run.fixed) - pick(run.baseline);
}

export interface CallSetupSummary {
  /** Runs whose fixed-rate phase was clean (every call answered, nothing retransmitted or dropped). */
  readonly cleanFixedRuns: number;
  /** Highest clean ramp step (median over runs). */
  readonly sustained: number;
  readonly addedP50: number;
  readonly addedP99: number;
  readonly netP50: number;
  readonly netP99: number;
  readonly cpuMsPerCall: number;
  /**
   * Gateway CPU per call over the phases that were clean (fixed rate and ramp steps): an overloaded phase has
   * calls that failed early and cost less, so its CPU per call understates the real cost.
   */
  readonly cleanCpuMsPerCall: number;
  /** Live memory after every call ended and settled, minus idle, per call placed (includes one-time growth). */
  readonly retainedBytesPerCall: number;
  /** Live memory growth per call between two settled readings (fixed phase → ramp): a leak shows here. */
  readonly leakBytesPerCall: number;
}

export function summarize(r: CallSetupResult): CallSetupSummary {
  const m = (pick: (run: CallSetupRun) => number): number => median(r.runs.map(pick));
  return {
    cleanFixedRuns: r.runs.filter((run) => run.fixed.clean).length,
    sustained: m((run) => run.sustainedRate ?? Number.NaN),
    addedP50: m((run) => run.fixed.addedLatency.p50),
    addedP99: m((run) => run.fixed.addedLatency.p99),
    netP50: m((run) => net(run, (p) => p.addedLatency.p50)),
    netP99: m((run) => net(run, (p) => p.addedLatency.p99)),
    cpuMsPerCall: m((run) => run.fixed.sutCpuMsPerCall),
    cleanCpuMsPerCall: median(r.runs.flatMap((run) => [run.fixed, ...run.ramp]).filter((p) => p.clean).map((p) => p.sutCpuMsPerCall)),
    retainedBytesPerCall: m((run) => (run.memory ? (live(run.memory.after) - live(run.memory.idle)) / Math.max(1, run.memory.callsBefore) : Number.NaN)),
    leakBytesPerCall: m((run) => run.leak?.bytesPerCall ?? Number.NaN),
  };
}

const pair = (a: number, b: number, d = 2): string => `${fmt(a, d)} / ${fmt(b, d)}`;
const mib = (b: number): string => fmt(b / 2 ** 20, 1);

function phaseRow(label: string, p: PhaseResult): string[] {
  return [
    label, String(p.rate), fmt(p.offeredRate, 0), `${p.answered}/${p.callsInWindow}`, String(p.failures),
    `${p.inviteRetransmits}/${p.okRetransmits}/${p.byeRetransmits}`, String(p.udpDrops), pair(p.addedLatency.p50, p.addedLatency.p99, 1),
    fmt(p.sutCpuMsPerCall, 3), `${fmt(p.sutCpuLoad * 100, 0)} %`, `${fmt(p.driverCpuLoad * 100, 0)} %`, p.clean ? 'yes' : 'no',
  ];
}
const PHASE_COLUMNS = [
  'run', 'rate/s', 'offered/s', 'answered', 'failed', 'retransmits INVITE/200/BYE', 'gateway UDP drops',
  'added p50 / p99 ms', 'gateway CPU ms/call', 'gateway CPU', 'driver CPU', 'clean',
];

function method(r: CallSetupResult): string[] {
  const o = r.options;
  return [
    'A trunk calls a browser through the gateway. The trunk is a SIP/UDP UAC in the benchmark process (RFC 3261',
    'Timer A/E retransmissions, ACK, BYE after a hold time); the browsers are SIP-over-WebSocket agents in the same',
    `process (${o.agents} of them, registered with digest like JsSIP) that answer every INVITE at once with 200 and a`,
    'Chromium-shaped WebRTC answer and never do media. The gateway runs as `node src/main.ts --config …` in its own',
    `process (log level \`${o.logLevel}\`, into a file), so its CPU (/proc/<pid>/stat utime + stime) is its own. Each call is`,
    `held ${o.holdMs} ms, then the trunk hangs up. Latencies are taken at the two wire ends, both in the benchmark process:`,
    'INVITE in → out = agent received − trunk sent; 200 in → out = trunk received − agent sent; "added" is their sum',
    'per call. The Node floor is the same load through bench/call-setup-relay.ts, a process that forwards the same',
    'bytes UDP ↔ WebSocket without any SIP work; net = measured − floor.',
    '',
    `Each run: the floor; a fresh gateway; a cold start (${o.rate}/s at once for ${o.coldSeconds} s, as after a restart under`,
    `traffic); the fixed-rate phase (${o.rate}/s for ${o.seconds} s after a linear warm-up from 0 over ${o.warmupSeconds} s); a memory`,
    `reading with calls up; ${o.settleSeconds} s of quiet; the ramp (steps of ${o.rampSeconds} s from ${o.rampStart}/s by ${o.rampStep}/s). A phase is clean`,
    'when every call is answered, nothing is retransmitted (INVITE, 200 or BYE), no BYE fails, the gateway hangs up',
    'nobody, and the driver offers ≥ 97 % of the rate; a ramp step that is not clean is tried once more, two in a row',
    'end the ramp. Memory is read through the gateway\'s inspector after a forced full GC (bench/inspector-memory.ts).',
    'The driver shares the machine with the gateway; its CPU is listed. "gateway UDP drops" is the drops counter of',
    'the gateway\'s SIP socket in /proc/net/udp (receive buffer full).',
  ];
}

export function writeCallSetupSection(r: CallSetupResult, machine: MachineInfo, file?: string): void {
  const s = summarize(r);
  const o = r.options;
  const n = r.runs.length;
  const m = (pick: (run: CallSetupRun) => number): number => median(r.runs.map(pick));
  const base = (pick: (p: PhaseResult) => number): number => median(r.runs.filter((x) => x.baseline).map((x) => pick(x.baseline!)));
  const memo = (pick: (x: NonNullable<CallSetupRun['memory']>) => number): number => m((x) => (x.memory ? pick(x.memory) : Number.NaN));
  const met = (ok: boolean): string => (ok ? '**met**' : '**missed**');
  const latencyOk = Number.isFinite(s.netP50) ? s.netP50 < TARGET_P50_MS : s.addedP50 < TARGET_P50_MS;

  const summary = markdownTable(['', `median of ${n} run${n === 1 ? '' : 's'}`, 'target'], [
    [`${o.rate}/s for ${o.seconds} s (warm) with 0 failures, 0 retransmissions`, `clean in ${s.cleanFixedRuns} of ${n} runs`, `≥ ${TARGET_RATE}/s ${o.rate >= TARGET_RATE ? met(s.cleanFixedRuns > n / 2) : ''}`],
    [`highest clean ramp step (${o.rampSeconds} s steps)`, o.ramp ? `${fmt(s.sustained)}/s` : 'not ramped', `≥ ${TARGET_RATE}/s ${o.ramp ? met(s.sustained >= TARGET_RATE) : ''}`],
    [`gateway-added latency p50 / p99 at ${o.rate}/s, net of the Node floor`, `${pair(s.netP50, s.netP99)} ms`, `p50 < ${TARGET_P50_MS} ms ${met(latencyOk)}`],
    ['gateway-added latency p50 / p99, as measured (INVITE in→out + 200 in→out)', `${pair(s.addedP50, s.addedP99)} ms`, ''],
    ['… INVITE in → INVITE out p50 / p99', `${pair(m((x) => x.fixed.inviteLatency.p50), m((x) => x.fixed.inviteLatency.p99))} ms`, ''],
    ['… 200 in → 200 out p50 / p99', `${pair(m((x) => x.fixed.okLatency.p50), m((x) => x.fixed.okLatency.p99))} ms`, ''],
    ['Node floor (null relay, same load): INVITE / 200 p50', `${pair(base((p) => p.inviteLatency.p50), base((p) => p.okLatency.p50))} ms`, ''],
    ['post-dial delay at the trunk p50 / p99 (INVITE sent → 200 received, agent included)', `${pair(m((x) => x.fixed.postDialDelay.p50), m((x) => x.fixed.postDialDelay.p99))} ms`, ''],
    [`gateway CPU per call (setup + teardown) at ${o.rate}/s; share of one core`, `${fmt(s.cpuMsPerCall, 3)} ms; ${fmt(m((x) => x.fixed.sutCpuLoad) * 100, 0)} %`, ''],
    ['gateway CPU per call over all clean phases; setups/s one core to itself would carry at that cost', `${fmt(s.cleanCpuMsPerCall, 3)} ms; ${fmt(1000 / s.cleanCpuMsPerCall)}/s`, ''],
    ['Node floor CPU per call (null relay)', `${fmt(base((p) => p.sutCpuMsPerCall), 3)} ms`, ''],
    [`gateway log volume per call at \`${o.logLevel}\``, `${fmt(m((x) => x.logPerCall.lines), 1)} lines, ${fmt(m((x) => x.logPerCall.bytes))} bytes`, ''],
    [
      `live memory after a forced GC (heap + external): idle → with ~${fmt(memo((x) => x.loadedCalls))} calls up (and the transactions of the last 32 s of calls) → ${o.settleSeconds} s after the last call`,
      `${mib(memo((x) => live(x.idle)))} → ${mib(memo((x) => live(x.loaded)))} → ${mib(memo((x) => live(x.after)))} MiB`,
      '',
    ],
    [`leak indicator: live memory growth between the settled readings before and after the ramp, per call (~${fmt(m((x) => x.leak?.calls ?? Number.NaN))} calls)`, `${fmt(s.leakBytesPerCall, 0)} bytes`, '≈ 0'],
    ['RSS: idle → end of the fixed-rate window → settled', `${mib(m((x) => x.rssIdleBytes))} → ${mib(m((x) => x.fixed.rssLoadedBytes))} → ${mib(m((x) => x.rssAfterBytes))} MiB`, ''],
    [`cold start (${o.rate}/s at once for ${o.coldSeconds} s): failures / retransmissions / UDP drops`, r.runs.some((x) => x.cold) ? `${fmt(m((x) => x.cold?.failures ?? Number.NaN))} / ${fmt(m((x) => (x.cold ? retransmits(x.cold) : Number.NaN)))} / ${fmt(m((x) => x.cold?.udpDrops ?? Number.NaN))}` : 'not run', ''],
  ]);

  const runs = markdownTable(
    ['run', 'load 1 min', 'added p50 / p99 ms', 'floor p50 / p99 ms', 'net p50 ms', 'post-dial p50 / p99 ms', 'driver loop delay p99 ms', 'live MiB idle → loaded → settled → after ramp', 'sustained/s', 'warn+ log lines'],
    r.runs.map((run, i) => [
      String(i + 1),
      run.load[0].toFixed(2),
      pair(run.fixed.addedLatency.p50, run.fixed.addedLatency.p99),
      run.baseline ? pair(run.baseline.addedLatency.p50, run.baseline.addedLatency.p99) : '–',
      fmt(net(run, (p) => p.addedLatency.p50), 2),
      pair(run.fixed.postDialDelay.p50, run.fixed.postDialDelay.p99, 1),
      fmt(run.fixed.driverLoopDelayP99Ms, 1),
      run.memory ? `${mib(live(run.memory.idle))} → ${mib(live(run.memory.loaded))} → ${mib(live(run.memory.after))} → ${run.leak ? mib(live(run.leak.final)) : '–'}` : '–',
      run.sustainedRate === undefined ? '–' : String(run.sustainedRate),
      String(Object.values(run.logProblems).reduce((a, b) => a + b, 0)),
    ]),
  );
  const phases = markdownTable(PHASE_COLUMNS.map((c, i) => (i === 0 ? 'run / phase' : c)), r.runs.flatMap((run, i) => [
    ...(run.baseline ? [phaseRow(`${i + 1} floor (null relay)`, run.baseline)] : []),
    ...(run.cold ? [phaseRow(`${i + 1} cold start`, run.cold)] : []),
    phaseRow(`${i + 1} fixed rate`, run.fixed),
    ...run.ramp.map((p) => phaseRow(`${i + 1} ramp`, p)),
  ]));

  const problems = new Map<string, number>();
  for (const run of r.runs) for (const [k, v] of Object.entries(run.logProblems)) problems.set(k, (problems.get(k) ?? 0) + v);

  const body = [
    ...method(r),
    '',
    summary,
    '',
    'Runs (load = 1-minute load average when the run started):',
    '',
    runs,
    '',
    'Every phase (a ramp step listed twice was retried; the last step of a run is the one that ended its ramp):',
    '',
    phases,
    ...(r.profile === undefined ? [] : ['', renderProfile(r.profile, `the gateway over one more fixed-rate window (${o.seconds} s at ${o.rate}/s after the warm-up)`)]),
    ...(r.sipp === undefined ? [] : [
      '',
      `SIPp check (\`sipp -sn uac\`, ${r.sipp.rate}/s, ${r.sipp.calls} calls, hold ${o.holdMs} ms, one agent answering, SIPp's rate raised linearly over ${o.warmupSeconds} s first): ` +
        `${r.sipp.successful} successful, ${r.sipp.failed} failed, ${r.sipp.retransmissions} retransmissions, ` +
        `${fmt(r.sipp.callsPerSecond, 1)} calls/s; after the warm-up INVITE → 200 p50 ${fmt(r.sipp.responseTimeP50Ms)} ms, p99 ${fmt(r.sipp.responseTimeP99Ms)} ms ` +
        `(1 ms resolution, agent included); gateway CPU ${fmt(r.sipp.gatewayCpuMsPerCall, 3)} ms per call over the whole SIPp run; sipp exit ${r.sipp.exitCode}.`,
    ]),
    ...(problems.size === 0 ? [] : [
      '',
      'Gateway log lines at warn or above (all runs):',
      '',
      ...[...problems].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([msg, count]) => `- ${count} × ${msg}`),
    ]),
  ].join('\n');

  writeSection({
    title: CALL_SETUP_TITLE,
    command: r.command,
    machine,
    load: r.load,
    body,
    history: {
      columns: ['runs', 'rate/s', 'clean runs at rate', 'ramp max clean/s', 'added p50 / p99 ms', 'net p50 ms', 'CPU ms/call (clean)', 'leak B/call'],
      row: [
        String(n), String(o.rate), `${s.cleanFixedRuns}/${n}`, o.ramp ? fmt(s.sustained) : '–', pair(s.addedP50, s.addedP99),
        fmt(s.netP50, 2), fmt(s.cleanCpuMsPerCall, 3), fmt(s.leakBytesPerCall, 0),
      ],
    },
  }, file);
}
