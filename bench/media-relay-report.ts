/**
 * Reporting for bench/media-relay.bench.ts: the CPU profile summary and the docs/benchmarks.md section.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MediaRelayResult, MediaRelayRun, ProfileEntry } from './media-relay.bench.ts';

/**
 * Self time of a .cpuprofile (V8: nodes with callFrame, samples, timeDeltas) as shares of the busy time (idle
 * samples left out): per function, and per area (our source file, Node module, or V8 pseudo-frame such as GC).
 */
export function profileSummary(dir: string, limit: number): { functions: ProfileEntry[]; areas: ProfileEntry[] } {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) return { functions: [], areas: [] };
  const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') return;
    const dt = profile.timeDeltas[i] ?? 0;
    const where = frame.url.startsWith('file://') ? path.relative(process.cwd(), fileURLToPath(frame.url)) : frame.url;
    const native = where === '' && !frame.functionName.startsWith('(');
    const fnName = native ? `native ${frame.functionName}` : frame.functionName || '(anonymous)';
    const fn = `${fnName}${where === '' ? '' : ` ${where}:${frame.lineNumber + 1}`}`;
    const area = where === '' ? fnName : where.includes('node_modules/') ? where.split('node_modules/')[1]!.split('/')[0]! : where;
    functions.set(fn, (functions.get(fn) ?? 0) + dt);
    areas.set(area, (areas.get(area) ?? 0) + dt);
    busy += dt;
  });
  const top = (m: Map<string, number>): ProfileEntry[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, t]) => ({ name, busyPercent: Number(((t / busy) * 100).toFixed(1)) }));
  return { functions: top(functions), areas: top(areas) };
}

export function renderSection(r: MediaRelayResult): string {
  const kb = (b: number): string => (b / 1024).toFixed(0);
  const pct = (x: number): string => (x * 100).toFixed(2);
  const m = r.median.memoryPerSession;
  const runRows = (runs: readonly MediaRelayRun[]): string[] =>
    runs.map(
      (run, i) =>
        `| ${i + 1} | ${run.connected}/${run.sessions} | ${run.packetsPerSecond.toFixed(0)} | ${run.usPerPacket.toFixed(2)} | ` +
        `${run.plain.usPerPacket.toFixed(2)} | ${run.ratio.toFixed(2)} | ${kb(run.rssPerSessionBytes)} | ${pct(run.lossRatio)} % | ${run.loadAverage.toFixed(1)} |`,
    );
  const runHeader = [
    '| run | calls connected | relayed pkt/s | µs/pkt | plain µs/pkt | ratio | RSS/call KB | loss | load avg |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const c = r.compared;
  return [
    `Machine: ${r.machine.nproc} × ${r.machine.cpu}, Node ${r.machine.node}${r.gatewayFlags.length > 0 ? `, gateway flags \`${r.gatewayFlags.join(' ')}\`` : ''};`,
    'shared with other work (see the load average per run). KB = 1024 bytes.',
    `Command: \`${r.command}\`.`,
    '',
    `${r.sessions} concurrent calls WebRTC (ICE-lite, DTLS-SRTP AES_CM_128_HMAC_SHA1_80 by the default profile order) ↔ plain RTP, 50 packets/s of 172-byte G.711 RTP each way`,
    'per call. The gateway (`MediaService`, driven over IPC with offer/answer) runs in its own process; the load generator',
    '(light clients with real ICE checks, DTLS handshakes and SRTP, bench/light-webrtc-client.ts) and the echoing trunk run in',
    'two others. CPU: utime + stime of the gateway from /proc/<pid>/stat over the steady-state window, per relayed packet',
    '(received on one leg and sent on the other). RSS per call: (VmRSS with the calls and their media − VmRSS idle) / calls,',
    'split by process.memoryUsage(). Loss: end to end, client → gateway → trunk echo → gateway → client. Plain relay:',
    '`measurePlainRelay` (bench/dgram-relay.ts, raw mode: bare dgram, no crypto) at the same packet rate in the same run.',
    'Median of the runs.',
    '',
    '| | median |',
    '|---|---|',
    `| gateway CPU per relayed packet | ${r.median.usPerPacket.toFixed(2)} µs |`,
    `| plain relay per packet | ${r.median.plainUsPerPacket.toFixed(2)} µs |`,
    `| ratio (target ≤ 2×) | ${r.median.ratio.toFixed(2)}× — ${r.targets.ratio ? 'met' : 'missed'} |`,
    `| RSS per call (target ≤ 250 KB) | ${kb(r.median.rssPerSessionBytes)} KB — ${r.targets.rssPerSession ? 'met' : 'missed'} |`,
    `| … live JS objects (after a full GC) | ${kb(m.heapUsedBytes)} KB |`,
    `| … V8 heap reserved but not live (mostly the young generation) | ${kb(m.heapReservedBytes)} KB |`,
    `| … ArrayBuffers and other V8-accounted native memory | ${kb(m.externalBytes)} KB |`,
    `| … the rest (sockets, OpenSSL, libuv, allocator) | ${kb(m.otherBytes)} KB |`,
    `| relayed packets/s | ${r.median.packetsPerSecond.toFixed(0)} |`,
    `| gateway CPU load | ${(r.median.cpuLoad * 100).toFixed(1)} % of one core |`,
    `| loss | ${pct(r.median.lossRatio)} % |`,
    '',
    ...runHeader,
    ...runRows(r.runs),
    ...(c === undefined
      ? []
      : [
          '',
          `The same with the gateway started with \`${c.gatewayFlags.join(' ')}\`: ${c.median.usPerPacket.toFixed(2)} µs per packet ` +
            `(ratio ${c.median.ratio.toFixed(2)}×), RSS per call ${kb(c.median.rssPerSessionBytes)} KB ` +
            `(young generation ${kb(c.median.memoryPerSession.heapReservedBytes)} KB), loss ${pct(c.median.lossRatio)} %.`,
          '',
          ...runHeader,
          ...runRows(c.runs),
        ]),
    '',
    'Reading the memory split: the young generation of the V8 heap grows with the rate at which the packet path',
    'allocates (Node allocates per datagram received and sent, and per createCipheriv), up to V8\'s semi-space limit',
    '(2 × 16 MB by default); it is a cost of the packet rate, not of the number of calls, and `--max-semi-space-size`',
    'bounds it. What each call keeps (heap snapshot, `BENCH_HEAP_SNAPSHOT=1`): the WebRTC leg\'s werift DTLS state after',
    'the handshake, its send-slot pool, the SRTP/ICE state, two legs and the relay.',
    ...(r.profile === undefined
      ? []
      : [
          '',
          'Gateway CPU profile over the steady-state window of an extra, unmeasured run (`--profile`; self time as a share of',
          'the busy time; "native …" are C++ frames without a script). By area:',
          '',
          ...r.profile.areas.map((p) => `- ${p.busyPercent} % ${p.name}`),
          '',
          'By function:',
          '',
          ...r.profile.functions.map((p) => `- ${p.busyPercent} % ${p.name}`),
        ]),
  ].join('\n');
}

