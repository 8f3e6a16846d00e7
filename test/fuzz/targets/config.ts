/**
 * The configuration loader (src/config/load.ts parseConfig) on mutated YAML: the built-in demo and a full
 * configuration using every section. A configuration is the operator's, not the network's, but a typo must end in
 * a ConfigError naming the key — never a stack trace — so only ConfigError may come out, and whatever parses must
 * be frozen.
 */
import { parseDocument } from 'yaml';
import { parseConfig, validateConfig } from '../../../src/config/load.ts';
import { ConfigError } from '../../../src/config/config-error.ts';
import { DEMO_CONFIG_YAML } from '../../../src/config/demo.ts';
import { FuzzFailure, runFuzzLoop, type FuzzStats } from '../harness.ts';
import { LineMutator, Random, type TextCase } from '../mutators.ts';

export const FULL_CONFIG_YAML = `# Every section, as an operator would write it.
http:
  host: 0.0.0.0
  port: 8443
  wsPath: /sip
  publicDir: public
  tls: { cert: /etc/gw/cert.pem, key: /etc/gw/key.pem, selfSigned: false }
  allowedOrigins: [https://shop.example.com, "null"]
  advertisedHost: phone.example.com
  advertisedPort: 443
  maxConnectionsPerAddress: 16
  idleTimeout: 60
sip:
  domain: phone.example.com
  userAgent: gw/1.0
  listeners:
    - { protocol: udp, host: 0.0.0.0, port: 5060, advertise: 203.0.113.10 }
    - protocol: tls
      host: 0.0.0.0
      port: 5061
      tls: { cert: /etc/gw/cert.pem, key: /etc/gw/key.pem }
  timers: { t1: 500, t2: 4000, t4: 5000 }
  maxMessageSize: 65536
media:
  bindAddress: 0.0.0.0
  advertisedAddress: 203.0.113.10
  iceAddresses: [203.0.113.10, "2001:db8::10"]
  ports: { min: 30000, max: 39999 }
  timeout: 60
  codecs: [opus, PCMU, PCMA, telephone-event]
users:
  - name: alice
    password: \${ALICE_PASSWORD}
    displayName: Alice
    dialPatterns: ["@users", "@services", "\\\\+49[0-9]{6,12}"]
    maxCalls: 2
  - { name: bob, ha1: 0123456789abcdef0123456789abcdef }
  - { name: carol, ha1Sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef }
trunks:
  - name: carrier
    host: sip.carrier.example
    port: 5060
    transport: udp
    username: "4930123456"
    password: \${TRUNK_PASSWORD}
    realm: carrier.example
    callerId: "+4930123456"
    register: { enabled: true, expires: 600 }
    allowedSources: [198.51.100.0/24, "2001:db8:100::/48"]
    codecs: [PCMA]
    maxCalls: 30
routes:
  inbound:
    - { match: "\\\\+?4930123456", trunk: carrier, users: [alice, bob] }
  outbound:
    - { match: "\\\\+?[0-9]{6,15}", trunk: carrier, strip: 0, prefix: "" }
services: { enabled: true, host: 127.0.0.1, port: 5070, echo: echo, tone: tone }
limits: { maxCallDuration: 3600, callsPerMinutePerUser: 5 }
security:
  exemptLoopback: true
  exempt: [192.0.2.0/28]
  ban: { maxFailures: 10, findTime: 60, banTime: 900 }
  rateLimit:
    messages: { rate: 50, burst: 100 }
    unauthenticated: { rate: 10, burst: 40 }
  maxTrackedSources: 65536
  tokenSecret: \${GATEWAY_TOKEN_SECRET}
  tokenTtl: 300
  tokenMaxTtl: 3600
  requireToken: false
  adminSecret: \${GATEWAY_ADMIN_SECRET}
  nonTrunkSources: ignore
logLevel: info
`;

const YAML_LINES = [
  'x: &a [1, 2]', 'y: *a', '<<: *a', 'z: !!binary aGVsbG8=', 'w: !!js/function "x"', 'v: !custom x', '---', '...', '%YAML 1.2', '? complex',
  'http: null', 'http: []', 'users: {}', 'users:', '  - ', '- a', 'trunks: [{}]', 'security: { ban: { maxFailures: -1 } }',
  'security:\n  tokenSecret: ${UNSET_VARIABLE}', 'a: |', 'b: >-', '  text', "c: 'quoted ''x'''", 'd: "\\u0000"', 'e: ~', 'f: .inf', 'g: 0o17',
  '__proto__: { polluted: true }', 'constructor: { prototype: { x: 1 } }', 'http: { port: 1e400 }', 'http: { host: "" }',
];
const YAML_TOKENS = [': ', '- ', '&a ', '*a', '!!str ', '{', '}', '[', ']', '|', '>', '"', "'", '${ALICE_PASSWORD}', '$${', '${', '#', '? ', 'null', 'true', '@users', '\t'];

const ENV: NodeJS.ProcessEnv = {
  ALICE_PASSWORD: 'wonderland',
  TRUNK_PASSWORD: 'carrier-secret',
  GATEWAY_TOKEN_SECRET: 'fuzz-token-secret-0123456789abcdefghijkl',
  GATEWAY_ADMIN_SECRET: 'fuzz-admin-secret-0123',
};

/**
 * The full configuration cut into independent pieces, each a complete configuration on its own (every section
 * has defaults): the YAML library's cost is linear in the text (~0.5 ms per KiB here), so fuzzing one section at a
 * time gets 2.5 times the inputs per second while every mutation still goes through the whole loader. Sections
 * that refer to each other (routes → users and trunks) stay together so the cross-checks are reached.
 */
export function configSections(yaml: string): string[] {
  const groups: Record<string, string> = { users: 'people', trunks: 'people', routes: 'people', services: 'misc', limits: 'misc', logLevel: 'misc' };
  const out = new Map<string, string[]>();
  let current = '';
  for (const line of yaml.split('\n')) {
    const key = /^([A-Za-z]+):/.exec(line)?.[1];
    if (key !== undefined) current = groups[key] ?? key;
    if (current === '') continue;
    out.set(current, [...(out.get(current) ?? []), line]);
  }
  return [...out.values()].map((lines) => `${lines.join('\n')}\n`);
}

/**
 * The YAML library builds an Error (and captures a stack trace) for every problem it finds, several per broken
 * file: an eighth of the run. The loop runs without stack traces; an unexpected error is re-run with them so the
 * failure report still shows where it came from.
 */
function withoutStacks<T>(run: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return run();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function parseWithStackOnSurprise(text: string): ReturnType<typeof parseConfig> {
  try {
    return withoutStacks(() => parseConfig(text, 'fuzz.yaml', ENV));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    // Same input again with stack traces: the error to report (parseConfig is deterministic).
    return parseConfig(text, 'fuzz.yaml', ENV);
  }
}

/** Values a YAML file can hold (and a few it cannot, which a program building a configuration could). */
const HOSTILE_VALUES: unknown[] = [null, true, false, 0, -0, -1, 1, 0.5, 65535, 65536, 1e400, -1e400, Number.NaN, 2 ** 53 + 2, '', ' ', '0', 'true',
  'null', '127.0.0.1', '::1', '0.0.0.0/0', '300.1.1.1/33', 'udp', 'tls', '*', 'null', '(', '.*', '(a+)+$', '@users', '${UNSET_VARIABLE}',
  '${ALICE_PASSWORD}', '$${ALICE_PASSWORD}', '${', 'x'.repeat(4096), '\u0000', 'é', [], [null], [''], [{}], {}, { '': 1 }];
const HOSTILE_KEYS = ['', 'x', 'host', 'port', 'tls', 'name', '__proto__', 'constructor', 'prototype', 'toString', '0', 'enabled'];

function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // defineProperty, as the YAML library does: a "__proto__" key stays a key.
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: clone(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

/** A random container in the tree and the path to it (the root is a container too). */
function pickContainer(r: Random, root: Record<string, unknown>): { node: Record<string, unknown> | unknown[]; path: string } {
  let node: Record<string, unknown> | unknown[] = root;
  let path = '';
  for (;;) {
    const keys = Object.keys(node);
    const children = keys.filter((k) => {
      const v = (node as Record<string, unknown>)[k];
      return v !== null && typeof v === 'object';
    });
    if (children.length === 0 || r.chance(0.3)) return { node, path };
    const k = r.pick(children);
    path += Array.isArray(node) ? `[${k}]` : `.${k}`;
    node = (node as Record<string, unknown>)[k] as Record<string, unknown> | unknown[];
  }
}

/**
 * Structure-aware mutations of the seeds' parsed values, fed to the loader's validation half (validateConfig,
 * which parseConfig calls after the YAML library): every key of every section sees hostile types and values,
 * missing and unknown keys, values moved from elsewhere in the file — without paying for YAML on each input.
 */
export class TreeMutator {
  readonly #seeds: readonly unknown[];
  readonly random: Random;

  constructor(yamlSeeds: readonly string[], seed: number) {
    this.#seeds = yamlSeeds.map((y) => parseDocument(y).toJS());
    this.random = new Random(seed);
  }

  next(): { value: Record<string, unknown>; ops: string[] } {
    const r = this.random;
    const value = clone(r.pick(this.#seeds)) as Record<string, unknown>;
    const ops: string[] = [];
    for (let n = r.chance(0.6) ? 1 : 1 + r.int(3); n > 0; n--) {
      const { node, path } = pickContainer(r, value);
      const keys = Object.keys(node);
      const key = keys.length > 0 ? r.pick(keys) : '0';
      const at = `${path}${Array.isArray(node) ? `[${key}]` : `.${key}`}`;
      const set = (v: unknown): void => {
        Object.defineProperty(node, Array.isArray(node) ? Number(key) : key, { value: v, enumerable: true, writable: true, configurable: true });
      };
      switch (r.int(6)) {
        case 0:
          if (Array.isArray(node)) node.splice(Number(key), 1);
          else delete node[key];
          ops.push(`delete ${at}`);
          break;
        case 1: {
          const v = r.pick(HOSTILE_VALUES);
          set(clone(v));
          ops.push(`set ${at}=${JSON.stringify(v)?.slice(0, 40)}`);
          break;
        }
        case 2: {
          const k = r.pick(HOSTILE_KEYS);
          const v = r.pick(HOSTILE_VALUES);
          if (Array.isArray(node)) node.push(clone(v));
          else Object.defineProperty(node, k, { value: clone(v), enumerable: true, writable: true, configurable: true });
          ops.push(`add ${path}.${k}=${JSON.stringify(v)?.slice(0, 40)}`);
          break;
        }
        case 3: {
          // A value from elsewhere in the file: the right shape in the wrong place.
          const other = pickContainer(r, value).node;
          const otherKeys = Object.keys(other);
          if (otherKeys.length === 0) break;
          const k = r.pick(otherKeys);
          set(clone((other as Record<string, unknown>)[k]));
          ops.push(`move ${k}→${at}`);
          break;
        }
        case 4: {
          const current = (node as Record<string, unknown>)[key];
          if (typeof current === 'number') set(r.pick([current + 1, current - 1, -current, current * 65536, current + 0.5]));
          else if (typeof current === 'string') set(r.chance(0.5) ? current + r.pick(YAML_TOKENS) : current.slice(0, r.int(current.length + 1)));
          else if (Array.isArray(current)) current.push(...current);
          else set(current === null ? {} : [current]);
          ops.push(`tweak ${at}`);
          break;
        }
        default:
          // A section replaced by the same section of another seed, or wrapped in a list.
          set(r.chance(0.5) ? [(node as Record<string, unknown>)[key]] : clone((r.pick(this.#seeds) as Record<string, unknown>)[key] ?? null));
          ops.push(`swap-section ${at}`);
      }
    }
    return { value, ops };
  }
}

type ConfigCase = TextCase & { tree?: Record<string, unknown> };

function checkAccepted(config: ReturnType<typeof parseConfig>): void {
  if (!Object.isFrozen(config) || !Object.isFrozen(config.http) || !Object.isFrozen(config.security)) throw new FuzzFailure('accepted configuration is not frozen');
  if (({} as Record<string, unknown>).polluted !== undefined || Object.prototype.hasOwnProperty.call(Object.prototype, 'x')) {
    throw new FuzzFailure('Object.prototype was polluted');
  }
}

/**
 * Share of inputs that are mutated YAML text through parseConfig; the rest are mutated trees through
 * validateConfig. On the 2-core CI machine text costs ~0.9 ms per input (the YAML library), a tree ~0.2 ms
 * (zod): 100,000 inputs take ~45 s of CPU.
 */
const TEXT_SHARE = 0.4;

export function runConfigFuzz(options: { iterations: number; seed: number }): FuzzStats {
  const sections = [...configSections(FULL_CONFIG_YAML), ...configSections(DEMO_CONFIG_YAML)];
  // 400 copies of a line cost the YAML library 5 ms and find nothing 100 copies do not.
  const text = { lines: YAML_LINES, tokens: YAML_TOKENS, eol: '\n', hugeSizes: [64, 1024, 4096], repeatCounts: [20, 100] };
  const whole = new LineMutator([DEMO_CONFIG_YAML, FULL_CONFIG_YAML], options.seed, text);
  const pieces = new LineMutator(sections, options.seed ^ 0x5ec7, text);
  const trees = new TreeMutator([DEMO_CONFIG_YAML, FULL_CONFIG_YAML, FULL_CONFIG_YAML], options.seed ^ 0x7ee5);
  const random = whole.random;
  return runFuzzLoop<ConfigCase>({
    target: 'config',
    ...options,
    next: () => {
      if (random.chance(TEXT_SHARE)) {
        // One text input in five is a whole file (demo or full), so cross-section mistakes keep their share.
        const c = random.chance(0.2) ? whole.next() : pieces.next();
        return { ...c, ops: ['text', ...c.ops] };
      }
      const t = trees.next();
      return { input: JSON.stringify(t.value), ops: ['tree', ...t.ops], tree: t.value };
    },
    check: (c) => {
      if (c.tree === undefined) {
        checkAccepted(parseWithStackOnSurprise(c.input));
        return 'ok';
      }
      const tree = c.tree;
      let config: ReturnType<typeof parseConfig>;
      try {
        config = withoutStacks(() => validateConfig(tree, 'fuzz tree', ENV));
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        config = validateConfig(tree, 'fuzz tree', ENV);
      }
      checkAccepted(config);
      return 'ok:tree';
    },
    expected: (error) => {
      if (!(error instanceof ConfigError)) return undefined;
      if (error.problems.length === 0) throw new FuzzFailure('ConfigError without problems');
      return error.problems[0]!.key === '(YAML syntax)' ? 'ConfigError:yaml' : 'ConfigError:schema';
    },
  });
}
