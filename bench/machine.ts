/**
 * What machine a benchmark ran on, so numbers in docs/benchmarks.md can be compared (or not) with later runs:
 * CPU count and model (from /proc/cpuinfo — os.cpus() reports only "AMD EPYC" on some VMs, cpuinfo has the
 * flags and MHz too), RAM, Node version, kernel, and the load average, which on a shared machine says how much
 * of the CPU the benchmark could really have had.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  /** CPUs this process may run on (os.availableParallelism: honours cgroup/affinity limits). */
  readonly nproc: number;
  readonly cpuModel: string;
  /** Current clock of the first CPU as /proc/cpuinfo reports it, when it does. */
  readonly cpuMHz: number | undefined;
  readonly ramBytes: number;
  readonly node: string;
  readonly kernel: string;
  readonly arch: string;
}

export type LoadAverage = readonly [one: number, five: number, fifteen: number];

function cpuinfo(): { model: string | undefined; mhz: number | undefined } {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim();
    const mhz = /^cpu MHz\s*:\s*([\d.]+)$/m.exec(text)?.[1];
    return { model, mhz: mhz === undefined ? undefined : Math.round(Number(mhz)) };
  } catch {
    return { model: undefined, mhz: undefined };
  }
}

export function describeMachine(): MachineInfo {
  const info = cpuinfo();
  return {
    nproc: os.availableParallelism(),
    cpuModel: info.model ?? os.cpus()[0]?.model ?? 'unknown CPU',
    cpuMHz: info.mhz,
    ramBytes: os.totalmem(),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    arch: process.arch,
  };
}

export function loadAverage(): LoadAverage {
  const [one = 0, five = 0, fifteen = 0] = os.loadavg();
  return [round2(one), round2(five), round2(fifteen)];
}

/** `2 × AMD EPYC (2450 MHz), 23.5 GiB RAM, Node v22.23.3, Linux 6.18.44 (x64)` */
export function formatMachine(m: MachineInfo): string {
  const mhz = m.cpuMHz === undefined ? '' : ` (${m.cpuMHz} MHz)`;
  return `${m.nproc} × ${m.cpuModel}${mhz}, ${(m.ramBytes / 2 ** 30).toFixed(1)} GiB RAM, Node ${m.node}, ${m.kernel} (${m.arch})`;
}

/** The short form for history rows: `2×AMD EPYC`. */
export function shortMachine(m: MachineInfo): string {
  return `${m.nproc}×${m.cpuModel}`;
}

export function formatLoad(l: LoadAverage): string {
  return `${l[0].toFixed(2)} / ${l[1].toFixed(2)} / ${l[2].toFixed(2)}`;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  console.log(`${formatMachine(describeMachine())}; load average ${formatLoad(loadAverage())}`);
}
