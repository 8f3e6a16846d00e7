/**
 * docs/benchmarks.md: one `## <title>` section per benchmark, each written by its own bench script. A script
 * replaces its own section (from its heading to the next `## ` heading) and leaves the others alone; a missing
 * file or section is created.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DOCS = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const PREAMBLE = [
  '# Benchmarks',
  '',
  'Each section is written by the benchmark script it names (run it to refresh the section); numbers depend on the',
  'machine and on what else it is doing, so every section states its machine and command.',
  '',
].join('\n');

export function writeBenchSection(title: string, body: string, file: string = DOCS): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : PREAMBLE;
  const heading = `## ${title}`;
  const section = `${heading}\n\n${body.trimEnd()}\n`;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trimEnd() === heading);
  let out: string;
  if (start < 0) {
    out = `${text.trimEnd()}\n\n${section}`;
  } else {
    let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
    if (end < 0) end = lines.length;
    const before = lines.slice(0, start).join('\n').trimEnd();
    const after = lines.slice(end).join('\n').trim();
    out = `${before}\n\n${section}${after === '' ? '' : `\n${after}\n`}`;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, out.endsWith('\n') ? out : `${out}\n`);
}
