/**
 * The real gateway (`node src/main.ts --config <tmp.yaml>`) as a process inside a test namespace. The config is
 * written to a temp dir and validated with the gateway's own loader first (a typo in a test fails with the key
 * and line, not with a gateway that never starts). Readiness is proven from inside the namespace: the page must be
 * served over HTTP and the SIP listener must answer OPTIONS. stdout is pino JSON, one event per line; tests read
 * it through `logs` / `waitForLog`.
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '../../../src/config/load.ts';
import type { ConfigInput } from '../../../src/config/schema.ts';
import type { Netns } from './netns.ts';
import { NsProcessError, type ExitInfo, type NsProcess } from './process.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Node 22 (the project's own, from the `node` devDependency); the system node may be older. */
export const NODE = existsSync(path.join(ROOT, 'node_modules/.bin/node')) ? path.join(ROOT, 'node_modules/.bin/node') : process.execPath;

/** Fixed ports are safe: each suite has a namespace of its own. */
export const PORTS = {
  http: 8080,
  sip: 5060,
  services: 5070,
  /** The SIPp trunk's SIP port. */
  trunk: 5080,
  mediaMin: 20000,
  mediaMax: 20199,
} as const;

export const USERS = {
  alice: { name: 'alice', password: 'alice-e2e-secret', displayName: 'Alice' },
  bob: { name: 'bob', password: 'bob-e2e-secret', displayName: 'Bob' },
} as const;

/** One gateway log event (pino JSON). */
export interface LogEvent {
  level: number;
  msg?: string;
  time?: number;
  callId?: string;
  [field: string]: unknown;
}

export interface GatewayOptions {
  /** Replaces parts of the default config (shallow per top-level key). */
  config?: Partial<ConfigInput>;
  /**
   * LOG_LEVEL for the gateway process; default E2E_GATEWAY_LOG_LEVEL or 'debug' (transaction and session states
   * for failure reports). `activeCalls` needs 'info' or more verbose.
   */
  logLevel?: string;
  readyTimeoutMs?: number;
}

/** The default e2e config: alice and bob, the built-in services, everything on 127.0.0.1. */
export function gatewayConfig(overrides: Partial<ConfigInput> = {}): ConfigInput {
  return {
    http: { host: '127.0.0.1', port: PORTS.http, publicDir: path.join(ROOT, 'public') },
    sip: {
      listeners: [
        { protocol: 'udp', host: '127.0.0.1', port: PORTS.sip },
        { protocol: 'tcp', host: '127.0.0.1', port: PORTS.sip },
      ],
    },
    media: { bindAddress: '127.0.0.1', ports: { min: PORTS.mediaMin, max: PORTS.mediaMax }, timeout: 30 },
    users: [
      { ...USERS.alice, dialPatterns: ['@users', '@services', '\\+?[0-9]+'] },
      { ...USERS.bob, dialPatterns: ['@users', '@services', '\\+?[0-9]+'] },
    ],
    services: { enabled: true, host: '127.0.0.1', port: PORTS.services },
    logLevel: 'debug',
    ...overrides,
  };
}

/** A SIP trunk at SIPp's port, with an outbound route for `+1555123….` and an inbound route to alice. */
export function sippTrunkConfig(): Partial<ConfigInput> {
  return {
    trunks: [{ name: 'sipp', host: '127.0.0.1', port: PORTS.trunk, transport: 'udp', callerId: '+15550000001' }],
    routes: {
      outbound: [{ match: '\\+1555123[0-9]{4}', trunk: 'sipp' }],
      inbound: [{ match: '\\+1555999[0-9]{4}', trunk: 'sipp', users: ['alice'] }],
    },
  };
}

export class GatewayProcess {
  readonly process: NsProcess;
  readonly dir: string;
  readonly configFile: string;
  readonly pageUrl = `http://127.0.0.1:${PORTS.http}/`;
  #stopped: (ExitInfo & { killed: boolean }) | null = null;

  constructor(proc: NsProcess, dir: string, configFile: string) {
    this.process = proc;
    this.dir = dir;
    this.configFile = configFile;
  }

  /** Every JSON log event so far (non-JSON lines are skipped). */
  get logs(): LogEvent[] {
    const out: LogEvent[] = [];
    for (const line of this.process.lines) {
      const event = parseLog(line);
      if (event) out.push(event);
    }
    return out;
  }

  /** The first log event (past or future) that `match` accepts. */
  async waitForLog(match: (e: LogEvent) => boolean, what: string, timeoutMs = 10_000): Promise<LogEvent> {
    const line = await this.process.waitForLine((l) => {
      const e = parseLog(l);
      return e !== null && match(e);
    }, what, timeoutMs);
    return parseLog(line)!;
  }

  /** Calls the gateway has started and not yet ended (from its log; see `activeCalls`). */
  activeCalls(): string[] {
    return activeCalls(this.logs);
  }

  /** Log events at warn (40) or above: tests assert none unless they expect one. */
  problems(): LogEvent[] {
    return this.logs.filter((e) => e.level >= 40);
  }

  /** SIGTERM; resolves with how it exited (a graceful shutdown exits 0). Idempotent. */
  async stop(timeoutMs = 10_000): Promise<ExitInfo & { killed: boolean }> {
    this.#stopped ??= await this.process.stop({ timeoutMs });
    return this.#stopped;
  }

  /** The tail of the gateway's output, for failure messages. */
  output(chars = 20_000): string {
    return this.process.output(chars);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function parseLog(line: string): LogEvent | null {
  if (!line.startsWith('{')) return null;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && typeof (value as LogEvent).level === 'number' ? (value as LogEvent) : null;
  } catch {
    return null;
  }
}

/** Start the gateway inside `ns` and wait until its page and SIP listener answer (from inside the namespace). */
export async function startGateway(ns: Netns, options: GatewayOptions = {}): Promise<GatewayProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gwe2e-gateway-'));
  const configFile = path.join(dir, 'gateway.yaml');
  const config = gatewayConfig(options.config);
  const yaml = stringify(config);
  // The gateway's own validation, here, so a bad test config fails with its message rather than a dead process.
  parseConfig(yaml, configFile, {});
  writeFileSync(configFile, yaml);

  const logLevel = options.logLevel ?? process.env['E2E_GATEWAY_LOG_LEVEL'] ?? 'debug';
  const proc = ns.spawn(NODE, ['src/main.ts', '--config', configFile], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: logLevel },
    label: 'gateway',
    keep: 2_000_000,
  });
  const gateway = new GatewayProcess(proc, dir, configFile);

  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  try {
    await gateway.waitForLog((e) => e.msg === 'gateway listening', "its 'gateway listening' log line", timeoutMs);
  } catch (error) {
    await gateway.stop(3000);
    throw error;
  }
  // The log line says it listens; prove it from inside the namespace (page served, SIP answers OPTIONS).
  const probe = ns.spawn(NODE, [path.join(ROOT, 'test/e2e/harness/probe.ts'), gateway.pageUrl, `sip-udp:127.0.0.1:${PORTS.sip}`, '--timeout-ms', '5000'], {
    label: 'probe',
  });
  const exit = await probe.exited;
  if (exit.code !== 0) {
    await gateway.stop(3000);
    throw new NsProcessError(`the gateway logged that it listens but does not answer: ${probe.stdout.trim()}\n${proc.output()}`);
  }
  return gateway;
}

/**
 * Calls in progress, from the gateway's log: every call logs with its `call` id (module 'call') and once
 * 'call ended'. (The gateway has no status endpoint; this reads the same events an operator would.)
 */
export function activeCalls(logs: readonly LogEvent[]): string[] {
  const started = new Set<string>();
  const ended = new Set<string>();
  for (const e of logs) {
    if (e['module'] !== 'call' || typeof e['call'] !== 'string') continue;
    started.add(e['call']);
    if (e.msg === 'call ended') ended.add(e['call']);
  }
  return [...started].filter((id) => !ended.has(id));
}
