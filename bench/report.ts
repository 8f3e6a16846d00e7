/**
 * docs/benchmarks.md, one `## <Title>` section per benchmark. A benchmark replaces its own section (from its
 * heading to the next `## ` heading) and leaves every other section byte for byte as it was, so benchmarks
 * written by other scripts (bench/bench-docs.ts uses the same section rule) coexist in one file.
 *
 * Each section says when, on what machine, under what load and with which exact command it was measured, then
 * the benchmark's own body (tables, notes), then `### History`: one row per run of the benchmark, newest last,
 * kept across rewrites so before/after numbers of a change stay visible next to each other. A history whose
 * columns changed is kept verbatim under the new table rather than forced into columns it does not have.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatLoad, formatMachine, shortMachine, type LoadAverage, type MachineInfo } from './machine.ts';

export const DOCS_FILE = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));
const HISTORY_HEADING = '### History';
const MAX_HISTORY_ROWS = 40;
const EARLIER = 'Earlier runs (other columns):';

const PREAMBLE = [
  '# Benchmarks',
  '',
  'Speed and memory are measured here, never by a timed test in CI. `npm run bench` runs them all',
  '(`node bench/run.ts --only parse,relay,media,setup,srtp,webrtc-leg --quick` for a subset or a short run); each',
  'section is rewritten by the benchmark it names and keeps a history table, so a change\'s before/after stays visible.',
  'Numbers depend on the machine and on what else it is doing: every section states its machine, load and command.',
  '',
].join('\n');

export interface SectionContent {
  readonly title: string;
  /** The exact command that produced the numbers (what a reader runs to reproduce them). */
  readonly command: string;
  readonly machine: MachineInfo;
  /** Load average when the benchmark started and when it ended. */
  readonly load: { readonly start: LoadAverage; readonly end: LoadAverage };
  readonly date?: Date;
  /** Markdown: method, result tables, notes. Must not contain `## ` headings. */
  readonly body: string;
  /** This run's row in the history table. `date`, `commit`, `machine` and `load` columns are added in front. */
  readonly history: { readonly columns: readonly string[]; readonly row: readonly string[] };
}

/** Replaces (or appends) the section `## title` of `file`, carrying its history forward. */
export function writeSection(content: SectionContent, file: string = DOCS_FILE): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : PREAMBLE;
  const lines = text.split('\n');
  const heading = `## ${content.title}`;
  const start = lines.findIndex((l) => l.trimEnd() === heading);
  let end = start < 0 ? -1 : lines.findIndex((l, i) => i > start && l.startsWith('## '));
  if (start >= 0 && end < 0) end = lines.length;
  const old = start < 0 ? [] : lines.slice(start + 1, end);
  const section = renderSection(content, old);
  let out: string;
  if (start < 0) {
    out = `${text.trimEnd()}\n\n${section}`;
  } else {
    const before = lines.slice(0, start).join('\n').trimEnd();
    const after = lines.slice(end).join('\n').trim();
    out = `${before}\n\n${section}${after === '' ? '' : `\n${after}\n`}`;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, out.endsWith('\n') ? out : `${out}\n`);
}

function renderSection(c: SectionContent, oldLines: readonly string[]): string {
  const date = c.date ?? new Date();
  const commit = commitId();
  const columns = ['date', 'commit', 'machine', 'load 1 min', ...c.history.columns];
  const row = [date.toISOString().slice(0, 16).replace('T', ' '), commit ?? '–', shortMachine(c.machine), c.load.start[0].toFixed(2), ...c.history.row];
  // The table with these columns gets the row and comes first; tables with other columns (the benchmark's
  // earlier shapes) follow unchanged.
  const tables = previousHistory(oldLines);
  const same = tables.find((t) => sameColumns(t.columns, columns));
  const current = { columns, rows: [...(same?.rows ?? []), row].slice(-MAX_HISTORY_ROWS) };
  const others = tables.filter((t) => t !== same);
  const out = [
    `## ${c.title}`,
    '',
    `Measured ${date.toISOString().slice(0, 19).replace('T', ' ')} UTC${commit === undefined ? '' : ` on a work tree based on commit ${commit}`}, ${formatMachine(c.machine)}.`,
    `Load average (1 / 5 / 15 min) at start ${formatLoad(c.load.start)}, at end ${formatLoad(c.load.end)}.`,
    '',
    `Command: \`${c.command}\``,
    '',
    c.body.trim(),
    '',
    HISTORY_HEADING,
    '',
    markdownTable(current.columns, current.rows),
  ];
  if (others.length > 0) out.push('', EARLIER, ...others.flatMap((t) => ['', markdownTable(t.columns, t.rows)]));
  return `${out.join('\n')}\n`;
}

interface HistoryTable {
  readonly columns: string[];
  readonly rows: string[][];
}

/** Every table under `### History` (cells unescaped). */
function previousHistory(lines: readonly string[]): HistoryTable[] {
  const at = lines.findIndex((l) => l.trimEnd() === HISTORY_HEADING);
  if (at < 0) return [];
  const tables: HistoryTable[] = [];
  let block: string[] = [];
  const flush = (): void => {
    if (block.length >= 2) tables.push({ columns: cells(block[0]!), rows: block.slice(2).map(cells) });
    block = [];
  };
  for (let i = at + 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.startsWith('|')) block.push(line);
    else flush();
  }
  flush();
  return tables;
}

/** The cells of a table row: split on pipes markdownTable did not escape, escapes undone. */
function cells(line: string): string[] {
  return line
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function markdownTable(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const escape = (s: string): string => s.replace(/\|/g, '\\|');
  return [
    `| ${columns.map(escape).join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(escape).join(' | ')} |`),
  ].join('\n');
}

/**
 * The checked-out commit, read from .git without running git (the abbreviated id, `+` when unknown files
 * cannot be told apart from changes: we do not look at the work tree). Undefined outside a repository.
 */
export function commitId(): string | undefined {
  try {
    const gitDir = path.join(REPO, '.git');
    const head = readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 7);
    const ref = head.slice(5);
    const loose = path.join(gitDir, ref);
    if (existsSync(loose)) return readFileSync(loose, 'utf8').trim().slice(0, 7);
    const packed = readFileSync(path.join(gitDir, 'packed-refs'), 'utf8');
    const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
    return line?.slice(0, 7);
  } catch {
    return undefined;
  }
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return Number.NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0–100) of unsorted samples; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** A number for a table cell: `digits` decimals, `–` for NaN. */
export function fmt(x: number, digits = 0): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}
