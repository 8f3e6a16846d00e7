/**
 * `npm run bench`: every benchmark in sequence, a summary against the targets, and docs/benchmarks.md updated
 * (each benchmark rewrites only its own section and appends to its history). Never part of `npm test`: speed
 * and memory are measured here, on a machine whose load is written next to the numbers, not asserted in CI.
 *
 *   node bench/run.ts [--only parse,relay,media,setup,srtp,webrtc-leg,dtls,load] [--quick] [--runs N] [--no-docs]
 *                     [--media-workers N|auto (load; default auto)]
 *                     [call-setup flags: --rate 200 --seconds 20 --profile --sipp … see bench/call-setup.bench.ts]
 *
 * --quick: one run per benchmark and short windows (a smoke run; its numbers say little). Otherwise each
 * measurement is repeated (3 runs) and the median reported.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { benchSipParse, type SipParseBenchResult } from './sip-parse.bench.ts';
import { measurePlainRelay, type PlainRelayResult, type RelayMode } from './dgram-relay.ts';
import { benchCallSetup, callSetupOptionsFromArgs } from './call-setup.bench.ts';
import { benchLoad, loadOptionsFromArgs, loadSummary } from './load.bench.ts';
import { summarize as summarizeCallSetup } from './call-setup-report.ts';
import { describeMachine, formatLoad, formatMachine, loadAverage, type MachineInfo } from './machine.ts';
import { fmt, markdownTable, median, writeSection } from './report.ts';

const ALL = ['parse', 'relay', 'media', 'setup', 'srtp', 'webrtc-leg', 'dtls', 'load'] as const;
type BenchName = (typeof ALL)[number];

interface SummaryRow {
  readonly bench: string;
  readonly result: string;
  readonly target: string;
  readonly met: boolean | undefined;
}

interface Context {
  readonly quick: boolean;
  readonly runs: number;
  readonly docs: boolean;
  readonly machine: MachineInfo;
  readonly argv: readonly string[];
  /** The command line that reproduces one benchmark's numbers. */
  command(name: BenchName): string;
}

const NODE = process.execPath;
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const say = (line: string): void => console.error(line);

// ---- parse -------------------------------------------------------------------------------------------------

async function runParse(ctx: Context): Promise<SummaryRow> {
  const load = loadAverage();
  const runs: SipParseBenchResult[] = [];
  for (let i = 0; i < ctx.runs; i++) {
    runs.push(await benchSipParse({ milliseconds: ctx.quick ? 1000 : 3000 }));
    say(`  parse run ${i + 1}: ${runs[i]!.perSecond} msgs/CPU-s (${runs[i]!.wallPerSecond} per wall s), load ${loadAverage()[0]}`);
  }
  const perSecond = median(runs.map((r) => r.perSecond));
  const met = perSecond >= 100_000;
  if (ctx.docs) {
    writeSection({
      title: 'SIP parse + serialize',
      command: ctx.command('parse'),
      machine: ctx.machine,
      load: { start: load, end: loadAverage() },
      body: [
        `A typical browser INVITE (JsSIP over WSS with a Chromium audio offer, ${runs[0]!.messageBytes} bytes, test/fuzz/typical-invite.ts)`,
        'parsed, the values the transaction layer reads taken (top Via, CSeq, From tag, Call-ID), and serialized back, on',
        'one core, after a 300 ms warm-up. Rate per CPU second of the process (what one core does when it has the core);',
        'per wall-clock second is lower when other processes share the core.',
        '',
        markdownTable(['', `median of ${runs.length}`, 'target'], [
          ['parse + serialize per CPU second', fmt(perSecond), `≥ 100000 ${met ? '**met**' : '**missed**'}`],
          ['µs per message (CPU)', fmt(median(runs.map((r) => r.microsecondsPerMessage)), 2), ''],
          ['per wall-clock second', fmt(median(runs.map((r) => r.wallPerSecond))), ''],
        ]),
        '',
        markdownTable(['run', 'iterations', 'wall s', 'CPU s', 'per CPU s', 'per wall s', 'µs/msg'], runs.map((r, i) => [
          String(i + 1), String(r.iterations), fmt(r.seconds, 2), fmt(r.cpuSeconds, 2), String(r.perSecond), String(r.wallPerSecond), fmt(r.microsecondsPerMessage, 2),
        ])),
      ].join('\n'),
      history: { columns: ['runs', 'msgs per CPU s', 'µs/msg'], row: [String(runs.length), fmt(perSecond), fmt(median(runs.map((r) => r.microsecondsPerMessage)), 2)] },
    });
  }
  return { bench: 'SIP parse + serialize', result: `${fmt(perSecond)} msgs/s per core`, target: '≥ 100000/s', met };
}

// ---- plain relay -------------------------------------------------------------------------------------------

async function runRelay(ctx: Context): Promise<SummaryRow> {
  const load = loadAverage();
  const seconds = ctx.quick ? 3 : 10;
  const byMode = new Map<RelayMode, PlainRelayResult[]>([['raw', []], ['legs', []]]);
  for (let i = 0; i < ctx.runs; i++) {
    for (const mode of ['raw', 'legs'] as const) {
      const r = await measurePlainRelay({ flows: 200, seconds, mode });
      byMode.get(mode)!.push(r);
      say(`  relay ${mode} run ${i + 1}: ${r.usPerPacket.toFixed(2)} µs/packet, ${r.packetsPerSecond.toFixed(0)} pkt/s, loss ${(r.lossRatio * 100).toFixed(2)} %`);
    }
  }
  const med = (mode: RelayMode, pick: (r: PlainRelayResult) => number): number => median(byMode.get(mode)!.map(pick));
  const row = (mode: RelayMode, label: string): string[] => [
    label, fmt(med(mode, (r) => r.usPerPacket), 2), fmt(med(mode, (r) => r.packetsPerSecond)), `${fmt(med(mode, (r) => r.cpuLoad) * 100, 1)} %`,
    fmt(med(mode, (r) => r.rssBytes) / 2 ** 20, 1), `${fmt(med(mode, (r) => r.lossRatio) * 100, 2)} %`,
  ];
  if (ctx.docs) {
    writeSection({
      title: 'Plain RTP relay (cost floor)',
      command: ctx.command('relay'),
      machine: ctx.machine,
      load: { start: load, end: loadAverage() },
      body: [
        `200 flows, each 50 packets/s of 172-byte RTP in both directions (20 000 packets/s), generated by a child process`,
        `on loopback; the relay's process CPU (user + system) per relayed packet over ${seconds} s after 1 s of warm-up`,
        '(bench/dgram-relay.ts). `raw`: bare dgram sockets, the floor any Node relay pays. `legs`: the gateway\'s own',
        'PlainRtpLeg (port pool, latching, checks, stats) and StreamRewriter per direction, no crypto.',
        '',
        markdownTable(['mode (median of ' + ctx.runs + ')', 'µs/packet', 'packets/s', 'CPU load', 'RSS MiB', 'loss'], [row('raw', 'raw dgram'), row('legs', 'PlainRtpLeg + StreamRewriter')]),
        '',
        markdownTable(['run', 'raw µs/pkt', 'legs µs/pkt', 'raw loss', 'legs loss'], byMode.get('raw')!.map((r, i) => {
          const l = byMode.get('legs')![i]!;
          return [String(i + 1), fmt(r.usPerPacket, 2), fmt(l.usPerPacket, 2), `${fmt(r.lossRatio * 100, 2)} %`, `${fmt(l.lossRatio * 100, 2)} %`];
        })),
      ].join('\n'),
      history: {
        columns: ['runs', 'raw µs/pkt', 'legs µs/pkt', 'legs loss'],
        row: [String(ctx.runs), fmt(med('raw', (r) => r.usPerPacket), 2), fmt(med('legs', (r) => r.usPerPacket), 2), `${fmt(med('legs', (r) => r.lossRatio) * 100, 2)} %`],
      },
    });
  }
  return {
    bench: 'Plain RTP relay (floor)',
    result: `raw ${fmt(med('raw', (r) => r.usPerPacket), 2)} µs/pkt, legs ${fmt(med('legs', (r) => r.usPerPacket), 2)} µs/pkt`,
    target: '(reference)',
    met: undefined,
  };
}

// ---- media relay (another helper's benchmark, when present) ------------------------------------------------

interface MediaRelayModule {
  benchMediaRelay(opts: { runs?: number; seconds?: number; docs?: boolean }): Promise<{
    median: { usPerPacket: number; plainUsPerPacket: number; ratio: number; rssPerSessionBytes: number };
    targets: { ratio: boolean; rssPerSession: boolean };
  }>;
}

async function runMedia(ctx: Context): Promise<SummaryRow | undefined> {
  const file = here('./media-relay.bench.ts');
  if (!existsSync(file)) {
    say('  bench/media-relay.bench.ts not present: skipped');
    return undefined;
  }
  const mod = (await import(pathToFileURL(file).href)) as MediaRelayModule;
  const r = await mod.benchMediaRelay({ runs: ctx.runs, seconds: ctx.quick ? 3 : 10, docs: ctx.docs });
  return {
    bench: 'Media relay WebRTC↔RTP (200 calls)',
    result: `${fmt(r.median.usPerPacket, 2)} µs/pkt = ${fmt(r.median.ratio, 2)}× plain; ${fmt(r.median.rssPerSessionBytes / 1024)} KB RSS/call`,
    target: '≤ 2× plain, ≤ 250 KB/call',
    met: r.targets.ratio && r.targets.rssPerSession,
  };
}

// ---- call setup ------------------------------------------------------------------------------------------

async function runSetup(ctx: Context): Promise<SummaryRow> {
  const options = callSetupOptionsFromArgs(ctx.argv);
  const r = await benchCallSetup({
    ...options,
    runs: options.runs ?? ctx.runs,
    ...(ctx.quick ? { seconds: options.seconds ?? 5, rampSeconds: options.rampSeconds ?? 3 } : {}),
    docs: ctx.docs,
    command: ctx.command('setup'),
    onProgress: say,
  });
  const s = summarizeCallSetup(r);
  const latency = Number.isFinite(s.netP50) ? s.netP50 : s.addedP50;
  const n = r.runs.length;
  return {
    bench: 'Call setup trunk → browser',
    result:
      `${r.options.rate}/s clean in ${s.cleanFixedRuns}/${n} runs; ramp max clean ${r.options.ramp ? fmt(s.sustained) : '–'}/s; ` +
      `added p50 ${fmt(s.addedP50, 2)} ms (net ${fmt(s.netP50, 2)}); ${fmt(s.cleanCpuMsPerCall, 2)} ms CPU/call`,
    target: '≥ 200/s, p50 < 5 ms',
    met: r.options.rate >= 200 && s.cleanFixedRuns > n / 2 && latency < 5,
  };
}

// ---- srtp and webrtc-leg: scripts that print their own results ----------------------------------------------

async function runScript(file: string, args: readonly string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(NODE, [here(file), ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
  return stdout;
}

async function runSrtp(ctx: Context): Promise<SummaryRow> {
  const load = loadAverage();
  const out = await runScript('./srtp.bench.ts', ctx.quick ? ['--rounds', '3'] : []);
  say(out.trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
  if (ctx.docs) {
    writeSection({
      title: 'SRTP per packet',
      command: ctx.command('srtp'),
      machine: ctx.machine,
      load: { start: load, end: loadAverage() },
      body: ['bench/srtp.bench.ts as printed (its figures are already medians over rounds):', '', '```', out.trimEnd(), '```'].join('\n'),
      history: { columns: ['GCM protect / unprotect ns'], row: [gcmLine(out)] },
    });
  }
  return { bench: 'SRTP (AES-128-GCM, 172 B)', result: `${gcmLine(out)} ns protect / unprotect`, target: '(reference)', met: undefined };
}

function gcmLine(out: string): string {
  const m = /^SRTP_AEAD_AES_128_GCM\s+RTP 172 B\s+(\d+)\s+\(min\s+\d+\)\s+(\d+)/m.exec(out);
  return m === null ? '–' : `${m[1]} / ${m[2]}`;
}

interface WebrtcLegResult {
  cpuMicrosPerRelayedPacket: number;
  cryptoOnlyMicrosPerPacket: number;
  packetsPerSecond: number;
  cpuPercentOfOneCore: number;
  srtpAuthFailures: number;
}

async function runWebrtcLeg(ctx: Context): Promise<SummaryRow> {
  const load = loadAverage();
  const seconds = ctx.quick ? 3 : 10;
  const runs: WebrtcLegResult[] = [];
  for (let i = 0; i < ctx.runs; i++) {
    const out = await runScript('./webrtc-leg.bench.ts', [`--seconds=${seconds}`]);
    const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
    if (line === undefined) throw new Error(`webrtc-leg printed no result: ${out.slice(-500)}`);
    runs.push(JSON.parse(line) as WebrtcLegResult);
    say(`  webrtc-leg run ${i + 1}: ${runs[i]!.cpuMicrosPerRelayedPacket} µs/relayed packet (crypto only ${runs[i]!.cryptoOnlyMicrosPerPacket})`);
  }
  const us = median(runs.map((r) => r.cpuMicrosPerRelayedPacket));
  if (ctx.docs) {
    writeSection({
      title: 'WebRTC leg per packet',
      command: ctx.command('webrtc-leg'),
      machine: ctx.machine,
      load: { start: load, end: loadAverage() },
      body: [
        'bench/webrtc-leg.bench.ts: one werift browser in a child process sends 50 calls × 50 packets/s of PCMU-sized RTP',
        'over loopback SRTP (AES-128-GCM); the leg unprotects, hands the packet on and protects it back (what a relay does',
        'per packet); CPU of the leg\'s process per relayed packet, net of its idle baseline.',
        '',
        markdownTable(['run', 'µs/relayed packet', 'crypto only µs', 'packets/s', '% of one core', 'SRTP auth failures'], runs.map((r, i) => [
          String(i + 1), fmt(r.cpuMicrosPerRelayedPacket, 2), fmt(r.cryptoOnlyMicrosPerPacket, 2), String(r.packetsPerSecond), fmt(r.cpuPercentOfOneCore, 1), String(r.srtpAuthFailures),
        ])),
        '',
        `Median: ${fmt(us, 2)} µs per relayed packet.`,
      ].join('\n'),
      history: { columns: ['runs', 'µs/relayed pkt', 'crypto only µs'], row: [String(runs.length), fmt(us, 2), fmt(median(runs.map((r) => r.cryptoOnlyMicrosPerPacket)), 2)] },
    });
  }
  return { bench: 'WebRTC leg (SRTP in + out)', result: `${fmt(us, 2)} µs/relayed packet`, target: '(reference)', met: undefined };
}

// ---- dtls: handshake CPU, node:crypto against werift-dtls' JavaScript ---------------------------------------

interface DtlsHandshakeResult {
  results: Record<string, { role: string; backend: string; cpuMsPerHandshake: number; perSecond: number }>;
}

async function runDtls(ctx: Context): Promise<SummaryRow> {
  const load = loadAverage();
  const out = await runScript('./dtls-handshake.bench.ts', [`--rounds=${ctx.runs}`, `--handshakes=${ctx.quick ? 50 : 200}`]);
  say(out.trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
  const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`dtls-handshake printed no result: ${out.slice(-500)}`);
  const { results } = JSON.parse(line) as DtlsHandshakeResult;
  const ms = (key: string): string => (results[key] === undefined ? '–' : fmt(results[key].cpuMsPerHandshake, 2));
  if (ctx.docs) {
    writeSection({
      title: 'DTLS handshake',
      command: ctx.command('dtls'),
      machine: ctx.machine,
      load: { start: load, end: loadAverage() },
      body: [
        'bench/dtls-handshake.bench.ts: DTLS-SRTP handshakes (ECDHE_ECDSA, X25519 as browsers choose it) between a',
        "DtlsTransport in the measured process and a peer in a child process over loopback UDP; CPU of the measured",
        "process per handshake, with werift-dtls' handshake crypto in node:crypto (what the gateway runs) and in",
        "werift-dtls' own JavaScript (tweetnacl X25519, its signing key re-imported from PEM per signature) for comparison.",
        '',
        '```',
        out.trimEnd().split('\n').filter((l) => !l.startsWith('{')).join('\n'),
        '```',
      ].join('\n'),
      history: {
        columns: ['server ms (native)', 'client ms (native)', 'server ms (werift JS)', 'client ms (werift JS)'],
        row: [ms('native-server'), ms('native-client'), ms('werift-server'), ms('werift-client')],
      },
    });
  }
  return {
    bench: 'DTLS handshake (gateway end, X25519)',
    result: `${ms('native-server')} ms CPU as server, ${ms('native-client')} as client (werift JS: ${ms('werift-server')} / ${ms('werift-client')})`,
    target: '(reference)',
    met: undefined,
  };
}

// ---- load: the concurrent-calls ramp (bench/load.bench.ts writes its own section) ----------------------------

async function runLoad(ctx: Context): Promise<SummaryRow> {
  // The shape by default: media spread over one process per core; `--media-workers 0` for one process.
  const i = ctx.argv.indexOf('--media-workers');
  const mediaWorkers = i >= 0 ? ctx.argv[i + 1] : 'auto';
  const options = loadOptionsFromArgs([...(ctx.quick ? ['--quick'] : []), '--media-workers', mediaWorkers ?? 'auto']);
  const r = await benchLoad({ ...options, docs: ctx.docs, command: ctx.command('load'), onProgress: say });
  return { bench: 'Concurrent WebRTC↔SIP calls', ...loadSummary(r) };
}

// ---- main ------------------------------------------------------------------------------------------------

const RUNNERS: Record<BenchName, (ctx: Context) => Promise<SummaryRow | undefined>> = {
  parse: runParse,
  relay: runRelay,
  media: runMedia,
  setup: runSetup,
  srtp: runSrtp,
  'webrtc-leg': runWebrtcLeg,
  dtls: runDtls,
  load: runLoad,
};

async function main(): Promise<number> {
  const { values } = parseArgs({ strict: false, options: { only: { type: 'string' }, quick: { type: 'boolean' }, runs: { type: 'string' }, 'no-docs': { type: 'boolean' } } });
  const only = typeof values.only === 'string' ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : [...ALL];
  const unknown = only.filter((n) => !(ALL as readonly string[]).includes(n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${ALL.join(', ')}`);
    return 2;
  }
  const quick = values.quick === true;
  const runs = typeof values.runs === 'string' ? Number(values.runs) : quick ? 1 : 3;
  const argv = process.argv.slice(2);
  const ctx: Context = {
    quick,
    runs,
    docs: values['no-docs'] !== true,
    machine: describeMachine(),
    argv,
    command: (name) => {
      // What reproduces this benchmark's numbers: --only it, --quick/--runs, and (call setup) its own flags.
      const rest: string[] = [];
      for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        if (a === '--only') i++;
        else if (a.startsWith('--only=') || a === '--no-docs') continue;
        else if (a === '--quick' || a.startsWith('--runs=')) rest.push(a);
        else if (a === '--runs') rest.push(a, argv[++i] ?? '');
        else if (a === '--media-workers') {
          const v = argv[++i] ?? '';
          if (name === 'load') rest.push(a, v);
        } else if (name === 'setup') rest.push(a);
      }
      return ['npm run bench --', '--only', name, ...rest].join(' ');
    },
  };
  say(`${formatMachine(ctx.machine)}; load average ${formatLoad(loadAverage())}; ${runs} run(s) per benchmark${quick ? ' (quick)' : ''}`);
  const rows: SummaryRow[] = [];
  let failed = 0;
  for (const name of ALL.filter((n) => only.includes(n))) {
    say(`== ${name} (load average ${formatLoad(loadAverage())})`);
    try {
      const row = await RUNNERS[name](ctx);
      if (row !== undefined) rows.push(row);
    } catch (err) {
      failed++;
      console.error(`  ${name} failed:`, err);
      rows.push({ bench: name, result: `FAILED: ${(err as Error).message}`, target: '', met: false });
    }
  }
  console.log('');
  console.log(markdownTable(['benchmark', 'result', 'target', ''], rows.map((r) => [r.bench, r.result, r.target, r.met === undefined ? '' : r.met ? 'met' : 'MISSED'])));
  if (ctx.docs) console.log(`\ndocs/benchmarks.md updated (load average now ${formatLoad(loadAverage())}).`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
