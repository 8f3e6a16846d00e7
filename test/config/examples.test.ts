/**
 * The documentation cannot rot: every example file and every YAML block in README.md and docs/configuration.md is
 * loaded with the gateway's own loader; every `yaml invalid` block must fail with exactly the error text printed
 * after it; every key of the schema must be in a configuration.md table (and every key there in the schema), with
 * the default the table shows; and the examples' comments about who can call what are checked against the Router.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { configSchema, type GatewayConfig } from '../../src/config/schema.ts';
import { Router } from '../../src/sip-bridge/router.ts';
import { computeHa1 } from '../../src/signaling/auth/digest.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** A value for every `${NAME}` the text uses (not `$${`), long enough for tokenSecret (≥ 32) and adminSecret. */
function fakeEnv(text: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const m of text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) env[m[1]!] = `fake-${m[1]!.toLowerCase()}-${'x'.repeat(40)}`;
  return env;
}

interface Block {
  /** The info string: `yaml`, `yaml invalid`, `text`, … */
  info: string;
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** Fenced code blocks, indented ones (inside list items) included, with their indentation removed. */
function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j]!)) body.push(lines[j++]!.slice(indent));
    blocks.push({ info: open[2]!.trim(), text: `${body.join('\n')}\n`, line: i + 1 });
    i = j;
  }
  return blocks;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const EXAMPLES = readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml')).sort();
const loadExample = (file: string): GatewayConfig => {
  const text = read(`examples/${file}`);
  return parseConfig(text, `examples/${file}`, fakeEnv(text));
};

describe('examples/*.yaml', () => {
  it('has the two documented examples', () => {
    expect(EXAMPLES).toEqual(expect.arrayContaining(['ip-auth-trunk.yaml', 'registration-trunk.yaml']));
  });

  it.each(EXAMPLES)('%s loads with its secrets taken from the environment', (file) => {
    const text = read(`examples/${file}`);
    expect(Object.keys(fakeEnv(text)).length).toBeGreaterThan(0);
    expect(() => loadExample(file)).not.toThrow();
    // Without the environment the same file must refuse to start, naming the variables.
    const err = configError(() => parseConfig(text, file, {}));
    expect(err.problems.every((p) => p.message.startsWith('environment variable '))).toBe(true);
  });

  it('registration-trunk.yaml registers, rings both users on its DID and sends only allowed numbers out', () => {
    const cfg = loadExample('registration-trunk.yaml');
    expect(cfg.trunks[0]).toMatchObject({ name: 'carrier', register: { enabled: true }, callerId: '+12025550100' });
    const router = new Router(cfg);
    expect(router.fromTrunk('carrier', '12025550100', undefined)).toEqual({ kind: 'users', users: ['alice', 'bob'] });
    expect(router.fromTrunk('carrier', 'gateway', '+12025550100')).toEqual({ kind: 'users', users: ['alice', 'bob'] });
    expect(router.fromTrunk('carrier', '12025550199', '12025550199')).toMatchObject({ kind: 'reject', status: 404 });
    expect(router.fromUser('alice', '+12025550123')).toMatchObject({ kind: 'trunk', number: '12025550123' });
    expect(router.fromUser('bob', '(202) 555-0123')).toMatchObject({ kind: 'trunk', number: '12025550123' });
    expect(router.fromUser('alice', '+19005550100')).toMatchObject({ kind: 'reject', status: 403 });
    expect(router.fromUser('alice', 'bob')).toEqual({ kind: 'users', users: ['bob'] });
    expect(router.fromUser('alice', 'echo')).toEqual({ kind: 'service', service: 'echo' });
  });

  it('ip-auth-trunk.yaml routes its DID block and keeps bob to national numbers', () => {
    const cfg = loadExample('ip-auth-trunk.yaml');
    expect(cfg.trunks[0]).toMatchObject({ name: 'sbc', transport: 'tls', register: { enabled: false } });
    expect(cfg.trunks[0]!.allowedSources.length).toBeGreaterThan(0);
    const router = new Router(cfg);
    expect(router.fromTrunk('sbc', '+442079460105', undefined)).toEqual({ kind: 'users', users: ['alice', 'bob'] });
    expect(router.fromTrunk('sbc', '+442079460150', undefined)).toEqual({ kind: 'users', users: ['alice'] });
    expect(router.fromTrunk('sbc', '+442079460200', undefined)).toMatchObject({ kind: 'reject', status: 404 });
    expect(router.fromUser('alice', '020 7946 0000')).toMatchObject({ kind: 'trunk', number: '+442079460000' });
    expect(router.fromUser('alice', '+33 1 23 45 67 89')).toMatchObject({ kind: 'trunk', number: '+33123456789' });
    expect(router.fromUser('bob', '+33123456789')).toMatchObject({ kind: 'reject', status: 403 });
    expect(router.fromUser('bob', '07700 900123')).toMatchObject({ kind: 'trunk', number: '+447700900123' });
    expect(router.fromUser('alice', '09098790000')).toMatchObject({ kind: 'reject', status: 403 });
    expect(router.fromUser('alice', 'echo')).toMatchObject({ kind: 'reject', status: 404 });
  });

  it("ip-auth-trunk.yaml's HA1 is alice's documented password in the configured realm", () => {
    const cfg = loadExample('ip-auth-trunk.yaml');
    const alice = cfg.users.find((u) => u.name === 'alice')!;
    expect(alice.ha1).toBe(computeHa1('MD5', 'alice', cfg.sip.domain!, 'correct horse battery staple'));
  });
});

describe.each(['README.md', 'docs/configuration.md'])('the YAML in %s', (file) => {
  const blocks = fencedBlocks(read(file));
  const valid = blocks.filter((b) => b.info === 'yaml');
  const invalid = blocks.map((b, i) => ({ b, next: blocks[i + 1] })).filter(({ b }) => b.info === 'yaml invalid');

  it('has YAML blocks to check', () => {
    expect(valid.length).toBeGreaterThan(0);
  });

  it.each(valid.map((b) => [b.line, b] as const))('block at line %i loads', (_line, block) => {
    expect(() => parseConfig(block.text, `${file}:${block.line}`, fakeEnv(block.text))).not.toThrow();
  });

  it.each(invalid.map(({ b, next }) => [b.line, b, next] as const))('invalid block at line %i fails exactly as documented', (_line, block, next) => {
    expect(next?.info).toBe('text');
    const err = configError(() => parseConfig(block.text, 'gateway.yaml', {}));
    expect(`webrtc-sip-gateway: ${err.message}\n`).toBe(next!.text);
  });
});

// ---- the schema against the tables of docs/configuration.md ----------------------------------------------------

interface ZodNode {
  _zod: { def: { type: string; shape?: Record<string, ZodNode>; innerType?: ZodNode; in?: ZodNode; element?: ZodNode } };
}

/** Every key path of the schema (`users[].dialPatterns`), intermediate objects and lists included; leaves flagged. */
function schemaPaths(node: ZodNode, at: string, out: Map<string, boolean>): void {
  const def = node._zod.def;
  switch (def.type) {
    case 'object':
      if (at !== '') out.set(at, false);
      for (const [key, child] of Object.entries(def.shape!)) schemaPaths(child, at === '' ? key : `${at}.${key}`, out);
      return;
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
      return schemaPaths(def.innerType!, at, out);
    case 'pipe':
      return schemaPaths(def.in!, at, out);
    case 'array': {
      const element = def.element!;
      const type = element._zod.def.type;
      if (type === 'object' || type === 'prefault' || type === 'default' || type === 'optional') {
        out.set(at, false);
        schemaPaths(element, `${at}[]`, out);
      } else {
        out.set(at, true); // a list of scalars is one key
      }
      return;
    }
    default:
      out.set(at, true);
  }
}

interface Row {
  key: string;
  type: string;
  default: string;
}

function tableRows(markdown: string): Row[] {
  const rows: Row[] = [];
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    rows.push({ key: cells[0]!.replace(/^`|`$/g, ''), type: cells[1]!, default: cells[2]! });
  }
  return rows;
}

/** The value at a documented key: `[]` steps into the first element. */
function valueAt(config: unknown, key: string): unknown {
  let value: unknown = config;
  for (const part of key.replace(/\[\]/g, '.0').split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** One of every list element, with only its required keys, so element defaults can be read back. */
const MINIMAL = {
  sip: { listeners: [{ protocol: 'udp' }] },
  media: { nodes: [{ ng: 'udp:127.0.0.1:2223' }] },
  users: [{ name: 'u', password: 'p' }],
  trunks: [{ name: 't', host: '127.0.0.1' }],
  routes: { inbound: [{ match: 'x', users: ['u'] }], outbound: [{ match: 'x', trunk: 't' }] },
};

describe('docs/configuration.md tables', () => {
  const rows = tableRows(read('docs/configuration.md'));
  const documented = new Set(rows.map((r) => r.key));
  const paths = new Map<string, boolean>();
  schemaPaths(configSchema as unknown as ZodNode, '', paths);
  const leaves = [...paths].filter(([, leaf]) => leaf).map(([p]) => p);

  it('documents every key of the schema (a key or the object holding it)', () => {
    const covered = (leaf: string): boolean =>
      documented.has(leaf) || [...documented].some((d) => d.includes('.') && leaf.startsWith(`${d}.`));
    expect(leaves.filter((leaf) => !covered(leaf))).toEqual([]);
    expect(leaves.length).toBeGreaterThan(80);
  });

  it('documents no key the schema does not have', () => {
    expect([...documented].filter((key) => !paths.has(key))).toEqual([]);
  });

  it('shows the real default of every key that has one, and none for keys without', () => {
    const empty = parseConfig('', 'empty', {});
    const minimal = parseConfig(stringify(MINIMAL), 'minimal', {});
    const wrong: string[] = [];
    for (const row of rows) {
      // Required keys, and the keys MINIMAL itself sets, have no default to read back.
      if (row.default.startsWith('*required*') || valueAt(MINIMAL, row.key) !== undefined) continue;
      const actual = valueAt(row.key.includes('[]') ? minimal : empty, row.key);
      const literal = /^`([^`]*)`/.exec(row.default)?.[1];
      if (literal === undefined) {
        if (actual !== undefined) wrong.push(`${row.key}: the schema's default is ${JSON.stringify(actual)}, the table shows "${row.default}"`);
        continue;
      }
      const shown: unknown = parseYaml(literal);
      if (JSON.stringify(shown) !== JSON.stringify(actual)) {
        wrong.push(`${row.key}: the table shows ${JSON.stringify(shown)}, the schema's default is ${JSON.stringify(actual)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('marks as required exactly the keys a list element cannot do without', () => {
    const required = rows.filter((r) => r.default.startsWith('*required*')).map((r) => r.key);
    expect(required.length).toBeGreaterThan(0);
    for (const key of required) {
      const input: unknown = structuredClone(MINIMAL);
      const parts = key.replace(/\[\]/g, '.0').split('.');
      const parent = valueAt(input, parts.slice(0, -1).join('.')) as Record<string, unknown>;
      delete parent[parts.at(-1)!];
      const err = configError(() => parseConfig(stringify(input), 'minimal', {}));
      expect(err.problems.length, key).toBeGreaterThan(0);
    }
    // And nothing else in the minimal elements is required: each optional key can go.
    expect(() => parseConfig(stringify(MINIMAL), 'minimal', {})).not.toThrow();
  });

  it("gives an HA1 example that is the MD5 of the triple it names", () => {
    const doc = read('docs/configuration.md');
    expect(doc).toContain(`${computeHa1('MD5', 'alice', 'gateway.example.com', 'correct horse battery staple')}  -`);
  });
});
