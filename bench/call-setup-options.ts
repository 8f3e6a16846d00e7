/**
 * The call-setup benchmark's options: defaults, the command line that reproduces a run, and parsing of the flags
 * (shared with bench/run.ts, which passes the call-setup flags through).
 */
import { parseArgs } from 'node:util';

export interface CallSetupOptions {
  readonly rate?: number;
  readonly seconds?: number;
  readonly warmupSeconds?: number;
  readonly holdMs?: number;
  readonly agents?: number;
  readonly runs?: number;
  readonly ramp?: boolean;
  readonly rampStart?: number;
  readonly rampStep?: number;
  readonly rampSeconds?: number;
  readonly rampMax?: number;
  readonly baseline?: boolean;
  /** Length of the cold-start phase (0: none). */
  readonly coldSeconds?: number;
  /** Wait after the fixed-rate phase before the "after" memory reading; > 64×T1 (32 s). */
  readonly settleSeconds?: number;
  readonly logLevel?: string;
  readonly profile?: boolean;
  readonly sipp?: boolean;
  readonly docs?: boolean;
  /** The command line to print in the docs (the runner passes its own). */
  readonly command?: string;
  readonly onProgress?: (line: string) => void;
}

export type ResolvedOptions = Required<Omit<CallSetupOptions, 'onProgress' | 'command'>>;

export function resolveOptions(o: CallSetupOptions): ResolvedOptions {
  return {
    rate: o.rate ?? 200,
    seconds: o.seconds ?? 20,
    warmupSeconds: o.warmupSeconds ?? 10,
    holdMs: o.holdMs ?? 1000,
    agents: o.agents ?? 20,
    runs: o.runs ?? 3,
    ramp: o.ramp ?? true,
    rampStart: o.rampStart ?? 100,
    rampStep: o.rampStep ?? 100,
    rampSeconds: o.rampSeconds ?? 5,
    rampMax: o.rampMax ?? 2000,
    baseline: o.baseline ?? true,
    settleSeconds: o.settleSeconds ?? 35,
    coldSeconds: o.coldSeconds ?? 10,
    logLevel: o.logLevel ?? 'info',
    profile: o.profile ?? false,
    sipp: o.sipp ?? false,
    docs: o.docs ?? true,
  };
}

export function commandLine(o: ResolvedOptions): string {
  const parts = ['node bench/call-setup.bench.ts', `--rate ${o.rate}`, `--seconds ${o.seconds}`, `--runs ${o.runs}`, `--hold-ms ${o.holdMs}`, `--agents ${o.agents}`];
  if (o.ramp) parts.push(`--ramp-start ${o.rampStart} --ramp-step ${o.rampStep} --ramp-seconds ${o.rampSeconds}`);
  else parts.push('--no-ramp');
  if (!o.baseline) parts.push('--no-baseline');
  if (o.coldSeconds !== 10) parts.push(`--cold-seconds ${o.coldSeconds}`);
  if (o.warmupSeconds !== 10) parts.push(`--warmup-seconds ${o.warmupSeconds}`);
  if (o.settleSeconds !== 35) parts.push(`--settle-seconds ${o.settleSeconds}`);
  if (o.logLevel !== 'info') parts.push(`--log-level ${o.logLevel}`);
  if (o.profile) parts.push('--profile');
  if (o.sipp) parts.push('--sipp');
  return parts.join(' ');
}

/** Options from a command line (shared with bench/run.ts, which passes the call-setup flags through). */
export function callSetupOptionsFromArgs(argv: readonly string[]): CallSetupOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: false,
    options: {
      rate: { type: 'string' }, seconds: { type: 'string' }, runs: { type: 'string' }, 'hold-ms': { type: 'string' },
      agents: { type: 'string' }, 'ramp-start': { type: 'string' }, 'ramp-step': { type: 'string' },
      'ramp-seconds': { type: 'string' }, 'ramp-max': { type: 'string' }, 'no-ramp': { type: 'boolean' },
      'no-baseline': { type: 'boolean' }, 'cold-seconds': { type: 'string' }, 'warmup-seconds': { type: 'string' }, 'settle-seconds': { type: 'string' }, 'log-level': { type: 'string' }, profile: { type: 'boolean' },
      sipp: { type: 'boolean' }, quick: { type: 'boolean' }, 'no-docs': { type: 'boolean' },
    },
  });
  const num = (v: unknown): number | undefined => (typeof v === 'string' ? Number(v) : undefined);
  const quick = values.quick === true;
  const out: Record<string, unknown> = {
    rate: num(values.rate),
    seconds: num(values.seconds) ?? (quick ? 5 : undefined),
    runs: num(values.runs) ?? (quick ? 1 : undefined),
    holdMs: num(values['hold-ms']),
    agents: num(values.agents),
    rampStart: num(values['ramp-start']),
    rampStep: num(values['ramp-step']),
    rampSeconds: num(values['ramp-seconds']) ?? (quick ? 3 : undefined),
    rampMax: num(values['ramp-max']),
    ramp: values['no-ramp'] === true ? false : undefined,
    baseline: values['no-baseline'] === true ? false : undefined,
    settleSeconds: num(values['settle-seconds']),
    coldSeconds: num(values['cold-seconds']),
    warmupSeconds: num(values['warmup-seconds']) ?? (quick ? 3 : undefined),
    logLevel: typeof values['log-level'] === 'string' ? values['log-level'] : undefined,
    profile: values.profile === true ? true : undefined,
    sipp: values.sipp === true ? true : undefined,
    docs: values['no-docs'] === true ? false : undefined,
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as CallSetupOptions;
}
