/**
 * docs/benchmarks-load.svg: gateway CPU (share of one core, left axis) and p99 added round-trip latency (right
 * axis, logarithmic: it spans sub-millisecond to seconds once a core saturates) against the number of calls,
 * with the plain dgram relay's CPU at the same packet rate and the targets drawn in. Hand-rolled SVG, no
 * dependencies.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from '../load.bench.ts';

export const PLOT_FILE = fileURLToPath(new URL('../../docs/benchmarks-load.svg', import.meta.url));

const W = 760;
const H = 420;
const M = { left: 64, right: 72, top: 64, bottom: 56 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderLoadPlot(r: LoadResult): string {
  const steps = r.steps;
  const xMax = Math.max(1000, ...steps.map((s) => s.window.calls));
  const cpuMax = Math.max(1, Math.ceil(Math.max(...steps.map((s) => s.window.gatewayCpuLoad), 0) * 2) / 2);
  const lat = steps.map((s) => Math.max(s.window.addedMs.p99, 0.1));
  const latMaxExp = Math.max(1, Math.ceil(Math.log10(Math.max(...lat, 10))));
  const latMinExp = -1;
  const x = (calls: number): number => M.left + (calls / xMax) * PW;
  const yCpu = (load: number): number => M.top + PH - (load / cpuMax) * PH;
  const yLat = (msValue: number): number => {
    const e = Math.log10(Math.max(msValue, 10 ** latMinExp));
    return M.top + PH - ((e - latMinExp) / (latMaxExp - latMinExp)) * PH;
  };
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc('Gateway under load: CPU and p99 added latency vs concurrent calls')}</text>`);
  // grid and x axis
  for (let c = 0; c <= xMax; c += xMax >= 1000 ? 250 : 100) {
    out.push(`<line x1="${x(c)}" y1="${M.top}" x2="${x(c)}" y2="${M.top + PH}" stroke="#eee"/>`);
    out.push(`<text x="${x(c)}" y="${M.top + PH + 16}" text-anchor="middle">${c}</text>`);
  }
  out.push(`<text x="${M.left + PW / 2}" y="${H - 18}" text-anchor="middle">concurrent calls (50 packets/s each way, G.711 20 ms)</text>`);
  // left axis: CPU
  for (let v = 0; v <= cpuMax + 1e-9; v += 0.5) {
    out.push(`<line x1="${M.left}" y1="${yCpu(v)}" x2="${M.left + PW}" y2="${yCpu(v)}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 6}" y="${yCpu(v) + 4}" text-anchor="end" fill="#1f5fbf">${Math.round(v * 100)} %</text>`);
  }
  out.push(`<text transform="translate(16 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle" fill="#1f5fbf">CPU, share of one core</text>`);
  // right axis: latency (log)
  for (let e = latMinExp; e <= latMaxExp; e++) {
    const v = 10 ** e;
    out.push(`<text x="${M.left + PW + 6}" y="${yLat(v) + 4}" fill="#c0392b">${v >= 1 ? v.toFixed(0) : v.toFixed(1)} ms</text>`);
  }
  out.push(`<text transform="translate(${W - 14} ${M.top + PH / 2}) rotate(90)" text-anchor="middle" fill="#c0392b">p99 added round-trip latency (log)</text>`);
  out.push(`<rect x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="none" stroke="#999"/>`);
  // targets
  out.push(`<line x1="${M.left}" y1="${yLat(5)}" x2="${M.left + PW}" y2="${yLat(5)}" stroke="#c0392b" stroke-dasharray="2 4"/>`);
  out.push(`<text x="${M.left + 4}" y="${yLat(5) - 4}" fill="#c0392b" font-size="11">5 ms p99 target</text>`);
  out.push(`<line x1="${x(1000)}" y1="${M.top}" x2="${x(1000)}" y2="${M.top + PH}" stroke="#555" stroke-dasharray="2 4"/>`);
  out.push(`<text x="${x(1000) - 4}" y="${M.top + 12}" text-anchor="end" fill="#555" font-size="11">1,000-call target</text>`);
  // The step the ramp broke down at is drawn hollow: its numbers describe a collapse, not a steady state.
  const broke = (i: number): boolean => r.stoppedAt !== undefined && i === steps.length - 1 && steps[i]!.target === r.stoppedAt.target;
  const line = (pts: readonly (readonly [number, number, number])[], color: string, dash: string): void => {
    if (pts.length === 0) return;
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash === '' ? '' : ` stroke-dasharray="${dash}"`} points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`);
    for (const [a, b, i] of pts) out.push(`<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3.5" fill="${broke(i) ? '#fff' : color}" stroke="${color}" stroke-width="1.5"/>`);
  };
  line(steps.map((s, i) => [x(s.window.calls), yCpu(s.window.gatewayCpuLoad), i] as const), '#1f5fbf', '');
  line(steps.flatMap((s, i) => (s.plain === undefined ? [] : [[x(s.window.calls), yCpu(s.plain.cpuLoad), i] as const])), '#1f5fbf', '6 4');
  line(steps.map((s, i) => [x(s.window.calls), yLat(lat[i]!), i] as const), '#c0392b', '');
  // legend: one row between the title and the plot, clear of the data
  const legend: [string, string, string][] = [
    ['#1f5fbf', '', 'gateway CPU (/proc utime+stime)'],
    ['#1f5fbf', '6 4', 'plain Node dgram relay, same rate'],
    ['#c0392b', '', 'p99 added latency (via gateway − direct)'],
  ];
  legend.forEach(([color, dash, label], i) => {
    const lx = M.left + i * 215;
    const ly = 44;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"${dash === '' ? '' : ` stroke-dasharray="${dash}"`}/>`);
    out.push(`<text x="${lx + 30}" y="${ly + 4}" font-size="11">${esc(label)}</text>`);
  });
  if (r.stoppedAt !== undefined) {
    out.push(`<text x="${x(r.stoppedAt.target)}" y="${M.top + PH - 8}" text-anchor="start" fill="#555" font-size="11">${esc(`ramp stopped at ${r.stoppedAt.target} (hollow: calls up when it broke down)`)}</text>`);
  }
  out.push(`<text x="${W - 8}" y="${H - 4}" text-anchor="end" fill="#888" font-size="10">${esc(`load average ${r.load.start[0]} at start; machine shared, numbers noisy`)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function writeLoadPlot(r: LoadResult, file: string = PLOT_FILE): void {
  writeFileSync(file, renderLoadPlot(r));
}
