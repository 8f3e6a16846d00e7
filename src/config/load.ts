/**
 * Loads the YAML configuration once at start-up: parse, substitute `${ENV}` secrets, validate against the
 * schema, then freeze. Every problem names its key and its line so the operator can fix the file at once.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, isMap, isScalar, type Document } from 'yaml';
import { configSchema, type GatewayConfig } from './schema.ts';
import { ConfigError, type ConfigProblem } from './config-error.ts';

type Path = ReadonlyArray<string | number>;

export function formatKey(path: Path): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out.length === 0 ? part : `.${part}`;
  return out.length === 0 ? '(top level)' : out;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces `${NAME}` in every string with the environment variable; `$${` escapes a literal `${`. */
function substituteEnv(value: unknown, path: Path, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): unknown {
  if (typeof value === 'string') {
    return value
      .split('$${')
      .map((piece) =>
        piece.replace(ENV_REF, (_m, name: string) => {
          const v = env[name];
          if (v === undefined) {
            problems.push({ key: formatKey(path), message: `environment variable ${name} is not set` });
            return '';
          }
          return v;
        }),
      )
      .join('${');
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, [...path, i], env, problems));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, [...path, k], env, problems);
    return out;
  }
  return value;
}

/** Where a key is in the file: the key itself for map entries, else the value; else its nearest parent. */
function locate(doc: Document, lines: LineCounter, path: Path): { line?: number; column?: number } {
  for (let n = path.length; n >= 0; n--) {
    const parent = n === 0 ? undefined : n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    let node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === path[n - 1]);
      if (pair && isNode(pair.key)) node = pair.key;
    }
    if (isNode(node) && node.range) {
      const pos = lines.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Validates a configuration given as YAML text; `source` names it in errors (a path, or "built-in demo"). */
export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { key: '(YAML syntax)', message: e.message.split('\n')[0] ?? e.code, line: pos.line, column: pos.col };
      }),
    );
  }
  let raw: unknown;
  try {
    // Aliases without anchors and alias bombs fail here, not in the parser.
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(source, [{ key: '(YAML syntax)', message: (err as Error).message.split('\n')[0] ?? 'unreadable YAML' }]);
  }
  return validateConfig(raw, source, env, (path) => locate(doc, lines, path));
}

/** Where a key sits in the source text, when there is one. */
export type KeyLocator = (path: Path) => { line?: number; column?: number };

/**
 * The second half of parseConfig, for a value already read from YAML (or built by a program): substitute
 * `${ENV}`, validate, freeze. Throws ConfigError only; `where` adds line numbers to the problems.
 */
export function validateConfig(raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env, where: KeyLocator = () => ({})): GatewayConfig {
  const problems: ConfigProblem[] = [];
  const substituted = substituteEnv(raw, [], env, problems);
  for (const p of problems) Object.assign(p, where(p.key === '(top level)' ? [] : keyToPath(p.key)));
  if (problems.length > 0) throw new ConfigError(source, problems);

  const result = configSchema.safeParse(substituted);
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((issue) => {
        // An unknown key is reported on its parent; point at the key itself.
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
        const path: Path = keys.length > 0 ? [...(issue.path as Path), keys[0]!] : (issue.path as Path);
        const message = keys.length > 0 ? `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
        return { key: formatKey(path), message, ...where(path) };
      }),
    );
  }
  return deepFreeze(result.data);
}

function keyToPath(key: string): Path {
  const out: Array<string | number> = [];
  for (const m of key.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ key: '(file)', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  return parseConfig(text, path, env);
}
