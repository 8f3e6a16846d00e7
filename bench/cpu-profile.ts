/**
 * Reading a V8 `.cpuprofile` (what `node --cpu-prof` writes on exit): self time per function and per source
 * area (a src/ folder, an npm package, Node's internals, GC/idle), so a benchmark that misses its target can say
 * where the time went without anyone opening DevTools.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  readonly name: string;
  /** Share of the sampled time (idle excluded), percent. */
  readonly selfPercent: number;
}

export interface ProfileSummary {
  readonly file: string;
  /** Sampled time with the process busy (idle samples removed), ms. */
  readonly busyMs: number;
  readonly idlePercent: number;
  readonly functions: readonly ProfileEntry[];
  readonly areas: readonly ProfileEntry[];
  /**
   * Each busy sample charged to the innermost frame of our own code (src/) on its stack: which product function
   * caused the work, whether it ran in src/, a dependency or Node (samples with no src/ frame: `(outside src/)`).
   */
  readonly owners: readonly ProfileEntry[];
}

/** The newest .cpuprofile in `dir`, or undefined. */
export function latestProfile(dir: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  return files.length === 0 ? undefined : path.join(dir, files[files.length - 1]!);
}

/** Groups a script URL: `src/signaling`, `node_modules/pino`, `node:internal`, or `(native)` for V8 entries. */
function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName === '(garbage collector)' ? '(garbage collector)' : '(native / V8)';
  if (url.startsWith('node:')) return 'node: internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `node_modules/${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = url.indexOf('/src/');
  if (src >= 0) {
    const parts = url.slice(src + 1).split('/');
    return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts.join('/');
  }
  return path.basename(url);
}

/**
 * `window`: only samples taken between these monotonic-clock times (µs, as `process.hrtime.bigint() / 1000n` in
 * any process of this machine: V8 stamps profiles with the same clock), so start-up and shutdown stay out.
 */
export function summarizeProfile(file: string, limit = 15, window?: readonly [number, number]): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownerCache = new Map<number, string>();
  const ownerOf = (id: number): string => {
    let owner = ownerCache.get(id);
    if (owner !== undefined) return owner;
    owner = '(outside src/)';
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!;
      if (f.url.includes('/src/') && !f.url.includes('/node_modules/')) {
        owner = label(f);
        break;
      }
    }
    ownerCache.set(id, owner);
    return owner;
  };
  const owners = new Map<string, number>();
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (frame === undefined) return;
    if (window !== undefined && (t < window[0] || t > window[1])) return;
    // '(idle)' is the event loop waiting; '(program)' (native code outside JS, syscalls) counts as busy.
    if (frame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    busy += dt;
    const name = label(frame);
    fns.set(name, (fns.get(name) ?? 0) + dt);
    const owner = ownerOf(id);
    owners.set(owner, (owners.get(owner) ?? 0) + dt);
    const area = areaOf(frame.url, frame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + dt);
  });
  const top = (m: Map<string, number>, n: number): ProfileEntry[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, t]) => ({ name, selfPercent: busy > 0 ? Math.round((t / busy) * 1000) / 10 : 0 }));
  return {
    file,
    busyMs: Math.round(busy / 1000),
    idlePercent: busy + idle > 0 ? Math.round((idle / (busy + idle)) * 1000) / 10 : 0,
    functions: top(fns, limit),
    areas: top(areas, limit),
    owners: top(owners, limit),
  };
}

function label(frame: ProfileNode['callFrame']): string {
  const where = frame.url === '' ? '' : ` ${path.relative(process.cwd(), frame.url.replace(/^file:\/\//, ''))}:${frame.lineNumber + 1}`;
  return `${frame.functionName || '(anonymous)'}${where}`;
}

/** Markdown lines for a benchmark section. */
export function renderProfile(s: ProfileSummary, what: string): string {
  return [
    `CPU profile of ${what} (\`--cpu-prof\`, ${s.busyMs} ms busy, ${s.idlePercent} % idle), self time of the busy part:`,
    '',
    '| area (self) | % | function (self) | % | charged to our code (innermost src/ frame) | % |',
    '|---|---|---|---|---|---|',
    ...Array.from({ length: Math.max(s.areas.length, s.functions.length, s.owners.length) }, (_, i) => {
      const code = (e: ProfileEntry | undefined): string => (e === undefined ? '' : `\`${e.name.replace(/\|/g, '\\|')}\``);
      const pct = (e: ProfileEntry | undefined): string => (e === undefined ? '' : String(e.selfPercent));
      const a = s.areas[i];
      const f = s.functions[i];
      const o = s.owners[i];
      return `| ${a?.name ?? ''} | ${pct(a)} | ${code(f)} | ${pct(f)} | ${code(o)} | ${pct(o)} |`;
    }),
  ].join('\n');
}
