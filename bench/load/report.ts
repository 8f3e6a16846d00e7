/**
 * The "Concurrent calls (WebRTC↔SIP end to end)" section of docs/benchmarks.md (through bench/report.ts, which
 * adds machine, load, command and history) and docs/benchmarks-load.svg. The verdict on each target, and by how
 * much it was missed, is computed from the run, so a rerun cannot leave stale prose behind.
 */
import { renderProfile } from '../cpu-profile.ts';
import { describeMachine } from '../machine.ts';
import { fmt, markdownTable, writeSection } from '../report.ts';
import type { LoadResult, LoadStep } from '../load.bench.ts';
import { stepPasses, TARGETS } from './targets.ts';
import { writeLoadPlot } from './plot.ts';
import { npmStartFlags } from './gateway-process.ts';

export const SECTION_TITLE = 'Concurrent calls (WebRTC↔SIP end to end)';

const pct = (x: number, d = 2): string => `${fmt(x * 100, d)} %`;
const kb = (b: number | undefined): string => (b === undefined ? '–' : fmt(b / 1024));
const verdict = (ok: boolean): string => (ok ? '**met**' : '**missed**');

function stepRow(s: LoadStep): string[] {
  const w = s.window;
  return [
    `${w.calls}${w.calls !== s.target ? ` of ${s.target}` : ''}`,
    pct(w.loss, 3),
    `${fmt(w.rttMs.p50, 2)} / ${fmt(w.rttMs.p99, 1)}`,
    `${fmt(w.baselineMs.p50, 2)} / ${fmt(w.baselineMs.p99, 1)}`,
    `${fmt(w.addedMs.p50, 2)} / ${fmt(w.addedMs.p99, 1)}`,
    pct(w.gatewayCpuLoad, 0),
    fmt(w.gatewayUsPerPacket, 1),
    s.plain === undefined ? '–' : fmt(s.plain.usPerPacket, 1),
    s.ratio === undefined ? '–' : fmt(s.ratio, 2),
    `${kb(s.rssPerCallBytes)} (${kb(s.livePerCallBytes)})`,
    pct(w.workersCpuLoad + w.trunkCpuLoad, 0),
    `${w.skipped} / ${w.dropped}`,
    `${fmt(w.loadAverage, 1)} / ${fmt(w.machineBusyCores, 2)} / ${pct(w.gatewayRunqueueWait, 0)}`,
    stepPasses(s) ? 'yes' : 'no',
  ];
}

function setupRow(s: LoadStep): string[] {
  const u = s.setup;
  const failed = Object.entries(u.failures).map(([k, v]) => `${v}× ${k}`).join(', ');
  return [
    String(s.target),
    `${u.connected} / ${u.placed}`,
    fmt(u.offeredRate),
    fmt(u.completedRate),
    `${fmt(u.addedMs.p50, 2)} / ${fmt(u.addedMs.p99, 1)}`,
    `${fmt(u.challengeMs.p50, 2)} / ${fmt(u.challengeMs.p99, 1)}`,
    `${fmt(u.mediaMs.p50, 1)} / ${fmt(u.mediaMs.p99, 1)}`,
    `${pct(u.gatewayCpuLoad, 0)} (${fmt(u.gatewayCpuMsPerCall, 1)} ms/call, waiting ${pct(u.gatewayRunqueueWait, 0)})`,
    failed === '' ? '–' : failed,
  ];
}

/** The step the ramp stopped at (its numbers describe a collapse), and the steps before it. */
function split(r: LoadResult): { healthy: readonly LoadStep[]; failed: LoadStep | undefined } {
  const last = r.steps[r.steps.length - 1];
  if (last !== undefined && r.stoppedAt?.target === last.target) return { healthy: r.steps.slice(0, -1), failed: last };
  return { healthy: r.steps, failed: undefined };
}

function targetRows(r: LoadResult): string[][] {
  const { healthy, failed } = split(r);
  const ref = healthy.find((s) => s.window.calls >= TARGETS.calls) ?? healthy[healthy.length - 1] ?? failed;
  if (ref === undefined) return [];
  const maxOf = (xs: readonly LoadStep[]): number => (xs.length === 0 ? 0 : Math.max(...xs.map((s) => s.window.calls)));
  const lossOk = maxOf(r.steps.filter((s) => s.window.loss < TARGETS.loss));
  const bothOk = maxOf(r.steps.filter((s) => s.window.loss < TARGETS.loss && s.window.addedMs.p99 < TARGETS.addedP99Ms));
  const bestP99 = Math.min(...r.steps.map((s) => s.window.addedMs.p99).filter(Number.isFinite));
  // Without warm-up calls the first step carries the gateway's JIT warm-up.
  const base = healthy.length > 0 ? healthy : r.steps;
  const setups = r.options.warmupCalls > 0 || base.length === 1 ? base : base.slice(1);
  const rates = setups.map((s) => s.setup.completedRate);
  const setupP50 = setups.map((s) => s.setup.addedMs.p50);
  const range = (xs: readonly number[], d: number): string => `${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)}`;
  const ratios = r.steps.map((s) => s.ratio ?? Number.NaN).filter(Number.isFinite);
  return [
    [
      `≥ ${TARGETS.calls} calls, loss < 0.1 %, p99 added < ${TARGETS.addedP99Ms} ms`,
      `loss < 0.1 % up to ${lossOk} calls; both up to ${bothOk} calls (best p99 added: ${fmt(bestP99, 1)} ms)` +
        (failed === undefined ? '' : `; at ${failed.target} the ramp broke down (${failed.window.calls} calls up, loss ${pct(failed.window.loss, 1)})`),
      verdict(bothOk >= TARGETS.calls),
    ],
    [
      `gateway CPU per relayed packet ≤ ${TARGETS.ratio}× plain relay`,
      `${fmt(ref.window.gatewayUsPerPacket, 1)} µs vs ${fmt(ref.plain?.usPerPacket ?? Number.NaN, 1)} µs at ${ref.window.calls} calls: ${fmt(ref.ratio ?? Number.NaN, 2)}×; ${ratios.length > 1 ? `${range(ratios, 2)}× over the steps` : ''}`,
      verdict((ref.ratio ?? Number.POSITIVE_INFINITY) <= TARGETS.ratio),
    ],
    [
      `≤ 250 KB RSS per call`,
      `${kb(ref.rssPerCallBytes)} KB at ${ref.window.calls} calls (${kb(r.steps[0]!.rssPerCallBytes)} KB at ${r.steps[0]!.window.calls}: the gateway's fixed growth under load spread over more calls); live heap + external after GC ${kb(ref.livePerCallBytes)} KB`,
      verdict(ref.rssPerCallBytes <= TARGETS.rssPerCallBytes),
    ],
    [
      `≥ ${TARGETS.setupRate} setups/s, added setup p50 < ${TARGETS.setupAddedP50Ms} ms`,
      `offered ${fmt(Math.min(...setups.map((s) => s.setup.offeredRate)))}/s or more; completed ${range(rates, 0)}/s; added p50 ${range(setupP50, 0)} ms` +
        (failed === undefined ? '' : ' (steps before the one that broke down)'),
      verdict(Math.min(...rates) >= TARGETS.setupRate * 0.95 && Math.max(...setupP50) < TARGETS.setupAddedP50Ms),
    ],
  ];
}

/** What the numbers say about the gap to 1,000 calls, computed from the run. */
function gapNotes(r: LoadResult): string[] {
  const { healthy, failed } = split(r);
  const good = healthy[healthy.length - 1];
  const top = good ?? failed;
  if (top === undefined) return [];
  const w = top.window;
  // The per-packet cost is CPU time, so contention moves it little; take the cheapest healthy step with real load.
  const measured = (healthy.length > 0 ? healthy : r.steps).filter((s) => s.window.calls >= 100 && Number.isFinite(s.window.gatewayUsPerPacket));
  const us = measured.length === 0 ? w.gatewayUsPerPacket : Math.min(...measured.map((s) => s.window.gatewayUsPerPacket));
  const perCore = 1e6 / (us * 100); // 100 relayed packets/s per call (50 each way)
  const coresFor1000 = (us * TARGETS.calls * 100) / 1e6;
  const plainUs = top.plain?.usPerPacket ?? Number.NaN;
  // A saturated event loop handles several packets per wake-up and pays less per packet: the optimistic bound.
  const usSaturated = Math.min(...r.steps.map((s) => s.window.gatewayUsPerPacket).filter(Number.isFinite));
  // A saved result from before media.workers has no such option: media ran in the gateway process.
  const mw = r.options.mediaWorkers ?? 0;
  const gateway = mw === 0 ? 'the gateway process' : `the gateway (its process and its ${mw} media worker processes together)`;
  const lines = [
    `- At ${w.calls} calls${failed !== undefined && good !== undefined ? ' (the last step before the ramp broke down)' : ''} ${gateway} used ${pct(w.gatewayCpuLoad, 0)} of one core (${fmt(w.gatewayUsPerPacket, 1)} µs per`,
    `  relayed packet) and its main thread waited for a CPU ${pct(w.gatewayRunqueueWait, 0)} of the window; the load generator (${r.options.workers} workers) and`,
    `  the echo trunk used ${pct(w.workersCpuLoad + w.trunkCpuLoad, 0)} of a core; the machine as a whole kept ${fmt(w.machineBusyCores, 2)} of its 2 cores busy (load`,
    `  average ${fmt(w.loadAverage, 1)}, other sessions' tests and benchmarks included).`,
  ];
  if (r.stoppedAt !== undefined) {
    const f = failed?.window;
    lines.push(`- The ramp stopped at ${r.stoppedAt.target} calls: ${r.stoppedAt.reason}.`);
    if (f !== undefined) {
      lines.push(
        `  In that step the gateway used ${pct(f.gatewayCpuLoad, 0)} of a core and waited for one ${pct(f.gatewayRunqueueWait, 0)} of the time, with ${fmt(f.machineBusyCores, 2)} cores busy machine-wide.`,
      );
    }
    if (mw !== 0 && good !== undefined && good.window.machineBusyCores >= 1.8) {
      lines.push(
        `  Diagnosis: the machine's two cores. At ${good.window.calls} calls the gateway's processes used ${pct(good.window.gatewayCpuLoad, 0)} of a core and the load`,
        `  generator with the echo trunk ${pct(good.window.workersCpuLoad + good.window.trunkCpuLoad, 0)}: ${fmt(good.window.machineBusyCores, 2)} of the 2 cores were busy. The next step's`,
        '  setups (a DTLS handshake on each side per call, in the generator as in the gateway) had no CPU left to take, so',
        '  packets and SIP queued behind one another: the generator fell behind its own sending schedule and packets came',
        '  back seconds late (counted as lost). The gateway spreads over cores; the',
        '  benchmark needs cores besides its own for the generator to go further.',
      );
    } else if (good !== undefined && good.window.gatewayCpuLoad >= 0.75) {
      lines.push(
        `  Diagnosis: the gateway's one core. At ${good.window.calls} calls it already needed ${pct(good.window.gatewayCpuLoad, 0)} of it; the next step's setups`,
        `  (≈ ${fmt(r.steps[0]!.setup.gatewayCpuMsPerCall, 0)} ms of CPU each, see below) pushed it past, packets queued in its socket buffers for seconds (a packet not`,
        '  back within 1 s after the window counts as lost), new WebSocket connections and INVITEs waited behind them, and it',
        '  did not catch up. Contention from the rest of the machine made the collapse deeper, not earlier.',
      );
    } else if (f !== undefined && f.gatewayRunqueueWait > 0.2 && f.gatewayCpuLoad < 0.9) {
      lines.push(
        `  Diagnosis: starvation. Relaying it all would have taken ≈ ${pct((f.calls * 100 * us) / 1e6, 0)} of a core at ${fmt(us, 1)} µs/packet and the gateway got`,
        `  ${pct(f.gatewayCpuLoad, 0)}: it was runnable but without a CPU, so packets queued in its socket buffers for seconds (a packet`,
        '  not back within 1 s after the window counts as lost). On this shared machine that, not the gateway\'s own core, set',
        '  the ceiling of this run.',
      );
    }
  }
  lines.push(
    `- Capacity from the cost: at ≈ ${fmt(us, 1)} µs per relayed packet (lowest healthy step ≥ 100 calls) one core carries ≈ ${fmt(perCore)} calls`,
    `  (≈ ${fmt(1e6 / (usSaturated * 100))} at the ${fmt(usSaturated, 1)} µs a saturated event loop pays, batching packets per wake-up), and 1,000 calls`,
    `  (100,000 relayed packets/s) need ≈ ${fmt(coresFor1000, 2)} cores for the gateway alone (a plain Node relay:`,
    ...(mw === 0
      ? [
          `  ≈ ${fmt((plainUs * TARGETS.calls * 100) / 1e6, 2)}). The gateway's media runs on its one JavaScript thread, so one process cannot reach 1,000 calls`,
          '  on any machine at this cost, and this machine has 2 cores for the gateway, the generator and everybody else.',
        ]
      : [
          `  ≈ ${fmt((plainUs * TARGETS.calls * 100) / 1e6, 2)}). In this run media was spread over ${mw} worker processes (media.workers), so the gateway`,
          '  could use that many cores; this machine has 2 cores for the gateway, the generator and everybody else.',
        ]),
    `- Latency: at the first step (${r.steps[0]!.window.calls} calls) the p99 added round trip was ${fmt(r.steps[0]!.window.addedMs.p99, 1)} ms and the direct path's own p99`,
    `  ${fmt(r.steps[0]!.window.baselineMs.p99, 1)} ms (p50: ${fmt(r.steps[0]!.window.addedMs.p50, 2)} ms added, ${fmt(r.steps[0]!.window.baselineMs.p50, 2)} ms direct): on 2 shared cores a packet often waits`,
    '  for a process to be scheduled, and the gateway path passes a process twice more. The < 5 ms p99 target needs a gateway',
    '  that is rarely runnable-but-waiting, i.e. cores it does not share with the load.',
    '- Where the time goes (profile below): the `sendmsg` behind `dgram.send` (`doSend`, charged outside src/ because Node',
    '  sends from a later tick) is the largest share, and a plain relay pays it too; then SRTP (AES-CM from one ECB',
    '  cipher per session and HMAC-SHA1 in JavaScript, ≈ 1.2 µs a packet each way: `src/webrtc/srtp`), the relay and GC.',
    mw === 0
      ? '- What would close it: (1) spread media over one process per core — `media.workers` places calls on several media'
      : '- What would close it: (1) more cores for the media processes — `media.workers` places calls on several media',
    '  processes (`src/media-node.ts` over the ng protocol), so the SIP process keeps signalling and each core',
    `  relays its share: ≈ ${fmt(Math.ceil(coresFor1000 * 1.25))} cores for the media at today\'s cost for 1,000 calls (25 % headroom), the SIP process and`,
    '  the generator on others — not this 2-core machine; (2) cut the per-packet cost: fewer syscalls per packet (Node',
    '  exposes no sendmmsg or recvmmsg; rtpengine behind the same ng API is the native option); (3) RSS per call at a few',
    '  hundred calls still carries per-process memory that grows with the packet rate, not the call count (V8\'s young',
    '  generation): the "live" figure (heap + external after a full GC) is the per-call part — see the Media relay section.',
  );
  return lines;
}

/** Call-setup capacity from its CPU cost: each call costs a DTLS handshake besides SIP. */
function setupNotes(r: LoadResult): string[] {
  const first = r.steps[0];
  if (first === undefined) return [];
  const msPerCall = first.setup.gatewayCpuMsPerCall;
  const p = r.profile;
  const dtls = p === undefined ? [] : p.setupSummary.owners.filter((o) => /dtls/i.test(o.name));
  const dtlsShare = dtls.reduce((n, o) => n + o.selfPercent, 0) / 100;
  const dtlsLine = p === undefined || dtls.length === 0 ? [] : [
    `  In the profiled setup phase the DTLS handshakes (\`${dtls.map((o) => o.name.split(' ')[0]).join('`, `')}\` and what they call) took`,
    `  ${pct(dtlsShare, 0)} of the gateway's busy time, ≈ ${fmt((dtlsShare * p.setupSummary.busyMs) / Math.max(p.setup.placed, 1), 1)} ms per call.`,
  ];
  return [
    `- Setups: in the first step the gateway spent ≈ ${fmt(msPerCall, 1)} ms of CPU per call brought up (gross: SIP for both legs,`,
    '  the ICE check, the DTLS handshake (its ECDHE and signatures on node:crypto, src/webrtc/dtls-native-crypto.ts) and',
    `  the media of the calls already up). At that cost ${r.options.setupRate} setups/s need ≈ ${fmt((msPerCall * r.options.setupRate) / 1000, 1)} cores, so the`,
    '  setup rate saturates the process long before the signalling does (the "Call setup" section measures SIP alone,',
    '  trunk → browser without DTLS). The setup profile below shows the split. Once the offered rate exceeds what the',
    '  process can do, every INVITE waits behind the handshakes and packets of the others: the setup latencies above are',
    '  mostly that queue.',
    ...dtlsLine,
  ];
}

export function renderLoadBody(r: LoadResult): string {
  const o = r.options;
  const parts: string[] = [
    `Browsers call a SIP trunk through the gateway, ${o.steps.join(' → ')} concurrent calls, each carrying 50 packets/s of`,
    '172-byte G.711 (PCMU) RTP each way: the trunk echoes every packet. Processes, all on loopback on this machine:',
    '',
    '- **gateway**: `node ' + npmStartFlags().map((f) => f + ' ').join('') + 'src/main.ts --config …` (the Node flags of `npm start`; services peer disabled, log level ' + `\`${o.logLevel}\`` + ' into a file); its CPU',
    '  (utime + stime, all threads) and VmRSS from /proc/<pid> — the gateway and nothing else;',
    '- **echo trunk** (bench/load/echo-trunk.ts): its own process, a SIP/UDP UAS that answers every INVITE at once and',
    '  echoes RTP from one socket per call. Chosen over the built-in services peer so that the far end\'s CPU is not',
    '  counted as the gateway\'s (it is reported with the generator\'s instead);',
    `- **${o.workers} load-generator workers** (bench/load/worker.ts): SIP over WebSocket as JsSIP writes it (REGISTER, INVITE → 407`,
    `  → INVITE with digest → 200 → ACK, BYE), ${o.callsPerPhone === 1 ? 'one WebSocket and registration per call as browsers have' : `up to ${o.callsPerPhone} calls per WebSocket (real browsers have one each, so per-connection memory is under-counted)`}, and per`,
    '  call a light WebRTC client (bench/light-webrtc-client.ts: real ICE checks, DTLS-SRTP handshake, SRTP with the profile the gateway prefers, AES_CM_128_HMAC_SHA1_80).',
    '',
    `Calls are placed at ${o.setupRate} setups/s; each step is held ${o.holdSeconds} s after a ${o.warmupSeconds} s settle. **Loss**: of the packets sent`,
    'in the window, the share that did not come back (waiting 1 s for stragglers). **Round trip**: each packet\'s index',
    'is timed at send; the echo moves it into the clear CSRC field (the payload is encrypted towards the browser), so the',
    'generator knows which packet came back. **Baseline**: the same generator process sends plain RTP straight to the',
    `echo trunk (${o.probes} probe flows per worker) during the same window; **added latency** = percentile of the gateway`,
    'path − the same percentile of the direct path (a difference of percentiles, not a percentile of differences).',
    '**Gateway CPU per relayed packet**: gateway CPU in the window ÷ packets it relayed (those that reached the trunk from',
    'it + those that reached the clients from it). **Plain relay**: `measurePlainRelay` (bench/dgram-relay.ts, bare dgram,',
    `no crypto) for the same number of flows at the same packet rate, run after the ramp with nothing else of ours running,`,
    `${o.plainSeconds} s each. **RSS per call**: (VmRSS at the end of the window − VmRSS of the idle gateway after a full GC) ÷`,
    'calls; in brackets heapUsed + external after a forced full GC, per call. **Setup added**: (authenticated INVITE',
    '→ 200 at the browser) − (INVITE → 200 inside the trunk), per call; **407**: INVITE → challenge, the gateway alone.',
    '',
    '**The machine is shared**: other benchmarks, test suites and type checks ran alongside (see the load average per',
    'step). Percentiles above the median mostly measure that contention — compare the baseline column — and all',
    'numbers are noisy; rerun on an idle machine before drawing fine conclusions.',
    '',
    '### Media per step',
    '',
    markdownTable(
      ['calls', 'loss', 'RTT p50 / p99 ms', 'direct p50 / p99 ms', 'added p50 / p99 ms', 'gateway CPU', 'µs/pkt', 'plain µs/pkt', 'ratio', 'RSS KB/call (live)', 'generator + trunk CPU', 'skipped / dropped', 'load avg / cores busy / gateway waiting', 'all targets'],
      r.steps.map(stepRow),
    ),
    '',
    '"skipped": packets the generator did not send because it fell > 40 ms behind its schedule (CPU-starved);',
    '"dropped": calls the gateway ended during the window. CPU shares are of one core. "cores busy": the whole machine',
    '(all processes) over the window, of 2; "gateway waiting": share of the window the gateway\'s main thread was',
    'runnable but had no CPU (/proc/<pid>/schedstat) — time other processes (ours and everybody else\'s) held the cores.',
    '',
    '### Call setup per step',
    '',
    markdownTable(
      ['step', 'up / placed', 'offered /s', 'completed /s', 'added p50 / p99 ms', '407 p50 / p99 ms', '200 → DTLS up p50 / p99 ms', 'gateway CPU (per call, waiting)', 'failures'],
      r.steps.map(setupRow),
    ),
    '',
    `${o.warmupCalls > 0 ? `${o.warmupCalls} warm-up calls were set up (and kept) before the first step, so its setups do not carry the JIT warm-up.` : 'The first step includes the gateway\'s JIT warm-up.'}`,
    '"completed": answered calls ÷ time from the first INVITE to the last 200; setups overlap with the media of the calls',
    'already up.',
    '',
    '### Targets',
    '',
    markdownTable(['target', 'result', ''], targetRows(r)),
    '',
    ...gapNotes(r),
    ...setupNotes(r),
    '',
    '![gateway CPU and p99 added latency against concurrent calls](benchmarks-load.svg)',
  ];
  if (r.profile !== undefined) {
    const p = r.profile;
    parts.push(
      '',
      '### Where the gateway\'s time goes',
      '',
      renderProfile(p.summary, `the gateway carrying ${p.window.calls} calls (a separate run at the ${r.stoppedAt?.target === p.calls ? 'failing' : 'highest measured'} step, ${fmt(p.window.seconds, 0)} s window; in that run: loss ${pct(p.window.loss, 2)}, gateway ${pct(p.window.gatewayCpuLoad, 0)} of a core, ${fmt(p.window.gatewayUsPerPacket, 1)} µs/pkt)`),
      ...(r.stoppedAt !== undefined && p.window.loss < TARGETS.loss && p.window.calls >= r.stoppedAt.target * 0.95
        ? ['', `In this profiled run the same ${p.window.calls} calls went through with ${pct(p.window.loss, 2)} loss (added p50 / p99 ${fmt(p.window.addedMs.p50, 1)} / ${fmt(p.window.addedMs.p99, 0)} ms)`,
            `while the gateway got ${pct(p.window.gatewayCpuLoad, 0)} of a core (it had ${pct(r.steps[r.steps.length - 1]!.window.gatewayCpuLoad, 0)} in the failing step): the loss there came from missing CPU time, not`,
            'from the gateway\'s logic; the latency still shows the queueing of a shared machine.']
        : []),
      '',
      renderProfile(p.setupSummary, `the same gateway while those calls were set up (${p.setup.placed} calls offered at ${r.options.setupRate}/s, ${fmt(p.setup.completedRate)}/s completed, ${fmt(p.setup.gatewayCpuMsPerCall, 1)} ms gateway CPU per call gross)`),
    );
  }
  const problems = Object.entries(r.gatewayLogProblems);
  if (problems.length > 0) {
    parts.push('', 'Gateway warnings and errors during the ramp: ' + problems.map(([m, n]) => `${n}× "${m}"`).join(', ') + '.');
  }
  return parts.join('\n');
}

/** `date`: when the run ended (default now; a re-render of a saved result passes its own). */
export function writeLoadDocs(r: LoadResult, date?: Date): void {
  const { healthy, failed } = split(r);
  const ref = healthy[healthy.length - 1];
  writeSection({
    ...(date === undefined ? {} : { date }),
    title: SECTION_TITLE,
    command: r.command,
    machine: describeMachine(),
    load: r.load,
    body: renderLoadBody(r),
    history: {
      columns: ['steps', 'last healthy step', 'loss there', 'p99 added ms there', 'µs/pkt there', 'ratio there', 'KB/call there', 'setup added p50 ms (max)', 'broke down at'],
      row: [
        r.options.steps.join(','),
        ref === undefined ? '–' : String(ref.window.calls),
        ref === undefined ? '–' : pct(ref.window.loss, 3),
        ref === undefined ? '–' : fmt(ref.window.addedMs.p99, 1),
        ref === undefined ? '–' : fmt(ref.window.gatewayUsPerPacket, 1),
        ref === undefined ? '–' : fmt(ref.ratio ?? Number.NaN, 2),
        ref === undefined ? '–' : kb(ref.rssPerCallBytes),
        healthy.length === 0 ? '–' : fmt(Math.max(...healthy.map((s) => s.setup.addedMs.p50)), 0),
        r.stoppedAt === undefined ? '–' : `${r.stoppedAt.target}${failed === undefined ? '' : ` (${failed.window.calls} up, loss ${pct(failed.window.loss, 1)})`}`,
      ],
    },
  });
  writeLoadPlot(r);
}
